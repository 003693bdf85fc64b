"""One interface for the three classifiers (generative, discriminative, GAD).

Every classifier offers `loss(batch)` for training and `predict(batch)` returning per-class
scores and the predicted class, so metrics, plots and benchmarks treat all of them alike.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gadlib.core.backbone import MLLM
from gadlib.core.prompts import LABEL_SET_OF_KIND

# How weighted per-sample losses become one number: "batch" = sum(w_i * loss_i) / B (the
# authors' OAD training: background windows simply count less), "weights" = sum(w_i * loss_i) /
# sum(w_i) (a weighted mean, whose scale does not move with the share of background in a batch).
# Equal when every weight is 1.
LOSS_NORMS = ("batch", "weights")


@dataclass
class Sample:
    """What one forward pass sees (built by `gadlib.data.samples`)."""
    visual: np.ndarray  # float32 [N, D]: frames x tokens_per_frame flattened in time order
    kind: str  # "step" | "next" | "task" | "oad"
    target: int  # class index in the label space LABEL_SET_OF_KIND[kind]
    context: str  # the text GAD generates after [CLS]
    video_id: str
    frame: int  # "oad": the frame predicted; otherwise the first frame of the segment/span


@dataclass
class Batch:
    visual: list[torch.Tensor]  # one [N_i, D] tensor per sample
    kinds: list[str]            # "step" | "next" | "task" | "oad"
    targets: torch.Tensor       # [B] class index in the sample's label set
    contexts: list[str]         # text GAD generates after [CLS]

    def __len__(self) -> int:
        return len(self.kinds)

    @property
    def label_set(self) -> str:
        """The single label set of a batch to predict (prediction needs one output space)."""
        sets = {LABEL_SET_OF_KIND[k] for k in self.kinds}
        if len(sets) != 1:
            raise ValueError(f"predict() needs samples of one label set, got {sorted(sets)}")
        return sets.pop()


def collate(samples: list[Sample]) -> Batch:
    """Samples -> Batch (visual tokens stay a list: kinds may differ in length)."""
    if not samples:
        raise ValueError("empty batch: no samples to collate")
    for s in samples:
        if not np.isfinite(s.visual).all():
            raise ValueError(f"NaN or inf in the visual features of sample {s.video_id!r} frame {s.frame}")
    return Batch(visual=[torch.from_numpy(np.ascontiguousarray(s.visual, dtype=np.float32)) for s in samples],
                 kinds=[s.kind for s in samples],
                 targets=torch.tensor([s.target for s in samples], dtype=torch.long),
                 contexts=[s.context for s in samples])


@dataclass
class Prediction:
    scores: np.ndarray  # [B, C] higher is better
    pred: np.ndarray    # [B] predicted class index

    @classmethod
    def from_logits(cls, logits: torch.Tensor) -> Prediction:
        """Log-softmax scores and their argmax, from a head's logits [B, C]."""
        logp = logits.log_softmax(-1)
        return cls(scores=logp.cpu().numpy(), pred=logp.argmax(-1).cpu().numpy())


def check_choice(name: str, value, choices: tuple) -> None:
    """A ValueError naming the option and its allowed values when `value` is not one of them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


class ActionClassifier(nn.Module):
    """Base class: an MLLM backbone plus a way to read a class out of it.

    label_names: {label set -> class names}, e.g. {"steps": [...], "tasks": [...]}.
    background_weight: loss weight of OAD samples whose target is background (class 0); the
      paper down-weights them (0.2-1.0 per data set), for every classifier alike.
    loss_norm: how the weighted per-sample losses are reduced, one of `LOSS_NORMS`.
    """

    # Constructor options with a closed set of values (checked by `gadlib.tools.run_config` before a
    # run loads any data), and those that name a run ("generative_desync", "gad_gen_first").
    OPTIONS: dict[str, tuple] = {}
    NAMED_BY: tuple[str, ...] = ()
    # The recipe that rebuilds this model (method, label names, backbone, seed; `gadlib.core.methods`).
    spec: dict = {}

    def __init__(self, mllm: MLLM, label_names: dict[str, list[str]], background_weight: float = 1.0,
                 loss_norm: str = "weights"):
        super().__init__()
        if not background_weight > 0:
            raise ValueError(f"background_weight must be > 0, got {background_weight}")
        check_choice("loss_norm", loss_norm, LOSS_NORMS)
        self.mllm, self.label_names = mllm, {k: list(v) for k, v in label_names.items()}
        self.background_weight, self.loss_norm = float(background_weight), loss_norm

    def check_targets(self, batch: Batch) -> None:
        for kind, t in zip(batch.kinds, batch.targets.tolist()):
            names = self.label_names.get(LABEL_SET_OF_KIND[kind])
            if names is None:
                raise ValueError(f"no label set {LABEL_SET_OF_KIND[kind]!r} for samples of kind {kind!r}; "
                                 f"this model has {sorted(self.label_names)}")
            if not 0 <= t < len(names):
                raise ValueError(f"target {t} of a {kind!r} sample is outside label set "
                                 f"{LABEL_SET_OF_KIND[kind]!r} ({len(names)} classes)")

    def predict_label_set(self, batch: Batch) -> str:
        """The one label set `predict` scores for this batch, checked against the model's."""
        name = batch.label_set
        if name not in self.label_names:
            raise ValueError(f"no label set {name!r} for samples of kind(s) {sorted(set(batch.kinds))}; "
                             f"this model has {sorted(self.label_names)}")
        return name

    def sample_weights(self, batch: Batch) -> torch.Tensor:
        """float32 [B]: `background_weight` for OAD background samples, 1 for every other sample."""
        background = torch.tensor([LABEL_SET_OF_KIND[k] == "oad" for k in batch.kinds]) & (batch.targets.cpu() == 0)
        weights = torch.ones(len(batch), dtype=torch.float32)
        weights[background] = self.background_weight
        return weights.to(self.mllm.device)

    def weighted_loss(self, losses: torch.Tensor, weights: torch.Tensor, count: int) -> torch.Tensor:
        """One loss from `losses` weighted by `weights`: divided by `count` (loss_norm "batch") or
        by the weights' sum ("weights")."""
        total = (losses * weights).sum()
        return total / (count if self.loss_norm == "batch" else weights.sum())

    @property
    def reads_lm_head(self) -> bool:
        """Whether a loss reads the LM head (then LoRA adapts it too)."""
        return False

    def unused_parameters(self) -> list[str] | None:
        """Names of the trainable parameters that no training step reads, whatever the batch
        (they never get a gradient), or None where the classifier does not say.
        tests/test_unused_parameters.py checks every classifier's answer against a backward pass."""
        return None

    def trainable_names(self, params) -> list[str]:
        """The names of those of `params` that are trainable parameters of this model."""
        ids = {id(p) for p in params}
        return [n for n, p in self.named_parameters() if p.requires_grad and id(p) in ids]

    @property
    def leaves_parameters_unused(self) -> bool:
        """Whether a training step leaves a trainable parameter without a gradient. Under DDP such a
        parameter breaks the backward unless DDP searches the graph for unused ones every step
        (`find_unused_parameters`), which costs a traversal and warns when it finds none. From
        `unused_parameters`; True (the safe answer) where that is not known."""
        unused = self.unused_parameters()
        return unused is None or len(unused) > 0

    def loss(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.loss(batch)

    @torch.no_grad()
    def predict(self, batch: Batch) -> Prediction:
        raise NotImplementedError
