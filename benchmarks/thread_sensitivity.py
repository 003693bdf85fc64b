"""Which of a notebook's numbers move when it runs with another number of CPU threads.

A student's run differs from the committed one in the thread count (Colab's free runtime has 2
cores; a laptop more; a busy grader fewer), and the order of floating-point sums in torch's
kernels follows the thread count, so training drifts apart from the first differing rounding.
This runs one notebook (default 01) top to bottom with `jupyter nbconvert --execute`, writing the
executed copy and its results file into a temporary folder (GADLAB_RESULTS_DIR: the committed
results/ is never written), with `--threads` torch/OpenMP/MKL threads (OMP_NUM_THREADS and
MKL_NUM_THREADS, which torch reads at import for its intra-op pool), then compares every
non-timing number of the new results file with the committed one:

    nice -n 10 python benchmarks/thread_sensitivity.py               # 01 at 1 thread, ~10-15 min on 2 cores
    python benchmarks/thread_sensitivity.py --compare-only NEW.json  # only print the comparison with a results
                                                                     # file made elsewhere (e.g. on another CPU)

Writes results/thread_sensitivity.json: how many numbers were compared and moved, the largest
moves (absolute), a summary per group (metrics means, per-seed values, differences and their
verdicts, convergence steps, error sharing), and the per-cell times of the run (the slowest cells:
what an nbgrader cell timeout must allow; gadlib.tools.grading.cell_timeout). docs/instructors.md
("When a student's numbers differ") cites it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

from gadlib.evaluation.results import RESULTS_DIR_ENV, repo_root, save_results
from gadlib.tools.run_notebooks import machine_description

# values that are times or speeds (they move with the machine, not with the arithmetic): these
# top-level keys, and leaves whose name starts with one of TIMING_LEAVES
TIMING_TOP = ("timing", "seconds", "run")
TIMING_LEAVES = ("ms_per", "fps", "seconds", "latency")


def flatten(value, path: str = "") -> dict[str, object]:
    """{'/metrics/gad/step_top1/mean': 0.58, ...}: every leaf number or string of a results file."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}/{k}"))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        return out
    return {path: value}


def is_timing(path: str) -> bool:
    parts = path.strip("/").split("/")
    return parts[0].split("[")[0] in TIMING_TOP or parts[-1].startswith(TIMING_LEAVES)


def group(path: str) -> str:
    """'metrics (mean)', 'metrics (per seed)', 'differences (verdict)', 'convergence', ..."""
    top = path.strip("/").split("/")[0].split("[")[0]
    if top == "metrics":
        return f"metrics ({'per seed' if '/per_seed' in path else path.rsplit('/', 1)[-1]})"
    if top == "differences":
        leaf = path.rsplit("/", 1)[-1].split("[")[0]
        return f"differences ({leaf})"
    return top


def compare(committed: dict, new: dict) -> dict:
    """Every non-timing leaf of both files side by side: which moved, by how much, per group."""
    a, b = flatten(committed), flatten(new)
    keys = [k for k in a if not is_timing(k)]
    missing = [k for k in keys if k not in b]
    moved, groups = [], {}
    for k in keys:
        if k in missing:
            continue
        x, y = a[k], b[k]
        g = groups.setdefault(group(k), {"compared": 0, "moved": 0, "max_abs_change": 0.0})
        g["compared"] += 1
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            change = abs(float(y) - float(x))
            if change > 1e-12 * max(1.0, abs(float(x))):
                g["moved"] += 1
                g["max_abs_change"] = max(g["max_abs_change"], change)
                moved.append({"key": k, "committed": x, "new": y, "abs_change": change})
        elif x != y:
            g["moved"] += 1
            moved.append({"key": k, "committed": x, "new": y, "abs_change": None})
    moved.sort(key=lambda m: -(m["abs_change"] if m["abs_change"] is not None else float("inf")))
    return {"compared": len(keys) - len(missing), "moved": len(moved), "missing_in_new": missing,
            "groups": groups, "verdicts_changed": [m for m in moved if m["key"].endswith("/verdict")],
            "largest_moves": moved[:25]}


def cell_seconds(nb) -> list[dict]:
    """Per code cell: seconds from execute_input to execute_reply (nbclient's record_timing)."""
    out = []
    for i, c in enumerate(nb.cells):
        t = c.get("metadata", {}).get("execution", {})
        start, end = t.get("iopub.execute_input"), t.get("shell.execute_reply")
        if c.cell_type == "code" and start and end:
            secs = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                    - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            out.append({"cell": i, "first_line": (c.source.strip().splitlines() or [""])[0][:60], "seconds": round(secs, 1)})
    return out


def run(notebook: str, threads: int, folder: Path) -> tuple[Path, float, list[dict], list[float]]:
    """Execute notebooks/<notebook>.ipynb into `folder` (kernel cwd notebooks/, as the main job)."""
    env = dict(os.environ, **{RESULTS_DIR_ENV: str(folder), "OMP_NUM_THREADS": str(threads),
                              "MKL_NUM_THREADS": str(threads), "GADLAB_PROFILE": "cpu",
                              "GADLAB_STATIC_WIDGETS": "1",
                              # the kernel imports this checkout's gadlib, not another installed one
                              "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root()), os.environ.get("PYTHONPATH")]))})
    load = [round(x, 2) for x in os.getloadavg()]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "notebook",
                    "--ExecutePreprocessor.timeout=-1", "--output-dir", str(folder),
                    str(repo_root() / "notebooks" / f"{notebook}.ipynb")], env=env, check=True)
    seconds = time.perf_counter() - start
    executed = nbformat.read(folder / f"{notebook}.ipynb", as_version=4)
    return folder / f"{notebook}.json", seconds, cell_seconds(executed), load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notebook", default="01_generative_vs_discriminative")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--compare-only", type=Path, help="a results file of a run made elsewhere")
    args = ap.parse_args()
    committed = json.loads((repo_root() / "results" / f"{args.notebook}.json").read_text())
    record = {"assignment": args.notebook, "committed_torch_threads": committed.get("run", {}).get("torch_threads")}
    if args.compare_only:   # printed, not saved: results/thread_sensitivity.json is the thread-count measurement
        found = compare(committed, json.loads(args.compare_only.read_text()))
        print(json.dumps({k: found[k] for k in ("compared", "moved", "verdicts_changed", "largest_moves")}, indent=1))
        return
    with tempfile.TemporaryDirectory(prefix="gadlab-threads-") as tmp:
        new_path, seconds, cells, load = run(args.notebook, args.threads, Path(tmp))
        extra = {"threads": args.threads, "seconds": round(seconds, 1), "load_average_before": load,
                 "load_average_after": [round(x, 2) for x in os.getloadavg()],
                 "slowest_cells": sorted(cells, key=lambda c: -c["seconds"])[:5]}
        new = json.loads(Path(new_path).read_text())
        # None: a notebook run outside the main job records no "run" (the threads are the env's, `threads`)
        record.update(extra, new_torch_threads=new.get("run", {}).get("torch_threads"),
                      **compare(committed, new), machine=machine_description(), date=time.strftime("%Y-%m-%d"))
    os.environ.pop(RESULTS_DIR_ENV, None)   # this summary goes to the committed results/
    print(f"saved {save_results('thread_sensitivity', record)}")
    print(json.dumps({k: record[k] for k in ("compared", "moved", "groups")}, indent=1))


if __name__ == "__main__":
    main()
