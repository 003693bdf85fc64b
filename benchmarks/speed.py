"""Inference and training speed of the generative, discriminative and GAD classifiers.

Every method is built on the SAME backbone (same recipe, same seed, hence the same initial LM
weights) and timed on the SAME inputs: step-recognition test samples of a synthetic benchmark.

What is timed (milliseconds; median over `--repeats` timed runs after `--warmup` untimed ones):

- inference latency per sample at batch 1 and batch 32, in eval mode under torch.no_grad():
  generative (greedy KV-cache decoding + edit-distance snapping, `predict(decoding="greedy")`),
  generative_exact (log-likelihood of every class, `predict(decoding="exact")`), discriminative,
  gad (the discriminative path by construction: measured anyway);
- backbone_forward: one bare forward of the LM's decoder over the same prefix + [CLS] embeddings
  (built before the timer starts), no head - the floor a one-prefill classifier can reach;
- one training step (forward + backward + AdamW step) per method at batch 32;
- a label-length sweep: synthetic label sets whose names are exactly L tokens, L in 1, 2, 4, 8;
  the generative classifier is forced to decode exactly L + 1 tokens (label + EOS; min_new_tokens
  = max_new_tokens), then snaps; ratio = generative / discriminative latency.

An untrained LM rarely emits EOS, so the plain greedy rows run to `max_new_tokens` (longest
label + 1); `generated_tokens_mean` says how many tokens were actually decoded.

    python benchmarks/speed.py                         # embedded tiny Llama, CPU, ~1-2 min
    python benchmarks/speed.py --backbone Qwen/Qwen2.5-0.5B-Instruct --size gpu --device cuda

Writes results/speed.json (at the repository root) and prints a table. See benchmarks/README.md.
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

REPO = next((p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists()), Path.cwd())
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from gadlib.backbone import EMBEDDED, BackboneConfig  # noqa: E402
from gadlib.benchmark import PRESETS, generate_benchmark, preset  # noqa: E402
from gadlib.classifier import Batch, collate  # noqa: E402
from gadlib.label_spaces import LabelSpace  # noqa: E402
from gadlib.methods import build_classifier  # noqa: E402
from gadlib.samples import label_names, step_recognition_samples  # noqa: E402

METHODS = ("generative", "generative_exact", "discriminative", "gad")
SWEEP_LENGTHS = (1, 2, 4, 8)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--backbone", default=EMBEDDED,
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
    return args


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

class Timer:
    """Median wall-clock time of a callable, synchronising CUDA around every timed run."""

    def __init__(self, device: torch.device, warmup: int, repeats: int):
        self.device, self.warmup, self.repeats = device, warmup, repeats

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()

    def median_ms(self, fns: dict, repeats: int | None = None) -> dict[str, float]:
        """Median ms of each fn(run_index) in `fns`, timed round-robin.

        Every round times each fn once, in a fresh seeded random order, so a slow spell of the
        machine (another process, turbo, thermal) lands on all of them alike, and no fn always
        runs right after the same neighbour (e.g. one that leaves the allocator or the caches in
        a bad state). Each fn first runs `warmup` untimed times."""
        names = list(fns)
        for name in names:
            for i in range(self.warmup):
                fns[name](i)
        self.sync()
        times = {name: [] for name in names}
        order = np.random.default_rng(len(names))
        for r in range(repeats or self.repeats):
            for name in order.permutation(names).tolist():
                self.sync()
                t0 = time.perf_counter()
                fns[name](r)
                self.sync()
                times[name].append(time.perf_counter() - t0)
        return {name: 1000 * statistics.median(t) for name, t in times.items()}

    def per_sample_ms(self, fns: dict, batches: list) -> dict[str, float]:
        """Median ms per sample of each fn(batch); one timed run calls fn on every batch in turn
        (several batch-1 samples, or one big batch)."""
        n = sum(len(b) for b in batches)

        def over_batches(fn):
            def run(_):
                for b in batches:
                    fn(b)
            return run
        ms = self.median_ms({name: over_batches(fn) for name, fn in fns.items()})
        return {name: v / n for name, v in ms.items()}


# ---------------------------------------------------------------------------------------------
# Inference paths
# ---------------------------------------------------------------------------------------------

def backbone_inputs(disc, batch: Batch):
    """The padded prefix + [CLS] embeddings the discriminative path feeds to the LM."""
    with torch.no_grad():
        prefixes = disc.mllm.prefix_embeds(batch.visual, batch.kinds)
        seqs = [torch.cat([p, disc.mllm.cls_embed(p)]) for p in prefixes]
        return disc.mllm.pad(seqs)


def forced_greedy_predict(gen, batch: Batch, space: LabelSpace, new_tokens: int) -> np.ndarray:
    """`GenerativeClassifier.predict(decoding="greedy")` with the decode forced to exactly
    `new_tokens` steps (label + EOS of a trained model): generate, cut at EOS, snap."""
    tok = gen.mllm.tokenizer
    embeds, mask, _ = gen._left_padded_prefix(batch)
    out = gen.mllm.lm.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=new_tokens,
                               min_new_tokens=new_tokens, do_sample=False, num_beams=1, use_cache=True,
                               eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    if out.shape[1] != new_tokens:
        raise RuntimeError(f"forced decoding produced {out.shape[1]} tokens, expected {new_tokens}")
    decoded = [row[:row.index(tok.eos_token_id)] if tok.eos_token_id in row else row for row in out.tolist()]
    scores = -np.stack([space.snap(g, tok) for g in decoded])
    return scores.argmax(1)


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
# Training step
# ---------------------------------------------------------------------------------------------

def train_step_fn(clf, batch: Batch, device: torch.device):
    """One zero_grad + loss + backward + AdamW step of `clf` (bf16 autocast on CUDA, as in
    gadlib.train), as a fn(run_index) for Timer; every classifier gets its own optimizer."""
    params = [p for p in clf.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    cuda = device.type == "cuda"

    def step(_):
        clf.train()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = clf.loss(batch)
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
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
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
    timer = Timer(device, args.warmup, args.repeats)
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
        ms_b1 = timer.per_sample_ms(fns, batches_b1)
        print(f"timing inference at batch {args.batch_size} ... ({time.perf_counter() - t_start:.0f} s so far)",
              flush=True)
        ms_big = timer.per_sample_ms(fns, [batch_big])
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

    # -- training step (after inference: it changes the weights) --------------------------------
    train_repeats = args.train_repeats or args.repeats
    print(f"timing training steps at batch {args.batch_size} ... ({time.perf_counter() - t_start:.0f} s so far)",
          flush=True)
    train_ms = timer.median_ms({name: train_step_fn(clf, batch_train, device) for name, clf in models.items()},
                               train_repeats)
    for name, clf in models.items():
        clf.eval()
        methods[name]["train_ms_per_step"] = train_ms[name]
    # generative_exact differs from generative only at inference: the same training step.
    methods["generative_exact"]["train_ms_per_step"] = train_ms["generative"]

    result = {
        "backbone": args.backbone,
        "device": str(device) if device.type != "cuda" else f"{device} ({torch.cuda.get_device_name(device)})",
        "torch_threads": torch.get_num_threads(),
        "label_tokens_mean": label_tokens_mean,
        "methods": {name: methods[name] for name in METHODS},
        "backbone_forward": backbone_forward,
        "label_length_sweep": sweep,
        "generated_tokens_mean": generated_mean,
        "max_new_tokens": cap,
        "settings": {"preset": args.preset, "size": args.size, "num_frames": args.num_frames,
                     "visual_tokens": int(batch_big.visual[0].shape[0]), "num_classes": len(names["steps"]),
                     "batch_size": args.batch_size, "b1_samples": args.b1_samples, "repeats": args.repeats,
                     "train_repeats": train_repeats, "warmup": args.warmup, "seed": args.seed,
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
