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

from .backbone import MLLM
from .prompts import LABEL_SET
from .samples import Sample


# How weighted per-sample losses become one number: "batch" = sum(w_i * loss_i) / B (the
# authors' OAD training: background windows simply count less), "weights" = sum(w_i * loss_i) /
# sum(w_i) (gadlib's earlier rule: a weighted mean, whose scale does not move with the share of
# background in a batch). Equal when every weight is 1.
LOSS_NORMS = ("batch", "weights")


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
        sets = {LABEL_SET[k] for k in self.kinds}
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


class ActionClassifier(nn.Module):
    """Base class: an MLLM backbone plus a way to read a class out of it.

    label_names: {label set -> class names}, e.g. {"steps": [...], "tasks": [...]}.
    background_weight: loss weight of OAD samples whose target is background (class 0); the
      paper down-weights them (0.2-1.0 per data set). Every classifier applies it through
      `sample_weights`, so the three are compared under the same loss weighting
      (notebooks/05_online_action_detection.ipynb).
    loss_norm: how the weighted per-sample losses are reduced, one of `LOSS_NORMS`
      (`weighted_loss`); OAD runs pass the `OADConfig`'s ("batch", the authors').
    """

    # Constructor options with a closed set of values (checked by `gadlib.run_config` before a
    # run loads any data), and those that name a run ("generative_desync", "gad_gen_first").
    OPTIONS: dict[str, tuple] = {}
    NAMED_BY: tuple[str, ...] = ()

    def __init__(self, mllm: MLLM, label_names: dict[str, list[str]], background_weight: float = 1.0,
                 loss_norm: str = "weights"):
        super().__init__()
        if not background_weight > 0:
            raise ValueError(f"background_weight must be > 0, got {background_weight}")
        if loss_norm not in LOSS_NORMS:
            raise ValueError(f"loss_norm must be one of {LOSS_NORMS}, got {loss_norm!r}")
        self.mllm, self.label_names = mllm, {k: list(v) for k, v in label_names.items()}
        self.background_weight, self.loss_norm = float(background_weight), loss_norm

    def check_targets(self, batch: Batch) -> None:
        for kind, t in zip(batch.kinds, batch.targets.tolist()):
            names = self.label_names.get(LABEL_SET[kind])
            if names is None:
                raise ValueError(f"no label set {LABEL_SET[kind]!r} for samples of kind {kind!r}; "
                                 f"this model has {sorted(self.label_names)}")
            if not 0 <= t < len(names):
                raise ValueError(f"target {t} of a {kind!r} sample is outside label set "
                                 f"{LABEL_SET[kind]!r} ({len(names)} classes)")

    def predict_label_set(self, batch: Batch) -> str:
        """The one label set `predict` scores for this batch, checked against the model's."""
        name = batch.label_set
        if name not in self.label_names:
            raise ValueError(f"no label set {name!r} for samples of kind(s) {sorted(set(batch.kinds))}; "
                             f"this model has {sorted(self.label_names)}")
        return name

    def sample_weights(self, batch: Batch) -> torch.Tensor:
        """float32 [B]: each sample's weight in the loss, `background_weight` for OAD background
        samples and 1 for every other sample."""
        background = torch.tensor([LABEL_SET[k] == "oad" for k in batch.kinds]) & (batch.targets.cpu() == 0)
        weights = torch.ones(len(batch), dtype=torch.float32)
        weights[background] = self.background_weight
        return weights.to(self.mllm.device)

    def weighted_loss(self, losses: torch.Tensor, batch: Batch) -> torch.Tensor:
        """One loss from per-sample losses [B]: weighted by `sample_weights`, reduced by `loss_norm`."""
        weights = self.sample_weights(batch)
        total = (losses * weights).sum()
        return total / (len(batch) if self.loss_norm == "batch" else weights.sum())

    def loss(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.loss(batch)

    @property
    def leaves_parameters_unused(self) -> bool:
        """Whether a training step can leave a trainable parameter without a gradient.

        Under DDP such a parameter breaks the backward unless DDP searches the graph for unused
        ones every step (`find_unused_parameters`), which costs a traversal and warns when it
        finds none; `gadlib.training.make_accelerator` turns it on only where this is True.
        True here, the safe answer; subclasses that know better say so.
        """
        return True

    @torch.no_grad()
    def predict(self, batch: Batch) -> Prediction:
        raise NotImplementedError
