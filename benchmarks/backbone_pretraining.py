"""Does pretraining the embedded tiny Llama on the synthetic world's text help? Measured, not assumed.

For each backbone (`embedded-tiny-llama-scratch`: random init; `embedded-tiny-llama`: pretrained by
`gadlib.lms.pretrain`) and each seed, every model is trained to convergence on held-out training videos
(best validated epoch, patience in epochs, a maximum budget), then tested:

1. offline step recognition on epic_like (notebook 02's preset and task): generative (label text),
   discriminative, GAD, and the tokenization study's generative rand and desync;
2. online action detection on crosstask_like (notebook 05's setting): generative, discriminative, GAD.

Each comparison is a paired difference with a 95 % hierarchical-bootstrap interval
(`gadlib.evaluation.intervals`): pretrained − scratch per method, and within each backbone the paper's
comparisons (discriminative − generative, GAD − discriminative, rand − text). "text vs rand" tests
whether label *meaning* matters, which only an LM that knows the words can show.

    python benchmarks/backbone_pretraining.py      # ~10 min on a 2-core CPU, idle

Writes results/backbone_pretraining.json and prints the intervals. See benchmarks/README.md.
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

import numpy as np  # noqa: E402

from gadlib.core.backbone import EMBEDDED, EMBEDDED_SCRATCH, BackboneConfig  # noqa: E402
from gadlib.data.datasets import ensure_benchmark  # noqa: E402
from gadlib.evaluation.experiment import Setup, run, summarize  # noqa: E402
from gadlib.evaluation.intervals import accuracy_interval, oad_interval  # noqa: E402
from gadlib.evaluation.oad import OADConfig, run_oad  # noqa: E402
from gadlib.evaluation.results import save_results  # noqa: E402
from gadlib.core.training import TrainConfig  # noqa: E402
from gadlib.core.utils import quiet  # noqa: E402

BACKBONES = {"scratch": EMBEDDED_SCRATCH, "pretrained": EMBEDDED}
OFFLINE = ("generative", "discriminative", "gad", "gen_rand", "gen_desync")
OAD_METHODS = ("generative", "discriminative", "gad")
# (A, B, the paper's direction of A − B: +1 A higher, 0 no difference claimed)
WITHIN = [("discriminative", "generative", +1), ("gad", "discriminative", +1), ("gen_rand", "generative", 0),
          ("gen_desync", "generative", +1)]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--max-epochs", type=int, default=60)
    p.add_argument("--patience", type=int, default=15, help="epochs without a better validation score")
    p.add_argument("--min-delta", type=float, default=0.01, help="what counts as better")
    p.add_argument("--val-every", type=int, default=3, help="validate after every k-th epoch")
    p.add_argument("--name", default="backbone_pretraining", help="results/<name>.json")
    return p.parse_args(argv)


def offline_runs(backbone: str, seed: int, train: TrainConfig) -> list:
    data = ensure_benchmark("epic_like", size="cpu").with_validation(0.2, seed=seed)
    setup = Setup(backbone=BackboneConfig(name=backbone), num_frames=4, kinds=("step",), train=train)
    out = []
    for name in OFFLINE:
        method, mapping = ("generative", name[4:]) if name.startswith("gen_") else (name, None)
        kwargs = {"mapping": mapping} if mapping else {}
        out += run(method, data, seed, setup, name=name, validate_on="val", **kwargs).values()
    return out


def oad_runs(backbone: str, seed: int, train: TrainConfig) -> list:
    data = ensure_benchmark("crosstask_like", size="cpu").with_validation(0.2, seed=seed)
    setup = Setup(backbone=BackboneConfig(name=backbone), kinds=("oad",), train=train)
    cfg = OADConfig(window=8, background_weight=0.2)
    return [r for m in OAD_METHODS for r in run_oad(m, data, seed, setup, cfg, validate_on="val").values()]


def pick(runs, method):
    return sorted((r for r in runs if r.method == method), key=lambda r: r.seed)


def main(argv=None) -> None:
    args = parse_args(argv)
    quiet()
    train = TrainConfig(epochs=args.max_epochs, lr=1e-3, batch_size=64, progress=False, patience=args.patience,
                        val_every=args.val_every, min_delta=args.min_delta)
    load_start, t0 = os.getloadavg()[0], time.perf_counter()
    runs = {"offline": {}, "oad": {}}
    for label, backbone in BACKBONES.items():
        runs["offline"][label], runs["oad"][label] = [], []
        for seed in args.seeds:
            runs["offline"][label] += offline_runs(backbone, seed, train)
            runs["oad"][label] += oad_runs(backbone, seed, train)
            print(f"{label} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    fps = ensure_benchmark("crosstask_like", size="cpu").fps

    def interval(setting, a_runs, b_runs):
        return (accuracy_interval(a_runs, b_runs, "step") if setting == "offline"
                else oad_interval(a_runs, b_runs, "seg_f1_0.1", fps=fps))

    differences, metrics, steps = {}, {}, {}
    for setting, methods, metric in (("offline", OFFLINE, "step_top1"), ("oad", OAD_METHODS, "oad_seg_f1_0.1")):
        kinds, names = (("step",), ("top1",)) if setting == "offline" else (("oad",), ("seg_f1_0.1",))
        for label in BACKBONES:
            s = summarize(runs[setting][label], kinds=kinds, metrics=names)
            for m in methods:
                metrics[f"{setting} {label} {m}"] = s[m][metric]
                steps[f"{setting} {label} {m}"] = [r.history.best_step for r in pick(runs[setting][label], m)]
            for a, b, expect in WITHIN:
                if a in methods and b in methods:
                    iv = interval(setting, pick(runs[setting][label], a), pick(runs[setting][label], b))
                    differences[f"{setting} {label}: {a} − {b}"] = {**iv.as_dict(), "verdict": iv.verdict(expect),
                                                                    "expect": expect}
        for m in methods:  # pretrained − scratch; no direction claimed
            iv = interval(setting, pick(runs[setting]["pretrained"], m), pick(runs[setting]["scratch"], m))
            verdict = {"holds": "pretrained better", "opposite": "scratch better"}.get(iv.verdict(+1), iv.verdict(+1))
            differences[f"{setting} {m}: pretrained − scratch"] = {**iv.as_dict(), "verdict": verdict}
    seconds = time.perf_counter() - t0
    path = save_results(args.name, {
        "profile": "cpu", "backbone": ", ".join(BACKBONES.values()), "seeds": args.seeds,
        "dataset": "epic_like offline step recognition; crosstask_like OAD (cpu size, synthetic)",
        "settings": {"max_epochs": args.max_epochs, "patience": args.patience, "val_every": args.val_every,
                     "min_delta": args.min_delta,
                     "lr": 1e-3, "batch_size": 64, "validation_share": 0.2, "oad_window": 8,
                     "oad_background_weight": 0.2},
        "metrics": metrics, "best_step": steps, "differences": differences,
        "load_start": round(load_start, 2), "load_end": round(os.getloadavg()[0], 2), "seconds": seconds})
    for key, v in metrics.items():
        print(f"{key:40s} {100 * v['mean']:5.1f} ± {100 * v['std']:4.1f}  best step {steps[key]}")
    for key, d in differences.items():
        lo, hi = d["ci95"]
        print(f"{key:50s} {d['mean']:+5.1f} [{lo:+.1f}, {hi:+.1f}]  {d['verdict']}")
    print(f"saved {path}; {seconds / 60:.1f} min, load {load_start:.2f} -> {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
