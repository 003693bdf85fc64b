"""Course tooling: notebook sources (jupytext pairs), navigation links, student editions.

    python -m gadlib.course build              # badge + prev/next links from one place, then jupytext --sync
    python -m gadlib.course student            # notebooks/student/<name>.ipynb: solutions -> raise NotImplementedError
    python -m gadlib.course student --check    # fail if the committed student editions are out of date
    python -m gadlib.course check              # pairs in sync, link lines right, student editions up to date
    python -m gadlib.course nbgrader DIR       # DIR/source/<name>/<name>.ipynb with nbgrader cell metadata,
                                               # and DIR/nbgrader_config.py (cell timeout, environment)
    python -m gadlib.course release DIR        # a tree to publish for students: student editions, gadlib, no solutions

Each notebook is authored as a jupytext percent-format script, `notebooks/NN_name.py`, paired with
`notebooks/NN_name.ipynb` (edit either, in JupyterLab or as text; `jupytext --sync` carries the
change over). The order of the notebooks is their number; a link title is the file name
("02_tokenization_ablations" -> "02 · tokenization ablations") unless TITLES says otherwise.

Solutions sit between nbgrader's `### BEGIN SOLUTION` / `### END SOLUTION` lines, inside function
bodies, so a student edition (where the block becomes `raise NotImplementedError()`, as nbgrader's
`generate_assignment` writes it) still runs top to bottom and every `check_...` cell fails with a
clear "not implemented yet" (gadlib.lessons.exercises).

Explained in docs/instructors.md.
"""
from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.cli import jupytext as jupytext_cli

from gadlib.evaluation.results import repo_root
from gadlib.tools.colab import COLAB_MARK, install_cell
from gadlib.tools.grading import REFERENCES_BLOB, REFERENCES_SOURCE, cell_timeout, write_nbgrader_config, write_reference_blob

# Where Colab clones the course from: the one place to set it. Every notebook's install cell and
# Colab badge are generated from these by `python -m gadlib.course build` (docs/instructors.md:
# "Hosting the course"). Point them at a release tree (`python -m gadlib.course release OUT`,
# pushed to its own branch or repository) to give students no solutions.
REPO_URL = "https://github.com/gad-lab/gad-lab"
REPO_BRANCH = "main"
REPO = REPO_URL.removeprefix("https://github.com/").removesuffix(".git")   # "owner/name", for the badges
BRANCH = REPO_BRANCH
# requirements.txt entries a Colab session does not install: Colab's own torch is kept, and the
# rest are for developing and testing the course, not for running its notebooks.
NOT_ON_COLAB = ("torch", "jupyterlab", "jupytext", "nbmake", "pytest", "pytest-xdist")
TITLES: dict[str, str] = {"04_gad_finetuning": "04 · GAD fine-tuning"}  # where the file name does not read well
# Notebooks to read, without graded exercises (so without a student edition): every other one has an
# "## Exercises" section (tests/test_course.py checks both ways).
READINGS = ("00_the_paper_in_one_page",)
EXERCISES_HEADING = "## Exercises"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB_CODE, STUB_MD = "# YOUR CODE HERE\nraise NotImplementedError()", "YOUR ANSWER HERE"
PAIRING = "ipynb,py:percent"
NAME = re.compile(r"^\d\d_[a-z0-9_]+$")

# The one install cell every notebook opens with (gadlib/tools/colab.py).
def colab_cell(url: str = REPO_URL, branch: str = REPO_BRANCH, dest: str = "/content/gad-lab",
               pip_options: tuple[str, ...] = ()) -> str:
    """The install cell for `url` / `branch` (the notebooks' cell: the defaults; tests clone a
    local copy into a temporary `dest` and pass pip options that avoid the network)."""
    return install_cell(url, branch, NOT_ON_COLAB, dest, pip_options)


COLAB_CELL = colab_cell()



class CourseError(RuntimeError):
    """A notebook source is malformed or out of date; the message names the file and the fix."""


# ---- the notebooks and their navigation ---------------------------------------------------------

def notebook_dir(root: Path | None = None) -> Path:
    return (root or repo_root()) / "notebooks"


def notebooks(root: Path | None = None) -> list[str]:
    """Stems of the course notebooks, in course order (their number)."""
    folder = notebook_dir(root)
    stems = sorted({p.stem for p in folder.glob("[0-9][0-9]_*.ipynb")} | {p.stem for p in folder.glob("[0-9][0-9]_*.py")})
    bad = [s for s in stems if not NAME.match(s)]
    if bad:
        raise CourseError(f"notebook names must look like 'NN_words' (lower case): {bad} in {folder}")
    return stems


def title(stem: str) -> str:
    """Link text of a notebook: '02 · tokenization ablations'."""
    return TITLES.get(stem) or f"{stem[:2]} · {stem[3:].replace('_', ' ')}"


def nav_line(stems: list[str], stem: str) -> str:
    """'[⬅ prev](prev.ipynb) · next: [next ➡](next.ipynb)' (either side may be absent)."""
    i = stems.index(stem)
    parts = []
    if i > 0:
        parts.append(f"[⬅ {title(stems[i - 1])}]({stems[i - 1]}.ipynb)")
    if i + 1 < len(stems):
        parts.append(f"next: [{title(stems[i + 1])} ➡]({stems[i + 1]}.ipynb)")
    return " · ".join(parts)


def badge(stem: str) -> str:
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{stem}.ipynb)")


_HEADER = re.compile(r"^\[!\[Open In Colab\]\(.*\n(?:· .*\n?)*", re.M)  # badge + every link line under it


def with_links(nb, stems: list[str], stem: str):
    """A copy of `nb` whose badge + link line (first cell), footer links (last cell) and Colab
    install cell are the generated ones."""
    nb = copy.deepcopy(nb)
    cells = nb.cells
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        raise CourseError(f"notebooks/{stem}: the first cell must be a markdown cell starting with the '# ' title")
    nav = nav_line(stems, stem)
    header = badge(stem) + (f"\n· {nav}" if nav else "") + "\n"
    src = cells[0].source if cells[0].source.endswith("\n") else cells[0].source + "\n"
    if _HEADER.search(src):
        src = _HEADER.sub(lambda _: header, src, count=1)
    else:  # no badge yet: put it under the title
        first, _, rest = src.partition("\n")
        src = f"{first}\n\n{header}{rest}"
    cells[0].source = src.rstrip("\n")
    footer = f"---\n{nav}"
    if cells[-1].cell_type == "markdown" and cells[-1].source.startswith("---\n"):
        cells[-1].source = footer
    else:
        cells.append(nbformat.v4.new_markdown_cell(footer))
    for c in cells:
        if c.cell_type == "code" and c.source.startswith(COLAB_MARK):
            c.source = COLAB_CELL
    return nb


# ---- jupytext pairs ------------------------------------------------------------------------------

def _inputs(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip("\n")) for c in nb.cells]


def read_pair(stem: str, root: Path | None = None):
    """(text notebook, ipynb notebook) of one pair; a clear error when a half is missing."""
    folder = notebook_dir(root)
    py, ipynb = folder / f"{stem}.py", folder / f"{stem}.ipynb"
    for p in (py, ipynb):
        if not p.is_file():
            raise CourseError(f"{p.relative_to(folder.parent)} is missing: every notebook is a pair "
                              f"{stem}.py + {stem}.ipynb (run `python -m gadlib.course build`)")
    return jupytext.read(py), nbformat.read(ipynb, as_version=4)


def pair_problems(stem: str, root: Path | None = None) -> list[str]:
    """What is wrong with one pair: out of sync, wrong links, missing pairing; [] when fine."""
    text, ipynb = read_pair(stem, root)
    problems = []
    formats = ipynb.metadata.get("jupytext", {}).get("formats", "")
    if formats != PAIRING:
        problems.append(f"notebooks/{stem}.ipynb: metadata jupytext.formats is {formats!r}, expected {PAIRING!r}")
    a, b = _inputs(text), _inputs(ipynb)
    if a != b:
        i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        problems.append(f"notebooks/{stem}.py and .ipynb differ from cell {i} on ({len(a)} vs {len(b)} cells): "
                        "run `python -m gadlib.course build` (it runs jupytext --sync)")
    if _inputs(with_links(text, notebooks(root), stem)) != a:
        problems.append(f"notebooks/{stem}.py: the badge, prev/next link line or Colab cell is not the generated "
                        "one: run `python -m gadlib.course build`")
    return problems


def build(root: Path | None = None) -> list[Path]:
    """Sync every pair (newest side wins), regenerate the link lines in the text side, sync again."""
    root = root or repo_root()
    stems = notebooks(root)
    folder = notebook_dir(root)
    changed = []
    for stem in stems:
        py = folder / f"{stem}.py"
        if not py.is_file():
            raise CourseError(f"notebooks/{stem}.py is missing; pair the notebook first: "
                              f"jupytext --set-formats {PAIRING} notebooks/{stem}.ipynb")
        _sync(py)
        text = jupytext.read(py)
        linked = with_links(text, stems, stem)
        if _inputs(linked) != _inputs(text):
            jupytext.write(linked, py, fmt="py:percent")
            changed.append(py)
        _sync(py)
    return changed


def _sync(path: Path) -> None:
    """`jupytext --sync --quiet path`, in this process (a subprocess per pair costs seconds)."""
    try:
        code = jupytext_cli(["--sync", "--quiet", str(path)])
    except Exception as e:  # jupytext reports bad input by raising; keep the file name in the message
        raise CourseError(f"jupytext --sync {path.name} failed: {e}") from e
    if code:
        raise CourseError(f"jupytext --sync {path.name} failed (exit code {code})")


# ---- solution and student editions ----------------------------------------------------------------

def strip_solutions(source: str, cell_type: str = "code") -> str:
    """Each BEGIN/END SOLUTION block -> nbgrader's stub at the block's indentation
    (code: `raise NotImplementedError()`, markdown: 'YOUR ANSWER HERE')."""
    lines, out, inside, where = source.split("\n"), [], False, None
    for n, line in enumerate(lines, 1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise CourseError(f"nested {BEGIN} at line {n}")
            inside, where = True, n
            indent = line[:len(line) - len(line.lstrip())]
            out += [indent + s for s in (STUB_CODE if cell_type == "code" else STUB_MD).split("\n")]
        elif marker == END:
            if not inside:
                raise CourseError(f"{END} without {BEGIN} at line {n}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise CourseError(f"{BEGIN} at line {where} is never closed")
    return "\n".join(out)


def has_solution(cell) -> bool:
    return any(line.strip() == BEGIN for line in cell.source.split("\n"))


def is_check(cell) -> bool:
    return cell.cell_type == "code" and re.search(r"^check_\w+\(", cell.source, re.M) is not None


def exercise_start(nb, name: str = "notebook") -> int:
    """Index of the markdown cell that opens the exercises."""
    for i, c in enumerate(nb.cells):
        if c.cell_type == "markdown" and c.source.startswith(EXERCISES_HEADING):
            return i
    raise CourseError(f"{name}: no markdown cell starting with {EXERCISES_HEADING!r}")


def _nbgrader(cell, points: int = 1) -> dict:
    meta = {"grade_id": cell.get("id", ""), "locked": True, "schema_version": 3, "solution": False,
            "grade": False, "task": False}
    if has_solution(cell):
        meta.update(solution=True, locked=False)
        if cell.cell_type == "markdown":  # a written answer: graded by hand
            meta.update(grade=True, points=points)
    elif is_check(cell):
        meta.update(grade=True, points=points)
    return meta


def lesson_outputs(outputs: list) -> list:
    """A lesson cell's outputs as a student edition keeps them: everything the run showed (tables,
    figures, printed numbers) except widget views, whose state is not kept, and execution counts."""
    kept = []
    for out in copy.deepcopy(outputs):
        data = out.get("data", {})
        data.pop(WIDGET_VIEW, None)
        if out.get("output_type") in ("display_data", "execute_result") and not data:
            continue
        if "execution_count" in out:
            out["execution_count"] = None
        kept.append(out)
    return kept


def edition(nb, student: bool):
    """The student (solutions stubbed) or nbgrader source (solutions kept) edition of a solution
    notebook: execution counts and the jupytext pairing removed; nbgrader metadata on the
    exercise cells (solution cells editable, check cells graded, the rest read-only).

    A student edition keeps the outputs of the lesson (every cell above the exercises), since the
    written questions ask about what the lesson measured and a student should not need the full
    run to answer them; no exercise cell keeps an output (they would show the solution's results).
    The nbgrader source keeps none (nbgrader clears them itself)."""
    nb = copy.deepcopy(nb)
    for key in ("jupytext", "widgets"):  # the pairing, and widget state of the main job's run
        nb.metadata.pop(key, None)
    # the kernel that ran the main job records its Python version here; an edition must not depend on it
    nb.metadata["language_info"] = {"name": nb.metadata.get("language_info", {}).get("name", "python")}
    start = exercise_start(nb)
    for i, c in enumerate(nb.cells):
        c.metadata = {}
        if c.cell_type == "code":
            c.outputs = lesson_outputs(c.outputs) if student and i < start else []
            c.execution_count = None
        if i >= start and (has_solution(c) or is_check(c)):
            c.metadata["nbgrader"] = _nbgrader(c)
        if student and has_solution(c):
            c.source = strip_solutions(c.source, c.cell_type)
    return nb


def student_links(nb, stem: str, with_student: list[str]):
    """In a student edition (notebooks/student/): the Colab badge opens the student edition, and
    a link to a notebook without one goes up to the solution edition (../NN_name.ipynb)."""
    solution_url = f"/blob/{BRANCH}/notebooks/{stem}.ipynb"
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        src = cell.source.replace(solution_url, f"/blob/{BRANCH}/notebooks/student/{stem}.ipynb")
        cell.source = re.sub(r"\]\((\d\d_[a-z0-9_]+)\.ipynb\)",
                             lambda m: m.group(0) if m.group(1) in with_student else f"](../{m.group(1)}.ipynb)", src)
    return nb


def student_path(stem: str, root: Path | None = None) -> Path:
    return notebook_dir(root) / "student" / f"{stem}.ipynb"


def solution_notebook(stem: str, root: Path | None = None):
    return nbformat.read(notebook_dir(root) / f"{stem}.ipynb", as_version=4)


def course_notebooks(root: Path | None = None) -> list[str]:
    """The notebooks that have an exercise section (those get student editions)."""
    out = []
    for stem in notebooks(root):
        try:
            exercise_start(solution_notebook(stem, root), stem)
            out.append(stem)
        except CourseError:
            pass
    return out


def write_student_editions(root: Path | None = None, check: bool = False) -> list[str]:
    """Write (or, with check=True, compare) notebooks/student/*.ipynb; returns the stale ones."""
    stale, stems = [], course_notebooks(root)
    for stem in stems:
        path = student_path(stem, root)
        nb = student_links(edition(solution_notebook(stem, root), student=True), stem, stems)
        text = nbformat.writes(nb) + "\n"
        if not path.is_file() or path.read_text() != text:
            stale.append(str(path.relative_to(notebook_dir(root).parent)))
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    return stale


def write_nbgrader_source(dest: Path, root: Path | None = None) -> list[Path]:
    """dest/source/<stem>/<stem>.ipynb for `nbgrader generate_assignment <stem>`."""
    stems = course_notebooks(root)
    if not stems:   # e.g. run from outside the repository: say so rather than write nothing
        raise CourseError(f"no notebook with an Exercises section under {(root or repo_root()) / 'notebooks'}; "
                          "run this from the repository's folder")
    written = []
    for stem in stems:
        path = Path(dest) / "source" / stem / f"{stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(edition(solution_notebook(stem, root), student=False), path)
        written.append(path)
    return written


def exercise_code(nb, name: str = "notebook") -> list[str]:
    """Source of the code cells from the Exercises heading on (what tests execute)."""
    return [c.source for c in nb.cells[exercise_start(nb, name):] if c.cell_type == "code"]


# ---- a release tree for students ------------------------------------------------------------------

RELEASE_FILES = ("gadlib", "configs", "requirements.txt", "pyproject.toml", "environment.yml", ".gitignore",
                 "data/README.md")   # copied as they are; results/NN_*.json too (the notebooks' time estimates)
RELEASE_README = """# GAD Lab: the student edition

Numbered notebooks on generative vs discriminative multimodal-LLM classifiers and GAD (Pang,
Chatterjee, Sener, Yao, ICLR 2026), over a small package, `gadlib`. Each notebook keeps the outputs
of the lesson (figures, tables) and ends with **graded exercises**: write your answer where it says
`# YOUR CODE HERE` / `YOUR ANSWER HERE`, then run the `check_...` cell below it.

{table}

**Colab:** open a notebook with its badge and run its first code cell: it installs gadlib from
{url} (branch `{branch}`) and prints what it installed, or stops with one error saying why not.
**Your machine:** Python 3.11, then `pip install -r requirements.txt -e .` and `jupyter lab notebooks/`.

The notebooks run at the lesson size on any device (a CPU is enough; a GPU is faster). The
paper-scale sizes are a choice: `GADLAB_PROFILE=gpu`, and `GADLAB_BACKBONE` for a real LM (a hub
name or a local folder); each notebook prints what its choice costs before it starts.
"""


def write_release(dest: Path, root: Path | None = None) -> list[Path]:
    """A tree to publish for students (docs/instructors.md: "Hosting the course"): the student
    editions as notebooks/<name>.ipynb (no solution edition, no jupytext sources), gadlib (the
    checkers included), the requirements, configs, the data README, the results files and a
    README for students. Refuses a `dest` that exists and is not empty."""
    root = root or repo_root()
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise CourseError(f"{dest} is not empty: release into a new folder")
    stems = course_notebooks(root)
    if not stems:
        raise CourseError(f"no notebook with an Exercises section under {root / 'notebooks'}; run this from the repository's folder")
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in RELEASE_FILES:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for res in sorted((root / "results").glob("[0-9][0-9]_*.json")):
        (dest / "results").mkdir(exist_ok=True)
        shutil.copy2(res, dest / "results" / res.name)
    written = []
    for stem in stems:
        nb = edition(solution_notebook(stem, root), student=True)   # badges already point at notebooks/<stem>.ipynb
        path = dest / "notebooks" / f"{stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nbformat.writes(nb) + "\n")
        if any(BEGIN in c.source for c in nb.cells):
            raise CourseError(f"{path}: a solution is left in the student edition")
        written.append(path)
    table = "\n".join(f"* [{title(s)}](notebooks/{s}.ipynb) {badge(s)}" for s in stems)
    (dest / "README.md").write_text(RELEASE_README.format(table=table, url=REPO_URL, branch=REPO_BRANCH))
    return written


# ---- command line ------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gadlib.course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="regenerate badges/links, then jupytext --sync every pair")
    st = sub.add_parser("student", help="write notebooks/student/*.ipynb")
    st.add_argument("--check", action="store_true", help="only report stale student editions (exit 1)")
    sub.add_parser("check", help="pairs in sync, links right, student editions up to date")
    ng = sub.add_parser("nbgrader", help="write an nbgrader source folder")
    ng.add_argument("dest", type=Path)
    rel = sub.add_parser("release", help="write a tree to publish for students: student editions, gadlib, no solutions")
    rel.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            changed = build()
            print(f"links regenerated in {len(changed)} notebook(s); {len(notebooks())} pairs synced")
            stale = write_student_editions()
            print(f"student editions rewritten: {stale or 'none'}")
            print(f"checker references encoded: {write_reference_blob() or 'unchanged'}")
        elif args.cmd == "student":
            stale = write_student_editions(check=args.check)
            if args.check and stale:
                print(f"out of date: {stale}; run `python -m gadlib.course student`", file=sys.stderr)
                return 1
            print(("up to date" if args.check else f"wrote {stale or 'nothing (all up to date)'}"))
        elif args.cmd == "check":
            problems = [p for stem in notebooks() for p in pair_problems(stem)]
            problems += [f"{p}: out of date (python -m gadlib.course student)" for p in write_student_editions(check=True)]
            problems += [f"{p}: out of date with {REFERENCES_SOURCE} (python -m gadlib.course build)"
                         for p in write_reference_blob(check=True)]
            print("\n".join(problems) or "all pairs in sync, links right, student editions up to date",
                  file=sys.stderr if problems else sys.stdout)
            return 1 if problems else 0
        elif args.cmd == "nbgrader":
            for p in write_nbgrader_source(args.dest):
                print(f"wrote {p}")
            config = write_nbgrader_config(args.dest)
            print(f"wrote {config} (cell timeout {cell_timeout()} s, GADLAB_PROFILE=cpu)")
            if config.name != "nbgrader_config.py":
                print(f"  {args.dest}/nbgrader_config.py was not written by this command and is kept: "
                      f"merge {config.name} into it", file=sys.stderr)
        elif args.cmd == "release":
            written = write_release(args.dest)
            print(f"wrote {args.dest}: {len(written)} student notebooks, gadlib, requirements; install cells clone "
                  f"{REPO_URL} branch {REPO_BRANCH} (set REPO_URL / REPO_BRANCH in gadlib/tools/course.py, rebuild)")
    except CourseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
