"""How many seeds does an OAD comparison need before its interval resolves? Measured on one preset.

Notebook 05 trains each classifier to convergence with 2 seeds on CPU. On thumos_like its
discriminative − generative interval stays wide, and the per-seed differences disagree in sign:
seed-to-seed spread, not the test videos, sets the width. This script trains generative,
discriminative and GAD with notebook 05's settings for `--seeds` seeds and reports, for the first
k seeds (k = 2 .. all), each paired difference with its 95 % hierarchical-bootstrap interval
(`gadlib.evaluation.intervals.oad_interval`), so the half-width can be read against the number of seeds.

    python benchmarks/oad_seeds.py                       # thumos_like, 6 seeds: ~5 min on a 2-core CPU
    python benchmarks/oad_seeds.py --preset epic_like --seeds 0 1 2 3

Writes results/oad_seeds_<preset>.json and prints the table. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = next((p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists()), Path.cwd())
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from gadlib.core.backbone import BackboneConfig  # noqa: E402
from gadlib.data.datasets import ensure_benchmark  # noqa: E402
from gadlib.evaluation.experiment import Setup  # noqa: E402
from gadlib.evaluation.intervals import oad_interval  # noqa: E402
from gadlib.evaluation.oad import OADConfig, run_oad  # noqa: E402
from gadlib.evaluation.results import save_results  # noqa: E402
from gadlib.core.training import TrainConfig  # noqa: E402
from gadlib.core.utils import quiet  # noqa: E402

METHODS = ("generative", "discriminative", "gad")
PAIRS = (("discriminative", "generative"), ("gad", "discriminative"))
# notebook 05's per-preset settings on CPU (its Settings cell): the authors' background weight and
# GAD target, 8-frame windows, its data sizes
NOTEBOOK_05 = {
    "thumos_like": (dict(background_weight=1.0, context="current"), dict(videos_per_task=24, test_fraction=0.4)),
    "crosstask_like": (dict(background_weight=0.2), dict(videos_per_task=16, test_fraction=0.3)),
    "epic_like": (dict(background_weight=0.5), dict(videos_per_task=3)),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", choices=sorted(NOTEBOOK_05), default="thumos_like")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    p.add_argument("--max-epochs", type=int, default=60)
    p.add_argument("--patience", type=int, default=15, help="epochs without a better validation score")
    p.add_argument("--min-delta", type=float, default=0.01)
    p.add_argument("--val-every", type=int, default=3)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if len(args.seeds) < 2:
        raise SystemExit("--seeds: give at least 2 seeds (an interval over seeds needs two)")
    quiet()
    oad_kwargs, size = NOTEBOOK_05[args.preset]
    cfg = OADConfig(window=8, **oad_kwargs)
    setup = Setup(backbone=BackboneConfig(), kinds=("oad",),
                  train=TrainConfig(epochs=args.max_epochs, lr=1e-3, batch_size=64, progress=False,
                                    patience=args.patience, val_every=args.val_every, min_delta=args.min_delta))
    data = ensure_benchmark(args.preset, size="cpu", **size).with_validation(0.2, seed=0)
    load_start, t0 = os.getloadavg()[0], time.perf_counter()
    runs = {m: [] for m in METHODS}
    for seed in args.seeds:
        for m in METHODS:
            runs[m] += run_oad(m, data, seed, setup, cfg, validate_on="val").values()
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    by_seeds = {}
    for k in range(2, len(args.seeds) + 1):
        for a, b in PAIRS:
            iv = oad_interval(runs[a][:k], runs[b][:k], "seg_f1_0.1", fps=data.fps)
            lo, hi = iv.ci95
            by_seeds[f"{k} seeds: {a} − {b}"] = {**iv.as_dict(), "seeds": args.seeds[:k],
                                                 "half_width": (hi - lo) / 2, "verdict": iv.verdict(+1)}
    seconds = time.perf_counter() - t0
    path = save_results(f"oad_seeds_{args.preset}", {
        "profile": "cpu", "backbone": setup.backbone_name, "seeds": args.seeds,
        "dataset": f"{args.preset} (cpu size, synthetic; notebook 05's sizes {size})",
        "settings": {"max_epochs": args.max_epochs, "patience": args.patience, "val_every": args.val_every,
                     "min_delta": args.min_delta, "oad": oad_kwargs, "window": 8, "validation_share": 0.2},
        "test_videos": len(data.split("test")), "differences": by_seeds,
        "load_start": round(load_start, 2), "load_end": round(os.getloadavg()[0], 2), "seconds": seconds})
    for key, d in by_seeds.items():
        lo, hi = d["ci95"]
        print(f"{key:45s} {d['mean']:+5.1f} [{lo:+.1f}, {hi:+.1f}]  half-width {d['half_width']:.1f}  "
              f"per seed {[round(x, 1) for x in d['per_seed']]}  {d['verdict']}")
    print(f"saved {path}; {seconds / 60:.1f} min, load {load_start:.2f} -> {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
