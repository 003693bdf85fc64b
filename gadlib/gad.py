"""GAD, Generation-Assisted Discriminative fine-tuning (paper claim 3).

Keep the [CLS] discriminative head and, during fine-tuning only, add an LM loss on context text
generated after [CLS]:  L = L_cls + lambda * L_gen.  What is generated is task context: the task
goal for step samples ("<step>. <task>."), the previous action for OAD windows. At inference the
generation branch is dropped, so prediction is exactly the discriminative path (same cost).

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import torch

from .classifier import Batch
from .discriminative import DiscriminativeClassifier
from .samples import LABEL_SET

ORDERS = ("disc_first", "gen_first", "parallel")
GENERATE = ("context", "label")


class GADClassifier(DiscriminativeClassifier):
    """Discriminative classifier trained with an auxiliary generation loss.

    order: "disc_first" (the paper's choice: [prefix][CLS][context], generation conditioned on
      [CLS]); "gen_first" ([prefix][context][CLS]: at test time [CLS] then sees no context, a
      train/test mismatch); "parallel" (two passes: [prefix][CLS] and [prefix][context]).
    generate: "context" (the sample's context text) or "label" (the class name itself, an ablation).
    """

    def __init__(self, mllm, label_names, lam: float = 1.0, order: str = "disc_first",
                 generate: str = "context", background_weight: float = 1.0):
        super().__init__(mllm, label_names, background_weight)
        if order not in ORDERS or generate not in GENERATE:
            raise ValueError(f"order must be one of {ORDERS} and generate one of {GENERATE}")
        self.lam, self.order, self.generate = lam, order, generate

    def generation_targets(self, batch: Batch) -> list[list[int]]:
        tok = self.mllm.tokenizer
        if self.generate == "label":
            texts = [self.label_names[LABEL_SET[k]][t] for k, t in zip(batch.kinds, batch.targets.tolist())]
        else:
            texts = batch.contexts
        return [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts]

    def loss(self, batch: Batch) -> torch.Tensor:
        self.check_targets(batch)
        prefixes = self.mllm.prefix_embeds(batch.visual, batch.kinds)
        targets = self.generation_targets(batch)
        rows = torch.arange(len(batch))
        if self.order == "disc_first":
            stems = [torch.cat([p, self.mllm.cls_embed(p)]) for p in prefixes]
            hidden, _, gen_loss, _ = self.mllm.teacher_forced(stems, targets)
            h_cls = hidden[rows, torch.tensor([len(p) for p in prefixes])]
        elif self.order == "gen_first":
            hidden, _, gen_loss, _ = self.mllm.teacher_forced(prefixes, targets,
                                                             suffix=self.mllm.cls_embed(prefixes[0]))
            h_cls = hidden[rows, torch.tensor([len(p) + len(t) for p, t in zip(prefixes, targets)])]
        else:
            _, _, gen_loss, _ = self.mllm.teacher_forced(prefixes, targets)
            h_cls = self.cls_hidden(batch)
        return self.classification_loss(h_cls, batch) + self.lam * gen_loss
