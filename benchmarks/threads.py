"""Why the test command gives each pytest-xdist worker one thread: throughput of one fixed training
job run (a) alone at torch's default thread count, (b) twice at once with one thread each, (c) twice
at once at the default thread count (what `pytest -n auto` would do without conftest.py's share).

The job: 2 epochs of the discriminative classifier on the CPU-size coin_like benchmark
(`gadlib.evaluation.experiment.run`), the same kind of work the notebooks do. Each job runs in its own
process; the wall time of the whole scenario and jobs per minute are reported.

    python benchmarks/threads.py          # about 4 minutes on an idle 2-core CPU

Writes results/threads.json and prints a table. See benchmarks/README.md.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JOB = """
import torch
from gadlib.data.benchmark import generate_benchmark, preset
from gadlib.evaluation.experiment import Setup, run
from gadlib.core.training import TrainConfig
run("discriminative", generate_benchmark(preset("coin_like")), 0,
    Setup(train=TrainConfig(epochs=2, lr=1e-3, batch_size=64)))
print(torch.get_num_threads())
"""


def scenario(copies: int, threads: int | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
        if threads:
            env[var] = str(threads)
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", JOB], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(copies)]
    outs = [p.communicate()[0].split() for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError("a benchmark job failed")
    wall = time.perf_counter() - start
    return {"copies": copies, "threads_each": int(outs[0][-1]), "wall_s": round(wall, 1),
            "jobs_per_min": round(60 * copies / wall, 2)}


def main() -> None:
    rows = [scenario(1, None), scenario(2, 1), scenario(2, None)]
    for r in rows:
        print(f"{r['copies']} process(es) x {r['threads_each']} thread(s): {r['wall_s']:7.1f} s, "
              f"{r['jobs_per_min']:.2f} jobs/min")
    out = {"machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores",
           "rows": rows}
    path = REPO / "results" / "threads.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
