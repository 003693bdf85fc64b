"""The discriminative classifier: a learnable [CLS] query after video + prompt; the LM's
last-layer hidden state at [CLS] feeds a linear head; cross-entropy over classes; argmax.

One prefill, no decoding, and the LM head is never computed.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gadlib.core.classifier import ActionClassifier, Batch, Prediction
from gadlib.core.prompts import LABEL_SET_OF_KIND


class DiscriminativeClassifier(ActionClassifier):
    """The readout state -> one linear head per label set (steps, shared by recognition and
    forecasting; tasks; OAD classes). The readout is the hidden state at the [CLS] query
    appended after the prompt ("cls"); GAD's "no [CLS]" ablation reads the prompt's last token."""

    readout = "cls"

    def __init__(self, mllm, label_names, background_weight: float = 1.0, loss_norm: str = "weights"):
        super().__init__(mllm, label_names, background_weight, loss_norm)
        hidden = mllm.cls_query.numel()
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, len(names)) for name, names in label_names.items()})

    def unused_parameters(self) -> list[str]:
        # The LM head, never computed: trainable when the LM is fully fine-tuned (the embedded
        # LM), frozen under LoRA, and read all the same where it is tied to the input embedding.
        # Every label set's head is read in every step (`classification_loss`).
        lm = self.mllm.lm
        head = set(lm.get_output_embeddings().parameters()) - set(lm.get_input_embeddings().parameters())
        return self.trainable_names(head)

    def readout_state(self, batch: Batch) -> torch.Tensor:
        """[B, H]: the state the head reads: at [CLS], or at the prompt's last token (readout
        "last_token")."""
        return self.mllm.last_states(self.mllm.prefix_embeds(batch.visual, batch.kinds, cls=self.readout == "cls"))

    def head_logits(self, name: str, state: torch.Tensor) -> torch.Tensor:
        """fp32 logits of head `name`. The head stays fp32 while a half-precision LM gives
        bf16/fp16 hidden states, so they are cast here, explicitly: outside autocast (evaluation,
        CPU training) nothing else would."""
        head = self.heads[name]
        return head(state.to(head.weight.dtype)).float()

    def classification_loss(self, state: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy over each sample's own label set, weighted by `sample_weights`."""
        targets = batch.targets.to(state.device)
        losses = torch.zeros(len(batch), device=state.device)
        # Every head, also one whose label set has no sample in this batch (COIN's tasks in a
        # batch of steps): it is read on no rows and gets a zero gradient. So every step reads
        # every head, and DDP needs no search for unused parameters (`leaves_parameters_unused`).
        for name in sorted(self.heads):
            idx = torch.tensor([i for i, k in enumerate(batch.kinds) if LABEL_SET_OF_KIND[k] == name],
                               dtype=torch.long, device=state.device)
            logits = self.head_logits(name, state[idx])
            losses = losses.index_put((idx,), F.cross_entropy(logits, targets[idx], reduction="none"))
        return self.weighted_loss(losses, self.sample_weights(batch), len(batch))

    def loss(self, batch: Batch) -> torch.Tensor:
        self.check_targets(batch)
        return self.classification_loss(self.readout_state(batch), batch)

    @torch.no_grad()
    def predict(self, batch: Batch) -> Prediction:
        return Prediction.from_logits(self.head_logits(self.predict_label_set(batch), self.readout_state(batch)))
