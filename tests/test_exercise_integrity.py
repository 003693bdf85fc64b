"""Checkers accept only the student's own work: an answer that is, wraps or calls gadlib's
implementation of what the exercise asks (or the checker's reference) fails, and the cases
separate the right rule from its common wrong variants."""
import numpy as np
import pytest
import torch

import gadlib.evaluation.diversity as dv
import gadlib.evaluation.metrics as metrics
from gadlib.lessons.exercises import ex02
from gadlib.lessons.exercises.common import ExerciseFailed, withheld
from gadlib.lessons.exercises.references import reference
from gadlib.lessons.exercises.ex01 import check_cls_readout
from gadlib.lessons.exercises.ex03 import check_error_counts, check_error_entropy, check_few_vs_many
from gadlib.lessons.exercises.ex04 import check_gad_loss, check_lm_positions, check_previous_actions
from gadlib.lessons.exercises.ex05 import check_segment_f1, check_segments
from gadlib.data.samples import _previous_actions

CALLS_GADLIB = "calls gadlib's own implementation or the checker's reference"


def _rejected(check, *answers):
    with pytest.raises(ExerciseFailed, match=CALLS_GADLIB):
        check(*answers)


@pytest.mark.parametrize("check, answers", [
    (check_error_counts, [dv.error_counts, lambda p, t, c, e: dv.error_counts(p, t, c, e)]),
    (check_error_entropy, [dv.error_entropy, lambda e, m: dv.error_entropy(e, m),
                           lambda e, m: dv.matched_error_entropy(e, np.full(len(e), 10**6), min_errors=m)]),
    (check_segments, [metrics.segments, lambda labels: metrics.segments(labels)]),
    (check_segment_f1, [lambda p, t, iou: metrics.segment_f1([p], [t], iou)]),
    (check_previous_actions, [lambda labels, names: reference("previous_actions")(labels, names)]),
    (check_gad_loss, [reference("gad_loss"), lambda *a: reference("gad_loss")(*a)]),
])
def test_an_answer_that_delegates_to_gadlib_fails(check, answers):
    for answer in answers:
        _rejected(check, answer)


def test_previous_actions_may_not_call_the_library_either():
    from gadlib.data.videos import Segment, Video, VideoDataset

    def through_samples(labels, names):
        segs = [Segment(s, e, k - 1) for k, s, e in metrics.segments(labels)]
        video = Video("v", np.zeros((len(labels), 1, 1), np.float32), segs, None, "train")
        return _previous_actions(VideoDataset("d", [video], list(names), [], 1.0), video)
    _rejected(check_previous_actions, through_samples)


@pytest.mark.parametrize("check, prediction, measured_by", [
    (check_few_vs_many, {"raw_gap": 0.1, "miller_madow_gap": 0.0, "matched_gap": 0.0}, reference("few_many_gaps")),
    (check_lm_positions, dict.fromkeys(("discriminative", "disc_first", "gen_first", "parallel", "disc_first predict"), 10),
     reference("positions_measurement"))])
def test_a_measurement_that_calls_the_checkers_reference_fails(check, prediction, measured_by):
    _rejected(check, lambda: prediction, measured_by)


def test_snap_recovery_reference_is_withheld():
    with pytest.raises(ExerciseFailed, match=CALLS_GADLIB):
        ex02.check_snap_recovery(lambda: {m: reference("snap_recovery")(m) for m in ("text", "rand", "desync")})


def test_withheld_functions_work_again_afterwards():
    errors = np.array([[0, 3, 3], [0, 0, 0], [0, 0, 0]])
    with withheld([dv.error_entropy]):
        with pytest.raises(LookupError):
            dv.error_entropy(errors, 2)
    assert dv.error_entropy(errors, 2) == pytest.approx(np.log(2))


def _first_free_match_f1(pred, truth, iou):
    """A common wrong variant: each prediction takes the best-IoU true segment *still free*."""
    P, T = metrics.segments(pred), metrics.segments(truth)
    used, tp = set(), 0
    for label, s, e in P:
        best, best_j = 0.0, None
        for j, (tl, ts, te) in enumerate(T):
            if tl != label or j in used:
                continue
            inter = max(0, min(e, te) - max(s, ts))
            score = inter / (max(e, te) - min(s, ts))
            if score > best:
                best, best_j = score, j
        if best_j is not None and best >= iou:
            used.add(best_j)
            tp += 1
    fp, fn = len(P) - tp, len(T) - tp
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def test_segment_f1_checker_separates_first_free_match():
    pred, truth = np.array([1, 1, 0, 1, 1, 1, 1]), np.array([1, 1, 1, 1, 1, 0, 1])
    assert metrics.segment_f1([pred], [truth], 0.1) == pytest.approx(0.5)
    assert _first_free_match_f1(pred, truth, 0.1) == pytest.approx(1.0)
    with pytest.raises(ExerciseFailed, match="expected 0.5000"):
        check_segment_f1(_first_free_match_f1)


def test_cls_readout_must_not_loop_in_python():
    def looped(hidden, mask):
        rows = []
        for i in range(hidden.shape[0]):
            rows.append(hidden[i, int(mask[i].sum()) - 1])
        return torch.stack(rows)

    def comprehension(hidden, mask):
        return torch.stack([hidden[i, int(mask[i].sum()) - 1] for i in range(hidden.shape[0])])

    def indexed(hidden, mask):
        return hidden[torch.arange(hidden.shape[0]), mask.sum(1) - 1]

    for answer in (looped, comprehension):
        with pytest.raises(ExerciseFailed, match="a loop over the batch"):
            check_cls_readout(answer)
    check_cls_readout(indexed)
