"""GAD, Generation-Assisted Discriminative fine-tuning (paper claim 3), and its ablations.

Keep the [CLS] discriminative head and, during fine-tuning only, add an LM loss on context text
generated after [CLS]:  L = L_cls + lambda * L_gen.  What is generated is each sample's `context`
(`gadlib.samples`), the authors' targets: on COIN the answer and the task goal, "<step>. <task>."
for step samples, "<next step>. <task>." for next-step samples, "<task>." for task samples; the
previous action for OAD windows. At inference the generation branch is dropped, so prediction is
exactly the discriminative path (same cost).

The paper's GAD ablations are options of the same class (notebooks/04_gad_finetuning.ipynb):
the ordering (`order`), what is generated (`generate`, including nothing and an extra
discriminative head for the context instead of generating it), lambda (`lam`) and the read-out
without a learned [CLS] query (`readout="last_token"`). The two-stage ablation (generative first,
frozen, then a head) is `gadlib.ablations`.

Explained in notebooks/01_generative_vs_discriminative.ipynb (GAD) and
notebooks/04_gad_finetuning.ipynb (the ablations).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .classifier import Batch, Prediction
from .discriminative import DiscriminativeClassifier
from .prompts import LABEL_SET
from .samples import context_before_answer
from .vocabulary import readable_label

ORDERS = ("disc_first", "gen_first", "parallel")
GENERATE = ("context", "label", "none", "context_head")
READOUTS = ("cls", "last_token")


class GADClassifier(DiscriminativeClassifier):
    """Discriminative classifier trained with an auxiliary generation loss.

    order: "disc_first" (the paper's choice: [prefix][CLS][context], generation conditioned on
      [CLS]); "gen_first" ([prefix][context][CLS]: the model writes its context first, then
      classifies; the context must not contain the answer, so every COIN context loses its leading
      answer (`samples.context_before_answer`): step and next-step samples keep "<task>.", a task
      sample keeps nothing and its target is EOS alone; at inference the context is generated
      greedily before [CLS] is read: an extra decode, unlike the other orders);
      "parallel" (two passes: [prefix][CLS] and [prefix][context]).
    generate: "context" (the sample's context text), "label" (the class name itself), "none" (no
      auxiliary loss: the discriminative classifier), or "context_head" (no generation: an extra
      linear head on the [CLS] state predicts the context as one of `context_classes`, e.g. the
      previous action, with loss weight `lam`).
    lam: weight of the auxiliary loss (the paper's 1).
    readout: "cls" (a learned query appended after the prompt) or "last_token" (no [CLS]: the
      hidden state of the prompt's last token feeds the head and starts the generation).
    max_context_tokens: the longest context "gen_first" generates at inference (EOS included).
    """

    OPTIONS = {"order": ORDERS, "generate": GENERATE, "readout": READOUTS}
    NAMED_BY = ("order", "generate", "readout")

    def __init__(self, mllm, label_names, lam: float = 1.0, order: str = "disc_first",
                 generate: str = "context", readout: str = "cls", context_classes: list[str] | None = None,
                 max_context_tokens: int = 32, background_weight: float = 1.0, loss_norm: str = "weights"):
        super().__init__(mllm, label_names, background_weight, loss_norm)
        self.check_options(lam, order, generate, readout, context_classes, max_context_tokens)
        self.lam, self.order, self.generate, self.readout = float(lam), order, generate, readout
        self.max_context_tokens = max_context_tokens
        self.context_classes = list(context_classes) if context_classes is not None else None
        if self.context_classes is not None:
            self.context_index = {name: i for i, name in enumerate(self.context_classes)}
            if len(self.context_index) != len(self.context_classes):
                raise ValueError("context_classes has duplicate names")
            self.context_head = nn.Linear(mllm.cls_query.numel(), len(self.context_classes))

    @staticmethod
    def check_options(lam: float = 1.0, order: str = "disc_first", generate: str = "context", readout: str = "cls",
                      context_classes: list[str] | None = None, max_context_tokens: int = 32) -> None:
        """Raise ValueError for options that do not go together (also run before any data is loaded,
        by `gadlib.run_config.validate_config`)."""
        if order not in ORDERS or generate not in GENERATE:
            raise ValueError(f"order must be one of {ORDERS} and generate one of {GENERATE}, "
                             f"got order={order!r}, generate={generate!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
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

    @property
    def leaves_parameters_unused(self) -> bool:
        # Generating text reads the LM head; what is left unused is the [CLS] query without its
        # readout, and the heads of label sets absent from a batch. Without generation it is the
        # discriminative classifier's answer. OAD's GAD (one label set) reads every parameter.
        if self.generate in ("none", "context_head"):
            return super().leaves_parameters_unused
        return self.readout != "cls" or len(self.heads) > 1

    # -- what is generated -----------------------------------------------------------------------

    def generation_texts(self, batch: Batch) -> list[str]:
        """The text each sample's generation loss is on, before EOS ("" for a gen_first task
        sample: its whole context is the answer, so it learns to write EOS alone), made readable
        (`readable_label`, as the generative classifier's label texts: "BaseballPitch." ->
        "baseball pitch."; lower-case texts are unchanged)."""
        if self.generate == "label":
            texts = [self.label_names[LABEL_SET[k]][t] for k, t in zip(batch.kinds, batch.targets.tolist())]
        elif self.order == "gen_first":  # written before [CLS]: never the answer
            texts = [context_before_answer(k, c, self.label_names[LABEL_SET[k]][t])
                     for k, c, t in zip(batch.kinds, batch.contexts, batch.targets.tolist())]
        else:
            texts = batch.contexts
        return [readable_label(t) for t in texts]

    def generation_targets(self, batch: Batch) -> list[list[int]]:
        tok = self.mllm.tokenizer
        return [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
                for t in self.generation_texts(batch)]

    def context_targets(self, batch: Batch) -> torch.Tensor:
        """[B] index of each sample's context in `context_classes` (the extra head's target)."""
        unknown = sorted({c for c in batch.contexts if c not in self.context_index})
        if unknown:
            raise ValueError(f"context(s) {unknown[:3]} are not among the context head's "
                             f"{len(self.context_classes)} context_classes")
        return torch.tensor([self.context_index[c] for c in batch.contexts], device=self.mllm.device)

    # -- read-out --------------------------------------------------------------------------------

    def cls_hidden(self, batch: Batch) -> torch.Tensor:
        """[B, H]: the state the head reads: at [CLS] (readout "cls") or at the prompt's last
        token (readout "last_token"). Prediction of every order but gen_first goes through it."""
        if self.readout == "cls":
            return super().cls_hidden(batch)
        embeds, mask, positions = self.mllm.pad(self.mllm.prefix_embeds(batch.visual, batch.kinds))
        hidden = self.mllm.hidden_states(embeds, mask, positions)
        return hidden[torch.arange(len(batch)), mask.sum(1) - 1]

    # -- training --------------------------------------------------------------------------------

    def loss(self, batch: Batch) -> torch.Tensor:
        self.check_targets(batch)
        if self.generate in ("none", "context_head"):
            h_cls = self.cls_hidden(batch)
            loss = self.classification_loss(h_cls, batch)
            if self.generate == "context_head":
                logits = self.context_head(h_cls.to(self.context_head.weight.dtype)).float()
                loss = loss + self.lam * F.cross_entropy(logits, self.context_targets(batch))
            return loss
        cls_stems = self.order == "disc_first" and self.readout == "cls"
        prefixes = self.mllm.prefix_embeds(batch.visual, batch.kinds, cls=cls_stems)
        targets = self.generation_targets(batch)
        rows = torch.arange(len(batch))
        if self.order == "disc_first":
            if cls_stems:
                stems, read = prefixes, [len(p) - 1 for p in prefixes]
            else:  # no [CLS]: the prompt's last token reads out and starts the context
                stems, read = prefixes, [len(p) - 1 for p in prefixes]
            hidden, _, gen_loss, _ = self.mllm.teacher_forced(stems, targets)
            h_cls = hidden[rows, torch.tensor(read)]
        elif self.order == "gen_first":
            hidden, _, gen_loss, _ = self.mllm.teacher_forced(prefixes, targets,
                                                             suffix=self.mllm.cls_embed(prefixes[0]))
            h_cls = hidden[rows, torch.tensor([len(p) + len(t) for p, t in zip(prefixes, targets)])]
        else:
            _, _, gen_loss, _ = self.mllm.teacher_forced(prefixes, targets)
            h_cls = self.cls_hidden(batch)
        return self.classification_loss(h_cls, batch) + self.lam * gen_loss

    # -- inference -------------------------------------------------------------------------------

    @torch.no_grad()
    def generate_context(self, batch: Batch) -> list[list[int]]:
        """gen_first at inference: greedy context tokens after each prefix, ending with EOS (added
        when `max_context_tokens` run out first, so [CLS] always follows an EOS, as in training)."""
        tok = self.mllm.tokenizer
        embeds, mask, _ = self.mllm.pad(self.mllm.prefix_embeds(batch.visual, batch.kinds), left=True)
        out = self.mllm.lm.generate(inputs_embeds=embeds, attention_mask=mask,
                                    max_new_tokens=self.max_context_tokens, do_sample=False, num_beams=1,
                                    eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        eos = tok.eos_token_id
        # with inputs_embeds, generate returns only the new tokens
        return [row[:row.index(eos) + 1] if eos in row else row[:self.max_context_tokens - 1] + [eos]
                for row in out.tolist()]

    @torch.no_grad()
    def predict(self, batch: Batch) -> Prediction:
        if self.order != "gen_first":
            return super().predict(batch)
        name = self.predict_label_set(batch)
        prefixes = self.mllm.prefix_embeds(batch.visual, batch.kinds)
        written = self.generate_context(batch)
        seqs = [torch.cat([p, self.mllm.embed_tokens(w).to(p.dtype), self.mllm.cls_embed(p)])
                for p, w in zip(prefixes, written)]
        embeds, mask, positions = self.mllm.pad(seqs)
        hidden = self.mllm.hidden_states(embeds, mask, positions)
        logits = self.head_logits(name, hidden[torch.arange(len(seqs)), mask.sum(1) - 1]).log_softmax(-1)
        return Prediction(scores=logits.cpu().numpy(), pred=logits.argmax(-1).cpu().numpy())
