"""Every method and GAD ablation trained briefly, every number kept: run it under two checkouts and
compare, to show that a refactor changes no number (losses, validation curves, kept steps, scores,
predictions, metrics).

    PYTHONHASHSEED=0 PYTHONPATH=/path/to/old python benchmarks/equivalence.py run old.pkl
    PYTHONHASHSEED=0 PYTHONPATH=/path/to/new python benchmarks/equivalence.py run new.pkl
    python benchmarks/equivalence.py compare old.pkl new.pkl

COIN-like offline runs (discriminative; generative text / desync / extend, greedy and exact; GAD
disc-first, gen-first, parallel, no [CLS], label, none) and crosstask-like OAD runs
(discriminative, generative with the first-token rule, GAD, GAD with a context head, two-stage),
3 epochs each with validation and patience. About 5 minutes on a 2-core CPU. Fix PYTHONHASHSEED
when comparing against a checkout older than the fix of `MLLM.assemble`'s prompt order, whose
gradients depended on it. Imports the layered package (gadlib/core, ...) or, for older checkouts,
the flat one.
"""
import pickle
import sys

import numpy as np
import torch

try:
    from gadlib.core.backbone import BackboneConfig
    from gadlib.core.training import TrainConfig
    from gadlib.data.benchmark import generate_benchmark, preset
    from gadlib.evaluation import ablations, experiment, oad
except ImportError:  # a checkout from before the layers
    from gadlib import ablations, experiment, oad
    from gadlib.backbone import BackboneConfig
    from gadlib.benchmark import generate_benchmark, preset
    from gadlib.training import TrainConfig


def run() -> dict:
    torch.set_num_threads(1)
    out = {}
    def keep(name, runs):
        for key, r in runs.items():
            h = r.history
            d = {"loss": list(h.loss), "val": list(h.val_score), "best": h.best_step, "steps": h.steps}
            for kind, res in r.results.items():
                if kind == "oad":
                    d[kind] = {k: v for k, v in res["metrics"].items() if k != "fps"}
                    d[kind + "_scores"] = [(np.asarray(v.scores), np.asarray(v.pred)) for v in res["videos"]]
                else:
                    d[kind] = (np.asarray(res["scores"]), np.asarray(res["pred"]), res["metrics"])
            out[f"{name}/{key}"] = d
            print(name, key, h.steps, h.best_step, flush=True)

    coin = generate_benchmark(preset("coin_like", num_classes=10, num_tasks=3, steps_per_task=(3, 5),
                                     videos_per_task=10, test_fraction=0.3, noise=0.5)).with_validation()
    setup = experiment.Setup(backbone=BackboneConfig(), train=TrainConfig(epochs=3, batch_size=16, lr=2e-3, progress=False,
                                                                           patience=2, val_every=1), num_frames=4)
    for method, kw in [("discriminative", {}), ("generative", {}), ("generative", {"mapping": "desync"}),
                       ("generative", {"mapping": "extend"}), ("gad", {}), ("gad", {"order": "gen_first"}),
                       ("gad", {"order": "parallel"}), ("gad", {"readout": "last_token"}), ("gad", {"generate": "label"}),
                       ("gad", {"generate": "none"})]:
        keep(f"coin/{method}/{kw}", experiment.run(method, coin, 1, setup, decodings=("greedy", "exact"),
                                                   validate_on="val", **kw))
    ct = generate_benchmark(preset("crosstask_like", num_classes=8, videos_per_task=6)).with_validation()
    cfg = oad.OADConfig(window=8, stride=4, background_weight=0.5)
    osetup = experiment.Setup(train=TrainConfig(epochs=3, batch_size=32, lr=1e-3, progress=False, patience=2))
    for method, kw in [("discriminative", {}), ("generative", {}), ("gad", {}),
                       ("gad", {"generate": "context_head", "context_classes": oad.oad_context_classes(ct, cfg)})]:
        runs = oad.run_oad(method, ct, 0, osetup, cfg, decodings=("greedy",), validate_on="val", keep_model=method == "generative", **kw)
        keep(f"oad/{method}/{sorted(kw)}", runs)
        if method == "generative":
            keep("oad/two_stage", {"two": ablations.run_two_stage_oad(runs["generative"], ct, osetup, cfg, validate_on="val")})
    return out


def same(x, y) -> bool:
    if isinstance(x, np.ndarray):
        return isinstance(y, np.ndarray) and x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and all(same(p, q) for p, q in zip(x, y))
    return x == y or (x != x and y != y)


def compare(a: dict, b: dict) -> list[str]:
    """Names of the runs whose numbers are not bit-identical."""
    return sorted(set(a) ^ set(b)) + [k for k in a if k in b and not same(a[k], b[k])]


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"] and len(sys.argv) == 3:
        pickle.dump(run(), open(sys.argv[2], "wb"))
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        a, b = (pickle.load(open(f, "rb")) for f in sys.argv[2:4])
        differ = compare(a, b)
        print(f"{len(a)} runs; bit-identical: {len(a) - len(differ)}; differ: {differ or 'none'}")
        sys.exit(1 if differ else 0)
    else:
        sys.exit(__doc__)
