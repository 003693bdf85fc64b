"""Per-frame cost of a live online-action-detection system, at the paper's OAD proportions.

Two ratios, each measured as PAIRED rounds (every round times all paths once, in a fresh random
order, on the same input; the ratio is taken within the round, so a slow spell of the machine
hits numerator and denominator alike), reported as the median over rounds with a bootstrap 95 %
interval of that median, and repeated in `--runs` fresh processes to show the spread between
runs (issue: one earlier pair of runs gave 1.27x then 1.66x for the same ratio):

1. inference at batch 1 (one frame arrives, one prediction), over the frames of one test video
   in order: a live system's per-frame work (`gadlib.evaluation.streaming.StreamingDetector.push`: the new
   frame through the connector, the window through the LM, [CLS] + head) and the discriminative
   `predict` of the same window from scratch, each over the bare backbone forward on that
   window's prebuilt embeddings. The split: + the connector and prompt embeddings of the whole
   window (`MLLM.prefix_embeds`, model compute the bare forward leaves out by definition); the
   rest of `predict` (padding, [CLS] read-out, head, log-softmax, copy to numpy) is per-call
   overhead.
2. one training step (forward + backward + AdamW) at batch 16 (the authors' 16 x 2 accumulation):
   GAD over discriminative, with GAD generating the authors' OAD target "<current label>,
   <previous other action>" (built here from each window's label and previous action; the OAD
   code path's own target is the subject of the protocol issue). The split: GAD's sequence
   without its LM head (`speed.gad_without_lm_head_loss`) shows what the longer sequence costs,
   the rest is the LM head.

Window: the paper's shortest short window (16 frames, Ego4D-GoalStep) + 128 long-context frames,
every frame fed (144 visual tokens), on the crosstask_like preset's features, embedded tiny Llama.

    python benchmarks/live_cost.py --readme     # 3 runs, ~2 min on a 2-core CPU (1 thread each)

Writes results/live_cost.json and prints a table. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = next((p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists()), Path.cwd())
sys.path.insert(0, str(Path(__file__).resolve().parent))  # speed.py, beside this file
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from gadlib.data.datasets import ensure_benchmark  # noqa: E402
from gadlib.lms.build import build_classifier  # noqa: E402
from gadlib.evaluation.oad import OADConfig, OADWindows, training_windows  # noqa: E402
from gadlib.data.samples import label_names  # noqa: E402
from gadlib.evaluation.streaming import StreamingDetector  # noqa: E402
from speed import backbone_inputs, gad_without_lm_head_loss, train_step_fn  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="independent runs, each in a fresh process")
    p.add_argument("--window", type=int, default=16, help="short window (frames)")
    p.add_argument("--long-context", type=int, default=128, help="long-context frames, every one fed")
    p.add_argument("--infer-rounds", type=int, default=600, help="paired rounds of batch-1 inference")
    p.add_argument("--train-rounds", type=int, default=30, help="paired rounds of training steps")
    p.add_argument("--train-batch", type=int, default=16, help="training batch (the authors' micro-batch)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: a live system's one stream)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(REPO / "results" / "live_cost.json"))
    p.add_argument("--readme", action="store_true",
                   help="also rewrite benchmarks/README.md's generated block from this run")
    p.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)  # a child process
    return p.parse_args(argv)


def paired_rounds(fns: dict, rounds: int, seed: int, warmup: int = 5, before_rounds=None) -> dict[str, np.ndarray]:
    """Seconds of every fn(round) in each of `rounds` rounds, the fns in a fresh random order
    every round (after `warmup` untimed calls each, then `before_rounds()`)."""
    for fn in fns.values():
        for i in range(warmup):
            fn(i)
    if before_rounds is not None:
        before_rounds()
    times = {name: np.zeros(rounds) for name in fns}
    order = np.random.default_rng(seed)
    for r in range(rounds):
        for name in order.permutation(list(fns)).tolist():
            t0 = time.perf_counter()
            fns[name](r)
            times[name][r] = time.perf_counter() - t0
    return times


def median_ci(x: np.ndarray, seed: int, draws: int = 2000) -> dict:
    """Median of x with a percentile-bootstrap 95 % interval."""
    rng = np.random.default_rng(seed)
    boot = np.median(rng.choice(x, size=(draws, len(x))), axis=1)
    return {"median": float(np.median(x)), "ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))]}


def one_run(args) -> dict:
    torch.set_num_threads(args.threads)
    data = ensure_benchmark("crosstask_like")
    names = label_names(data, "oad")
    # Full-length windows at every frame (start="repeat"): the steady-state cost of a live system;
    # the training batch carries GAD's target as the authors write it (OADConfig's default).
    cfg = OADConfig(window=args.window, long_context=args.long_context, stride=1, start="repeat")
    labels = {"oad": names}
    models = {m: build_classifier(m, labels, data.feature_dim, seed=args.seed) for m in ("discriminative", "gad")}
    disc = models["discriminative"].eval()

    # -- 1. batch-1 inference: the frames of the longest test video, in order --------------------
    video = max(data.split("test"), key=lambda v: len(v.features))
    test = OADWindows([video], [np.arange(len(video.features))], cfg)
    frames = [test.batch([t]) for t in range(len(test))]
    mllm = disc.mllm
    live = StreamingDetector(disc, cfg)

    def stream(r):  # frame r % T arrives: the live system's whole per-frame work
        if r % len(frames) == 0:
            live.reset()
        return live.push(video.features[r % len(frames)])

    with torch.no_grad():
        def prefix_and_cls(b):
            return backbone_inputs(disc, b)
        prebuilt = [prefix_and_cls(b) for b in frames]
        fns = {"backbone_forward": lambda r: mllm.hidden_states(*prebuilt[r % len(frames)]),
               "connector_and_backbone": lambda r: mllm.hidden_states(*prefix_and_cls(frames[r % len(frames)])),
               "discriminative_predict": lambda r: disc.predict(frames[r % len(frames)]),
               "streaming_push": stream}
        inf = paired_rounds(fns, args.infer_rounds, args.seed, before_rounds=live.reset)
    ratio = inf["discriminative_predict"] / inf["backbone_forward"]
    inference = {"sequence_length": int(prebuilt[0][0].shape[1]), "video_frames": len(frames),
                 "ms": {k: 1000 * float(np.median(v)) for k, v in inf.items()},
                 "predict_over_backbone": median_ci(ratio, args.seed),
                 "streaming_over_backbone": median_ci(inf["streaming_push"] / inf["backbone_forward"], args.seed),
                 "connector_over_backbone": median_ci(inf["connector_and_backbone"] / inf["backbone_forward"], args.seed),
                 "predict_over_connector_and_backbone": median_ci(
                     inf["discriminative_predict"] / inf["connector_and_backbone"], args.seed)}

    # -- 2. training step -------------------------------------------------------------------------
    train = training_windows(data, "train", cfg)
    rows = np.random.default_rng(args.seed + 1).choice(len(train), size=args.train_batch, replace=False)
    batch = train.batch(rows)
    gad = models["gad"]
    device = torch.device("cpu")
    steps = {"discriminative": train_step_fn(disc, batch, device),
             "gad_without_lm_head": train_step_fn(gad, batch, device, loss_fn=gad_without_lm_head_loss),
             "gad": train_step_fn(gad, batch, device)}
    tr = paired_rounds(steps, args.train_rounds, args.seed, warmup=3)
    targets = gad.generation_targets(batch)
    training = {"batch": args.train_batch, "target_tokens_mean": float(np.mean([len(t) for t in targets])),
                "target_example": batch.contexts[int(np.argmax([len(c) for c in batch.contexts]))],
                "ms": {k: 1000 * float(np.median(v)) for k, v in tr.items()},
                "gad_over_discriminative": median_ci(tr["gad"] / tr["discriminative"], args.seed),
                "sequence_only_over_discriminative": median_ci(tr["gad_without_lm_head"] / tr["discriminative"],
                                                               args.seed)}
    return {"inference_b1": inference, "training_step": training}


def report(result: dict) -> str:
    def fmt(x):
        return f"{x['median']:.3f}x [{x['ci95'][0]:.3f}, {x['ci95'][1]:.3f}]"
    lines = [f"{result['machine']}, {result['threads']} thread(s), load average before: {result['load_before']}",
             f"window {result['window']} + {result['long_context']} long-context frames"]
    for i, run in enumerate(result["runs"], 1):
        inf, tr = run["inference_b1"], run["training_step"]
        lines.append(f"run {i}: streaming push / backbone {fmt(inf['streaming_over_backbone'])}; "
                     f"predict / backbone {fmt(inf['predict_over_backbone'])} "
                     f"(connector+backbone / backbone {fmt(inf['connector_over_backbone'])}); "
                     f"GAD / disc step {fmt(tr['gad_over_discriminative'])} "
                     f"(sequence only {fmt(tr['sequence_only_over_discriminative'])})")
    s = result["spread"]
    lines.append(f"spread of the medians over runs: streaming/backbone {s['streaming_over_backbone']:.3f}, "
                 f"predict/backbone {s['predict_over_backbone']:.3f}, "
                 f"GAD/disc {s['gad_over_discriminative']:.3f}")
    return "\n".join(lines)


BEGIN, END = "<!-- BEGIN generated:live-cost -->", "<!-- END generated:live-cost -->"


def readme_block(result: dict) -> str:
    """The Markdown of benchmarks/README.md's generated block, from results/live_cost.json."""
    def cell(x):
        return f"{x['median']:.3f} [{x['ci95'][0]:.3f}, {x['ci95'][1]:.3f}]"
    inf0, tr0 = result["runs"][0]["inference_b1"], result["runs"][0]["training_step"]
    rows = ["| run | streaming push / backbone | predict / backbone | connector + backbone / backbone "
            "| GAD step / disc step | GAD sequence without LM head / disc |", "|---|---|---|---|---|---|"]
    for i, run in enumerate(result["runs"], 1):
        inf, tr = run["inference_b1"], run["training_step"]
        rows.append(f"| {i} | {cell(inf['streaming_over_backbone'])} | {cell(inf['predict_over_backbone'])} "
                    f"| {cell(inf['connector_over_backbone'])} | {cell(tr['gad_over_discriminative'])} "
                    f"| {cell(tr['sequence_only_over_discriminative'])} |")
    spread = ", ".join(f"{k.replace('_over_', ' / ').replace('_', ' ')} {v:.3f}" for k, v in result["spread"].items())
    ms = ", ".join(f"{k.replace('_', ' ')} {v:.2f} ms" for k, v in inf0["ms"].items())
    tms = ", ".join(f"{k.replace('_', ' ')} {v:.0f} ms" for k, v in tr0["ms"].items())
    return "\n".join([
        f"{result['machine']}, torch {result['torch']}, {result['threads']} thread(s); load average "
        f"{result['load_before']} before, {result['load_after']} after. Window {result['window']} + "
        f"{result['long_context']} long-context frames = {inf0['sequence_length']} input positions with the "
        f"prompt and [CLS]; {len(result['runs'])} runs in fresh processes, each the median ratio over paired "
        f"rounds with a bootstrap 95 % interval:", "", *rows, "",
        f"Spread of the medians over the runs: {spread}. Run 1's medians: {ms}; training step at batch "
        f"{tr0['batch']} ({tr0['target_tokens_mean']:.1f} target tokens on average, e.g. "
        f"\"{tr0['target_example']}\"): {tms}."])


def write_readme(result: dict, path: Path = REPO / "benchmarks" / "README.md") -> None:
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    path.write_text(head + BEGIN + "\n" + readme_block(result) + "\n" + END + rest.split(END, 1)[1])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one_run:
        print(json.dumps(one_run(args)))
        return 0
    load = os.getloadavg()[0]
    runs = []
    for i in range(args.runs):
        child = [sys.executable, __file__, "--one-run", *(argv if argv is not None else sys.argv[1:])]
        done = subprocess.run(child, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"run {i + 1}/{args.runs} done", flush=True)
    medians = {"streaming_over_backbone": [r["inference_b1"]["streaming_over_backbone"]["median"] for r in runs],
               "predict_over_backbone": [r["inference_b1"]["predict_over_backbone"]["median"] for r in runs],
               "gad_over_discriminative": [r["training_step"]["gad_over_discriminative"]["median"] for r in runs]}
    result = {"machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores",
              "torch": torch.__version__, "threads": args.threads, "load_before": round(load, 2),
              "load_after": round(os.getloadavg()[0], 2), "window": args.window, "long_context": args.long_context,
              "runs": runs, "spread": {k: max(v) - min(v) for k, v in medians.items()},
              "medians": medians}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(report(result))
    print(f"wrote {args.out}")
    if args.readme:
        write_readme(result)
        print("rewrote the live-cost block of benchmarks/README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
