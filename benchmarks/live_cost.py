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

3. where the extra time of both ratios goes (`--profile`, on by default): one more fresh process
   runs the bare forward, predict and the push, then the discriminative and GAD steps, in paired
   rounds: plainly; with a clock at the entry and exit of each gadlib function of `SCOPES`
   (inference only: wall time per category, no profiler); and under `torch.profiler` (CPU,
   record_shapes off), every aten op's self CPU time going to the innermost `SCOPES` function
   that issued it (wrapped in a `record_function` in that process only) and every backward op to
   the function whose forward op made its autograd node (by sequence number). Per category and
   per op it subtracts the bare forward from predict and the push, the discriminative step from
   GAD's (`profile` in the JSON; the README block shows the per-category tables).

Window: the paper's shortest short window (16 frames, Ego4D-GoalStep) + 128 long-context frames,
every frame fed (144 visual tokens), on the crosstask_like preset's features, embedded tiny Llama.

    python benchmarks/live_cost.py --readme     # 3 runs + the profile, ~3 min on a 2-core CPU (1 thread each)

Writes results/live_cost.json and prints a table. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import bisect
import contextlib
import functools
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

REPO = next((p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists()), Path.cwd())
sys.path.insert(0, str(Path(__file__).resolve().parent))  # speed.py, beside this file
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from benchmarks.readme_blocks import markers, write_block  # noqa: E402
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
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                   help="also profile the paths per aten op (torch.profiler) in one more fresh process")
    p.add_argument("--profile-infer-reps", type=int, default=200,
                   help="profiled paired rounds of batch-1 inference (after as many unprofiled ones)")
    p.add_argument("--profile-train-reps", type=int, default=12,
                   help="profiled paired rounds of training steps (after as many unprofiled ones)")
    p.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)  # a child process
    p.add_argument("--one-profile", action="store_true", help=argparse.SUPPRESS)  # a child process
    args = p.parse_args(argv)
    if args.runs < 0 or args.profile_infer_reps < 1 or args.profile_train_reps < 1:
        p.error("--runs must be >= 0, --profile-*-reps >= 1")
    if args.runs == 0 and (args.readme or not args.profile):
        p.error("--runs 0 (the profile alone) needs --profile and no --readme")
    return args


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


def setup(args) -> SimpleNamespace:
    """The models, the frames of the test video and the training batch that both the timed runs
    and the profile measure."""
    torch.set_num_threads(args.threads)
    data = ensure_benchmark("crosstask_like")
    names = label_names(data, "oad")
    # Full-length windows at every frame (start="repeat"): the steady-state cost of a live system;
    # the training batch carries GAD's target as the authors write it (OADConfig's default).
    cfg = OADConfig(window=args.window, long_context=args.long_context, stride=1, start="repeat")
    labels = {"oad": names}
    models = {m: build_classifier(m, labels, data.feature_dim, seed=args.seed) for m in ("discriminative", "gad")}
    disc = models["discriminative"].eval()

    # batch-1 inference: the frames of the longest test video, in order
    video = max(data.split("test"), key=lambda v: len(v.features))
    test = OADWindows([video], [np.arange(len(video.features))], cfg)
    frames = [test.batch([t]) for t in range(len(test))]
    live = StreamingDetector(disc, cfg)

    def stream(r):  # frame r % T arrives: the live system's whole per-frame work
        if r % len(frames) == 0:
            live.reset()
        return live.push(video.features[r % len(frames)])

    prebuilt = [backbone_inputs(disc, b) for b in frames]
    train = training_windows(data, "train", cfg)
    rows = np.random.default_rng(args.seed + 1).choice(len(train), size=args.train_batch, replace=False)
    return SimpleNamespace(disc=disc, gad=models["gad"], mllm=disc.mllm, frames=frames, live=live, stream=stream,
                           prebuilt=prebuilt, batch=train.batch(rows))


def one_run(args) -> dict:
    s = setup(args)
    disc, mllm, frames, prebuilt, live = s.disc, s.mllm, s.frames, s.prebuilt, s.live

    # -- 1. batch-1 inference: the frames of the longest test video, in order --------------------
    with torch.no_grad():
        fns = {"backbone_forward": lambda r: mllm.hidden_states(*prebuilt[r % len(frames)]),
               "connector_and_backbone": lambda r: mllm.hidden_states(*backbone_inputs(disc, frames[r % len(frames)])),
               "discriminative_predict": lambda r: disc.predict(frames[r % len(frames)]),
               "streaming_push": s.stream}
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
    batch, gad = s.batch, s.gad
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


# ---------------------------------------------------------------------------------------------
# 3. Profile: where the extra time goes, per category and per aten op
# ---------------------------------------------------------------------------------------------

PATH, SCOPE = "live_cost::", "gadlib::"  # record_function names: one call of a path; a gadlib function
ENGINE = "autograd::engine::evaluate_function"  # the autograd engine's record of one backward node
PYTHON = "(Python, outside aten ops)"  # a record's own self time: the Python around its ops, and the profiler's
# The gadlib functions that name the categories: (module, name in it, scope). While `scoped` is
# active (the profile's child process only) each runs inside a wrapper (a profiler record, or a
# clock); an op belongs to the innermost scope that issued it, the rest to the call itself.
SCOPES = (("gadlib.core.backbone", "MLLM.connect", "connect"),
          ("gadlib.core.backbone", "MLLM.assemble", "assemble"),
          ("gadlib.core.backbone", "MLLM.embed_tokens", "embed_tokens"),
          ("gadlib.core.backbone", "pad", "pad"),  # the module function last_states / teacher_forced call
          ("gadlib.core.backbone", "MLLM.hidden_states", "decoder"),
          ("gadlib.core.backbone", "MLLM.last_states", "last_states"),
          ("gadlib.core.backbone", "MLLM.teacher_forced", "teacher_forced"),
          ("gadlib.core.backbone", "MLLM.lm_logits", "lm_logits"),
          ("gadlib.core.discriminative", "DiscriminativeClassifier.head_logits", "head_logits"),
          ("gadlib.core.discriminative", "DiscriminativeClassifier.classification_loss", "classification_loss"),
          ("gadlib.core.gad", "GADClassifier.readout_and_generation_loss", "gad_readout"),
          ("gadlib.core.gad", "GADClassifier.generation_targets", "generation_targets"),
          ("gadlib.core.classifier", "Prediction.from_logits", "from_logits"),
          ("gadlib.evaluation.streaming", "FrameRing.push", "ring_push"))
READOUT = "[CLS] read-out (slice, gather)"
CATEGORIES = {"decoder": "LM decoder", "connect": "connector (linear+gelu)",
              "assemble": "prompt + visual + [CLS] concat", "embed_tokens": "token embeddings",
              "pad": "padding, mask, positions", "last_states": READOUT, "gad_readout": READOUT,
              "teacher_forced": "LM loss (target concat, index, log_softmax, NLL)",
              "lm_logits": "LM head (logits)", "head_logits": "head (linear)",
              "classification_loss": "classification loss (cross-entropy)",
              "generation_targets": "tokenize GAD targets",
              "from_logits": "log_softmax + argmax + copy to numpy", "ring_push": "frame ring (store new frame)"}
EMBEDDINGS_IN = {"assemble": "prompt embeddings", "teacher_forced": "target-token embeddings"}
REST = "rest of the call (its own code)"
OPTIMIZER, ACCUMULATE = "optimizer (AdamW, zero_grad)", "AccumulateGrad (parameter gradients)"


def category(scopes: tuple[str, ...]) -> str:
    """The category of work done inside the scopes `scopes` (outermost first)."""
    if not scopes:
        return REST
    if scopes[-1] == "embed_tokens" and len(scopes) > 1 and scopes[-2] in EMBEDDINGS_IN:
        return EMBEDDINGS_IN[scopes[-2]]
    return CATEGORIES[scopes[-1]]


@contextlib.contextmanager
def scoped(wrap, scopes=SCOPES):
    """Every function of `scopes` replaced by `wrap(function, scope)` until exit, then restored."""
    undo = []
    try:
        for module, name, scope in scopes:
            owner = importlib.import_module(module)
            *outer, attr = name.split(".")
            for part in outer:
                owner = getattr(owner, part)
            raw = vars(owner)[attr]  # the function or descriptor itself, where it is defined
            undo.append((owner, attr, raw))
            wrapped = type(raw)(wrap(raw.__func__, scope)) if isinstance(raw, (classmethod, staticmethod)) \
                else wrap(raw, scope)
            setattr(owner, attr, wrapped)
        yield
    finally:
        for owner, attr, raw in reversed(undo):
            setattr(owner, attr, raw)


def recorded(raw, scope: str):
    """`raw`, run inside a profiler record named SCOPE + scope."""
    @functools.wraps(raw)
    def run(*args, **kwargs):
        with torch.profiler.record_function(SCOPE + scope):
            return raw(*args, **kwargs)
    return run


class ScopeClock:
    """Wall time per category of a call without the profiler: `perf_counter` at each scope's
    entry and exit (`scoped(clock.wrap)`); a scope's time less its inner scopes' goes to its
    category, the call's time less its scopes' to REST."""

    def __init__(self):
        self.stack: list[list] = []  # [scope, seconds spent in its inner scopes]; [0] is the call
        self.seconds: dict[str, float] = {}

    def wrap(self, raw, scope: str):
        @functools.wraps(raw)
        def run(*args, **kwargs):
            if not self.stack:  # outside a clocked call
                return raw(*args, **kwargs)
            frame = [scope, 0.0]
            self.stack.append(frame)
            start = time.perf_counter()
            try:
                return raw(*args, **kwargs)
            finally:
                dt = time.perf_counter() - start
                self.stack.pop()
                cat = category(tuple(s for s, _ in self.stack[1:]) + (scope,))
                self.seconds[cat] = self.seconds.get(cat, 0.0) + dt - frame[1]
                self.stack[-1][1] += dt
        return run

    def call(self, fn, r) -> dict[str, float]:
        """fn(r), and its us per category."""
        self.seconds, frame = {}, ["", 0.0]
        self.stack = [frame]
        start = time.perf_counter()
        try:
            fn(r)
        finally:
            dt = time.perf_counter() - start
            self.stack = []
        self.seconds[REST] = self.seconds.get(REST, 0.0) + dt - frame[1]
        return {k: 1e6 * v for k, v in self.seconds.items()}


def clocked_rounds(fns: dict, rounds: int, seed: int, clock: ScopeClock) -> dict[str, list[dict]]:
    """`clock.call` of every fn(round) in `rounds` rounds, the fns in a fresh random order each round."""
    calls: dict[str, list[dict]] = {name: [] for name in fns}
    order = np.random.default_rng(seed)
    for r in range(rounds):
        for name in order.permutation(list(fns)).tolist():
            calls[name].append(clock.call(fns[name], r))
    return calls


def _start(event) -> float:
    return event.time_range.start if hasattr(event, "time_range") else 0.0


def _flatten(event, scopes: tuple, phase: str, engine, out: list) -> None:
    name = event.name
    if name.startswith(SCOPE):
        scopes = scopes + (name[len(SCOPE):],)
    elif name.startswith(ENGINE):
        phase, engine = "backward", event
    elif name.startswith("Optimizer."):
        phase = "optimizer"
    out.append((event, scopes, phase, engine))
    for child in sorted(event.cpu_children, key=_start):
        _flatten(child, scopes, phase, engine, out)


def attribute_call(call) -> dict[tuple[str, str, str], list[float]]:
    """{(category, op, phase): [self CPU us, aten ops]} of one profiled call: the event tree under
    the record (PATH + name) `call` (objects with .name, .self_cpu_time_total in us, .cpu_children,
    .sequence_nr). phase: forward, backward (a backward node's work goes to the category of the
    forward op that made the node, found by its sequence number) or optimizer. A record's own
    self time (scope, call, optimizer) is the op PYTHON."""
    items: list = []
    for child in sorted(call.cpu_children, key=_start):
        _flatten(child, (), "forward", None, items)
    forward_scopes: dict[int, tuple] = {}
    for event, scopes, phase, _ in items:
        if phase == "forward" and event.sequence_nr >= 0:
            forward_scopes.setdefault(event.sequence_nr, scopes)
    numbers = sorted(forward_scopes)

    def made_in(number: int) -> tuple:
        # The forward op with the node's sequence number or, for a node made inside an op (the
        # CopySlices of an in-place copy into a view), the latest op before it.
        i = bisect.bisect_right(numbers, number)
        return forward_scopes[numbers[i - 1]] if i else ()
    out: dict[tuple[str, str, str], list[float]] = {(REST, PYTHON, "forward"): [call.self_cpu_time_total, 0]}
    for event, scopes, phase, engine in items:
        if phase == "backward":
            cat = ACCUMULATE if "AccumulateGrad" in engine.name else category(made_in(engine.sequence_nr))
        else:
            cat = OPTIMIZER if phase == "optimizer" else category(scopes)
        name = event.name
        op = ENGINE if name.startswith(ENGINE) else PYTHON if name.startswith((SCOPE, PATH, "Optimizer.")) else name
        cell = out.setdefault((cat, op, phase), [0.0, 0])
        cell[0] += event.self_cpu_time_total
        cell[1] += name.startswith("aten::")
    return out


def _top(table: dict[str, dict], n: int, key) -> dict[str, dict]:
    """The n entries of `table` ({name: {"us", "count"}}) largest by key, the rest summed."""
    names = sorted(table, key=key, reverse=True)
    top = {k: table[k] for k in names[:n]}
    if len(names) > n:
        top["(other ops)"] = {f: round(sum(table[k][f] for k in names[n:]), 2) for f in ("us", "count")}
    return top


def summarize(calls: list[dict], top: int = 25) -> dict:
    """A typical profiled call of one path, from its `attribute_call` results: per (category, op,
    phase) the median over the calls (0 where a call has none; a call preempted inside one op on a
    busy machine does not move it), summed per category (us, aten ops, us in backward, us of
    PYTHON) and per op (us, calls; the `top` largest, the rest as "(other ops)"). Totals are these sums."""
    keys = list(dict.fromkeys(k for c in calls for k in c))
    cats: dict[str, dict] = {}
    ops: dict[str, dict] = {}
    for key in keys:
        cat, op, phase = key
        us = float(np.median([c[key][0] if key in c else 0.0 for c in calls]))
        n = float(np.median([c[key][1] if key in c else 0 for c in calls]))
        x = cats.setdefault(cat, {"us": 0.0, "ops": 0.0, "backward_us": 0.0, "python_us": 0.0})
        x["us"] += us
        x["ops"] += n
        x["backward_us"] += us if phase == "backward" else 0.0
        x["python_us"] += us if op == PYTHON else 0.0
        y = ops.setdefault(op, {"us": 0.0, "count": 0.0})
        y["us"] += us
        y["count"] += n
    rounded = lambda d: {k: round(v, 2) for k, v in d.items()}
    cats = {k: rounded(v) for k, v in sorted(cats.items(), key=lambda kv: -kv[1]["us"])}
    ops = {k: rounded(v) for k, v in ops.items()}
    return {"calls": len(calls), "us": round(sum(v["us"] for v in cats.values()), 1),
            "aten_ops": round(sum(v["ops"] for v in cats.values()), 2), "by_category": cats,
            "top_ops": _top(ops, top, key=lambda k: ops[k]["us"]), "_ops": ops}


def summarize_clock(calls: list[dict]) -> dict:
    """A typical clocked call: per category the median us over the calls; the total is their sum."""
    cats = list(dict.fromkeys(k for c in calls for k in c))
    by = {k: round(float(np.median([c.get(k, 0.0) for c in calls])), 2) for k in cats}
    return {"us": round(sum(by.values()), 1), "by_category": dict(sorted(by.items(), key=lambda kv: -kv[1]))}


def _minus(path: dict, base: dict, fields: tuple[str, ...]) -> dict:
    keys = dict.fromkeys([*path, *base])
    value = lambda d, k, f: d.get(k, {}).get(f, 0.0) if fields else d.get(k, 0.0)
    return {k: {f: round(value(path, k, f) - value(base, k, f), 2) for f in fields} if fields
            else round(value(path, k, None) - value(base, k, None), 2) for k in keys}


def difference(path: dict, base: dict, top: int = 25) -> dict:
    """`path` - `base` (two `summarize` results, with "clock" when both have it): per category
    (with its share of the base's total) and per op (the `top` largest in absolute value)."""
    cats = _minus(path["by_category"], base["by_category"], ("us", "ops", "backward_us", "python_us"))
    for d in cats.values():
        d["share"] = round(d["us"] / base["us"], 4)
    ops = _minus(path["_ops"], base["_ops"], ("us", "count"))
    out = {"us": round(path["us"] - base["us"], 1), "share": round((path["us"] - base["us"]) / base["us"], 4),
           "aten_ops": round(path["aten_ops"] - base["aten_ops"], 2),
           "by_category": dict(sorted(cats.items(), key=lambda kv: -kv[1]["us"])),
           "top_ops": _top(ops, top, key=lambda k: abs(ops[k]["us"]))}
    if "clock" in path and "clock" in base:
        p, b = path["clock"], base["clock"]
        by = _minus(p["by_category"], b["by_category"], ())
        out["clock"] = {"us": round(p["us"] - b["us"], 1), "share": round((p["us"] - b["us"]) / b["us"], 4),
                        "by_category": {k: {"us": v, "share": round(v / b["us"], 4)}
                                        for k, v in sorted(by.items(), key=lambda kv: -kv[1])}}
    return out


def profiled_rounds(fns: dict, rounds: int, seed: int, chunk: int) -> dict[str, list[dict]]:
    """`attribute_call` of every call of every fn(round) in `rounds` rounds under torch.profiler
    (CPU, record_shapes off), the fns in a fresh random order every round (one profiler session
    per `chunk` rounds, so the event trees stay small)."""
    from torch.profiler import ProfilerActivity, profile, record_function
    calls: dict[str, list[dict]] = {name: [] for name in fns}
    order = np.random.default_rng(seed)
    for first in range(0, rounds, chunk):
        with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
            for r in range(first, min(rounds, first + chunk)):
                for name in order.permutation(list(fns)).tolist():
                    with record_function(PATH + name):
                        fns[name](r)
        for event in prof.events():
            if event.cpu_parent is None and event.name.startswith(PATH):
                calls[event.name[len(PATH):]].append(attribute_call(event))
    return calls


def profile_section(fns: dict, base: str, rounds: int, seed: int, warmup: int, chunk: int, clock: bool) -> dict:
    """`rounds` paired rounds of `fns` three times: plain (median ms: `wall_ms`), with a clock at
    each scope (`clock`: us per category, no profiler; when `clock`) and under the profiler (per
    category and op); each path summarized, and its difference from `base`."""
    wall = paired_rounds(fns, rounds, seed, warmup=warmup)
    clocked = None
    if clock:
        c = ScopeClock()
        with scoped(c.wrap):
            clocked = clocked_rounds(fns, rounds, seed + 1, c)
    with scoped(recorded):
        profiled_rounds(fns, min(2, rounds), seed, chunk=chunk)  # the profiler's first session: untimed
        calls = profiled_rounds(fns, rounds, seed + 2, chunk=chunk)
    paths = {}
    for name in fns:
        paths[name] = dict(summarize(calls[name]), wall_ms=round(1000 * float(np.median(wall[name])), 4))
        if clocked is not None:
            paths[name]["clock"] = summarize_clock(clocked[name])
    extra = {name: dict(difference(p, paths[base]), over=base) for name, p in paths.items() if name != base}
    for p in paths.values():
        del p["_ops"]
    return {"base": base, "paths": paths, "extra": extra}


def profile_run(args) -> dict:
    """The profile's child process: batch-1 inference (bare forward, predict, streaming push) on
    the frames of the test video, then training steps at `--train-batch` (discriminative, GAD)."""
    s = setup(args)
    disc, mllm, frames, prebuilt = s.disc, s.mllm, s.frames, s.prebuilt
    with torch.no_grad():
        fns = {"backbone_forward": lambda r: mllm.hidden_states(*prebuilt[r % len(frames)]),
               "discriminative_predict": lambda r: disc.predict(frames[r % len(frames)]),
               "streaming_push": s.stream}  # resets the detector at r = 0, the start of every phase
        inference = profile_section(fns, "backbone_forward", args.profile_infer_reps, args.seed, warmup=5,
                                    chunk=20, clock=True)
    models = {"discriminative": disc, "gad": s.gad}
    steps = {name: train_step_fn(clf, s.batch, torch.device("cpu")) for name, clf in models.items()}
    training = profile_section(steps, "discriminative", args.profile_train_reps, args.seed, warmup=3, chunk=2,
                               clock=False)
    # What AdamW updates: the parameters that got a gradient in the last step (GAD: + the LM head).
    training["updated_parameters"] = {name: sum(p.numel() for p in clf.parameters() if p.grad is not None)
                                      for name, clf in models.items()}
    return {"settings": {"infer_reps": args.profile_infer_reps, "train_reps": args.profile_train_reps,
                         "train_batch": args.train_batch, "threads": args.threads},
            "inference_b1": inference, "training_step": training}


SMALL_SHARE = 0.0005  # training-table categories below this share of the discriminative step: one row


def profile_tables(profile: dict) -> list[str]:
    """Markdown: the extra time per category of predict and the streaming push over the bare
    forward (clocked without the profiler; aten ops from the profiler), and of GAD's training step
    over the discriminative one (profiled), in ms per call and as a share of the base."""
    inf, tr = profile["inference_b1"], profile["training_step"]
    paths, pred, push = inf["paths"], inf["extra"]["discriminative_predict"], inf["extra"]["streaming_push"]
    lines = ["| extra over the bare forward (batch 1) | predict ms | share | aten ops | streaming push ms | share "
             "| aten ops |", "|---|---:|---:|---:|---:|---:|---:|"]

    def cells(x: dict, k: str) -> str:
        c, ops = x["clock"]["by_category"].get(k), x["by_category"].get(k, {}).get("ops")
        if c is None and ops is None:
            return "- | - | -"
        c = c or {"us": 0.0, "share": 0.0}
        return f"{c['us'] / 1000:+.3f} | {100 * c['share']:+.1f} % | {ops or 0:+.0f}"
    for k in dict.fromkeys([*pred["clock"]["by_category"], *push["clock"]["by_category"], *pred["by_category"],
                            *push["by_category"]]):
        lines.append(f"| {k} | {cells(pred, k)} | {cells(push, k)} |")
    lines.append(f"| **total** | **{pred['clock']['us'] / 1000:+.3f}** | **{100 * pred['clock']['share']:+.1f} %** "
                 f"| {pred['aten_ops']:+.0f} | **{push['clock']['us'] / 1000:+.3f}** "
                 f"| **{100 * push['clock']['share']:+.1f} %** | {push['aten_ops']:+.0f} |")
    gad, disc = tr["extra"]["gad"], tr["paths"][tr["base"]]
    lines += ["", f"| extra of a GAD step over a discriminative step (batch {profile['settings']['train_batch']}) "
              "| ms | of which backward | aten ops | share |", "|---|---:|---:|---:|---:|"]
    small = {k: x for k, x in gad["by_category"].items() if abs(x["share"]) < SMALL_SHARE}
    for k, x in gad["by_category"].items():
        if k not in small:
            lines.append(f"| {k} | {x['us'] / 1000:+.2f} | {x['backward_us'] / 1000:+.2f} | {x['ops']:+.0f} "
                         f"| {100 * x['share']:+.1f} % |")
    if small:
        x = {f: sum(v[f] for v in small.values()) for f in ("us", "backward_us", "ops", "share")}
        lines.append(f"| {len(small)} more, each under {100 * SMALL_SHARE:.2f} % | {x['us'] / 1000:+.2f} "
                     f"| {x['backward_us'] / 1000:+.2f} | {x['ops']:+.0f} | {100 * x['share']:+.1f} % |")
    lines.append(f"| **total** | **{gad['us'] / 1000:+.2f}** | | {gad['aten_ops']:+.0f} "
                 f"| **{100 * gad['share']:+.1f} %** |")
    base = paths[inf["base"]]
    lines += ["", f"Per call in the profile's process: bare forward {base['wall_ms']:.2f} ms plain, "
              f"{base['clock']['us'] / 1000:.2f} ms clocked, {base['us'] / 1000:.2f} ms profiled "
              f"({base['aten_ops']:.0f} aten ops); predict {paths['discriminative_predict']['wall_ms']:.2f} / "
              f"{paths['discriminative_predict']['clock']['us'] / 1000:.2f} / "
              f"{paths['discriminative_predict']['us'] / 1000:.2f} ms; streaming push "
              f"{paths['streaming_push']['wall_ms']:.2f} / {paths['streaming_push']['clock']['us'] / 1000:.2f} / "
              f"{paths['streaming_push']['us'] / 1000:.2f} ms. Under the profiler the extras read "
              f"{pred['us'] / 1000:+.3f} ms (predict) and {push['us'] / 1000:+.3f} ms (push): its bookkeeping "
              f"per recorded op and scope lands mostly in the Python around them. Training step: "
              f"discriminative {disc['us'] / 1000:.1f} ms profiled ({disc['wall_ms']:.1f} ms plain), GAD "
              f"{tr['paths']['gad']['us'] / 1000:.1f} ms ({tr['paths']['gad']['wall_ms']:.1f} ms plain); AdamW "
              f"updates {tr['updated_parameters']['discriminative']:,} parameters of the discriminative model, "
              f"{tr['updated_parameters']['gad']:,} of GAD's."]
    return lines


def profile_report(profile: dict, top: int = 12) -> str:
    """The profile's tables and the ops that differ most, for the terminal."""
    lines = ["", "profile (a typical call: per category / op the median over calls; + = the path costs more "
             "than its base):", *profile_tables(profile)]
    for section in ("inference_b1", "training_step"):
        for name, x in profile[section]["extra"].items():
            ops = [f"{op} {v['us'] / 1000:+.3f} ms ({v['count']:+.1f} calls)"
                   for op, v in list(x["top_ops"].items())[:top]]
            lines.append(f"{name} - {x['over']}, profiled, largest per-op differences: " + "; ".join(ops))
    return "\n".join(lines)

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
    if result["runs"]:
        lines.append(f"spread of the medians over runs: streaming/backbone {s['streaming_over_backbone']:.3f}, "
                     f"predict/backbone {s['predict_over_backbone']:.3f}, "
                     f"GAD/disc {s['gad_over_discriminative']:.3f}")
    if "profile" in result:
        lines.append(profile_report(result["profile"]))
    return "\n".join(lines)


BEGIN, END = markers("live-cost")


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
        f"\"{tr0['target_example']}\"): {tms}.",
        *(["", f"Profile (one more fresh process): the extra time of each path per category, the gadlib "
           f"function that does the work; batch 1 timed by a clock at each function's entry and exit, without "
           f"the profiler (medians over {prof['settings']['infer_reps']} calls; aten ops counted under "
           f"`torch.profiler`), the training step as self CPU time under `torch.profiler` (medians over "
           f"{prof['settings']['train_reps']} steps; a backward op counts for the function whose forward op "
           f"made it):", "", *profile_tables(prof)] if (prof := result.get("profile")) else [])])


def write_readme(result: dict) -> None:
    write_block("live-cost", readme_block(result))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one_run:
        print(json.dumps(one_run(args)))
        return 0
    if args.one_profile:
        print(json.dumps(profile_run(args)))
        return 0
    load = os.getloadavg()[0]
    runs = []

    def child(flag: str) -> dict:
        cmd = [sys.executable, __file__, flag, *(argv if argv is not None else sys.argv[1:])]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            sys.stderr.write(done.stderr)
            done.check_returncode()
        return json.loads(done.stdout.strip().splitlines()[-1])
    for i in range(args.runs):
        runs.append(child("--one-run"))
        print(f"run {i + 1}/{args.runs} done", flush=True)
    medians = {"streaming_over_backbone": [r["inference_b1"]["streaming_over_backbone"]["median"] for r in runs],
               "predict_over_backbone": [r["inference_b1"]["predict_over_backbone"]["median"] for r in runs],
               "gad_over_discriminative": [r["training_step"]["gad_over_discriminative"]["median"] for r in runs]}
    load_after = os.getloadavg()[0]  # of the timed runs
    profile = None
    if args.profile:  # after the timed runs, in its own process: the profiler's cost never touches them
        profile = child("--one-profile")
        print("profile done", flush=True)
    result = {"machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores",
              "torch": torch.__version__, "threads": args.threads, "load_before": round(load, 2),
              "load_after": round(load_after, 2), "window": args.window, "long_context": args.long_context,
              "runs": runs, "spread": {k: max(v) - min(v) if v else None for k, v in medians.items()},
              "medians": medians}
    if profile is not None:
        result["profile"] = profile
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
