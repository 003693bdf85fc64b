"""The discriminative classifier: a learnable [CLS] query after video + prompt; the LM's
last-layer hidden state at [CLS] feeds a linear head; cross-entropy over classes; argmax.

One prefill, no decoding, and the LM head is never computed.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .classifier import ActionClassifier, Batch, Prediction
from .prompts import LABEL_SET


class DiscriminativeClassifier(ActionClassifier):
    """[CLS] hidden state -> one linear head per label set (steps, shared by recognition and
    forecasting; tasks; OAD classes). `background_weight` down-weights OAD background samples."""

    def __init__(self, mllm, label_names, background_weight: float = 1.0, loss_norm: str = "weights"):
        super().__init__(mllm, label_names, background_weight, loss_norm)
        hidden = mllm.cls_query.numel()
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, len(names)) for name, names in label_names.items()})

    @property
    def leaves_parameters_unused(self) -> bool:
        # A head whose label set is absent from a batch (COIN's tasks) gets no gradient, nor does
        # a trainable LM head (the fully fine-tuned embedded LM), which this classifier never computes.
        lm_head = self.mllm.lm.get_output_embeddings()
        return len(self.heads) > 1 or any(p.requires_grad for p in lm_head.parameters())

    def cls_hidden(self, batch: Batch) -> torch.Tensor:
        """[B, H]: the hidden state at the [CLS] query appended after each sample's prefix."""
        return self.cls_hidden_of(self.mllm.prefix_embeds(batch.visual, batch.kinds, cls=True))

    def cls_hidden_of(self, seqs: list[torch.Tensor]) -> torch.Tensor:
        """[B, H]: the last position's hidden state of each assembled sequence (ending at [CLS])."""
        embeds, mask, positions = self.mllm.pad(seqs)
        hidden = self.mllm.hidden_states(embeds, mask, positions)
        if all(len(s) == hidden.shape[1] for s in seqs):  # unpadded (OAD windows, batch 1): one slice
            return hidden[:, -1]
        return hidden[torch.arange(len(seqs)), mask.sum(1) - 1]

    def head_logits(self, name: str, h_cls: torch.Tensor) -> torch.Tensor:
        """fp32 logits of head `name`. The head stays fp32 while a half-precision LM gives
        bf16/fp16 hidden states, so they are cast here, explicitly: outside autocast (evaluation,
        CPU training) nothing else would."""
        head = self.heads[name]
        return head(h_cls.to(head.weight.dtype)).float()

    def classification_loss(self, h_cls: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy over each sample's own label set, weighted by `sample_weights`
        (OAD background samples down-weighted) and reduced by `loss_norm` (`weighted_loss`)."""
        targets = batch.targets.to(h_cls.device)
        losses = torch.zeros(len(batch), device=h_cls.device)
        for name in sorted({LABEL_SET[k] for k in batch.kinds}):
            idx = torch.tensor([i for i, k in enumerate(batch.kinds) if LABEL_SET[k] == name], device=h_cls.device)
            logits = self.head_logits(name, h_cls[idx])
            losses = losses.index_put((idx,), F.cross_entropy(logits, targets[idx], reduction="none"))
        return self.weighted_loss(losses, batch)

    def loss(self, batch: Batch) -> torch.Tensor:
        self.check_targets(batch)
        return self.classification_loss(self.cls_hidden(batch), batch)

    @torch.no_grad()
    def predict(self, batch: Batch) -> Prediction:
        logits = self.head_logits(self.predict_label_set(batch), self.cls_hidden(batch)).log_softmax(-1)
        return Prediction(scores=logits.cpu().numpy(), pred=logits.argmax(-1).cpu().numpy())
