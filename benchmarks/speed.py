"""Inference and training speed of the generative, discriminative and GAD classifiers.

Every method is built on the SAME backbone (same recipe, same seed, hence the same initial LM
weights) and timed on the SAME inputs: step-recognition test samples of a synthetic benchmark.

What is timed (milliseconds; median over `--repeats` timed runs after `--warmup` untimed ones,
all paths of a table round-robin through gadlib.evaluation.timing):

- inference latency per sample at batch 1 and batch 32, in eval mode under torch.no_grad():
  generative (greedy KV-cache decoding + edit-distance snapping, `predict(decoding="greedy")`),
  generative_exact (log-likelihood of every class, `predict(decoding="exact")`), discriminative,
  gad (the discriminative path by construction: measured anyway);
- backbone_forward: one bare forward of the LM's decoder over the same prefix + [CLS] embeddings
  (built before the timer starts), no head - the floor a one-prefill classifier can reach;
- exact class scoring (`class_log_likelihoods`, through the prefix tree of the label tokens) vs
  the per-chunk method it replaced (kept as the reference in tests/test_classifiers.py), on one
  batch, for verb-noun label sets of 60, 1000 and ~3800 classes (EK100-sized);
- one training step (forward + backward + AdamW step) per method at batch 32;
- a label-length sweep: synthetic label sets whose names are exactly L tokens, L in 1, 2, 4, 8;
  the generative classifier is forced to decode exactly L + 1 tokens (label + EOS; min_new_tokens
  = max_new_tokens), then snaps; ratio = generative / discriminative latency.

An untrained LM rarely emits EOS, so the plain greedy rows run to `max_new_tokens` (longest
label + 1); `generated_tokens_mean` says how many tokens were actually decoded.

    python benchmarks/speed.py --threads 1             # embedded tiny Llama, CPU, ~3 min
    python benchmarks/speed.py --backbone Qwen/Qwen2.5-0.5B-Instruct --size gpu --device cuda

Writes results/speed.json (at the repository root) and prints a table. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = next((p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists()), Path.cwd())
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from gadlib.core.backbone import EMBEDDED_SCRATCH, BackboneConfig  # noqa: E402
from gadlib.data.benchmark import OBJECTS, PRESETS, VERBS, generate_benchmark, preset  # noqa: E402
from gadlib.core.classifier import Batch, collate  # noqa: E402
from gadlib.core.label_spaces import LabelSpace  # noqa: E402
from gadlib.lms.build import build_classifier  # noqa: E402
from gadlib.data.samples import label_names, step_recognition_samples  # noqa: E402
from gadlib.evaluation.timing import compare_latency, round_robin_ms  # noqa: E402
from gadlib.core.utils import pick_device  # noqa: E402

METHODS = ("generative", "generative_exact", "discriminative", "gad")
SWEEP_LENGTHS = (1, 2, 4, 8)
SCORING_CLASSES = (60, 1000, 3800)  # COIN-like, and an EK100-sized verb-noun label set (~3800)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--backbone", default=EMBEDDED_SCRATCH,
                   help="LM: the embedded tiny Llama, or a hub name / local folder of a causal LM")
    p.add_argument("--preset", default="coin_like", choices=sorted(PRESETS), help="synthetic benchmark preset")
    p.add_argument("--size", default="cpu", choices=("cpu", "gpu"), help="benchmark size")
    p.add_argument("--num-frames", type=int, default=8, help="frames per step-recognition sample")
    p.add_argument("--batch-size", type=int, default=32, help="the large batch")
    p.add_argument("--b1-samples", type=int, default=8,
                   help="batch-1 samples per timed run (their mean is one measurement)")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per measurement (median reported)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs before each measurement")
    p.add_argument("--train-repeats", type=int, default=None, help="timed training steps (default: --repeats)")
    p.add_argument("--sweep", type=int, nargs="*", default=list(SWEEP_LENGTHS),
                   help="label lengths (tokens) of the sweep; none to skip it")
    p.add_argument("--scoring-classes", type=int, nargs="*", default=list(SCORING_CLASSES),
                   help="label-set sizes of the exact-scoring growth entry; none to skip it")
    p.add_argument("--scoring-samples", type=int, default=8,
                   help="samples (one batch) scored per exact-scoring measurement")
    p.add_argument("--scoring-repeats", type=int, default=3, help="timed runs per exact-scoring measurement")
    p.add_argument("--device", default="auto", help='"auto" (cuda when available, else cpu), cpu, cuda, cuda:1, mps')
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(REPO / "results" / "speed.json"), help="JSON output path")
    args = p.parse_args(argv)
    for name in ("num_frames", "batch_size", "b1_samples", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    if any(length < 1 for length in args.sweep):
        p.error("--sweep lengths must be >= 1")
    if any(c < 2 or c > len(VERBS) * len(OBJECTS) for c in args.scoring_classes):
        p.error(f"--scoring-classes must be in 2..{len(VERBS) * len(OBJECTS)}")
    if args.scoring_samples < 1 or args.scoring_repeats < 1:
        p.error("--scoring-samples and --scoring-repeats must be >= 1")
    return args


# ---------------------------------------------------------------------------------------------
# Inference paths
# ---------------------------------------------------------------------------------------------

def backbone_inputs(disc, batch: Batch):
    """The padded prefix + [CLS] embeddings the discriminative path feeds to the LM."""
    with torch.no_grad():
        return disc.mllm.pad(disc.mllm.prefix_embeds(batch.visual, batch.kinds, cls=True))


def forced_greedy_predict(gen, batch: Batch, space: LabelSpace, new_tokens: int) -> np.ndarray:
    """Greedy prediction with the decode forced to exactly `new_tokens` steps (label + EOS of a
    trained model), snapped to the sweep's label set `space`."""
    decoded = gen.greedy_decode(batch, new_tokens=new_tokens)
    return (-np.stack([space.snap(g, gen.mllm.tokenizer) for g in decoded])).argmax(1)


def decoded_tokens(gen, batches: list[Batch]) -> tuple[float, int]:
    """Mean number of tokens plain greedy decoding runs per sample (EOS included), and the cap."""
    space = gen.label_spaces[batches[0].label_set]
    cap = max(len(s) for s in space.sequences) + int(getattr(gen, "label_eos", True))
    counts = []
    for b in batches:
        for seq in gen.greedy_decode(b):
            counts.append(min(len(seq) + 1, cap))  # greedy_decode drops EOS and what follows it
    return float(np.mean(counts)), cap


# ---------------------------------------------------------------------------------------------
# Label sets of a given token length (for the sweep)
# ---------------------------------------------------------------------------------------------

def fixed_length_names(tokenizer, length: int, count: int, seed: int = 0) -> list[str]:
    """`count` distinct names that tokenize to exactly `length` tokens: words that are single
    tokens of the tokenizer, joined by spaces (byte-level BPE splits at spaces first)."""
    n_tokens = lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])
    vocab = sorted(tokenizer.get_vocab())
    words = sorted({t[1:] for t in vocab if t.startswith("\u0120") and t[1:].isalpha() and t[1:].islower()
                    and len(t) >= 4})
    words = [w for w in words if n_tokens(" " + w) == 1]
    first = [w for w in words if n_tokens(w) == 1]
    if not first or not words:
        raise RuntimeError("the tokenizer has no single-token words to build a label set from")
    rng = np.random.default_rng([seed, length])
    names: list[str] = []
    seen: set[str] = set()
    for _ in range(200 * count):
        if len(names) == count:
            break
        name = " ".join([first[rng.integers(len(first))]] + [words[rng.integers(len(words))]
                                                             for _ in range(length - 1)])
        if name not in seen and n_tokens(name) == length:
            seen.add(name)
            names.append(name)
    if len(names) < count:
        raise RuntimeError(f"found only {len(names)} distinct {length}-token names, wanted {count}")
    return names


# ---------------------------------------------------------------------------------------------
# Exact class scoring: how its cost grows with the number of classes
# ---------------------------------------------------------------------------------------------

def verb_noun_names(count: int, seed: int = 0) -> list[str]:
    """`count` distinct "verb object" names drawn from the synthetic benchmark's vocabulary
    (60 verbs x 220 objects): at 3800 classes each verb starts ~60 labels, as in EK100."""
    pairs = [f"{v} {o}" for v in VERBS for o in OBJECTS]
    return [pairs[i] for i in np.random.default_rng(seed).permutation(len(pairs))[:count]]


def old_per_chunk_scoring():
    """The exact scoring gadlib used before the prefix tree, kept as the reference in
    tests/test_classifiers.py (one copy of it in the repository): time the very same function."""
    sys.path.insert(0, str(REPO / "tests"))
    from test_classifiers import per_chunk_log_likelihoods
    return per_chunk_log_likelihoods


def scoring_growth(args, visual_dim: int, samples: list, device: torch.device) -> list[dict]:
    """ms per sample of exact scoring (prefix tree, and the old per-chunk method) at each
    label-set size, on one batch of `--scoring-samples` samples; checks both give the same scores."""
    old = old_per_chunk_scoring()
    batch = collate(samples[:args.scoring_samples])
    rows = []
    for count in args.scoring_classes:
        gen = build_classifier("generative", {"steps": verb_noun_names(count, args.seed)}, visual_dim,
                               backbone=BackboneConfig(name=args.backbone), seed=args.seed).to(device).eval()
        tree = gen.label_tree("steps")
        with torch.no_grad():
            gap = (gen.class_log_likelihoods(batch) - old(gen, batch)).abs().max().item()
        print(f"  {count} classes: {tree.num_nodes - 1} tree nodes ({len(tree.inner)} computed), "
              f"max |tree - old| = {gap:.1e}", flush=True)
        ms = compare_latency({"tree": gen.class_log_likelihoods, "old_per_chunk": lambda b: old(gen, b)},
                             [batch], repeats=args.scoring_repeats, warmup=1, seed=args.seed, device=device)
        label_tokens = sum(len(gen.label_tokens("steps", c)) for c in range(count))
        rows.append({"classes": count, "label_tokens_with_eos": label_tokens, "tree_nodes": tree.num_nodes - 1,
                     "tree_nodes_computed": len(tree.inner), "tree_ms_per_sample": ms["tree"],
                     "old_per_chunk_ms_per_sample": ms["old_per_chunk"],
                     "old_over_tree": ms["old_per_chunk"] / ms["tree"], "max_abs_difference": gap})
    return rows


# ---------------------------------------------------------------------------------------------
# Training step
# ---------------------------------------------------------------------------------------------

def gad_without_lm_head_loss(gad, batch: Batch) -> torch.Tensor:
    """GAD's training forward minus its LM head: the same padded [prefix][CLS][context] sequence
    through the LM, the [CLS] classification loss only. GAD's step time over this one's is what
    the LM head costs (logits at the context positions, their softmax, the head's gradient and
    AdamW update); this one's over discriminative is what the longer sequence costs."""
    mllm = gad.mllm
    stems = mllm.prefix_embeds(batch.visual, batch.kinds, cls=True)
    targets = gad.generation_targets(batch)
    embedded = mllm.embed_tokens([t for x in targets for t in x]).split([len(t) for t in targets])
    embeds, mask, positions = mllm.pad([torch.cat([p, e]) for p, e in zip(stems, embedded)])
    hidden = mllm.hidden_states(embeds, mask, positions)
    return gad.classification_loss(hidden[torch.arange(len(batch)), torch.tensor([len(p) - 1 for p in stems])], batch)


def train_step_fn(clf, batch: Batch, device: torch.device, loss_fn=None):
    """One zero_grad + loss + backward + AdamW step of `clf` (bf16 autocast on CUDA, as in
    gadlib.train), as a fn(run_index) for round_robin_ms; every classifier gets its own optimizer.
    loss_fn(clf, batch): the loss to time instead of `clf.loss`."""
    params = [p for p in clf.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    cuda = device.type == "cuda"
    loss_of = loss_fn or (lambda c, b: c.loss(b))

    def step(_):
        clf.train()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = loss_of(clf, batch)
        loss.backward()
        optimizer.step()
    return step


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def format_table(result: dict, batch_size: int) -> str:
    lines = []
    m, bf = result["methods"], result["backbone_forward"]
    gen = m["generative"]
    head = f"{'method':<18}{'ms/sample b1':>14}{f'ms/sample b{batch_size}':>15}{'train ms/step':>15}" \
           f"{'gen/x b1':>10}{f'gen/x b{batch_size}':>11}"
    lines += [head, "-" * len(head)]
    for name in METHODS:
        r = m[name]
        lines.append(f"{name:<18}{r['ms_per_sample_b1']:>14.3f}{r['ms_per_sample_b32']:>15.3f}"
                     f"{r['train_ms_per_step']:>15.1f}"
                     f"{gen['ms_per_sample_b1'] / r['ms_per_sample_b1']:>10.2f}"
                     f"{gen['ms_per_sample_b32'] / r['ms_per_sample_b32']:>11.2f}")
    lines.append(f"{'backbone_forward':<18}{bf['ms_per_sample_b1']:>14.3f}{bf['ms_per_sample_b32']:>15.3f}"
                 f"{'-':>15}{gen['ms_per_sample_b1'] / bf['ms_per_sample_b1']:>10.2f}"
                 f"{gen['ms_per_sample_b32'] / bf['ms_per_sample_b32']:>11.2f}")
    lines.append(f"discriminative / backbone_forward: {bf['disc_over_backbone_b1']:.2f}x at b1, "
                 f"{bf['disc_over_backbone_b32']:.2f}x at b{batch_size} "
                 f"(sequence length {bf['sequence_length']} = prefix + [CLS])")
    g = result.get("gad_training")
    if g:
        lines.append(f"GAD training step / discriminative: {g['gad_over_disc']:.2f}x; without GAD's LM head "
                     f"{g['without_lm_head_over_disc']:.2f}x (sequence {g['gad_sequence_length']} vs "
                     f"{g['disc_sequence_length']} tokens, {g['context_tokens_mean']:.1f} context tokens with EOS)")
    lines.append(f"label tokens (mean, no EOS): {result['label_tokens_mean']:.2f}; greedy decoding ran "
                 f"{result['generated_tokens_mean']:.2f} tokens per sample (cap {result['max_new_tokens']})")
    if result["label_length_sweep"]:
        lines.append("")
        lines.append("label-length sweep (generative forced to decode L+1 tokens; ratio = gen / disc)")
        head = f"{'L':>3}{'gen b1':>10}{'disc b1':>10}{'ratio b1':>10}" \
               f"{f'gen b{batch_size}':>10}{f'disc b{batch_size}':>10}{f'ratio b{batch_size}':>10}"
        lines += [head, "-" * len(head)]
        for r in result["label_length_sweep"]:
            lines.append(f"{r['label_tokens']:>3}{r['generative_ms_b1']:>10.3f}{r['discriminative_ms_b1']:>10.3f}"
                         f"{r['ratio_b1']:>10.2f}{r['generative_ms_b32']:>10.3f}"
                         f"{r['discriminative_ms_b32']:>10.3f}{r['ratio_b32']:>10.2f}")
        lines.append("(ms per sample)")
    if result.get("exact_scoring_growth"):
        lines.append("")
        lines.append(f"exact class scoring at batch {result['settings']['scoring_samples']} (ms per sample)")
        head = f"{'classes':>8}{'label tokens':>14}{'tree nodes':>12}{'computed':>10}{'tree':>10}" \
               f"{'old':>10}{'old/tree':>10}"
        lines += [head, "-" * len(head)]
        for r in result["exact_scoring_growth"]:
            lines.append(f"{r['classes']:>8}{r['label_tokens_with_eos']:>14}{r['tree_nodes']:>12}"
                         f"{r['tree_nodes_computed']:>10}{r['tree_ms_per_sample']:>10.2f}"
                         f"{r['old_per_chunk_ms_per_sample']:>10.2f}{r['old_over_tree']:>10.2f}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device() if args.device == "auto" else torch.device(args.device)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    dataset = generate_benchmark(preset(args.preset, args.size))
    if not dataset.task_names:
        raise SystemExit(f"preset {args.preset!r} has no tasks; step-recognition samples need a COIN-like preset")
    test = step_recognition_samples(dataset, "test", num_frames=args.num_frames)
    train = step_recognition_samples(dataset, "train", num_frames=args.num_frames,
                                     rng=np.random.default_rng(args.seed))
    if len(test) < args.batch_size or len(train) < args.batch_size:
        raise SystemExit(f"need >= {args.batch_size} test and train samples, got {len(test)} / {len(train)}")
    names = {"steps": label_names(dataset, "steps")}
    visual_dim = test[0].visual.shape[1]
    batch_big = collate(test[:args.batch_size])
    batches_b1 = [collate([s]) for s in test[:args.b1_samples]]
    batch_train = collate(train[:args.batch_size])

    backbone = BackboneConfig(name=args.backbone)
    models = {m: build_classifier(m, names, visual_dim, backbone=backbone, seed=args.seed).to(device).eval()
              for m in ("generative", "discriminative", "gad")}
    gen, disc = models["generative"], models["discriminative"]
    timing = dict(repeats=args.repeats, warmup=args.warmup, seed=args.seed, device=device)
    print(f"backbone {args.backbone} on {device} ({torch.get_num_threads()} threads); preset {args.preset} "
          f"({args.size}); {len(test)} test samples, {batch_big.visual[0].shape[0]} visual tokens each; "
          f"{len(names['steps'])} classes", flush=True)

    # -- inference: every method, the bare backbone and the sweep, timed round-robin ----------
    gen_predict = {"generative": lambda b: gen.predict(b, decoding="greedy"),
                   "generative_exact": lambda b: gen.predict(b, decoding="exact"),
                   "discriminative": lambda b: disc.predict(b),
                   "gad": lambda b: models["gad"].predict(b)}
    # The bare forward gets the padded prefix + [CLS] embeddings built before the timer starts.
    embedded = {id(b): backbone_inputs(disc, b) for b in batches_b1 + [batch_big]}

    @torch.no_grad()
    def bare_forward(b):
        return disc.mllm.hidden_states(*embedded[id(b)])
    fns = dict(gen_predict, backbone_forward=bare_forward)
    for length in args.sweep:
        space = LabelSpace(fixed_length_names(gen.mllm.tokenizer, length, len(names["steps"]), args.seed),
                           gen.mllm.tokenizer, "text")
        if any(len(seq) != length for seq in space.sequences):
            raise RuntimeError(f"sweep label set for L={length} does not tokenize to {length} tokens")
        fns[f"sweep_generative_L{length}"] = (
            lambda b, space=space, n=length + 1: forced_greedy_predict(gen, b, space, n))

    with torch.no_grad():
        print(f"timing inference at batch 1 ({len(fns)} paths x {args.repeats} runs) ...", flush=True)
        ms_b1 = compare_latency(fns, batches_b1, **timing)
        print(f"timing inference at batch {args.batch_size} ... ({time.perf_counter() - t_start:.0f} s so far)",
              flush=True)
        ms_big = compare_latency(fns, [batch_big], **timing)
    methods = {name: {"ms_per_sample_b1": ms_b1[name], "ms_per_sample_b32": ms_big[name]} for name in METHODS}
    bf_b1, bf_big = ms_b1["backbone_forward"], ms_big["backbone_forward"]
    backbone_forward = {"ms_per_sample_b1": bf_b1, "ms_per_sample_b32": bf_big,
                        "sequence_length": int(embedded[id(batch_big)][0].shape[1]),
                        "disc_over_backbone_b1": methods["discriminative"]["ms_per_sample_b1"] / bf_b1,
                        "disc_over_backbone_b32": methods["discriminative"]["ms_per_sample_b32"] / bf_big}
    d_b1, d_big = methods["discriminative"]["ms_per_sample_b1"], methods["discriminative"]["ms_per_sample_b32"]
    # The discriminative path does not depend on the label length (one prefill, a 60-way head),
    # so its one measurement, from the same round-robin, is the denominator of every sweep row.
    sweep = [{"label_tokens": length,
              "generative_ms_b1": ms_b1[f"sweep_generative_L{length}"], "discriminative_ms_b1": d_b1,
              "ratio_b1": ms_b1[f"sweep_generative_L{length}"] / d_b1,
              "generative_ms_b32": ms_big[f"sweep_generative_L{length}"], "discriminative_ms_b32": d_big,
              "ratio_b32": ms_big[f"sweep_generative_L{length}"] / d_big} for length in args.sweep]

    generated_mean, cap = decoded_tokens(gen, batches_b1)
    label_tokens_mean = float(np.mean([len(s) for s in gen.label_spaces["steps"].sequences]))

    # -- exact scoring at growing label-set sizes: prefix tree vs the old per-chunk method ------
    if args.scoring_classes:
        print(f"timing exact class scoring at {args.scoring_classes} classes ... "
              f"({time.perf_counter() - t_start:.0f} s so far)", flush=True)
    growth = scoring_growth(args, visual_dim, test, device) if args.scoring_classes else []

    # -- training step (after inference: it changes the weights) --------------------------------
    train_repeats = args.train_repeats or args.repeats
    print(f"timing training steps at batch {args.batch_size} ... ({time.perf_counter() - t_start:.0f} s so far)",
          flush=True)
    steps = {name: train_step_fn(clf, batch_train, device) for name, clf in models.items()}
    # GAD's extra cost split in two: its longer sequence, and its LM head (a twin model of its own)
    twin = build_classifier("gad", names, visual_dim, backbone=backbone, seed=args.seed).to(device)
    steps["gad_without_lm_head"] = train_step_fn(twin, batch_train, device, gad_without_lm_head_loss)
    train_ms = round_robin_ms(steps, **dict(timing, repeats=train_repeats))
    for name, clf in models.items():
        clf.eval()
        methods[name]["train_ms_per_step"] = train_ms[name]
    # generative_exact differs from generative only at inference: the same training step.
    methods["generative_exact"]["train_ms_per_step"] = train_ms["generative"]
    context = models["gad"].generation_targets(batch_train)
    prefix_len = [len(p) for p in disc.mllm.prefix_embeds(batch_train.visual, batch_train.kinds)]
    gad_training = {"context_tokens_mean": float(np.mean([len(t) for t in context])),  # EOS included
                    "disc_sequence_length": max(prefix_len) + 1,
                    "gad_sequence_length": max(p + 1 + len(t) for p, t in zip(prefix_len, context)),  # padded
                    "gad_without_lm_head_ms_per_step": train_ms["gad_without_lm_head"],
                    "gad_over_disc": train_ms["gad"] / train_ms["discriminative"],
                    "without_lm_head_over_disc": train_ms["gad_without_lm_head"] / train_ms["discriminative"]}

    result = {
        "backbone": args.backbone,
        "device": str(device) if device.type != "cuda" else f"{device} ({torch.cuda.get_device_name(device)})",
        "torch_threads": torch.get_num_threads(),
        "label_tokens_mean": label_tokens_mean,
        "methods": {name: methods[name] for name in METHODS},
        "backbone_forward": backbone_forward,
        "gad_training": gad_training,
        "label_length_sweep": sweep,
        "exact_scoring_growth": growth,
        "generated_tokens_mean": generated_mean,
        "max_new_tokens": cap,
        "settings": {"preset": args.preset, "size": args.size, "num_frames": args.num_frames,
                     "visual_tokens": int(batch_big.visual[0].shape[0]), "num_classes": len(names["steps"]),
                     "batch_size": args.batch_size, "b1_samples": args.b1_samples, "repeats": args.repeats,
                     "train_repeats": train_repeats, "warmup": args.warmup, "seed": args.seed,
                     "scoring_samples": args.scoring_samples, "scoring_repeats": args.scoring_repeats,
                     "torch": torch.__version__, "python": platform.python_version(),
                     "machine": platform.machine(), "processor": platform.processor()},
        "note": "ms_per_sample_b32 keeps its name whatever --batch-size is; generative_exact trains like "
                "generative (same loss); untrained weights.",
    }
    result["total_seconds"] = time.perf_counter() - t_start
    # Other processes on the machine distort CPU timings (torch's thread pool waits on
    # descheduled threads): record the 1-minute load average around the run.
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    result["settings"]["load_average_1min"] = [load_start, load_end]
    # At the start the load is the other processes'; at the end it includes this run's threads.
    cpus, threads = os.cpu_count() or 1, torch.get_num_threads()
    busy = device.type == "cpu" and load_start is not None and \
        (load_start > cpus - threads + 0.5 or load_end > cpus + 0.5)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(format_table(result, args.batch_size))
    print(f"\nwrote {out}  ({result['total_seconds']:.0f} s in all)")
    if busy:
        print(f"warning: 1-min load average {load_start:.1f} -> {load_end:.1f} on {os.cpu_count()} CPUs: other "
              "processes competed for the cores, so these CPU timings are inflated and noisy "
              "(rerun on an idle machine" + (", or try --threads 1)" if threads > 1 else ")"), file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
