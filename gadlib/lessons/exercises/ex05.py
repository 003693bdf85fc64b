"""Notebook 05 (online action detection metrics): checkers of its graded exercises.

The exercises are the last section of notebooks/05_online_action_detection.ipynb; gadlib/lessons/exercises/common.py says how a
checker works.
"""
from __future__ import annotations

import numpy as np

from gadlib.evaluation.metrics import _segment_counts, point_f1, segment_f1, segments

from .common import (SHARE, ExerciseFailed, _call, _check_measured, _close, _passed, _predicted, _report_prediction,
                     _same_keys, _short_sequences)


def check_segments(my_segments) -> None:
    """Notebook 05, exercise 1. my_segments(labels) -> [(label, start, end_exclusive), ...]:
    the runs of one label in temporal order, background (0) runs dropped."""
    what = "my_segments"
    cases = 0
    for labels in _short_sequences(6):
        got = _call(my_segments, labels.copy(), what=what, withheld_functions=(segments,))
        want = segments(labels)
        try:
            ok = [tuple(int(x) for x in seg) for seg in got] == want
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ExerciseFailed(f"{what}({labels.tolist()}) returned {got!r}; expected {want}")
        cases += 1
    _passed(what, f"all {cases} sequences of up to 6 frames over labels 0-2")


def random_oad_pair(rng: np.random.Generator, n: int, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A short truth sequence of segments with background gaps, and a noisy prediction of it."""
    truth = np.repeat(rng.integers(0, classes + 1, size=n), rng.integers(1, 4, size=n))[:n]
    pred = truth.copy()
    flip = rng.random(len(pred)) < 0.3
    pred[flip] = rng.integers(0, classes + 1, size=flip.sum())
    return pred, truth


def check_segment_f1(my_segment_f1) -> None:
    """Notebook 05, exercise 2. my_segment_f1(pred, truth, iou) -> segment F1 of one video
    (gadlib.evaluation.metrics.segment_f1's matching rule), a float in [0, 1]."""
    what = "my_segment_f1"
    rng = np.random.default_rng(0)
    cases = [(p, t, iou) for n in range(1, 13) for _ in range(12) for p, t in [random_oad_pair(rng, n)]
             for iou in (0.1, 0.5)]
    cases += [(np.array([1, 1, 1, 1, 0]), np.array([1, 1, 0, 0, 0]), 0.5),   # IoU exactly at the threshold
              (np.array([1, 0, 1, 1]), np.array([1, 1, 1, 1]), 0.25),        # two predictions, one true segment
              # the second prediction's best true segment is taken: a false positive, although the
              # other true segment is free and overlaps it enough ("first free match" would say 1.0)
              (np.array([1, 1, 0, 1, 1, 1, 1]), np.array([1, 1, 1, 1, 1, 0, 1]), 0.1)]
    cases.sort(key=lambda c: len(c[1]))
    for pred, truth, iou in cases:
        want = segment_f1([pred], [truth], iou)
        got = _call(my_segment_f1, pred.copy(), truth.copy(), iou, what=what,
                    withheld_functions=(segment_f1, _segment_counts))
        if not _close(got, want, 1e-9):
            raise ExerciseFailed(f"{what}(pred={pred.tolist()}, truth={truth.tolist()}, iou={iou}) returned {got!r}; "
                                 f"expected {want:.4f} (TP/FP/FN counted as in segment_f1's docstring)")
    _passed(what, f"{len(cases)} short videos at IoU 0.1, 0.25, 0.5")


FLICKER_RATES = (0.0, 0.02, 0.1)


def flicker(truth: np.ndarray, rate: float, seed: int = 0, classes: int = 4) -> np.ndarray:
    """The truth with each frame independently replaced, with probability `rate`, by a random
    other class (0-`classes`): a model that is right on most frames but flickers."""
    rng = np.random.default_rng(seed)
    pred = np.asarray(truth).copy()
    flip = rng.random(len(pred)) < rate
    pred[flip] = (pred[flip] + rng.integers(1, classes + 1, size=flip.sum())) % (classes + 1)
    return pred


def flicker_truth(seed: int = 0, frames: int = 600, classes: int = 4) -> np.ndarray:
    """A long ground-truth stream: action segments of 10-40 frames with background gaps."""
    rng = np.random.default_rng(seed)
    parts = []
    while sum(map(len, parts)) < frames:
        parts += [np.zeros(rng.integers(3, 12), np.int64), np.full(rng.integers(10, 41), rng.integers(1, classes + 1))]
    return np.concatenate(parts)[:frames]


def check_flicker(measure) -> None:
    """Notebook 05, exercise 3. measure() -> {rate: {"frame_accuracy", "seg_f1_0.5"}} for the
    rates in FLICKER_RATES, with pred = flicker(flicker_truth(), rate)."""
    what = "flicker"
    got = _same_keys(_call(measure, what=what), FLICKER_RATES, what)
    truth = flicker_truth()
    for rate in FLICKER_RATES:
        pred = flicker(truth, rate)
        want = {"frame_accuracy": float(np.mean(pred == truth)), "seg_f1_0.5": segment_f1([pred], [truth], 0.5)}
        _check_measured(got[rate], want, 1e-9, f"{what}, rate {rate}",
                        "Frame accuracy = share of frames equal to the truth (background included).")
    _passed(what, "accuracy and segment F1 match a recomputation")


LATE_FPS = 4.0


def check_late_predictions(predict, measure) -> None:
    """Notebook 05, exercise 4 (predict, then check). For the truth [0]*8 + [1]*16 + [0]*8 and
    the prediction shifted `d` frames late (np.roll, d in 0, 2, 4, 8) at 4 fps:
    {d: {"seg_f1_0.5", "point_f1_1s"}}."""
    what = "late predictions"
    shifts = (0, 2, 4, 8)
    # the prediction first, from the IoU bound and the start tolerance: the metrics are withheld while it runs
    guess = _predicted(predict, {d: {"seg_f1_0.5": SHARE, "point_f1_1s": SHARE} for d in shifts}, what,
                       measuring=(measure, segment_f1, point_f1, _segment_counts))
    truth = np.array([0] * 8 + [1] * 16 + [0] * 8)
    want = {}
    for d in shifts:
        pred = np.roll(truth, d)
        want[d] = {"seg_f1_0.5": segment_f1([pred], [truth], 0.5), "point_f1_1s": point_f1([pred], [truth], LATE_FPS, 1.0)}
    got = _same_keys(_call(measure, what=what), want, what)
    for d in want:
        _check_measured(got[d], want[d], 1e-9, f"{what}, d={d}", "Use np.roll(truth, d) and gadlib.evaluation.metrics.")
    _passed(what, "the measurements match gadlib.evaluation.metrics")
    flat = lambda nested: {f"d={d} {k}": v for d, inner in nested.items() for k, v in inner.items()}
    _report_prediction(flat(guess), flat(want), 0.05, what)
