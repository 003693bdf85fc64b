"""Metrics: top-k and class-balanced accuracy (scikit-learn), and the summaries notebooks report.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score


def accuracy_metrics(scores: np.ndarray, targets: np.ndarray, ks=(1, 5)) -> dict[str, float]:
    """{"top1", "top5", "balanced_top1"} from per-class scores [N, C] (higher is better).

    Ties are broken as `argmax` breaks them (lower class index first), so top1 always agrees with
    the classifier's own prediction; greedy decoding's edit-distance scores tie often. Without
    ties this equals scikit-learn's `top_k_accuracy_score` (tests check it).
    balanced_top1 averages recall over the classes present in `targets`.
    """
    scores, targets = np.asarray(scores), np.asarray(targets)
    if scores.ndim != 2 or len(scores) != len(targets) or len(targets) == 0:
        raise ValueError(f"scores must be [N, C] with N = len(targets) > 0; got {scores.shape} and {targets.shape}")
    target_score = scores[np.arange(len(targets)), targets][:, None]
    idx = np.arange(scores.shape[1])[None]
    rank = ((scores > target_score) | ((scores == target_score) & (idx < targets[:, None]))).sum(1)
    out = {f"top{k}": float(np.mean(rank < k)) for k in ks}
    out["balanced_top1"] = float(balanced_accuracy_score(targets, scores.argmax(1)))
    return out


def mean_std(values) -> dict:
    """{"mean", "std", "per_seed"} over seeds (std with ddof=1 when there are 2+ seeds)."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "per_seed": [float(x) for x in v]}
