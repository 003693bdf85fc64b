"""Notebook 03's checkers: a student's own correct answers pass them (gadlib's functions, which the
answers must not call, fail them: tests/test_exercise_integrity.py), plausible wrong answers fail
them with a message that says what is wrong, and measured values are never shown. (That the notebook's
solutions pass and its student edition fails cleanly is tests/test_course.py's job.)"""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from gadlib.tools import course
from gadlib.evaluation import diversity as dv
from gadlib.lessons.exercises.common import ExerciseFailed
from gadlib.lessons.exercises.references import reference
from gadlib.lessons.exercises.ex03 import (MISS_CLASSES, check_background_destination,
                                   check_error_counts, check_error_entropy, check_few_vs_many,
                                   missed_as_background_streams)

_few_many_gaps = reference("few_many_gaps")


def _fails(check, *answers, says: str) -> str:
    with pytest.raises(ExerciseFailed) as e:
        check(*answers)
    assert says in str(e.value), str(e.value)
    return str(e.value)


def test_notebook_03_is_a_course_notebook():
    assert "03_misclassification_diversity" in course.course_notebooks()


def own_error_counts(pred, truth, C, exclude=()):
    """A student's answer: numpy and scikit-learn, no gadlib."""
    e = confusion_matrix(truth, pred, labels=np.arange(C))
    np.fill_diagonal(e, 0)
    e[list(exclude), :] = 0
    e[:, list(exclude)] = 0
    return e


def own_error_entropy(errors, min_errors):
    """A student's answer: numpy only."""
    rows = [r / r.sum() for r in np.asarray(errors, float) if r.sum() >= min_errors]
    return float(np.mean([-(r[r > 0] * np.log(r[r > 0])).sum() for r in rows])) if rows else float("nan")


def test_check_error_counts_accepts_an_own_answer_and_rejects_common_mistakes(capsys):
    check_error_counts(own_error_counts)
    assert "✓ my_error_counts: passed" in capsys.readouterr().out

    def plain_confusion(pred, truth, C, exclude=()):  # the diagonal (correct predictions) kept
        return confusion_matrix(truth, pred, labels=np.arange(C))

    def transposed(pred, truth, C, exclude=()):  # rows = predicted class
        return own_error_counts(pred, truth, C, exclude).T

    def exclude_rows_only(pred, truth, C, exclude=()):
        e = own_error_counts(pred, truth, C)
        e[list(exclude), :] = 0
        return e

    msg = _fails(check_error_counts, plain_confusion, says="expected [[")
    assert "pred=[3], truth=[3]" in msg  # the smallest failing case: one correct prediction
    _fails(check_error_counts, transposed, says="row = true class")
    _fails(check_error_counts, exclude_rows_only, says="exclude=(0,)")
    _fails(check_error_counts, lambda p, t, C, exclude=(): np.zeros((C, C + 1), int), says="should have shape")
    _fails(check_error_counts, lambda p, t, C, exclude=(): (_ for _ in ()).throw(NotImplementedError),
           says="not implemented yet")


def test_check_error_entropy_accepts_an_own_answer_and_rejects_common_mistakes():
    check_error_entropy(own_error_entropy)

    def log2(errors, min_errors):
        return own_error_entropy(errors, min_errors) / np.log(2)

    def ignores_min_errors(errors, min_errors):
        return own_error_entropy(errors, 1)

    def zero_not_nan(errors, min_errors):
        h = own_error_entropy(errors, min_errors)
        return 0.0 if np.isnan(h) else h

    def counts_not_shares(errors, min_errors):  # entropy of the raw counts, not of the shares
        rows = [r for r in np.asarray(errors, float) if r.sum() >= min_errors]
        return float(np.mean([-(r[r > 0] * np.log(r[r > 0])).sum() for r in rows])) if rows else float("nan")

    _fails(check_error_entropy, log2, says="natural log")
    msg = _fails(check_error_entropy, ignores_min_errors, says="min_errors=2")
    assert "[[0, 3, 3], [1, 0, 0], [0, 0, 0]]" in msg  # the smallest failing case, a hand-made one
    _fails(check_error_entropy, zero_not_nan, says="expected nan")
    _fails(check_error_entropy, counts_not_shares, says="returned")
    _fails(check_error_entropy, lambda e, m: "high", says="return one number")


def _background_scores():
    truth, preds = missed_as_background_streams()
    return {m: {k: dv.error_entropy(dv.error_counts(p, truth, MISS_CLASSES, x), 5)
                for k, x in (("background_kept", ()), ("background_excluded", (0,)))} for m, p in preds.items()}


def test_background_streams_show_the_effect_the_exercise_asks_about():
    truth, preds = missed_as_background_streams()
    assert all(0.25 < np.mean(p != truth) < 0.35 for p in preds.values())  # equally accurate
    s = _background_scores()
    # keeping background as a destination collapses the cautious model's score, not the confused one's
    assert s["cautious"]["background_kept"] < s["cautious"]["background_excluded"] - 0.2
    assert s["confused"]["background_kept"] > s["confused"]["background_excluded"]
    assert abs(s["cautious"]["background_excluded"] - s["confused"]["background_excluded"]) < 0.2


def test_check_background_destination_rejects_swapped_values_without_revealing_them():
    right = _background_scores()
    check_background_destination(lambda: right)
    swapped = {m: {"background_kept": v["background_excluded"], "background_excluded": v["background_kept"]}
               for m, v in right.items()}
    msg = _fails(check_background_destination, lambda: swapped, says="does not match a recomputation")
    assert not any(f"{x:.2f}" in msg for v in right.values() for x in v.values())
    _fails(check_background_destination, lambda: {"cautious": right["cautious"]}, says="missing ['confused']")


def test_few_vs_many_gaps_follow_the_bias_formula():
    g = _few_many_gaps()
    assert 0.1 < g["raw_gap"] < 0.3                      # (K - 1) / 2n: 1/6 - 1/60 = 0.15 to first order
    assert abs(g["miller_madow_gap"]) < g["raw_gap"] / 2  # the correction removes most of it
    assert abs(g["matched_gap"]) < 0.05                   # equal counts: the same bias for both


def test_check_few_vs_many_grades_the_measurement_and_only_reports_the_prediction(capsys):
    right = _few_many_gaps()
    guess = {"raw_gap": 0.9, "miller_madow_gap": 0.9, "matched_gap": 0.9}   # in range, far off: still a pass
    check_few_vs_many(lambda: guess, lambda: right)
    out = capsys.readouterr().out
    assert "passed" in out and "within 0.05" in out and "0/3 entries" in out
    unmatched = {**right, "matched_gap": right["raw_gap"]}  # forgot to subsample to equal counts
    msg = _fails(check_few_vs_many, lambda: guess, lambda: unmatched, says="'matched_gap' does not match")
    assert f"{right['matched_gap']:.3f}" not in msg and f"{right['raw_gap']:.3f}" not in msg
    _fails(check_few_vs_many, lambda: guess, lambda: {"raw_gap": right["raw_gap"]}, says="missing")
