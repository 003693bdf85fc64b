"""GAD, Generation-Assisted Discriminative fine-tuning (paper claim 3), and its ablations.

Keep the [CLS] discriminative head and, during fine-tuning only, add an LM loss on context text
generated after [CLS]:  L = L_cls + lambda * L_gen.  What is generated is each sample's `context`
(`gadlib.data.samples`): on COIN "<step>. <task>." for step samples, "<next step>. <task>." for
next-step samples, "<task>." for task samples; the previous action for OAD windows. At inference
the generation branch is dropped: prediction is exactly the discriminative path (same cost).

The paper's GAD ablations are options of the same class: the ordering (`order`), what is
generated (`generate`, including nothing and an extra discriminative head for the context), lambda
(`lam`) and the readout without a learned [CLS] query (`readout="last_token"`). The two-stage
ablation is `gadlib.evaluation.ablations`.

Explained in notebooks/04_gad_finetuning.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gadlib.core.backbone import TeacherForced, until_eos
from gadlib.core.classifier import Batch, Prediction, check_choice
from gadlib.core.discriminative import DiscriminativeClassifier
from gadlib.core.label_spaces import readable_label
from gadlib.core.prompts import COIN_KINDS, LABEL_SET_OF_KIND

ORDERS = ("disc_first", "gen_first", "parallel")
GENERATE = ("context", "label", "none", "context_head")
READOUTS = ("cls", "last_token")
# The generation loss over a batch: "token" = the mean over every target token of the batch
# (gadlib's), "sample" = each sample's mean over its own tokens, then the mean over the batch
# (the authors' OAD script: a short target weighs as much as a long one).
GEN_LOSS_NORMS = ("token", "sample")


def context_before_answer(kind: str, context: str, label: str) -> str:
    """The part of a sample's context that does not state its answer `label`: what a
    generate-first GAD model writes *before* [CLS].

    A COIN context starts with its answer, so "<label>. " is cut: step and next-step samples keep
    the task goal "<task>." (nothing without tasks), a task sample keeps "". The authors' OAD
    context "<current>, <other action>" (or "<current>") keeps "<other action>" (or ""); any other
    OAD context (gadlib's previous action) is kept whole, unless it is the label itself.
    """
    if kind not in COIN_KINDS:
        if kind == "oad" and (context == label or context.startswith(f"{label}, ")):
            return context[len(label) + 2:]
        return context
    for head in (f"{label}. ", f"{label}."):
        if context.startswith(head):
            return context[len(head):]
    expected = {"step": "'<step>. <task>.'", "next": "'<next step>. <task>.'", "task": "'<task>.'"}[kind]
    raise ValueError(f"the context {context!r} of a {kind!r} sample does not start with its label {label!r} "
                     f"(expected {expected})")


def check_gad_options(lam: float = 1.0, order: str = "disc_first", generate: str = "context", readout: str = "cls",
                      context_classes: list[str] | None = None, max_context_tokens: int = 32,
                      gen_loss_norm: str = "token") -> None:
    """Raise ValueError for options that do not go together (also run before any data is loaded,
    by `gadlib.tools.run_config.validate_config`)."""
    for name, value, choices in (("order", order, ORDERS), ("generate", generate, GENERATE),
                                 ("readout", readout, READOUTS), ("gen_loss_norm", gen_loss_norm, GEN_LOSS_NORMS)):
        check_choice(name, value, choices)
    if not lam >= 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    if order == "gen_first" and generate == "label":
        raise ValueError("order='gen_first' with generate='label' writes the answer before [CLS]; "
                         "generate the context instead")
    if order != "disc_first" and (readout != "cls" or generate in ("none", "context_head")):
        raise ValueError(f"order={order!r} needs readout='cls' and a generated text (context or label); "
                         f"got readout={readout!r}, generate={generate!r}")
    if (generate == "context_head") != (context_classes is not None):
        raise ValueError("context_classes (the classes of the context head) are needed with "
                         "generate='context_head', and only then")
    if max_context_tokens < 1:
        raise ValueError(f"max_context_tokens must be >= 1, got {max_context_tokens}")


class GADClassifier(DiscriminativeClassifier):
    """Discriminative classifier trained with an auxiliary generation loss.

    order: "disc_first" (the paper's: [prefix][CLS][context], generation conditioned on [CLS]),
      "gen_first" ([prefix][context][CLS]; the context loses its answer, `context_before_answer`,
      and at inference it is generated greedily before [CLS] is read: an extra decode) or
      "parallel" (two passes: [prefix][CLS] and [prefix][context]).
    generate: "context", "label" (the class name itself), "none" (the discriminative classifier) or
      "context_head" (an extra linear head on the readout state predicts the context as one of
      `context_classes`, e.g. the previous action, with loss weight `lam`).
    lam: weight of the auxiliary loss (the paper's 1). readout: "cls" or "last_token" (no [CLS]).
    max_context_tokens: the longest context "gen_first" generates at inference (EOS included).
    gen_loss_norm: how the generation loss averages its tokens, one of `GEN_LOSS_NORMS`.
    """

    OPTIONS = {"order": ORDERS, "generate": GENERATE, "readout": READOUTS, "gen_loss_norm": GEN_LOSS_NORMS}
    NAMED_BY = ("order", "generate", "readout")

    def __init__(self, mllm, label_names, lam: float = 1.0, order: str = "disc_first",
                 generate: str = "context", readout: str = "cls", context_classes: list[str] | None = None,
                 max_context_tokens: int = 32, background_weight: float = 1.0, loss_norm: str = "weights",
                 gen_loss_norm: str = "token"):
        super().__init__(mllm, label_names, background_weight, loss_norm)
        self.check_options(lam, order, generate, readout, context_classes, max_context_tokens, gen_loss_norm)
        self.lam, self.order, self.generate, self.readout = float(lam), order, generate, readout
        self.gen_loss_norm = gen_loss_norm
        self.max_context_tokens = max_context_tokens
        self.context_classes = list(context_classes) if context_classes is not None else None
        if self.context_classes is not None:
            self.context_index = {name: i for i, name in enumerate(self.context_classes)}
            if len(self.context_index) != len(self.context_classes):
                raise ValueError("context_classes has duplicate names")
            self.context_head = nn.Linear(mllm.cls_query.numel(), len(self.context_classes))

    check_options = staticmethod(check_gad_options)

    @property
    def generates_text(self) -> bool:
        return self.generate in ("context", "label")

    @property
    def reads_lm_head(self) -> bool:
        return self.generates_text

    def unused_parameters(self) -> list[str]:
        # Generating text reads the LM head; without generation it is left unused, as by the
        # discriminative classifier. The [CLS] query is unused without its readout.
        unused = super().unused_parameters() if not self.generates_text else []
        return unused + (self.trainable_names([self.mllm.cls_query]) if self.readout != "cls" else [])

    def generation_texts(self, batch: Batch) -> list[str]:
        """The text each sample's generation loss is on, before EOS, made readable like the
        generative classifier's labels ("BaseballPitch." -> "baseball pitch.")."""
        answers = [self.label_names[LABEL_SET_OF_KIND[k]][t] for k, t in zip(batch.kinds, batch.targets.tolist())]
        if self.generate == "label":
            texts = answers
        elif self.order == "gen_first":  # written before [CLS]: never the answer
            texts = [context_before_answer(k, c, a) for k, c, a in zip(batch.kinds, batch.contexts, answers)]
        else:
            texts = batch.contexts
        return [readable_label(t) for t in texts]

    def generation_targets(self, batch: Batch) -> list[list[int]]:
        tok = self.mllm.tokenizer
        return [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
                for t in self.generation_texts(batch)]

    def context_head_loss(self, state: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy of the extra head's guess of each sample's context class."""
        unknown = sorted({c for c in batch.contexts if c not in self.context_index})
        if unknown:
            raise ValueError(f"context(s) {unknown[:3]} are not among the context head's "
                             f"{len(self.context_classes)} context_classes")
        targets = torch.tensor([self.context_index[c] for c in batch.contexts], device=self.mllm.device)
        return F.cross_entropy(self.context_head(state.to(self.context_head.weight.dtype)).float(), targets)

    def loss(self, batch: Batch) -> torch.Tensor:
        self.check_targets(batch)
        if not self.generates_text:
            state = self.readout_state(batch)
            loss = self.classification_loss(state, batch)
            if self.generate == "context_head":
                loss = loss + self.lam * self.context_head_loss(state, batch)
            return loss
        state, gen_loss = self.readout_and_generation_loss(batch)
        return self.classification_loss(state, batch) + self.lam * gen_loss

    def generation_loss(self, out: TeacherForced, targets: list[list[int]]) -> torch.Tensor:
        """The batch's generation loss under `gen_loss_norm` ("token": `out.loss` itself)."""
        if self.gen_loss_norm == "token":
            return out.loss
        lengths = torch.tensor([len(t) for t in targets], device=out.token_logprobs.device)
        owner = torch.arange(len(targets), device=lengths.device).repeat_interleave(lengths)
        per_sample = torch.zeros(len(targets), device=lengths.device).index_add(0, owner, -out.token_logprobs)
        return (per_sample / lengths).mean()

    def readout_and_generation_loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The readout states [B, H] and the generation loss, in the sequence layout of `order`."""
        targets, rows = self.generation_targets(batch), torch.arange(len(batch))
        if self.order == "disc_first":  # [prefix][CLS][context], or [prefix][context] read at the prompt's end
            stems = self.mllm.prefix_embeds(batch.visual, batch.kinds, cls=self.readout == "cls")
            out = self.mllm.teacher_forced(stems, targets)
            return out.hidden[rows, torch.tensor([len(s) - 1 for s in stems])], self.generation_loss(out, targets)
        prefixes = self.mllm.prefix_embeds(batch.visual, batch.kinds)
        if self.order == "gen_first":  # [prefix][context][CLS]
            out = self.mllm.teacher_forced(prefixes, targets, suffix=self.mllm.cls_embed(prefixes[0]))
            return (out.hidden[rows, torch.tensor([len(p) + len(t) for p, t in zip(prefixes, targets)])],
                    self.generation_loss(out, targets))
        out = self.mllm.teacher_forced(prefixes, targets)  # parallel: a second pass reads [CLS]
        return self.readout_state(batch), self.generation_loss(out, targets)

    @torch.no_grad()
    def generate_context(self, batch: Batch) -> list[list[int]]:
        """gen_first at inference: greedy context tokens after each prefix, ending with EOS (added
        when `max_context_tokens` run out first, so [CLS] always follows an EOS, as in training)."""
        eos = self.mllm.tokenizer.eos_token_id
        rows = self.mllm.generate_greedy(self.mllm.prefix_embeds(batch.visual, batch.kinds), self.max_context_tokens)
        return [until_eos(row, eos)[:self.max_context_tokens - 1] + [eos] for row in rows]

    @torch.no_grad()
    def predict(self, batch: Batch) -> Prediction:
        if self.order != "gen_first":
            return super().predict(batch)
        name = self.predict_label_set(batch)
        prefixes = self.mllm.prefix_embeds(batch.visual, batch.kinds)
        written = self.generate_context(batch)
        seqs = [torch.cat([p, self.mllm.embed_tokens(w).to(p.dtype), self.mllm.cls_embed(p)])
                for p, w in zip(prefixes, written)]
        return Prediction.from_logits(self.head_logits(name, self.mllm.last_states(seqs)))
