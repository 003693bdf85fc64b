"""Online-action-detection speed, two ways: a live detector's frames per second (`gadlib.evaluation.streaming.live_fps`:
one frame arrives, one prediction at batch 1, over the first frames; the paper's streaming FPS protocol,
every test frame, is `streaming_fps`) and the dense throughput of `gadlib.evaluation.oad.predict_dense`
(windows batched within and across videos), with `predict_dense_reference` (one frame per forward).

Every method is built on the SAME backbone recipe and seed and scores the SAME test frames of a
synthetic preset (thumos_like by default: 20 actions + background, one token per frame):

- generative (greedy decoding + edit-distance snapping, the paper's protocol), generative_exact
  (log-likelihood of every class), discriminative, gad (the discriminative path at inference);
- "untrained": freshly initialised models; "trained": the same recipe after `--train-epochs`
  epochs on training windows (stride 4) - a trained generative model emits EOS and stops early,
  an untrained one decodes to the length limit, so the two states bracket its cost;
- live FPS ("streaming, batch 1, frame by frame"; stored as live_fps): `live_fps` over
  the first `--streaming-frames` test frames, each pushed on its own into the live detector
  (`StreamingDetector` for discriminative / GAD, `GenerativeStreamingDetector` for generative:
  the paper's first-token rule, a background frame costs one prefill, an action frame at most 8
  generated tokens); median over `--repeats` runs, each after a 16-frame warm-up;
- batched throughput: FPS = frames scored / median wall time over `--repeats` runs (one untimed
  warm-up run first); the per-frame reference scores only the first test videos, at least
  `--reference-frames` frames, and its predictions are checked against the batched ones there.

The paper's FPS column (its Table: generative 38.3 vs discriminative 58.0 on THUMOS'14, GPU, a
1B LM; configs/paper_thumos.yaml) is the streaming FPS; `gen/disc` = generative FPS /
discriminative FPS, printed from the streaming numbers beside the paper's (0.66) and, for
comparison, from the batched throughput.

    python benchmarks/oad_fps.py --threads 1            # embedded tiny Llama, CPU, a few minutes

Writes results/oad_fps.json (at the repository root) and prints a table. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = next((p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists()), Path.cwd())
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from gadlib.data.benchmark import PRESETS, generate_benchmark, preset  # noqa: E402
from gadlib.lms.build import build_classifier  # noqa: E402
from gadlib.evaluation.oad import OADConfig, predict_dense, predict_dense_reference, training_windows  # noqa: E402
from gadlib.data.samples import label_names  # noqa: E402
from gadlib.evaluation.streaming import live_fps  # noqa: E402
from gadlib.core.training import TrainConfig, train  # noqa: E402

STREAMING = "live, batch 1, frame by frame over the first frames (not the paper's every-frame streaming protocol: compare ratios only)"
BATCHED = "batched throughput"

# row name -> (method, predict kwargs)
ROWS = {"generative": ("generative", {"decoding": "greedy"}),
        "generative_exact": ("generative", {"decoding": "exact"}),
        "discriminative": ("discriminative", {}),
        "gad": ("gad", {})}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", default="thumos_like", choices=sorted(PRESETS), help="synthetic OAD preset")
    p.add_argument("--size", default="cpu", choices=("cpu", "gpu"))
    p.add_argument("--window", type=int, default=8, help="OADConfig.window")
    p.add_argument("--long-context", type=int, default=0, help="OADConfig.long_context")
    p.add_argument("--long-tokens", type=int, default=8, help="OADConfig.long_tokens")
    p.add_argument("--batch-size", type=int, default=64, help="windows per forward of predict_dense")
    p.add_argument("--reference-frames", type=int, default=200, help="frames the per-frame reference scores")
    p.add_argument("--streaming-frames", type=int, default=200,
                   help="frames the streaming FPS times (the first test frames, one at a time)")
    p.add_argument("--test-videos", type=int, default=None,
                   help="score only the first N test videos (default: all; a quick check)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median reported)")
    p.add_argument("--train-epochs", type=int, default=2, help="epochs of the 'trained' state (0: skip it)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(REPO / "results" / "oad_fps.json"), help="JSON output path")
    args = p.parse_args(argv)
    for name in ("batch_size", "reference_frames", "streaming_frames", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.test_videos is not None and args.test_videos < 1:
        p.error("--test-videos must be >= 1")
    return args


def paper_fps() -> dict:
    """The paper's FPS of the generative and discriminative classifiers (configs/paper_thumos.yaml)."""
    paper = yaml.safe_load((REPO / "configs" / "paper_thumos.yaml").read_text())["paper"]
    gen, disc = paper["generative"]["oad_streaming_fps"], paper["discriminative"]["oad_streaming_fps"]
    return {"setting": paper["setting"], "generative_fps": gen, "discriminative_fps": disc,
            "ratio_gen_disc": gen / disc}


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: allocations, lazy initialisation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def first_videos(videos, frames: int):
    """The first videos of the list holding at least `frames` frames together."""
    out, total = [], 0
    for v in videos:
        if total >= frames:
            break
        out.append(v)
        total += len(v.features)
    return out


def measure(clf, kwargs, videos, ref_videos, cfg, args) -> dict:
    n, n_ref = sum(len(v.features) for v in videos), sum(len(v.features) for v in ref_videos)
    batched = median_seconds(lambda: predict_dense(clf, videos, cfg, batch_size=args.batch_size, **kwargs),
                             args.repeats)
    reference = median_seconds(lambda: predict_dense_reference(clf, ref_videos, cfg, **kwargs), args.repeats)
    dense = predict_dense(clf, videos, cfg, batch_size=args.batch_size, **kwargs)
    ref = predict_dense_reference(clf, ref_videos, cfg, **kwargs)
    agree = all(np.array_equal(d.pred, r.pred) for d, r in zip(dense, ref))
    pred, truth = np.concatenate([d.pred for d in dense]), np.concatenate([d.truth for d in dense])
    streaming = statistics.median(live_fps(clf, videos, cfg, max_frames=args.streaming_frames,
                                                decoding=kwargs.get("decoding")) for _ in range(args.repeats))
    return {"live_fps": streaming, "frames_live": min(n, args.streaming_frames),
            "fps_batched": n / batched, "fps_reference": n_ref / reference,
            "speedup": (n / batched) / (n_ref / reference), "frames_batched": n, "frames_reference": n_ref,
            "reference_agrees": agree, "frame_acc": float((pred == truth).mean()),
            "background_share_of_preds": float((pred == 0).mean())}


def format_table(result: dict) -> str:
    """The results as a Markdown table and the gen / disc ratios (results written before the
    streaming FPS existed show "-" there)."""
    number = lambda r, key, fmt: format(r[key], fmt) if key in r else "-"  # noqa: E731
    lines = ["| state | method | live frames/s (b1, first frames; not the paper's protocol) | batched frames/s | per-frame frames/s | "
             "batched / per-frame | frame acc |", "|---|---|---|---|---|---|---|"]
    for state, rows in result["states"].items():
        for name, r in rows.items():
            if name.startswith("ratio"):
                continue
            lines.append(f"| {state} | {name} | {number(r, 'live_fps', '.1f')} | {r['fps_batched']:.0f} | "
                         f"{r['fps_reference']:.0f} | {r['speedup']:.1f}x | {r['frame_acc']:.3f} |")
    paper = result.get("paper") or paper_fps()
    for state, rows in result["states"].items():
        lines.append(f"\n{state}: generative / discriminative FPS, {STREAMING}: "
                     f"{number(rows, 'ratio_gen_disc_live', '.2f')} (paper: {paper['generative_fps']} / "
                     f"{paper['discriminative_fps']} = {paper['ratio_gen_disc']:.2f}); generative_exact / "
                     f"discriminative: {number(rows, 'ratio_gen_exact_disc_live', '.2f')}")
        lines.append(f"{state}: generative / discriminative FPS, {BATCHED}: {rows['ratio_gen_disc']:.2f}, "
                     f"generative_exact / discriminative = {rows['ratio_gen_exact_disc']:.2f}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    data = generate_benchmark(preset(args.preset, args.size, seed=args.seed))
    cfg = OADConfig(window=args.window, long_context=args.long_context, long_tokens=args.long_tokens)
    names = {"oad": label_names(data, "oad")}
    videos = data.split("test")[:args.test_videos]
    ref_videos = first_videos(videos, args.reference_frames)
    states = ["untrained"] + (["trained"] if args.train_epochs else [])
    settings = {k: v for k, v in vars(args).items() if k != "out"}  # no local paths in the results
    result = {"settings": {**settings, "oad_config": cfg.__dict__, "classes": len(names["oad"]),
                           "test_videos": len(videos), "machine": platform.platform(),
                           "processor": platform.processor(), "cpu_count": os.cpu_count(),
                           "torch": torch.__version__, "torch_threads": torch.get_num_threads()},
              "paper": paper_fps(), "states": {}}
    for state in states:
        rows, models = {}, {}
        for row, (method, kwargs) in ROWS.items():
            if method not in models:
                clf = build_classifier(method, names, data.feature_dim, seed=args.seed)
                if state == "trained":
                    train(clf, lambda epoch: training_windows(data, "train", cfg, offset=epoch % cfg.stride),
                          TrainConfig(epochs=args.train_epochs, batch_size=32, seed=args.seed, progress=False))
                models[method] = clf
            rows[row] = measure(models[method], kwargs, videos, ref_videos, cfg, args)
            print(f"{state:9s} {row:17s} live (b1) {rows[row]['live_fps']:7.1f} frames/s  batched "
                  f"{rows[row]['fps_batched']:8.0f} fps  per-frame {rows[row]['fps_reference']:6.0f} fps  "
                  f"x{rows[row]['speedup']:.1f}", flush=True)
        for suffix, key in (("", "fps_batched"), ("_streaming", "live_fps")):
            rows[f"ratio_gen_disc{suffix}"] = rows["generative"][key] / rows["discriminative"][key]
            rows[f"ratio_gen_exact_disc{suffix}"] = rows["generative_exact"][key] / rows["discriminative"][key]
        result["states"][state] = rows
    load_end = os.getloadavg() if hasattr(os, "getloadavg") else None
    # The machine may be shared: the load average says how busy it was around the run.
    result["settings"]["load_average_start"] = load_start
    result["settings"]["load_average_end"] = load_end
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(format_table(result))
    print(f"load average (1, 5, 15 min): start {load_start}, end {load_end}; wrote {out}")
    return result


if __name__ == "__main__":
    main()
