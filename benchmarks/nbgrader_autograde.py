"""How long `nbgrader autograde` takes for one submission of a notebook, training cells included.

The submission is the solution edition (what a student who solved everything hands in), so every
check cell should score. Needs nbgrader where it runs (`pip install nbgrader`; not a gadlib
dependency) and gadlib installed there too (the check cells import `gadlib.lessons.exercises`):

    python benchmarks/nbgrader_autograde.py                       # notebook 01, about as long as its own run
    python benchmarks/nbgrader_autograde.py --notebook 04_gad_finetuning

Writes results/nbgrader_autograde.json (seconds, load averages before and after, scores) and
prints it; docs/instructors.md cites it.
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

from gadlib.tools.course import write_nbgrader_source
from gadlib.evaluation.results import repo_root, save_results
from gadlib.tools.run_notebooks import machine_description


def nbgrader(course: Path, *args: str) -> None:
    subprocess.run(["nbgrader", *args, "--force"], cwd=course, check=True,
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
        (course / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
            "c.ExecutePreprocessor.timeout = 3600   # the training cells run too\n")
        nbgrader(course, "generate_assignment", args.notebook)
        submitted = course / "submitted" / "student1" / args.notebook
        submitted.mkdir(parents=True)
        shutil.copy(course / "source" / args.notebook / f"{args.notebook}.ipynb", submitted)
        load_before = os.getloadavg()
        start = time.perf_counter()
        nbgrader(course, "autograde", args.notebook)
        seconds = time.perf_counter() - start
        record = {"assignment": args.notebook, "seconds": round(seconds, 1),
                  "load_average_before": [round(x, 2) for x in load_before],
                  "load_average_after": [round(x, 2) for x in os.getloadavg()],
                  **scores(course), "machine": machine_description(), "date": time.strftime("%Y-%m-%d")}
    print(f"saved {save_results('nbgrader_autograde', record)}: {record}")

if __name__ == "__main__":
    main()
