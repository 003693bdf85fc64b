"""nbgrader's side of the course: the nbgrader_config.py that `python -m gadlib.course nbgrader DIR`
writes beside the source notebooks (docs/instructors.md, "Grading with the checkers")."""
from __future__ import annotations

import json
import math
from pathlib import Path

from gadlib.evaluation.results import RESULTS_DIR_ENV, repo_root
from gadlib.lessons.exercises.references import blob_module
from gadlib.lessons.widgets import STATIC_ENV

# The checkers' references (gadlib/lessons/exercises/references.py): written in plain text beside
# the solution editions, encoded into the package by `build` so that `inspect` cannot show them.
REFERENCES_SOURCE = Path("notebooks/solutions/checker_references.py")
REFERENCES_BLOB = Path("gadlib/lessons/exercises/_references_blob.py")

# nbgrader autograde runs every cell of a submission, training cells included, and stops a cell
# after nbgrader's default of 30 s. The main job records each notebook's wall time
# (results/<notebook>.json, "seconds"), not each cell's, and no cell runs longer than its notebook:
# the generated nbgrader_config.py sets the cell timeout to CELL_TIMEOUT_MARGIN x the longest
# notebook's time there, rounded up to a minute (79 min on the committed results: 5 x 15.6 min,
# notebook 05). The margin comes from a measurement: notebook 01's training cell (its slowest, almost
# all of its run) took 2040 s = 3.7 x the main job's whole 552 s run when rerun with one thread on
# the same 2-core machine while other jobs kept its load average at 5-7
# (benchmarks/thread_sensitivity.py, results/thread_sensitivity.json "slowest_cells"), and an
# autograde of it with a margin of 3 (2820 s), at a load average of 7.5, was stopped in that cell
# at the timeout (results/nbgrader_autograde.json); 5 leaves room above both for a slow or shared
# grader. FALLBACK_TIMEOUT_S when no results file has a time.
CELL_TIMEOUT_MARGIN = 5
FALLBACK_TIMEOUT_S = 3600
# What the notebooks' kernels need under nbgrader (what the test suite gives nbmake's kernels,
# conftest.py): explorers as static notes (no widget front end), a headless matplotlib, the
# results of a graded run kept out of the course's results/, and the CPU sizes on any device
# (GADLAB_PROFILE=cpu: a grader with a GPU runs the notebooks at the sizes the students ran, not
# the paper-scale GPU profile).
NBGRADER_RESULTS = "autograde_results"
NBGRADER_ENV = {"GADLAB_PROFILE": "cpu", STATIC_ENV: "1", "MPLBACKEND": "Agg"}
NBGRADER_MARK = "# Written by `python -m gadlib.course nbgrader`"


def cell_timeout(root: Path | None = None) -> int:
    """nbgrader's cell timeout in seconds: CELL_TIMEOUT_MARGIN x the longest notebook's wall time in
    results/ (no cell runs longer than its notebook), rounded up to a minute; FALLBACK_TIMEOUT_S
    when no results file records a time."""
    seconds = []
    for path in ((root or repo_root()) / "results").glob("[0-9][0-9]_*.json"):
        try:
            seconds.append(float(json.loads(path.read_text())["seconds"]))
        except (KeyError, TypeError, ValueError):
            continue
    if not seconds:
        return FALLBACK_TIMEOUT_S
    return 60 * math.ceil(CELL_TIMEOUT_MARGIN * max(seconds) / 60)


def nbgrader_config(root: Path | None = None) -> str:
    """The text of the course folder's nbgrader_config.py (nbgrader loads it from the folder it runs
    in): the course root, the cell timeout (`cell_timeout`) and the kernels' environment
    (NBGRADER_ENV, and GADLAB_RESULTS_DIR inside the course folder)."""
    timeout = cell_timeout(root)
    env = "".join(f"os.environ[{k!r}] = {v!r}\n" for k, v in NBGRADER_ENV.items())
    return f"""{NBGRADER_MARK} (gadlib/tools/course.py); rewritten by it.
import os

c = get_config()  # noqa: F821 (nbgrader provides it)
here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here

# A cell may run {timeout} s = {CELL_TIMEOUT_MARGIN} x the longest notebook's whole run in the course's results/
# (no cell runs longer than its notebook; nbgrader's default, 30 s, stops the training cells;
# gadlib/tools/grading.py says how the margin was measured).
# nbgrader's Execute preprocessor is an ExecutePreprocessor with its own default: set both.
c.ExecutePreprocessor.timeout = {timeout}
c.Execute.timeout = {timeout}

# The kernels inherit this process's environment: CPU sizes on any device (a GPU grades faster, at
# the sizes the students ran), explorers as static notes, no GUI backend, and the results files a
# graded run writes kept here, not in the course's results/.
{env}os.environ[{RESULTS_DIR_ENV!r}] = os.path.join(here, {NBGRADER_RESULTS!r})
"""


def write_nbgrader_config(dest: Path, root: Path | None = None) -> Path:
    """dest/nbgrader_config.py (nbgrader_config); an existing one not written by this command is
    kept, and the generated text goes to dest/nbgrader_config.gadlab.py beside it."""
    path = Path(dest) / "nbgrader_config.py"
    if path.is_file() and not path.read_text().startswith(NBGRADER_MARK):
        path = path.with_name("nbgrader_config.gadlab.py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbgrader_config(root))
    return path


def write_reference_blob(root: Path | None = None, check: bool = False) -> list[str]:
    """Encode REFERENCES_SOURCE into REFERENCES_BLOB (or, with check=True, compare); returns the
    stale path. A copy of the course without the solutions (no REFERENCES_SOURCE) keeps its blob."""
    root = root or repo_root()
    source = root / REFERENCES_SOURCE
    if not source.is_file():
        return []
    text, path = blob_module(source.read_text()), root / REFERENCES_BLOB
    if path.is_file() and path.read_text() == text:
        return []
    if not check:
        path.write_text(text)
    return [str(REFERENCES_BLOB)]
