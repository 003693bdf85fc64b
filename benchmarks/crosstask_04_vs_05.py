"""Why notebooks 04 and 05 can disagree on crosstask_like's GAD − discriminative (issue 28, item 4).

Both train GAD and the discriminative head on crosstask_like OAD with 8-frame windows, the
authors' background weight 0.2 and the same early stopping, but with different data and batch:

* notebook 04: 30 classes over 6 tasks, few training videos (most videos test the ablations), batch 32;
* notebook 05: the preset's 60 classes over 12 tasks, more training videos, batch 64.

This trains both methods under each notebook's settings and under the two crossings (04's data
with 05's batch, 05's data with 04's batch), so that a change of sign can be put on the data or
on the batch. Each difference gets its 95 % interval (test videos resampled within seeds).

    python benchmarks/crosstask_04_vs_05.py [--seeds 0 1]   # about 5 minutes on a 2-core CPU; results/crosstask_04_vs_05.json
    python benchmarks/crosstask_04_vs_05.py --readme-only   # benchmarks/README.md's block from that file
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.readme_blocks import write_block  # noqa: E402
from gadlib.core.backbone import BackboneConfig  # noqa: E402
from gadlib.core.training import TrainConfig  # noqa: E402
from gadlib.core.utils import quiet  # noqa: E402
from gadlib.data.datasets import ensure_benchmark  # noqa: E402
from gadlib.evaluation.experiment import Setup  # noqa: E402
from gadlib.evaluation.intervals import oad_interval  # noqa: E402
from gadlib.evaluation.oad import OADConfig, run_oad  # noqa: E402
from gadlib.evaluation.results import repo_root, save_results  # noqa: E402
from gadlib.tools.run_notebooks import machine_facts  # noqa: E402

# The two notebooks' CPU settings (their Settings cells); keep in step with them.
DATA = {"04": dict(num_classes=30, num_tasks=6, videos_per_task=20, test_fraction=0.8),
        "05": dict(videos_per_task=12, test_fraction=0.5)}
BATCH = {"04": 32, "05": 64}
SETTINGS = {"04 (its data, its batch)": ("04", "04"), "05 (its data, its batch)": ("05", "05"),
            "04's data, 05's batch": ("04", "05"), "05's data, 04's batch": ("05", "04")}


BLOCK = "crosstask-04-vs-05"


def readme_block(result: dict) -> str:
    """benchmarks/README.md's table, from results/crosstask_04_vs_05.json."""
    rows = ["| settings | batch | GAD − discriminative S-F1@0.1 [95 %] | training / test videos |", "|---|---|---|---|"]
    for label, d in result["differences"].items():
        lo, hi = d["ci95"]
        rows.append(f"| {label} | {d['batch']} | {d['mean']:+.1f} [{lo:+.1f}, {hi:+.1f}] "
                    f"| {d['train_videos']} / {d['test_videos']} |")
    where = f"{result['cpu']}, " if result.get("cpu") else ""
    return "\n".join([f"Measured {result.get('date', '')} ({where}{result['seconds'] / 60:.1f} min, load "
                      f"{result['load_start']} before), seeds {', '.join(map(str, result['seeds']))}:", "", *rows])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--readme-only", action="store_true", help="write README.md's block from the results file; train nothing")
    args = p.parse_args(argv)
    if args.readme_only:
        write_block(BLOCK, readme_block(json.loads((repo_root() / "results" / "crosstask_04_vs_05.json").read_text())))
        return
    quiet()
    cfg = OADConfig(window=8, background_weight=0.2)
    load_start, t0 = os.getloadavg()[0], time.perf_counter()
    out = {}
    for label, (data_of, batch_of) in SETTINGS.items():
        data = ensure_benchmark("crosstask_like", size="cpu", **DATA[data_of]).with_validation(0.2, seed=0)
        setup = Setup(backbone=BackboneConfig(), kinds=("oad",),
                      train=TrainConfig(epochs=60, lr=1e-3, batch_size=BATCH[batch_of], patience=9, val_every=3,
                                        min_delta=0.01, progress=False))
        runs = {m: [r for s in args.seeds for r in run_oad(m, data, s, setup, cfg, validate_on="val").values()]
                for m in ("discriminative", "gad")}
        iv = oad_interval(runs["gad"], runs["discriminative"], "seg_f1_0.1", fps=data.fps)
        lo, hi = iv.ci95
        out[label] = {**iv.as_dict(), "data": DATA[data_of], "batch": BATCH[batch_of],
                      "train_videos": len(data.split("train")), "test_videos": len(data.split("test")),
                      "steps": {m: [r.history.steps for r in rs] for m, rs in runs.items()}}
        print(f"{label:28s} GAD − discriminative S-F1@0.1 {iv.mean:+5.1f} [{lo:+.1f}, {hi:+.1f}]  "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    seconds = time.perf_counter() - t0
    path = save_results("crosstask_04_vs_05", {
        "profile": "cpu", "seeds": args.seeds, "oad": {"window": 8, "background_weight": 0.2},
        "differences": out, "load_start": round(load_start, 2), "load_end": round(os.getloadavg()[0], 2),
        "seconds": seconds, "date": time.strftime("%Y-%m-%d"),
        "cpu": f"{machine_facts().get('cpu', '')}, {os.cpu_count()} cores"})
    write_block(BLOCK, readme_block(json.loads(path.read_text())))
    print(f"saved {path}; {seconds / 60:.1f} min, load {load_start:.2f} -> {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
