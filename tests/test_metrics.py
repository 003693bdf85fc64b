"""Metrics against scikit-learn and hand-computed cases."""
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score

from gadlib.evaluation.metrics import mean_std
from gadlib.core.training import accuracy_metrics


@pytest.mark.parametrize("seed", range(3))
def test_top_k_equals_sklearn_without_ties(seed):
    rng = np.random.default_rng(seed)
    n, c = 200, 7
    scores = rng.standard_normal((n, c))  # continuous: no ties
    targets = rng.integers(0, c, n)
    targets[:c] = np.arange(c)  # every class present
    m = accuracy_metrics(scores, targets, ks=(1, 2, 3, 5))
    for k in (1, 2, 3, 5):
        assert m[f"top{k}"] == pytest.approx(top_k_accuracy_score(targets, scores, k=k, labels=np.arange(c)))
    assert m["top1"] == pytest.approx(np.mean(scores.argmax(1) == targets))
    assert m["balanced_top1"] == pytest.approx(balanced_accuracy_score(targets, scores.argmax(1)))
    assert set(accuracy_metrics(scores, targets)) == {"top1", "top5", "balanced_top1"}


def test_ties_are_broken_like_argmax():
    scores = np.array([[1.0, 1.0, 0.0],   # tie between 0 and 1: argmax says 0
                       [1.0, 1.0, 0.0],
                       [0.0, 2.0, 2.0],   # tie between 1 and 2: argmax says 1
                       [0.5, 0.5, 0.5]])  # all tied: argmax says 0
    targets = np.array([0, 1, 2, 2])
    m = accuracy_metrics(scores, targets, ks=(1, 2, 3))
    assert m["top1"] == 0.25  # only row 0
    assert m["top2"] == 0.75  # rows 0, 1, 2 (row 3: class 2 ranks third)
    assert m["top3"] == 1.0
    # top1 always agrees with argmax, even with many ties (greedy decoding's edit distances).
    rng = np.random.default_rng(0)
    scores = -rng.integers(0, 3, (300, 6)).astype(float)
    targets = rng.integers(0, 6, 300)
    assert accuracy_metrics(scores, targets)["top1"] == pytest.approx(np.mean(scores.argmax(1) == targets))


def test_balanced_accuracy_by_hand():
    # Class 0: 3 of 4 right, class 1: 0 of 1, class 2: 1 of 1 -> (0.75 + 0 + 1) / 3.
    targets = np.array([0, 0, 0, 0, 1, 2])
    pred = np.array([0, 0, 0, 2, 0, 2])
    scores = np.eye(4)[pred]  # class 3 never a target: not averaged over
    m = accuracy_metrics(scores, targets)
    assert m["balanced_top1"] == pytest.approx((0.75 + 0 + 1) / 3)
    assert m["top1"] == pytest.approx(4 / 6)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="scores must be"):
        accuracy_metrics(np.zeros((3, 4)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="scores must be"):
        accuracy_metrics(np.zeros(4), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="scores must be"):
        accuracy_metrics(np.zeros((0, 4)), np.zeros(0, dtype=int))


def test_mean_std_by_hand():
    assert mean_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0, "per_seed": [1.0, 2.0, 3.0]}  # ddof=1
    assert mean_std([0.5]) == {"mean": 0.5, "std": 0.0, "per_seed": [0.5]}
    r = mean_std(np.array([0.2, 0.4]))
    assert r["mean"] == pytest.approx(0.3) and r["std"] == pytest.approx(np.sqrt(0.02))
