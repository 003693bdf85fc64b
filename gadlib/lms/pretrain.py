"""A tiny LM that knows the benchmark's language: the embedded tiny Llama pretrained as a causal LM
on text of the synthetic world (issue 17), cached, and measured against a unigram baseline.

`python -m gadlib.pretrain` builds it (first use) or loads it, then prints the held-out
perplexity next to a unigram baseline's and a few greedy continuations. `BackboneConfig(name=
"embedded-tiny-llama")` (`gadlib.lms.build.load_language_model`) loads it, building it
on first use; `"embedded-tiny-llama-scratch"` is the same architecture, random init. Which one
the notebooks use is decided by `benchmarks/backbone_pretraining.py` (docs/hardware.md: "The embedded LM, pretrained").

- The corpus (`build_corpus`) is generated, deterministically, from every preset of
  `gadlib.data.benchmark.PRESETS` (its class names, task goals and step scripts, exactly as
  `generate_benchmark` draws them), plus the filler text the tokenizer was trained on. The world
  sentences start with the preset's tag ("coin like: to make tea, ..."): presets share task names
  with different scripts. A hash of each sentence puts it in the training or the held-out split
  (different sentences, same world).
- The model is exactly `build_embedded_lm(BackboneConfig(), tokenizer)`, the architecture and
  tokenizer of the random-init embedded LM, trained with AdamW on packed sequences (seeded, CPU,
  `PretrainConfig.threads` threads).
- The cache, `<repo>/data/pretrained/embedded-tiny-llama/` (outside a checkout
  `~/.cache/gadlib/pretrained/...`): `model.safetensors` + `manifest.json` (its `inputs`: corpus
  and tokenizer hashes, model sizes, training settings, gadlib version; its results: perplexities,
  seconds, load average). A manifest whose inputs differ, or weights whose hash differs, means a
  rebuild. A file lock makes concurrent processes (pytest-xdist workers) build it once; files are
  written through `gadlib.data.owned_files.write_owned` (temporary file + os.replace, and never over a
  file gadlib did not write).
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from gadlib import __version__
from gadlib.data.benchmark import PRESETS, _make_classes, _make_scripts, task_names
from gadlib.lms.embedded_lm import build_embedded_lm, embedded_tokenizer
from gadlib.core.backbone import EMBEDDED, EMBEDDED_SCRATCH, BackboneConfig
from gadlib.data.owned_files import write_owned
from gadlib.core.prompts import PROMPTS
from gadlib.lms.tokenizer import filler_corpus
from gadlib.core.label_spaces import readable_label
from gadlib.data.vocabulary import PHRASES

MODEL_FILE, MANIFEST, LOCK = "model.safetensors", "manifest.json", ".build.lock"
FORMAT = 1  # of the corpus, the manifest and the training loop: bump to rebuild every cache
SIZES = ("hidden_size", "num_layers", "num_heads", "intermediate_size", "vocab_size")


@dataclass(frozen=True)
class PretrainConfig:
    """The corpus and training settings (all of them are inputs of the cache's manifest)."""
    steps: int = 700             # AdamW steps, one batch of `batch_size` x `seq_len` tokens each
    batch_size: int = 16
    seq_len: int = 96            # packed sequences of sentences, [BOS] text [EOS] each
    lr: float = 3e-3
    warmup: int = 30             # linear warmup steps, then cosine decay to 10% of lr
    weight_decay: float = 0.01
    seed: int = 0
    sizes: tuple[str, ...] = ("cpu",)  # which preset sizes make up the world
    heldout: float = 0.05        # share of distinct sentences held out (by a hash of the text)
    filler_lines: int = 600      # lines of the tokenizer's filler text (gadlib.lms.tokenizer.filler_corpus)
    threads: int = 1             # torch threads while training (determinism; 1 is fastest on 2 shared cores)


# ---------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------

@dataclass
class World:
    """One preset's language: its tag, step texts (readable class names), tasks and scripts."""
    preset: str
    size: str
    tag: str
    steps: list[str]
    tasks: list[str]
    scripts: list[list[int]]  # per task, step indices in script order

    def goal_prompt(self, task: int) -> str:
        """The text after which a script's first step comes ("coin like: to make tea,")."""
        return f"{self.tag}: to {self.tasks[task]},"


@dataclass
class Corpus:
    train: list[str]
    heldout: list[str]
    kinds: dict[str, str]  # sentence -> "world" | "filler"
    worlds: list[World] = field(repr=False)

    @functools.cached_property
    def sha256(self) -> str:
        return hashlib.sha256("\n".join(self.train + ["\0"] + self.heldout).encode()).hexdigest()


def worlds(sizes: tuple[str, ...] = ("cpu",)) -> list[World]:
    """Every preset's classes, tasks and scripts, as `generate_benchmark` draws them."""
    out = []
    for size in sizes:
        for name, make in PRESETS.items():
            config = make(size)
            names, _, _ = _make_classes(config)
            scripts, _ = _make_scripts(config)
            tag = name.replace("_", " ") + ("" if size == "cpu" else f" {size}")
            out.append(World(name, size, tag, [readable_label(n) for n in names], task_names(config.num_tasks),
                             scripts))
    return out


def _verb_object(step: str) -> tuple[str, str]:
    """"pour olive oil" -> (pour, olive oil); "cut the onion with a sharp knife" -> (cut, onion)."""
    verb, _, rest = step.partition(" ")
    if rest.startswith("the "):
        for phrase in PHRASES:
            if rest.endswith(" " + phrase):
                return verb, rest[4:-len(phrase) - 1]
    return verb, rest


def _listed(items: list[str], last: str = "and") -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {last} {items[-1]}"


_ACTION_TEMPLATES = ["to {s} means to {v} the {o}.", "in the video someone is about to {s}.",
                     "a person can {s}.", "the action {s}: {v} the {o}.", "you {v} the {o}: {s}.",
                     "the step {s} uses the {o}."]


def world_sentences(w: World, rng: np.random.Generator) -> list[str]:
    """Sentences of one preset's world: scripts in several phrasings, transitions, memberships,
    action descriptions, verb-object co-occurrence and the classifier's questions with answers."""
    t, lines = w.tag, []
    tasks_of: dict[int, list[str]] = {}
    for k, script in enumerate(w.scripts):
        task, steps = w.tasks[k], [w.steps[i] for i in script]
        for i in script:
            tasks_of.setdefault(i, []).append(task)
        # the script and each of its beginnings: the goal prompt is followed by the first step
        lines += [f"{w.goal_prompt(k)} " + ", then ".join(steps[:n]) + "." for n in range(1, len(steps) + 1)]
        lines += [f"{t}: how to {task}: first {steps[0]}; " + "; ".join(f"next {s}" for s in steps[1:-1])
                  + f"; finally {steps[-1]}." if len(steps) > 2 else f"{w.goal_prompt(k)} {_listed(steps)}.",
                  f"{t}: the steps to {task} are {_listed(steps)}.",
                  f"{t}: the first step to {task} is {steps[0]}.",
                  f"{t}: the last step to {task} is {steps[-1]}.",
                  f"{t}: a video of someone who wants to {task}.",
                  f"{t}: {PROMPTS['task']} {task}."]
        for j in range(len(steps) - 1):
            a, b = steps[j], steps[j + 1]
            lines += [f"{t}: when you {task}, after you {a} you {b}.",
                      f"{t}: in {task}, the step before {b} is {a}.",
                      f"{t}: {task}: {a}. {PROMPTS['next']} {b}."]
            if j + 2 < len(steps):  # a window of the script, starting anywhere
                lines.append(f"{t}: while you {task}: {a}, then {b}, then {steps[j + 2]}.")
    verbs: dict[str, list[str]] = {}
    objects: dict[str, list[str]] = {}
    for i, step in enumerate(w.steps):
        v, o = _verb_object(step)
        verbs.setdefault(v, []).append(o)
        objects.setdefault(o, []).append(v)
        lines += [f"{t}: {step} is a step of {_listed(tasks_of.get(i, ['no task']))}.",
                  f"{t}: {PROMPTS['step']} {step}."]
        for a in rng.choice(len(_ACTION_TEMPLATES), 2, replace=False):
            lines.append(_ACTION_TEMPLATES[a].format(s=step, v=v, o=o))
    lines += [f"{t}: things you {v}: {_listed(sorted(set(os_)))}." for v, os_ in verbs.items()]
    lines += [f"{t}: what you do with the {o}: {_listed(sorted(set(vs)), 'or')}." for o, vs in objects.items()]
    lines.append(f"{t} tasks: {_listed(w.tasks)}.")
    return lines


def _held_out(text: str, share: float) -> bool:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) < share * 16 ** 8


@functools.lru_cache(maxsize=4)
def build_corpus(config: PretrainConfig = PretrainConfig()) -> Corpus:
    """The deterministic corpus: distinct sentences, each in the training or the held-out split
    by a hash of its text (so the split never depends on the order of generation)."""
    ws = worlds(config.sizes)
    kinds: dict[str, str] = {}
    for n, w in enumerate(ws):
        for line in world_sentences(w, np.random.default_rng([config.seed, n])):
            kinds.setdefault(line, "world")
    for line in filler_corpus(seed=config.seed)[:config.filler_lines]:
        kinds.setdefault(line, "filler")
    train = [s for s in kinds if not _held_out(s, config.heldout)]
    heldout = [s for s in kinds if _held_out(s, config.heldout)]
    return Corpus(train, heldout, kinds, ws)


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    """[BOS] text [EOS] per sentence."""
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [[tokenizer.bos_token_id, *i, tokenizer.eos_token_id] for i in ids]


# ---------------------------------------------------------------------------------------------
# Training and measuring
# ---------------------------------------------------------------------------------------------

def _batches(sentences: list[list[int]], config: PretrainConfig):
    """Endless packed batches [batch_size, seq_len]: each pass shuffles the sentences, joins
    them into one stream and cuts it into sequences."""
    rng = np.random.default_rng([config.seed, 1])
    rows: list[np.ndarray] = []
    while True:
        stream = np.concatenate([sentences[i] for i in rng.permutation(len(sentences))])
        usable = len(stream) // config.seq_len * config.seq_len
        rows += list(stream[:usable].reshape(-1, config.seq_len))
        while len(rows) >= config.batch_size:
            yield torch.as_tensor(np.stack(rows[:config.batch_size]), dtype=torch.long)
            rows = rows[config.batch_size:]


def train_lm(config: PretrainConfig, corpus: Corpus, tokenizer, log_every: int = 0):
    """A fresh tiny Llama (seeded), trained as a causal LM on the corpus's training split.
    Returns (model in eval mode, [loss per step])."""
    torch.manual_seed(config.seed)
    lm = build_embedded_lm(BackboneConfig(), tokenizer)
    lm.train()
    decay = [p for n, p in lm.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in lm.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.98))

    def factor(step: int) -> float:
        if step < config.warmup:
            return (step + 1) / config.warmup
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    losses, batches = [], _batches(encode(tokenizer, corpus.train), config)
    for step in range(config.steps):
        x = next(batches)
        loss = lm(input_ids=x, labels=x, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}/{config.steps}: loss {np.mean(losses[-log_every:]):.3f}", flush=True)
    return lm.eval(), losses


@torch.no_grad()
def token_logprobs(lm, sentences: list[list[int]], batch_size: int = 64) -> list[np.ndarray]:
    """log p(token | before) of every token after the first ([BOS]) of each sentence."""
    out = []
    for b in range(0, len(sentences), batch_size):
        chunk = sentences[b:b + batch_size]
        longest = max(map(len, chunk))
        ids = torch.tensor([s + [0] * (longest - len(s)) for s in chunk])
        mask = torch.tensor([[1] * len(s) + [0] * (longest - len(s)) for s in chunk])
        logp = lm(input_ids=ids, attention_mask=mask, use_cache=False).logits.float().log_softmax(-1)
        gold = logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
        out += [gold[i, :len(s) - 1].numpy() for i, s in enumerate(chunk)]
    return out


def unigram_logprobs(tokenizer, corpus: Corpus) -> np.ndarray:
    """log p of the unigram baseline: the training split's token frequencies (every token after
    [BOS], [EOS] included), add-one smoothed over the vocabulary."""
    counts = np.ones(len(tokenizer))
    for s in encode(tokenizer, corpus.train):
        np.add.at(counts, s[1:], 1)
    return np.log(counts / counts.sum())


def perplexities(lm, tokenizer, corpus: Corpus) -> dict:
    """Held-out perplexity of the LM and of the unigram baseline, overall and per kind of text."""
    sentences = encode(tokenizer, corpus.heldout)
    lm_lp, unigram = token_logprobs(lm, sentences), unigram_logprobs(tokenizer, corpus)
    out = {}
    for kind in (None, "world", "filler"):
        keep = [i for i, s in enumerate(corpus.heldout) if kind is None or corpus.kinds[s] == kind]
        if not keep:
            continue
        lp = np.concatenate([lm_lp[i] for i in keep])
        up = np.concatenate([unigram[sentences[i][1:]] for i in keep])
        key = "" if kind is None else f"_{kind}"
        out[f"heldout_perplexity{key}"] = round(float(np.exp(-lp.mean())), 3)
        out[f"unigram_perplexity{key}"] = round(float(np.exp(-up.mean())), 3)
        out[f"heldout_tokens{key}"] = int(len(lp))
    return out


@torch.no_grad()
def next_step_scores(lm, tokenizer, ws: list[World]) -> dict:
    """After each task's goal prompt ("coin like: to make tea,"), the top-1 token among the
    first tokens of all of its preset's steps: how often it starts a step of that task ("in_task",
    chance: that task's share of the candidate tokens) and the script's first step ("first_step",
    chance: 1 / number of candidates). Averaged over every task of every preset."""
    hits, chance, first, first_chance = [], [], [], []
    for w in ws:
        start = [tokenizer(" " + s, add_special_tokens=False)["input_ids"][0] for s in w.steps]
        candidates = sorted(set(start))
        for k, script in enumerate(w.scripts):
            ids = encode(tokenizer, [w.goal_prompt(k)])[0][:-1]
            logits = lm(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1]
            top = candidates[int(logits[candidates].argmax())]
            mine = {start[i] for i in script}
            hits.append(top in mine)
            chance.append(len(mine) / len(candidates))
            first.append(top == start[script[0]])
            first_chance.append(1 / len(candidates))
    return {"in_task": float(np.mean(hits)), "in_task_chance": float(np.mean(chance)),
            "first_step": float(np.mean(first)), "first_step_chance": float(np.mean(first_chance)),
            "tasks": len(hits)}


# ---------------------------------------------------------------------------------------------
# The cache
# ---------------------------------------------------------------------------------------------

def default_root() -> Path:
    """<repo>/data/pretrained for a source checkout, else ~/.cache/gadlib/pretrained."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "gadlib").is_dir():
            return parent / "data" / "pretrained"
    return Path.home() / ".cache" / "gadlib" / "pretrained"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_inputs(config: PretrainConfig, corpus: Corpus, tokenizer) -> dict:
    """What the cached model depends on: a manifest with other inputs means a rebuild."""
    base = BackboneConfig()
    inputs = {"format": FORMAT, "corpus_sha256": corpus.sha256,
              "tokenizer_sha256": _sha256(tokenizer.backend_tokenizer.to_str().encode()),
              "model": {"architecture": "LlamaForCausalLM", **{f: getattr(base, f) for f in SIZES},
                        "vocabulary_rows": len(tokenizer)},
              "training": asdict(config), "gadlib_version": __version__}
    return json.loads(json.dumps(inputs))  # tuples as lists, as read back from the file


def _load_valid(folder: Path, inputs: dict):
    """(manifest, state dict) when folder holds a model built from these inputs, else None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest.get("inputs") != inputs:
            return None
        data = (folder / MODEL_FILE).read_bytes()
        if _sha256(data) != manifest.get("weights_sha256"):
            return None
        return manifest, load_safetensors(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


@dataclass
class Pretrained:
    folder: Path
    manifest: dict
    state_dict: dict
    built: bool  # True when this call trained it (False: loaded from the cache)


def _build(folder: Path, config: PretrainConfig, corpus: Corpus, tokenizer, inputs: dict, log_every: int) -> None:
    start, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    # The caller's random state is left as it was: `build_classifier` seeds, then loads the LM,
    # then initialises its own layers, which must not depend on whether the cache was warm.
    try:
        with torch.random.fork_rng(devices=[]):
            lm, losses = train_lm(config, corpus, tokenizer, log_every)
        train_seconds = time.perf_counter() - start
        measured = perplexities(lm, tokenizer, corpus)
        scores = next_step_scores(lm, tokenizer, corpus.worlds)
    finally:
        torch.set_num_threads(threads)
    data = save_safetensors({k: v.contiguous() for k, v in lm.state_dict().items()}, metadata={"format": "pt"})
    n_train = sum(map(len, encode(tokenizer, corpus.train)))
    manifest = {"inputs": inputs, "weights_sha256": _sha256(data), **measured, "next_step": scores,
                "final_loss": round(float(np.mean(losses[-20:])), 4) if losses else None,
                "corpus": {"train_sentences": len(corpus.train), "heldout_sentences": len(corpus.heldout),
                           "train_tokens": n_train, "presets": [f"{w.preset}/{w.size}" for w in corpus.worlds]},
                "train_seconds": round(train_seconds, 1), "seconds": round(time.perf_counter() - start, 1),
                "cpu_seconds": round(time.process_time() - cpu, 1),
                "load_average_at_start": [round(x, 2) for x in load],
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                "torch_threads": config.threads, "torch_version": torch.__version__}
    write_owned(folder, {MODEL_FILE: lambda p: p.write_bytes(data),
                         MANIFEST: lambda p: p.write_text(json.dumps(manifest, indent=1) + "\n")},
                managed=[MODEL_FILE, MANIFEST], first=(MANIFEST,), what="gadlib.lms.pretrain")


def ensure_pretrained(config: PretrainConfig = PretrainConfig(), root: str | Path | None = None,
                      force: bool = False, log_every: int = 0) -> Pretrained:
    """The pretrained tiny Llama's cached weights, built first when the cache is missing, stale
    (its manifest's inputs differ from this corpus, tokenizer, model and `config`) or `force`.
    Under a file lock: of processes asking at the same time, one builds and the others load."""
    folder = Path(root if root is not None else default_root()) / EMBEDDED
    corpus, tokenizer = build_corpus(config), embedded_tokenizer()
    inputs = manifest_inputs(config, corpus, tokenizer)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / LOCK)):
        loaded = None if force else _load_valid(folder, inputs)
        built = loaded is None
        if built:
            _build(folder, config, corpus, tokenizer, inputs, log_every)
            loaded = _load_valid(folder, inputs)
            if loaded is None:
                raise RuntimeError(f"{folder}: the model just written does not read back; is the folder writable?")
    return Pretrained(folder, loaded[0], loaded[1], built)


def pretrained_embedded_lm(cfg: BackboneConfig, tokenizer=None, root: str | Path | None = None,
                           config: PretrainConfig = PretrainConfig()):
    """The pretrained tiny Llama for `BackboneConfig(name=EMBEDDED, ...)`: the cached
    weights (built on first use), loaded strictly into the architecture of cfg's sizes.
    A vocab_size above the pretrained one (desync's reserved tokens, `methods.build_classifier`)
    adds embedding and LM-head rows after the pretrained ones, initialised as the random-init
    model's are (normal, std `initializer_range`, from torch's generator)."""
    base = BackboneConfig()
    other = {f: getattr(cfg, f) for f in SIZES[:-1] if getattr(cfg, f) != getattr(base, f)}
    if other or cfg.vocab_size < base.vocab_size:
        raise ValueError(f"the pretrained embedded tiny Llama exists in the default sizes only "
                         f"({', '.join(f'{f}={getattr(base, f)}' for f in SIZES)}, or a larger vocab_size); "
                         f"got {other or {'vocab_size': cfg.vocab_size}}: use name={EMBEDDED_SCRATCH!r} (random init) "
                         f"for other sizes")
    pretrained = ensure_pretrained(config, root)
    lm = build_embedded_lm(base, embedded_tokenizer(base.vocab_size))
    try:
        lm.load_state_dict(pretrained.state_dict, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{pretrained.folder / MODEL_FILE} does not fit the embedded tiny Llama of the default "
                         f"sizes ({e}); delete {pretrained.folder} to rebuild it") from None
    tokenizer = tokenizer if tokenizer is not None else embedded_tokenizer(cfg.vocab_size)
    if len(tokenizer) > lm.get_input_embeddings().num_embeddings:
        lm.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    return lm


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def greedy(lm, tokenizer, prompt: str, max_new_tokens: int = 40) -> str:
    ids = torch.tensor([encode(tokenizer, [prompt])[0][:-1]])
    out = lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                      do_sample=False, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m gadlib.pretrain", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=PretrainConfig.steps, help="AdamW steps (default %(default)s)")
    p.add_argument("--root", default=None, help="cache folder (default: <repo>/data/pretrained)")
    p.add_argument("--rebuild", action="store_true", help="build even when the cache is valid")
    p.add_argument("--examples", type=int, default=3, help="greedy continuations of task goals to print")
    args = p.parse_args(argv)
    config = PretrainConfig(steps=args.steps)
    pretrained = ensure_pretrained(config, args.root, force=args.rebuild, log_every=100)
    m = pretrained.manifest
    print(f"{'built' if pretrained.built else 'loaded'}: {pretrained.folder / MODEL_FILE} "
          f"({m['seconds']} s to build, {m['cpu_seconds']} s of CPU, {m['torch_threads']} thread(s); "
          f"load average {m['load_average_at_start'][0]} at the start, {m['load_average_at_end'][0]} at the end)")
    c = m["corpus"]
    print(f"corpus: {c['train_sentences']} training sentences ({c['train_tokens']} tokens), "
          f"{c['heldout_sentences']} held out; presets {', '.join(c['presets'])}")
    for key, what in (("", "all"), ("_world", "world"), ("_filler", "filler")):
        if f"heldout_perplexity{key}" in m:
            print(f"held-out perplexity ({what}, {m[f'heldout_tokens{key}']} tokens): "
                  f"{m[f'heldout_perplexity{key}']:.2f}, unigram baseline {m[f'unigram_perplexity{key}']:.2f} "
                  f"(ratio {m[f'heldout_perplexity{key}'] / m[f'unigram_perplexity{key}']:.3f})")
    s = m["next_step"]
    print(f"next step after a task goal, top-1 among every step's first token ({s['tasks']} tasks): "
          f"a step of that task {s['in_task']:.2f} (chance {s['in_task_chance']:.2f}), "
          f"its first step {s['first_step']:.2f} (chance {s['first_step_chance']:.2f})")
    lm = pretrained_embedded_lm(BackboneConfig(name=EMBEDDED), root=args.root, config=config).eval()
    tokenizer = embedded_tokenizer()
    ws = build_corpus(config).worlds
    for w in ws[-1:] + ws[:1]:
        for k in range(min(args.examples, len(w.tasks))):
            print(f"\n{w.goal_prompt(k)!r} ->{greedy(lm, tokenizer, w.goal_prompt(k))}")
            print(f"  script: {', then '.join(w.steps[i] for i in w.scripts[k])}")
    for prompt in (f"{ws[-1].tag}: {PROMPTS['task']}", f"{ws[-1].tag}: {ws[-1].steps[0]} is a step of", "The"):
        print(f"\n{prompt!r} ->{greedy(lm, tokenizer, prompt, 24)}")
    return m


if __name__ == "__main__":
    main()
