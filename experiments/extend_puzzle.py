"""The "extend" puzzle (issue 9): why does one new vocabulary token per class, read by the LM
head, trail the [CLS] + linear head by so much on notebook 02's EPIC-like preset, although both
are a linear read-out of one hidden state?

A ladder of controlled steps from `extend` (gadlib's GenerativeClassifier, mapping="extend") to
the discriminative classifier, each rung changing one thing, plus single changes from the two
baselines and leave-one-out rungs from the top of the ladder. Every variant is a subclass of
`gadlib.core.generative.GenerativeClassifier` defined here (gadlib itself is not changed).

    PYTHONPATH=. python experiments/extend_puzzle.py            # every rung, seeds 0 1 2
    PYTHONPATH=. python experiments/extend_puzzle.py --check    # the self-checks only (seconds)

Writes results/extend_puzzle.json (after every rung, so a partial run keeps what it measured).
Read experiments/extend_puzzle.md for the findings. Settings are notebook 02's (notebooks/02_tokenization_ablations.py).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gadlib.core import methods
from gadlib.core.backbone import BackboneConfig
from gadlib.core.classifier import Batch, Prediction, collate
from gadlib.data.datasets import ensure_benchmark
from gadlib.core.discriminative import DiscriminativeClassifier
from gadlib.evaluation.experiment import Setup, offline_samples, run, summarize
from gadlib.core.generative import GenerativeClassifier
from gadlib.core.prompts import LABEL_SET_OF_KIND
from gadlib.core.training import TrainConfig
from gadlib.core.utils import quiet

INITS = ("normal", "linear", "mean", "normal_linear_scale")
SOFTMAX = ("vocab", "classes")
READOUTS = ("prompt", "cls")
OLD_ROWS = ("trained", "frozen")


class ExtendVariant(GenerativeClassifier):
    """`extend` (one new LM-head row per class) with every difference from the [CLS] head as a switch.

    label_eos: the EOS term of the LM loss (True in gadlib when the ladder was run; gadlib's extend now has none).
    softmax: "vocab" = over the whole vocabulary (old tokens + class tokens, gadlib's loss) or
        "classes" = over the class tokens' rows only (what the [CLS] head's cross-entropy does).
    init: the new output rows: "normal" = N(0, initializer_range) (gadlib: resize with
        mean_resizing=False), "linear" = nn.Linear's kaiming-uniform, U(+-1/sqrt(H)), like the
        head, "mean" = transformers' mean_resizing=True (mean of the old rows + 1e-9 x their covariance),
        "normal_linear_scale" = Gaussian at nn.Linear's std, 1/sqrt(3H) (scale, not shape, matters?).
    bias: a per-class bias added to the class tokens' logits (nn.Linear's init); lm_head has none.
    readout: "prompt" = the hidden state at the last prompt token predicts the class token
        (generation) or "cls" = at the learned [CLS] query appended after the prompt (the head's).
    old_rows: "frozen" = the old vocabulary's output rows get no gradient from the class
        position (they stay in the softmax); only matters with softmax="vocab".
    feed_label: with EOS, the class token is fed as input to predict EOS (teacher forcing);
        False feeds the input embedding detached, so the EOS term cannot train the new input rows.
    eos_trains_class_rows: with EOS, the softmax at the EOS position also spans the class tokens
        and pushes their output rows down; False detaches the class rows there (they stay in the
        softmax), so only the class position trains them.
    eos_trains_trunk: False detaches the hidden state at the EOS position: the EOS term then
        trains only the LM-head rows, never the LM, the connector or the input rows.

    predict() ranks the classes by their logits at the read-out position (the softmax over the
    class tokens; the EOS term is left out), i.e. gadlib's "exact" decoding without log p(EOS).
    """

    def __init__(self, mllm, label_names, label_eos: bool = True, softmax: str = "vocab",
                 init: str = "normal", bias: bool = False, readout: str = "prompt",
                 old_rows: str = "trained", feed_label: bool = True, eos_trains_class_rows: bool = True,
                 eos_trains_trunk: bool = True):
        for name, value, allowed in (("softmax", softmax, SOFTMAX), ("init", init, INITS),
                                     ("readout", readout, READOUTS), ("old_rows", old_rows, OLD_ROWS)):
            if value not in allowed:
                raise ValueError(f"ExtendVariant: {name} must be one of {allowed}, got {value!r}")
        # extend_init="normal": resize's N(0, 0.02) rows, redrawn by init_new_rows() per `init`
        # (gadlib's default is now "linear"; the ladder keeps its own switch and its committed numbers).
        super().__init__(mllm, label_names, mapping="extend", decoding="exact", label_eos=label_eos,
                         extend_init="normal")
        self.softmax, self.init, self.readout = softmax, init, readout
        self.old_rows, self.feed_label, self.eos_trains_class_rows = old_rows, feed_label, eos_trains_class_rows
        self.eos_trains_trunk = eos_trains_trunk
        self.class_rows = {}
        for name, space in self.label_spaces.items():
            ids = [s[0] for s in space.sequences]
            if ids != list(range(ids[0], ids[0] + len(ids))):
                raise ValueError(f"label set {name!r}: class tokens are not contiguous ids")
            self.class_rows[name] = (ids[0], ids[0] + len(ids))
        hidden = mllm.cls_query.numel()
        self.init_new_rows()
        self.biases = nn.ParameterDict()
        if bias:
            for name, (a, b) in self.class_rows.items():
                bound = 1 / math.sqrt(hidden)  # nn.Linear's bias init
                self.biases[name] = nn.Parameter(torch.empty(b - a).uniform_(-bound, bound))

    @torch.no_grad()
    def init_new_rows(self) -> None:
        out_w = self.mllm.lm.get_output_embeddings().weight
        in_w = self.mllm.lm.get_input_embeddings().weight
        first = min(a for a, _ in self.class_rows.values())
        for a, b in self.class_rows.values():
            if self.init == "linear":  # exactly nn.Linear.reset_parameters for the weight
                nn.init.kaiming_uniform_(out_w[a:b], a=math.sqrt(5))
            elif self.init == "normal_linear_scale":
                out_w[a:b].normal_(0.0, 1 / math.sqrt(3 * out_w.shape[1]))
            elif self.init == "mean":  # transformers' mean_resizing=True, on both matrices
                for w in (in_w, out_w):
                    old = w[:first].float()
                    mean = old.mean(0)
                    cov = (old - mean).T @ (old - mean) / len(old)
                    dist = torch.distributions.MultivariateNormal(mean, covariance_matrix=1e-9 * cov)
                    w[a:b] = dist.sample((b - a,)).to(w.dtype)

    # -- the read-out -------------------------------------------------------------------------
    def stems(self, batch: Batch) -> list[torch.Tensor]:
        prefixes = self.mllm.prefix_embeds(batch.visual, batch.kinds)
        if self.readout == "cls":
            prefixes = [torch.cat([p, self.mllm.cls_embed(p)]) for p in prefixes]
        return prefixes

    def logits(self, h: torch.Tensor, label_set: str, softmax: str) -> torch.Tensor:
        """Logits at the read-out position: [B, C] over the class rows or [B, V] over the vocabulary."""
        a, b = self.class_rows[label_set]
        w = self.mllm.lm.get_output_embeddings().weight
        bias = self.biases[label_set] if label_set in self.biases else None
        if softmax == "classes":
            out = h @ w[a:b].T
            return out if bias is None else out + bias
        if self.old_rows == "frozen":
            w = torch.cat([w[:a].detach(), w[a:b], w[b:].detach()])
        out = h @ w.T
        if bias is not None:
            out = torch.cat([out[:, :a], out[:, a:b] + bias, out[:, b:]], 1)
        return out

    def loss(self, batch: Batch) -> torch.Tensor:
        self.check_targets(batch)
        stems = self.stems(batch)
        eos = self.mllm.tokenizer.eos_token_id
        rows = torch.arange(len(stems), device=self.mllm.device)
        ends = torch.tensor([len(s) - 1 for s in stems], device=self.mllm.device)
        sets = [LABEL_SET_OF_KIND[k] for k in batch.kinds]
        if len(set(sets)) != 1:
            raise ValueError(f"ExtendVariant trains one label set per batch, got {sorted(set(sets))}")
        label_set = sets[0]
        a, _ = self.class_rows[label_set]
        targets = batch.targets.to(self.mllm.device)
        if self.label_eos:  # the class token is fed as input; its position predicts EOS
            label_in = self.mllm.embed_tokens((targets + a).tolist())
            if not self.feed_label:
                label_in = label_in.detach()
            seqs = [torch.cat([s, e[None]]) for s, e in zip(stems, label_in)]
        else:  # causal: nothing after the read-out position can change it (checked in self_checks)
            seqs = stems
        hidden = self.mllm.hidden_states(*self.mllm.pad(seqs))
        h = hidden[rows, ends]
        logits = self.logits(h, label_set, self.softmax).float()
        gold = targets if self.softmax == "classes" else targets + a
        nll = F.cross_entropy(logits, gold, reduction="none")
        if not self.label_eos:
            return nll.mean()
        h_eos = hidden[rows, ends + 1] if self.eos_trains_trunk else hidden[rows, ends + 1].detach()
        if self.eos_trains_class_rows:
            eos_logits = self.mllm.lm_logits(h_eos)
        else:
            w = self.mllm.lm.get_output_embeddings().weight
            eos_logits = h_eos @ torch.cat([w[:a], w[a:a + len(self.label_names[label_set])].detach(),
                                            w[a + len(self.label_names[label_set]):]]).T
        eos_nll = -eos_logits.float().log_softmax(-1)[:, eos]
        return torch.cat([nll, eos_nll]).mean()  # the mean over label tokens, as teacher_forced

    @torch.no_grad()
    def predict(self, batch: Batch, decoding: str | None = None) -> Prediction:
        label_set = self.predict_label_set(batch)
        hidden_seqs = self.stems(batch)
        embeds, mask, positions = self.mllm.pad(hidden_seqs)
        hidden = self.mllm.hidden_states(embeds, mask, positions)
        h = hidden[torch.arange(len(hidden_seqs)), mask.sum(1) - 1]
        scores = self.logits(h, label_set, "classes").float().log_softmax(-1)
        return Prediction(scores=scores.cpu().numpy(), pred=scores.argmax(-1).cpu().numpy())


methods.METHODS["extend_variant"] = ExtendVariant  # script-local registration: run() builds it

BASE = dict(label_eos=True, softmax="vocab", init="normal", bias=False, readout="prompt",
            old_rows="trained", feed_label=True, eos_trains_class_rows=True, eos_trains_trunk=True)
TOP = dict(BASE, label_eos=False, softmax="classes", init="linear", bias=True, readout="cls")


def rung(desc: str, group: str, **changes) -> dict:
    return {"desc": desc, "group": group, "options": dict(changes)}


# Ladder order: the EOS term first (the known step), then the softmax, the init, the bias and
# the read-out position; the last rung is the [CLS] head's arithmetic inside the LM head.
LADDER = {
    "L0_extend": rung("gadlib extend: vocab softmax, EOS term, N(0,0.02) rows, no bias, last prompt token",
                      "ladder", **BASE),
    "L1_noeos": rung("L0 - EOS term", "ladder", **dict(BASE, label_eos=False)),
    "L2_classes": rung("L1 + softmax over the 200 class tokens only", "ladder",
                       **dict(BASE, label_eos=False, softmax="classes")),
    "L3_linear_init": rung("L2 + new rows initialised like nn.Linear (kaiming-uniform)", "ladder",
                           **dict(BASE, label_eos=False, softmax="classes", init="linear")),
    "L4_bias": rung("L3 + per-class bias", "ladder",
                    **dict(BASE, label_eos=False, softmax="classes", init="linear", bias=True)),
    "L5_cls_readout": rung("L4 + read-out at an appended [CLS] query (= the [CLS] head's arithmetic)",
                           "ladder", **TOP),
}
SINGLE_FROM_L0 = {
    "L0+classes": rung("L0 + class-token softmax", "single_from_L0", **dict(BASE, softmax="classes")),
    "L0+linear_init": rung("L0 + nn.Linear init", "single_from_L0", **dict(BASE, init="linear")),
    "L0+mean_init": rung("L0 with transformers' mean_resizing=True rows", "single_from_L0",
                         **dict(BASE, init="mean")),
    "L0+bias": rung("L0 + per-class bias", "single_from_L0", **dict(BASE, bias=True)),
    "L0+cls_readout": rung("L0 + [CLS] read-out", "single_from_L0", **dict(BASE, readout="cls")),
    "L0+frozen_old_rows": rung("L0, old vocabulary rows get no gradient from the class position",
                               "single_from_L0", **dict(BASE, old_rows="frozen")),
    "L0+label_input_detached": rung("L0, the class token fed as input without gradient (input side)",
                                    "single_from_L0", **dict(BASE, feed_label=False)),
    "L0+eos_spares_class_rows": rung("L0, the EOS-position softmax does not train the class rows",
                                     "single_from_L0", **dict(BASE, eos_trains_class_rows=False)),
    "L0+eos_spares_trunk": rung("L0, the EOS term trains the LM-head rows only (hidden state detached)",
                                "single_from_L0", **dict(BASE, eos_trains_trunk=False)),
}
NOEOS = dict(BASE, label_eos=False)
SINGLE_FROM_L1 = {
    "L1+linear_init": rung("L1 + nn.Linear init", "single_from_L1", **dict(NOEOS, init="linear")),
    "L1+mean_init": rung("L1 with mean_resizing=True rows", "single_from_L1", **dict(NOEOS, init="mean")),
    "L1+bias": rung("L1 + per-class bias", "single_from_L1", **dict(NOEOS, bias=True)),
    "L1+cls_readout": rung("L1 + [CLS] read-out", "single_from_L1", **dict(NOEOS, readout="cls")),
    "L2+normal_linear_scale": rung("L2 + N(0, 1/sqrt(3H)) rows: nn.Linear's std, Gaussian shape", "single_from_L2",
                                   **dict(NOEOS, softmax="classes", init="normal_linear_scale")),
    "L1+frozen_old_rows": rung("L1, old vocabulary rows frozen at the class position", "single_from_L1",
                               **dict(NOEOS, old_rows="frozen")),
}
LEAVE_ONE_OUT = {
    "L5-classes": rung("L5 with the vocabulary softmax", "leave_one_out", **dict(TOP, softmax="vocab")),
    "L5-linear_init": rung("L5 with N(0,0.02) rows", "leave_one_out", **dict(TOP, init="normal")),
    "L5-bias": rung("L5 without bias", "leave_one_out", **dict(TOP, bias=False)),
    "L5-cls_readout": rung("L5 reading at the last prompt token", "leave_one_out", **dict(TOP, readout="prompt")),
    "L5+eos": rung("L5 with the EOS term", "leave_one_out", **dict(TOP, label_eos=True)),
}
# A probe of *why* the EOS term hurts (hypothesis: AdamW's second moment, beta2 = 0.999, i.e. a
# 1000-step memory in a 120-step run, keeps the large early EOS gradients): both baselines with a
# 100-step memory. Not a difference between extend and the head (both use train()'s AdamW).
ADAM_PROBE = {
    "L0+adam_beta2_0.99": rung("L0 trained with AdamW betas (0.9, 0.99)", "single_from_L0",
                               **dict(BASE, adam_beta2=0.99)),
    "L1+adam_beta2_0.99": rung("L1 trained with AdamW betas (0.9, 0.99)", "single_from_L1",
                               **dict(NOEOS, adam_beta2=0.99)),
}
RUNGS = {**LADDER, **SINGLE_FROM_L0, **SINGLE_FROM_L1, **LEAVE_ONE_OUT, **ADAM_PROBE}


@contextmanager
def adamw_beta2(beta2: float | None):
    """gadlib.core.training.train builds `torch.optim.AdamW(params, lr, weight_decay)`; this swaps in other
    betas for one rung without touching gadlib."""
    if beta2 is None:
        yield
        return
    original = torch.optim.AdamW
    torch.optim.AdamW = partial(original, betas=(0.9, beta2))
    try:
        yield
    finally:
        torch.optim.AdamW = original


# -- self-checks: the variant must be gadlib's extend when every switch is off, and the [CLS]
# head when every switch is on; they raise (and the script stops) if not.
def self_checks(data, setup: Setup, test) -> dict:
    names = {"steps": data.step_names}
    batch = collate(test[:24])
    report = {}
    # 1. all switches off = gadlib's loss (same weights, same batch)
    model = methods.build_classifier("extend_variant", names, data.feature_dim, setup.backbone, seed=0, **BASE)
    ours, theirs = model.loss(batch).item(), GenerativeClassifier.loss(model, batch).item()
    assert abs(ours - theirs) < 1e-5, f"ExtendVariant(BASE) loss {ours} != gadlib extend loss {theirs}"
    report["base_loss_vs_gadlib"] = [ours, theirs]
    noeos = methods.build_classifier("extend_variant", names, data.feature_dim, setup.backbone, seed=0, **NOEOS)
    ours, theirs = noeos.loss(batch).item(), GenerativeClassifier.loss(noeos, batch).item()
    assert abs(ours - theirs) < 1e-5, f"ExtendVariant(no EOS) loss {ours} != gadlib (label_eos=False) {theirs}"
    report["noeos_loss_vs_gadlib"] = [ours, theirs]
    # 2. (d) the input side: appending the class token cannot change the read-out (causal mask)
    with torch.no_grad():
        stems = noeos.stems(batch)
        end = torch.tensor([len(s) - 1 for s in stems])
        h0 = noeos.mllm.hidden_states(*noeos.mllm.pad(stems))[torch.arange(len(stems)), end]
        labelled = [torch.cat([s, noeos.mllm.embed_tokens([t + noeos.class_rows["steps"][0]])])
                    for s, t in zip(stems, batch.targets.tolist())]
        h1 = noeos.mllm.hidden_states(*noeos.mllm.pad(labelled))[torch.arange(len(stems)), end]
    report["readout_change_when_label_fed_max_abs"] = float((h0 - h1).abs().max())
    assert report["readout_change_when_label_fed_max_abs"] < 1e-5
    # 3. the new rows' init scales, the old rows', the head's; untied matrices
    lm = model.mllm.lm
    a, b = model.class_rows["steps"]
    out_w = lm.get_output_embeddings().weight
    assert lm.get_input_embeddings().weight.data_ptr() != out_w.data_ptr(), "input and output rows are tied"
    assert getattr(lm.get_output_embeddings(), "bias", None) is None
    top = methods.build_classifier("extend_variant", names, data.feature_dim, setup.backbone, seed=0, **TOP)
    disc = methods.build_classifier("discriminative", names, data.feature_dim, setup.backbone, seed=0)
    mean = methods.build_classifier("extend_variant", names, data.feature_dim, setup.backbone, seed=0,
                                    **dict(BASE, init="mean"))
    with torch.no_grad():
        report["row_std"] = {"old_lm_head_rows": float(out_w[:a].std()), "new_rows_normal": float(out_w[a:b].std()),
                             "new_rows_linear": float(top.mllm.lm.get_output_embeddings().weight[a:b].std()),
                             "new_rows_mean_resizing": float(mean.mllm.lm.get_output_embeddings().weight[a:b].std()),
                             "disc_head_weight": float(disc.heads["steps"].weight.std())}
        mw = mean.mllm.lm.get_output_embeddings().weight[a:b]
        report["mean_resizing_max_row_distance"] = float(torch.cdist(mw, mw).max())
    # 4. all switches on = the [CLS] head: put L5's rows and bias into a discriminative head on
    #    the same backbone; the class scores must agree
    with torch.no_grad():
        probe = DiscriminativeClassifier(top.mllm, names)
        probe.heads["steps"].weight.copy_(top.mllm.lm.get_output_embeddings().weight[a:b])
        probe.heads["steps"].bias.copy_(top.biases["steps"])
        top.eval(), probe.eval()
        diff = np.abs(top.predict(batch).scores - probe.predict(batch).scores).max()
    report["top_rung_vs_cls_head_max_abs_logprob"] = float(diff)
    assert diff < 1e-4, f"L5 scores differ from a [CLS] head with the same weights by {diff}"
    # 5. (f) optimizer: train() puts every trainable parameter in one AdamW group (same lr and
    #    weight decay for lm_head rows and for the head); nothing to vary between the two.
    return report


REFERENCE = {"single_from_L0": "L0_extend", "single_from_L1": "L1_noeos", "single_from_L2": "L2_classes",
             "leave_one_out": "L5_cls_readout"}


def markdown_table(results: dict) -> str:
    """The rungs as a markdown table; each delta is against the rung's reference on the same seeds
    (ladder: the previous rung; single changes: their baseline; leave-one-out: L5)."""
    rungs = results["rungs"]
    lines = ["| rung | change | seeds | top-1 % | delta vs reference (same seeds) | balanced top-1 % | final train loss |",
             "|---|---|---|---|---|---|---|"]
    ladder = [k for k, v in rungs.items() if v.get("group") == "ladder" and "@" not in k]
    for name, e in rungs.items():
        group = e.get("group")
        if "@" in name:  # longer-training checks: against the [CLS] head under the same budget
            ref = None if name.startswith("disc") else "disc" + name[name.index("@"):]
        elif group == "ladder":
            ref = ladder[ladder.index(name) - 1] if ladder.index(name) else None
        else:
            ref = REFERENCE.get(group)
        delta = ""
        if ref in rungs:
            mine = dict(zip(e["seeds"], e["top1"]["per_seed"]))
            theirs = dict(zip(rungs[ref]["seeds"], rungs[ref]["top1"]["per_seed"]))
            common = [s for s in mine if s in theirs]
            d = 100 * np.array([mine[s] - theirs[s] for s in common])
            delta = f"{d.mean():+.1f} vs {ref}" + (f" (per seed {', '.join(f'{x:+.1f}' for x in d)})" if len(d) > 1 else "")
        pm = lambda m: f"{100 * e[m]['mean']:.1f} ± {100 * e[m]['std']:.1f}"
        lines.append(f"| {name} | {e.get('desc', '')} | {len(e['seeds'])} | {pm('top1')} | {delta} | "
                     f"{pm('balanced_top1')} | {np.mean(e['final_epoch_loss']):.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--rungs", nargs="+", default=None, help="subset of rung names (default: all)")
    p.add_argument("--out", default="results/extend_puzzle.json")
    p.add_argument("--check", action="store_true", help="run the self-checks only")
    p.add_argument("--epochs", type=int, default=5, help="notebook 02's CPU budget is 5")
    p.add_argument("--table", action="store_true", help="print the results file as a markdown table")
    p.add_argument("--tag", default="", help="appended to the rung names in the results (e.g. @15ep)")
    args = p.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(Path(args.out).read_text())))
        return
    torch.set_num_threads(1)
    os.environ.setdefault("TQDM_DISABLE", "1")
    quiet()
    # notebook 02's CPU settings (notebooks/02_tokenization_ablations.py)
    epochs, lr, frames = args.epochs, 1e-3, 4
    setup = Setup(backbone=BackboneConfig(), num_frames=frames, kinds=("step",),
                  train=TrainConfig(epochs=epochs, lr=lr, batch_size=64, progress=False))
    data = ensure_benchmark("epic_like", size="cpu")
    test = offline_samples(data, "test", frames, kinds=("step",))
    checks = self_checks(data, setup, test)
    print(json.dumps(checks, indent=1))
    if args.check:
        return
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    results.update({
        "what": "extend vs [CLS] head ladder (issue 9); top-1 etc. on the test split, mean/std over seeds",
        "settings": {"preset": "epic_like (cpu size, synthetic)", "num_classes": len(data.step_names),
                     "train_samples_per_epoch": len(offline_samples(data, "train", frames, kinds=("step",))),
                     "test_samples": len(test), "epochs": 5, "lr": lr, "batch_size": 64,
                     "weight_decay": setup.train.weight_decay, "num_frames": frames,
                     "backbone": setup.backbone_name, "torch_threads": 1},
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores shared with other jobs (loaded)",
        "self_checks": checks,
    })
    results.setdefault("rungs", {})
    results.setdefault("timings_s", {})
    todo = {"disc": None, "L0_gadlib": None, "L1_gadlib": None, **RUNGS}
    if args.rungs:
        unknown = set(args.rungs) - set(todo)
        if unknown:
            raise SystemExit(f"unknown rungs {sorted(unknown)}; known: {sorted(todo)}")
        todo = {k: v for k, v in todo.items() if k in args.rungs}
    for name, spec in todo.items():
        t0 = time.perf_counter()
        runs, losses, train_s = [], [], []
        for seed in args.seeds:
            if name == "disc":
                out = run("discriminative", data, seed, setup, test=test, name=name)
            elif name in ("L0_gadlib", "L1_gadlib"):  # gadlib's own code path, greedy and exact
                out = run("generative", data, seed, setup, test=test, decodings=("greedy", "exact"),
                          name=name, mapping="extend", label_eos=name == "L0_gadlib", extend_init="normal")
            else:
                options = dict(spec["options"])
                with adamw_beta2(options.pop("adam_beta2", None)):
                    out = run("extend_variant", data, seed, setup, test=test, name=name, **options)
            runs += out.values()
            first = next(iter(out.values()))
            losses.append(first.history.epoch_loss[-1])
            train_s.append(first.history.train_seconds)
        summary = summarize(runs, kinds=("step",))
        for key, s in summary.items():
            entry = {m.removeprefix("step_"): v for m, v in s.items()}
            entry["seeds"], entry["final_epoch_loss"], entry["epochs"] = list(args.seeds), losses, epochs
            if spec is not None:
                entry.update(desc=spec["desc"], group=spec["group"], options=spec["options"])
            elif key.startswith("disc"):
                entry.update(desc="gadlib DiscriminativeClassifier ([CLS] + nn.Linear head)", group="reference")
            else:
                entry.update(desc=f"gadlib GenerativeClassifier(mapping='extend', label_eos={name == 'L0_gadlib'}), "
                                  + ("exact decoding" if key.endswith("_exact") else "greedy decoding"),
                             group="gadlib")
            results["rungs"][key + args.tag] = entry
        seconds = time.perf_counter() - t0
        results["timings_s"][name + args.tag] = {"total": seconds, "train_per_model": train_s}
        t1 = summary[next(iter(summary))]["step_top1"]
        print(f"{name:26s} top-1 {100 * t1['mean']:5.1f} +/- {100 * t1['std']:4.1f}  "
              f"({', '.join(f'{100 * v:.1f}' for v in t1['per_seed'])})  {seconds:5.0f} s", flush=True)
        results["timings_s"].pop("script_total", None)
        results["timings_s_sum_over_rungs"] = sum(t["total"] for t in results["timings_s"].values())
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
