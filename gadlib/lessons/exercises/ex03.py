"""Notebook 03 (misclassification diversity): checkers of its graded exercises.

The exercises are the last section of notebooks/03_misclassification_diversity.ipynb; gadlib/lessons/exercises/common.py says how a
checker works.
"""
from __future__ import annotations

import numpy as np

import math

from gadlib.evaluation import diversity
from gadlib.evaluation.diversity import error_counts, error_entropy

from .common import ExerciseFailed, Kind, _call, _check_measured, _close, _passed, _predicted, _report_prediction, _same_keys
from .references import reference

# gadlib's implementations of the misclassification entropy, withheld while exercise 2's answer
# runs: the score itself, the per-class entropies it averages (`np.nanmean` of
# per_class_error_entropy would be the answer), one row's entropy (`entropy` per row), the
# vectorised rows behind them, and the scores built on them.
ENTROPY_IMPLEMENTATIONS = (diversity.error_entropy, diversity.per_class_error_entropy, diversity.entropy,
                           diversity._entropies, diversity.matched_error_entropy, diversity.null_error_entropy)


def _random_label_pairs(rng: np.random.Generator):
    """Short (pred, truth, num_classes, exclude) cases, from 1 to 12 labels over 2-5 classes
    (error_counts, via scikit-learn's confusion_matrix, refuses an empty sequence)."""
    for n in range(1, 13):
        for _ in range(6):
            C = int(rng.integers(2, 6))
            exclude = () if rng.random() < 0.5 else (0,)
            yield rng.integers(C, size=n), rng.integers(C, size=n), C, exclude


def check_error_counts(my_error_counts) -> None:
    """Notebook 03, exercise 1. my_error_counts(pred, truth, num_classes, exclude) -> int [C, C]:
    E[i, j] = how often true class i was predicted as j != i; diagonal 0; rows and columns of
    the classes in `exclude` 0 (gadlib.evaluation.diversity.error_counts)."""

    what = "my_error_counts"
    cases = [(np.array([1, 1, 2]), np.array([1, 2, 2]), 3, ()), (np.array([0, 2, 1]), np.array([1, 1, 0]), 3, (0,))]
    cases += list(_random_label_pairs(np.random.default_rng(0)))
    cases.sort(key=lambda c: (len(c[0]), c[2]))
    for pred, truth, C, exclude in cases:
        want = error_counts(pred, truth, C, exclude)
        got = _call(my_error_counts, pred.copy(), truth.copy(), C, exclude, what=what,
                    withheld_functions=(error_counts,))
        shown = f"{what}(pred={pred.tolist()}, truth={truth.tolist()}, num_classes={C}, exclude={exclude})"
        got = np.asarray(got)
        if got.shape != want.shape:
            raise ExerciseFailed(f"{shown}: the result should have shape {want.shape} (true class, predicted class), "
                                 f"got {got.shape}")
        if not np.array_equal(got, want):
            raise ExerciseFailed(f"{shown} returned {got.tolist()}; expected {want.tolist()} (row = true class, "
                                 "column = predicted class; correct predictions and excluded classes count 0)")
    _passed(what, f"{len(cases)} short label sequences, with and without an excluded background")


def check_error_entropy(my_error_entropy) -> None:
    """Notebook 03, exercise 2. my_error_entropy(errors, min_errors) -> the misclassification
    score: mean over the classes (rows) with >= min_errors errors of the entropy in nats of
    where their errors go; NaN when no class has enough (gadlib.evaluation.diversity.error_entropy)."""

    what = "my_error_entropy"
    hand = [np.array([[0, 6, 0], [0, 0, 0], [0, 0, 0]]),          # one confuser: 0
            np.array([[0, 3, 3], [0, 0, 0], [0, 0, 0]]),          # two equal confusers: ln 2
            np.array([[0, 3, 3], [1, 0, 0], [0, 0, 0]]),          # a class below min_errors is left out
            np.array([[0, 1, 1], [1, 0, 0], [0, 2, 0]])]          # no class has enough errors: NaN
    cases = [(e, 2) for e in hand]
    rng = np.random.default_rng(0)
    for C in (3, 4, 6):
        for _ in range(8):
            errors = rng.integers(0, 5, size=(C, C)) * (rng.random((C, C)) < 0.6)
            np.fill_diagonal(errors, 0)
            cases.append((errors, int(rng.integers(1, 8))))
    for errors, min_errors in cases:
        want = error_entropy(errors, min_errors)
        got = _call(my_error_entropy, errors.copy(), min_errors, what=what, withheld_functions=ENTROPY_IMPLEMENTATIONS)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise ExerciseFailed(f"{what}: return one number (a float), got {type(got).__name__}") from None
        ok = np.isnan(got) if np.isnan(want) else _close(got, want, 1e-9)
        if not ok:
            raise ExerciseFailed(f"{what}(errors={errors.tolist()}, min_errors={min_errors}) returned {got!r}; expected "
                                 f"{'nan (no class has enough errors)' if np.isnan(want) else f'{want:.4f}'} "
                                 "(natural log; classes with fewer than min_errors errors left out of the mean)")
    _passed(what, f"{len(cases)} error matrices, incl. one confuser, too few errors and no class left")


MISS_CLASSES = 6  # background (0) + 5 actions


def missed_as_background_streams(frames: int = 3000, seed: int = 0) -> tuple[np.ndarray, dict]:
    """(truth, {"cautious": pred, "confused": pred}): per-frame labels of two OAD models that are
    both right on ~70% of frames. When wrong on an action frame, "cautious" says background
    (class 0) 4 times in 5, else a random other action; "confused" says any other class at
    random (background included). On a background frame both say a random action when wrong."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(MISS_CLASSES, size=frames)
    preds = {}
    for model, to_background in (("cautious", 0.8), ("confused", None)):
        pred = truth.copy()
        for i in np.flatnonzero(rng.random(frames) < 0.3):
            others = [c for c in range(MISS_CLASSES) if c != truth[i]]
            if to_background is not None and truth[i] != 0:
                others = [0] if rng.random() < to_background else others[1:]
            pred[i] = others[rng.integers(len(others))]
        preds[model] = pred
    return truth, preds


def check_background_destination(measure) -> None:
    """Notebook 03, exercise 3. measure() -> {model: {"background_kept", "background_excluded"}}:
    error_entropy(error_counts(pred, truth, MISS_CLASSES, exclude), min_errors=5) with
    exclude=() and (0,), for both models of missed_as_background_streams()."""

    what = "background as a destination"
    truth, preds = missed_as_background_streams()
    got = _same_keys(_call(measure, what=what), preds, what)
    for model, pred in preds.items():
        want = {key: error_entropy(error_counts(pred, truth, MISS_CLASSES, exclude), 5)
                for key, exclude in (("background_kept", ()), ("background_excluded", (0,)))}
        _check_measured(got[model], want, 1e-9, f"{what}, {model}",
                        "Use gadlib.evaluation.diversity.error_counts(pred, truth, MISS_CLASSES, exclude) and error_entropy(..., 5).")
    _passed(what, "both scores of both models match gadlib.evaluation.diversity")


def few_and_many_errors(classes: int = 20, confusers: int = 3, few: int = 6, many: int = 60,
                        seed: int = 0) -> dict:
    """{"few": errors, "many": errors}: error_counts matrices [C, C] of two classifiers whose
    errors are spread *the same way*: each class's errors go uniformly at random to its 3
    confusers (the next 3 classes, cyclically). Only the number of errors per class differs."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in (("few", few), ("many", many)):
        errors = np.zeros((classes, classes), np.int64)
        for c in range(classes):
            errors[c, (c + 1 + np.arange(confusers)) % classes] = rng.multinomial(n, np.full(confusers, 1 / confusers))
        out[name] = errors
    return out


# A gap of two scores of errors spread over 3 confusers: each plug-in score lies in [0, ln 3], and
# Miller-Madow adds at most (3 - 1) / (2 * 6) with 6 errors per class.
GAP = Kind(f"a gap in nats between two such scores, in [-{math.log(3) + 1 / 6:.2f}, {math.log(3) + 1 / 6:.2f}]",
           -(math.log(3) + 1 / 6), math.log(3) + 1 / 6)


def check_few_vs_many(predict, measure) -> None:
    """Notebook 03, exercise 4 (predict, then check). For few_and_many_errors(): the "many" minus
    "few" score with gadlib.evaluation.diversity's defaults, as {"raw_gap": plug-in error_entropy,
    "miller_madow_gap": estimator="miller_madow", "matched_gap": matched_error_entropy at
    matched_counts}; predict() gives your values before measuring."""
    what = "few vs many errors"
    ref = reference("few_many_gaps")
    keys = ("raw_gap", "miller_madow_gap", "matched_gap")
    # the prediction first, from the bias formula: the scores are withheld while it runs
    guess = _predicted(predict, {k: GAP for k in keys}, what, measuring=(measure, ref, *ENTROPY_IMPLEMENTATIONS))
    want = ref()
    _check_measured(_call(measure, what=what, withheld_functions=(ref,)), want, 1e-9, what,
                    "Default min_errors (5), draws (20) and seed (0); n_per_class = matched_counts(errs) for both.")
    _passed(what, "the three gaps match gadlib.evaluation.diversity")
    _report_prediction(guess, want, 0.05, what)
