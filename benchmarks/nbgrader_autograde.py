"""How long `nbgrader autograde` takes for one submission of a notebook, training cells included.

The course folder is the one docs/instructors.md's recipe makes: `python -m gadlib.course nbgrader`
writes the source notebooks and the nbgrader_config.py that nbgrader reads (its cell timeout, which
the training cells need, and the kernels' environment: gadlib.tools.grading.nbgrader_config); this
benchmark uses that config as written, with no timeout of its own. The submission is the solution
edition (what a student who solved everything hands in), so every check cell should score. Needs nbgrader where it runs (`pip install nbgrader`; not a gadlib
dependency) and gadlib installed there too (the check cells import `gadlib.lessons.exercises`):

    python benchmarks/nbgrader_autograde.py                       # notebook 01, about as long as its own run
    python benchmarks/nbgrader_autograde.py --notebook 04_gad_finetuning

Writes results/nbgrader_autograde.json (seconds, the config's cell timeout, the slowest cells of the
graded run, load averages before and after, scores) and prints it; docs/instructors.md cites it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat

from gadlib.tools.course import write_nbgrader_source
from gadlib.tools.grading import cell_timeout, write_nbgrader_config
from gadlib.evaluation.results import repo_root, save_results
from gadlib.tools.run_notebooks import machine_description


from thread_sensitivity import cell_seconds  # benchmarks/ is on sys.path when a script in it runs


def nbgrader(course: Path, *args: str) -> None:
    # the kernels import this checkout's gadlib, not another installed one
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(repo_root()), os.environ.get("PYTHONPATH")])))
    subprocess.run(["nbgrader", *args, "--force"], cwd=course, check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def scores(course: Path) -> dict:
    """Auto-graded points out of their maximum, and how many cells wait for a person."""
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute("select g.auto_score, c.max_score, g.needs_manual_grade from grade g "
                          "join grade_cells c on g.cell_id = c.id").fetchall()
    auto = [r for r in rows if not r[2]]
    return {"auto_points": sum(r[0] or 0 for r in auto), "auto_max": sum(r[1] for r in auto),
            "manual_cells": sum(1 for r in rows if r[2])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notebook", default="01_generative_vs_discriminative")
    args = ap.parse_args()
    if shutil.which("nbgrader") is None:
        raise SystemExit("nbgrader is not installed here (pip install nbgrader)")
    with tempfile.TemporaryDirectory(prefix="gadlab-nbgrader-") as tmp:
        course = Path(tmp)
        write_nbgrader_source(course, repo_root())
        write_nbgrader_config(course, repo_root())   # as `python -m gadlib.course nbgrader` writes it
        nbgrader(course, "generate_assignment", args.notebook)
        submitted = course / "submitted" / "student1" / args.notebook
        submitted.mkdir(parents=True)
        shutil.copy(course / "source" / args.notebook / f"{args.notebook}.ipynb", submitted)
        load_before = os.getloadavg()
        start = time.perf_counter()
        nbgrader(course, "autograde", args.notebook)
        seconds = time.perf_counter() - start
        graded = course / "autograded" / "student1" / args.notebook / f"{args.notebook}.ipynb"
        cells = cell_seconds(nbformat.read(graded, as_version=4)) if graded.is_file() else []
        record = {"assignment": args.notebook, "seconds": round(seconds, 1), "config": "python -m gadlib.course nbgrader",
                  "cell_timeout_s": cell_timeout(repo_root()),
                  "slowest_cells": sorted(cells, key=lambda c: -c["seconds"])[:3],
                  "load_average_before": [round(x, 2) for x in load_before],
                  "load_average_after": [round(x, 2) for x in os.getloadavg()],
                  **scores(course), "machine": machine_description(), "date": time.strftime("%Y-%m-%d")}
    print(f"saved {save_results('nbgrader_autograde', record)}: {record}")

if __name__ == "__main__":
    main()
