"""Running the tests must not rewrite committed files.

The notebooks executed by `pytest --nbmake` call `gadlib.evaluation.results.save_results`, which writes to
`$GADLAB_RESULTS_DIR` when it is set. This sets it, for the whole session, to a fresh temporary
folder (removed at the end); the Jupyter kernels nbmake starts inherit the variable from this
process (tests/test_results.py checks that a kernel does). Set GADLAB_RESULTS_DIR yourself to keep
the test run's results somewhere; pointing it at the committed results/ is refused.

Under pytest-xdist (`-n auto`, the README's test command) every worker, and every kernel it starts,
gets an equal share of the CPU threads: torch's default of one thread per core in every worker
oversubscribes the machine: on 2 cores, two training jobs took 157 s as two 2-thread processes,
67 s one after the other, and 30 s as two 1-thread processes (benchmarks/threads.py,
results/threads.json).
The notebooks take minutes each, the unit tests seconds: the collection is laid out so that
xdist's work-stealing scheduler, which first hands each worker a contiguous share, gives every
worker about the same notebook minutes (longest first, timed by the last main job).
"""
import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gadlib.tools.readme_table import load_all, run_minutes
from gadlib.evaluation.results import RESULTS_DIR_ENV
from gadlib import pin_code_path
from gadlib.lessons.profile import SIZE_ENV
from gadlib.lessons.widgets import STATIC_ENV

ROOT = Path(__file__).resolve().parent
# Student editions stop at every exercise (raise NotImplementedError): tests/test_course.py runs
# their exercise sections; `--nbmake notebooks/` must not run them top to bottom as well.
collect_ignore_glob = ["notebooks/student/*"]
_made: list[str] = []


def _share_threads():
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if not workers or "OMP_NUM_THREADS" in os.environ:   # not a worker, or the user chose
        return
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads          # inherited by the Jupyter kernels nbmake starts
    import torch
    torch.set_num_threads(int(threads))


def pytest_configure(config):
    _share_threads()
    # The kernels nbmake starts inherit it: explorers show a note, not widgets (gadlib.lessons.widgets);
    # tests/conftest.py unsets it for the unit tests of the explorers themselves.
    os.environ.setdefault(STATIC_ENV, "1")
    # `--nbmake` executes every notebook top to bottom at the rehearsal size (GADLAB_SIZE=tiny: every
    # line of the CPU profile, on minimal data, in about a minute each), so that the whole test run fits
    # CI's 40 minutes; the full CPU lesson is the main job's, whose results are committed and checked
    # (tests/test_results_claims.py). GADLAB_SIZE=full runs the full lessons under pytest instead.
    os.environ.setdefault(SIZE_ENV, "tiny")
    # One CPU code path for every kernel the tests start, where GADLAB_PIN_CODE_PATH=1 asks for it
    pin_code_path()
    chosen = os.environ.get(RESULTS_DIR_ENV)
    if chosen and Path(chosen).resolve() == ROOT / "results":
        raise pytest.UsageError(f"{RESULTS_DIR_ENV}={chosen} is the committed results folder; tests must not write there")
    if not chosen:
        _made.append(tempfile.mkdtemp(prefix="gadlab-test-results-"))
        os.environ[RESULTS_DIR_ENV] = _made[-1]


def pytest_report_header(config):
    return f"notebook results go to {RESULTS_DIR_ENV}={os.environ[RESULTS_DIR_ENV]}"


def pytest_unconfigure(config):
    while _made:
        folder = _made.pop()
        if os.environ.get(RESULTS_DIR_ENV) == folder:
            del os.environ[RESULTS_DIR_ENV]
        shutil.rmtree(folder, ignore_errors=True)


@functools.cache
def _last_run_minutes() -> dict[str, float]:
    return {name: run_minutes(res) for name, res in load_all(ROOT / "results").items()}


def _notebook_minutes(item) -> float | None:
    if not str(item.path).endswith(".ipynb"):
        return None
    return _last_run_minutes().get(item.path.stem, 5.0)   # a new notebook: assume a long one


def pytest_collection_modifyitems(session, config, items):
    """Under xdist, one block of items per worker, each opening with its share of the notebooks
    (longest first, each to the worker with the fewest notebook minutes so far).

    Deprecations are errors in the unit tests (pyproject.toml), where gadlib makes the calls; a
    notebook item runs the Jupyter client's own message loop in this process instead, and a
    library warning turned into an error there is lost in a callback and stalls the notebook.
    """
    for item in items:
        if _notebook_minutes(item) is not None:
            item.add_marker(pytest.mark.filterwarnings("default::DeprecationWarning"))
            item.add_marker(pytest.mark.filterwarnings("default::FutureWarning"))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    notebooks = sorted((i for i in items if _notebook_minutes(i) is not None), key=lambda i: -_notebook_minutes(i))
    if workers < 2 or not notebooks:
        return
    bins = [[] for _ in range(workers)]
    for nb in notebooks:
        min(bins, key=lambda b: sum(map(_notebook_minutes, b))).append(nb)
    rest = iter([i for i in items if _notebook_minutes(i) is None])
    size, ordered = len(items) // workers, []   # the scheduler's first share: len // workers each
    for k, b in enumerate(bins):
        fill = size - len(b) if k < workers - 1 else len(items)
        ordered += b + [i for _, i in zip(range(max(fill, 0)), rest)]
    items[:] = ordered + list(rest)
