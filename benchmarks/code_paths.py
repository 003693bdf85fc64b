"""Do the numbers depend on the CPU's BLAS / kernel code path, and what does pinning one cost?

torch's CPU build takes its matrix products from MKL and its other kernels (softmax, norms,
activations) from ATen, and both pick a code path by the CPU they find: MKL by its dispatcher
(`MKL_CBWR` overrides it), ATen by its capability (`ATEN_CPU_CAPABILITY`: default / avx2 /
avx512). Another path sums in another order, the last bits of a product change, and a short
training run drifts. This trains a small fixed workload (COIN-like discriminative, generative and
GAD; crosstask-like OAD discriminative and GAD; 3 epochs each, the same seeds) once per setting,
each in a fresh interpreter (the variables are read when torch loads), and reports for each
setting its wall time and which runs are bit-identical to the default's, and by how much the
test metrics move.

    python benchmarks/code_paths.py            # about 6 minutes on a 2-core CPU; writes results/code_paths.json
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
SETTINGS = {
    "default": {},
    "MKL_CBWR=AVX2": {"MKL_CBWR": "AVX2"},
    "pinned (gadlib.PINNED_CODE_PATH)": None,   # filled in below from gadlib
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
}

WORKLOAD = r"""
import json, sys, time
import numpy as np, torch
from gadlib.core.backbone import BackboneConfig
from gadlib.core.training import TrainConfig
from gadlib.data.benchmark import generate_benchmark, preset
from gadlib.evaluation import experiment, oad
torch.manual_seed(0)
t0 = time.perf_counter()
out = {}
coin = generate_benchmark(preset("coin_like", num_classes=10, num_tasks=3, steps_per_task=(3, 5), videos_per_task=10,
                                 test_fraction=0.3, noise=0.5)).with_validation()
setup = experiment.Setup(backbone=BackboneConfig(), num_frames=4,
                         train=TrainConfig(epochs=3, batch_size=16, lr=2e-3, progress=False, patience=2, val_every=1))
for method in ("discriminative", "generative", "gad"):
    for name, r in experiment.run(method, coin, 1, setup, validate_on="val").items():
        out[f"coin/{name}"] = {"loss": r.history.loss, "step_top1": float(r.results["step"]["metrics"]["top1"])}
ct = generate_benchmark(preset("crosstask_like", num_classes=8, videos_per_task=6)).with_validation()
cfg = oad.OADConfig(window=8, stride=4, background_weight=0.5)
osetup = experiment.Setup(train=TrainConfig(epochs=3, batch_size=32, lr=1e-3, progress=False, patience=2))
for method in ("discriminative", "gad"):
    for name, r in oad.run_oad(method, ct, 0, osetup, cfg, validate_on="val").items():
        out[f"oad/{name}"] = {"loss": r.history.loss, "seg_f1_0.1": float(r.results["oad"]["metrics"]["seg_f1_0.1"])}
print(json.dumps({"seconds": time.perf_counter() - t0, "runs": out, "threads": torch.get_num_threads(),
                  "capability": torch.backends.cpu.get_cpu_capability()}))
"""


def run(env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
    env.update(env_extra, PYTHONHASHSEED="0", PYTHONPATH=str(REPO), GADLAB_PIN_CODE_PATH="0")
    done = subprocess.run([sys.executable, "-c", WORKLOAD], env=env, capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    sys.path.insert(0, str(REPO))
    from gadlib import PINNED_CODE_PATH
    from gadlib.tools.run_notebooks import machine_facts
    SETTINGS["pinned (gadlib.PINNED_CODE_PATH)"] = dict(PINNED_CODE_PATH)
    load = os.getloadavg()[0]
    got = {name: run(env) for name, env in SETTINGS.items()}
    base = got["default"]["runs"]
    report = {}
    for name, res in got.items():
        same = [k for k, v in res["runs"].items() if v["loss"] == base[k]["loss"]]
        moved = {k: round(100 * abs(next(x for m, x in v.items() if m != "loss") - next(x for m, x in base[k].items() if m != "loss")), 2)
                 for k, v in res["runs"].items()}
        report[name] = {"env": SETTINGS[name], "seconds": round(res["seconds"], 1), "capability": res["capability"],
                        "bit_identical_to_default": f"{len(same)} of {len(base)}",
                        "metric_moves_points": moved}
        print(f"{name:45s} {res['seconds']:6.1f} s  identical to default: {len(same)} of {len(base)} runs; "
              f"largest metric move {max(moved.values()):.2f} points")
    out = {"benchmark": "code_paths", "date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
           **machine_facts(), "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2),
           "settings": report}
    (REPO / "results" / "code_paths.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote results/code_paths.json (load average {load:.2f} before)")


if __name__ == "__main__":
    main()
