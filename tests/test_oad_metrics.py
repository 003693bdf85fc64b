"""OAD metrics on hand-worked sequences (counts written next to each case), and against scikit-learn."""
import itertools

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from gadlib.evaluation.metrics import (calibrated_ap, oad_metrics, per_frame_map, point_f1, segment_f1, segments)


def seq(length, runs, background=0):
    """Frame labels of `length` frames: background except the (label, start, end_exclusive) runs."""
    labels = np.full(length, background, dtype=np.int64)
    for label, start, end in runs:
        labels[start:end] = label
    return labels


def f1(tp, fp, fn):
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


# ---- segments ----------------------------------------------------------------------------------

def test_segments_by_hand():
    assert segments(np.array([0, 1, 1, 0, 2, 2, 2, 1])) == [(1, 1, 3), (2, 4, 7), (1, 7, 8)]
    assert segments(np.array([1, 1, 0, 2])) == [(1, 0, 2), (2, 3, 4)]  # runs at both video edges
    assert segments(np.array([3, 3, 3])) == [(3, 0, 3)]
    assert segments(np.array([0, 0])) == []
    assert segments(np.array([], dtype=int)) == []
    assert segments(np.array([3, 3, 0, 0]), background=3) == [(0, 2, 4)]


@pytest.mark.parametrize("seed", range(3))
def test_segments_equal_groupby(seed):
    labels = np.random.default_rng(seed).integers(0, 3, 60)
    expected, t = [], 0
    for label, run in itertools.groupby(labels.tolist()):
        n = len(list(run))
        if label != 0:
            expected.append((label, t, t + n))
        t += n
    assert segments(labels) == expected


# ---- segment F1 ---------------------------------------------------------------------------------

def test_segment_f1_by_hand():
    truth = seq(12, [(1, 1, 5), (2, 7, 10)])           # T1 = class 1 [1, 5), T2 = class 2 [7, 10)
    pred = seq(12, [(1, 2, 4), (2, 6, 11), (1, 11, 12)])
    # P1 = class 1 [2, 4): IoU with T1 = 2 / 4 = 0.5
    # P2 = class 2 [6, 11): IoU with T2 = 3 / 5 = 0.6
    # P3 = class 1 [11, 12): no overlap with T1 -> always FP
    # IoU 0.1 and 0.5: TP 2 (P1, P2), FP 1 (P3), FN 0 -> F1 = 0.8
    assert segment_f1([pred], [truth], 0.1) == pytest.approx(f1(2, 1, 0)) == pytest.approx(0.8)
    assert segment_f1([pred], [truth], 0.5) == pytest.approx(0.8)
    # IoU 0.6: TP 1 (P2), FP 2 (P1 below threshold, P3), FN 1 (T1) -> P = 1/3, R = 1/2, F1 = 0.4
    assert segment_f1([pred], [truth], 0.6) == pytest.approx(f1(1, 2, 1)) == pytest.approx(0.4)
    # IoU 0.75: TP 0 -> 0
    assert segment_f1([pred], [truth], 0.75) == 0.0


def test_segment_f1_wrong_class_never_matches():
    truth = seq(6, [(1, 0, 6)])
    pred = seq(6, [(2, 0, 6)])  # perfect overlap, wrong class: FP 1, FN 1
    assert segment_f1([pred], [truth], 0.1) == 0.0


def test_segment_f1_no_true_segments_and_all_background():
    # predicted segments but no true ones: TP 0, FP 2 -> 0
    assert segment_f1([seq(8, [(1, 0, 2), (2, 5, 7)])], [seq(8, [])], 0.1) == 0.0
    # true segments but no predicted ones: TP 0, FN 1 -> 0
    assert segment_f1([seq(8, [])], [seq(8, [(1, 2, 4)])], 0.1) == 0.0
    # nothing anywhere (0/0): defined as 0
    assert segment_f1([seq(8, []), seq(3, [])], [seq(8, []), seq(3, [])], 0.1) == 0.0


def test_segment_f1_one_long_segment():
    truth = seq(10, [(1, 0, 10)])
    assert segment_f1([truth.copy()], [truth], 0.5) == 1.0
    pred = seq(10, [(1, 0, 4)])  # IoU 4 / 10 = 0.4
    assert segment_f1([pred], [truth], 0.25) == 1.0  # TP 1
    assert segment_f1([pred], [truth], 0.5) == 0.0   # TP 0, FP 1, FN 1


def test_segment_f1_segments_at_video_edges():
    truth = np.array([1, 1, 0, 0, 2, 2])  # class 1 [0, 2), class 2 [4, 6)
    pred = np.array([1, 0, 0, 0, 0, 2])   # class 1 [0, 1): IoU 0.5; class 2 [5, 6): IoU 0.5
    assert segment_f1([pred], [truth], 0.5) == 1.0    # TP 2
    assert segment_f1([pred], [truth], 0.51) == 0.0   # TP 0, FP 2, FN 2


def test_segment_f1_two_predictions_on_one_true_segment():
    truth = seq(6, [(1, 0, 6)])
    pred = np.array([1, 1, 0, 1, 1, 1])  # P1 [0, 2): IoU 2/6; P2 [3, 6): IoU 3/6
    # IoU 0.25: P1 is visited first and takes T1 (TP); P2's best true segment is taken -> FP,
    # although P2 overlaps more. TP 1, FP 1, FN 0 -> 2/3
    assert segment_f1([pred], [truth], 0.25) == pytest.approx(f1(1, 1, 0)) == pytest.approx(2 / 3)
    # IoU 0.5: P1 below threshold (FP), P2 takes T1 (TP). TP 1, FP 1, FN 0 -> 2/3
    assert segment_f1([pred], [truth], 0.5) == pytest.approx(2 / 3)


def test_segment_f1_tie_in_overlap_goes_to_the_earlier_true_segment():
    truth = np.array([1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0])  # T1 [0, 2), T2 [3, 11)
    pred = np.array([0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0])   # P1 [1, 5), P2 [6, 11)
    # P1: IoU with T1 = 1 / 5, with T2 = 2 / 10: a tie, P1 takes T1 (the earlier), TP
    # P2: IoU with T2 = 5 / 8, TP.  TP 2, FP 0, FN 0 -> 1.0
    # (had the tie gone to T2, P2 would be an FP and T1 an FN: F1 = 0.5)
    assert segment_f1([pred], [truth], 0.1) == 1.0


def test_segment_f1_sums_counts_over_videos():
    video_a = (seq(10, [(1, 2, 8)]), seq(10, [(1, 2, 8)]))  # TP 1
    video_b = (seq(10, []), seq(10, [(1, 0, 2), (2, 4, 6), (1, 8, 10)]))  # FN 3
    preds, truths = [video_a[0], video_b[0]], [video_a[1], video_b[1]]
    # summed: TP 1, FP 0, FN 3 -> P = 1, R = 1/4, F1 = 0.4; the mean of per-video F1s would be (1 + 0) / 2
    assert segment_f1(preds, truths, 0.5) == pytest.approx(f1(1, 0, 3)) == pytest.approx(0.4)
    per_video = [segment_f1([p], [t], 0.5) for p, t in zip(preds, truths)]
    assert np.mean(per_video) == pytest.approx(0.5)


def test_segment_f1_background_other_than_zero():
    truth = seq(6, [(1, 0, 3)], background=9)
    pred = seq(6, [(1, 0, 3)], background=9)
    assert segment_f1([pred], [truth], 0.5, background=9) == 1.0
    # with background 0, the 9-runs are segments too, still matched: TP 2
    assert segment_f1([pred], [truth], 0.5) == 1.0


# ---- point F1 ----------------------------------------------------------------------------------

def test_point_f1_by_hand_and_tolerance_boundary():
    fps = 4.0  # 1 s = 4 frames, 2 s = 8 frames
    truth = seq(50, [(1, 10, 20), (2, 30, 40)])
    pred = seq(50, [(1, 14, 20), (2, 35, 40)])
    # start 14 (class 1) -> nearest true start 10, 4 frames: within 1 s (boundary included), TP
    # start 35 (class 2) -> nearest true start 30, 5 frames: FP at 1 s, TP at 2 s
    # 1 s: TP 1, FP 1, FN 1 -> 0.5;  2 s: TP 2 -> 1.0
    assert point_f1([pred], [truth], fps, 1.0) == pytest.approx(f1(1, 1, 1)) == pytest.approx(0.5)
    assert point_f1([pred], [truth], fps, 2.0) == 1.0
    # one frame past the 1 s boundary: both FP
    late = seq(50, [(1, 15, 20), (2, 35, 40)])
    assert point_f1([late], [truth], fps, 1.0) == 0.0


def test_point_f1_nearest_start_of_any_class():
    truth = seq(30, [(1, 10, 14), (2, 14, 20)])
    pred = seq(30, [(1, 13, 20)])
    # start 13: the nearest true start is class 2 at 14 (1 frame), not class 1 at 10 (3 frames):
    # wrong class -> FP, and both true starts FN.  TP 0 -> 0
    assert point_f1([pred], [truth], fps=1.0, seconds=5.0) == 0.0


def test_point_f1_equidistant_starts_take_the_earlier():
    truth = seq(30, [(1, 10, 12), (2, 20, 22)])
    # start 15 is 5 frames from both: the earlier (class 1) is taken
    assert point_f1([seq(30, [(1, 15, 17)])], [truth], fps=1.0, seconds=5.0) == pytest.approx(f1(1, 0, 1))
    assert point_f1([seq(30, [(2, 15, 17)])], [truth], fps=1.0, seconds=5.0) == 0.0  # TP 0


def test_point_f1_second_start_on_one_true_start_is_fp_and_edges_count():
    truth = seq(20, [(1, 0, 8)])  # an action starting at frame 0 has a start
    pred = seq(20, [(1, 0, 2), (1, 3, 8)])
    # start 0: TP; start 3 -> nearest true start 0 already matched: FP.  TP 1, FP 1, FN 0 -> 2/3
    assert point_f1([pred], [truth], fps=1.0, seconds=5.0) == pytest.approx(2 / 3)
    assert point_f1([seq(20, [])], [seq(20, [])], fps=1.0) == 0.0  # 0/0


def test_point_f1_sums_counts_over_videos():
    preds = [seq(10, [(1, 2, 5)]), seq(10, [(1, 0, 1), (1, 3, 4), (1, 6, 7)])]
    truths = [seq(10, [(1, 2, 5)]), seq(10, [])]
    # video 0: TP 1; video 1: FP 3 -> P = 1/4, R = 1, F1 = 0.4 (per-video mean would be 0.5)
    assert point_f1(preds, truths, fps=1.0) == pytest.approx(0.4)


# ---- per-frame mAP -----------------------------------------------------------------------------

def reference_map(scores, labels, classes):
    return np.mean([average_precision_score(labels == c, scores[:, c]) for c in classes])


def test_per_frame_map_equals_sklearn():
    rng = np.random.default_rng(0)
    scores = [rng.random((40, 5)), rng.random((25, 5))]
    truths = [rng.choice([0, 1, 2, 3], 40), rng.choice([0, 1, 3], 25)]  # class 4 never true: skipped
    labels, pooled = np.concatenate(truths), np.concatenate(scores)
    assert per_frame_map(scores, truths) == pytest.approx(reference_map(pooled, labels, [1, 2, 3]))
    # a single array is one video
    assert per_frame_map(pooled, labels) == pytest.approx(reference_map(pooled, labels, [1, 2, 3]))
    # background is not averaged over: another background index changes the result
    assert per_frame_map(scores, truths, background=1) == pytest.approx(reference_map(pooled, labels, [0, 2, 3]))


def test_per_frame_map_removes_ignored_frames_first():
    rng = np.random.default_rng(1)
    scores = rng.random((60, 5))
    labels = rng.choice([0, 1, 2, 4], 60)  # 4 = "Ambiguous"
    keep = labels != 4
    expected = reference_map(scores[keep], labels[keep], [1, 2])
    assert per_frame_map(scores, labels, ignore_index=4) == pytest.approx(expected)
    # not removing them changes the result (they are negatives for classes 1 and 2, and class 4 is averaged)
    assert per_frame_map(scores, labels) != pytest.approx(expected)


def test_per_frame_map_multi_hot_truth():
    rng = np.random.default_rng(2)
    scores = rng.random((50, 4))
    multi = (rng.random((50, 4)) < 0.4).astype(int)  # frames may hold several classes
    expected = np.mean([average_precision_score(multi[:, c], scores[:, c]) for c in (1, 2, 3)])
    assert per_frame_map([scores], [multi]) == pytest.approx(expected)
    # one-hot truth gives the same as labels
    labels = rng.integers(0, 4, 50)
    assert per_frame_map(scores, np.eye(4, dtype=int)[labels]) == pytest.approx(per_frame_map(scores, labels))
    # ignore_index on multi-hot truth removes the frames where that column is set
    keep = multi[:, 3] == 0
    expected = np.mean([average_precision_score(multi[keep, c], scores[keep, c]) for c in (1, 2)])
    assert per_frame_map(scores, multi, ignore_index=3) == pytest.approx(expected)


def test_per_frame_map_thumos_postprocess():
    rng = np.random.default_rng(3)
    scores = rng.random((80, 22))
    labels = rng.choice([0, 5, 8, 12, 21], 80)  # 5 = CliffDiving, 8 = Diving, 21 = Ambiguous
    keep = labels != 21
    s, y = scores[keep], labels[keep]
    diving_score = np.maximum(s[:, 8], s[:, 5])
    diving_truth = (y == 8) | (y == 5)  # every CliffDiving is also a Diving
    expected = np.mean([average_precision_score(y == 5, s[:, 5]),
                        average_precision_score(diving_truth, diving_score),
                        average_precision_score(y == 12, s[:, 12])])
    got = per_frame_map(scores, labels, ignore_index=21, thumos_postprocess=True)
    assert got == pytest.approx(expected)
    assert per_frame_map(scores, labels, ignore_index=21) != pytest.approx(expected)
    # the two columns found by name: names of every column, or of the action columns only
    names = [f"class{i}" for i in range(22)]
    names[5], names[8] = "CliffDiving", "Diving"
    assert per_frame_map(scores, labels, ignore_index=21, thumos_postprocess=True,
                         class_names=names) == pytest.approx(expected)
    assert per_frame_map(scores, labels, ignore_index=21, thumos_postprocess=True,
                         class_names=names[1:]) == pytest.approx(expected)
    with pytest.raises(ValueError, match="needs class_names"):
        per_frame_map(scores[:, :10], np.minimum(labels, 9), thumos_postprocess=True)
    with pytest.raises(ValueError, match="lacks"):
        per_frame_map(scores, labels, thumos_postprocess=True, class_names=[f"c{i}" for i in range(22)])


def test_per_frame_map_without_positives_is_nan():
    assert np.isnan(per_frame_map(np.random.default_rng(0).random((5, 3)), np.zeros(5, dtype=int)))


# ---- calibrated AP -----------------------------------------------------------------------------

def test_calibrated_ap_by_hand():
    # one action class, 6 frames ranked by score: P N P N N N (2 positives, 4 negatives: w = 2)
    truth = np.array([1, 0, 1, 0, 0, 0])
    scores = np.stack([np.zeros(6), np.array([6, 5, 4, 3, 2, 1.0])], axis=1)
    # rank 1: TP 1, FP 0 -> cPrec 1;  rank 3: TP 2, FP 1 -> cPrec = 2 / (2 + 1/2) = 0.8
    # cAP = (1 + 0.8) / 2 = 0.9   (plain AP = (1 + 2/3) / 2 = 0.8333)
    assert calibrated_ap(scores, truth) == pytest.approx(0.9)
    assert per_frame_map(scores, truth) == pytest.approx((1 + 2 / 3) / 2)
    # calibration: four times as many negatives (each repeated) leaves cAP unchanged, AP drops
    repeat = np.where(truth == 1, 1, 4)
    more_neg_truth, more_neg_scores = np.repeat(truth, repeat), np.repeat(scores, repeat, axis=0)
    assert calibrated_ap(more_neg_scores, more_neg_truth) == pytest.approx(0.9)
    assert per_frame_map(more_neg_scores, more_neg_truth) < 0.8


@pytest.mark.parametrize("integer_scores", [False, True])
def test_calibrated_ap_equals_ap_when_balanced(integer_scores):
    rng = np.random.default_rng(4)
    n = 40
    multi = np.zeros((n, 3), dtype=int)  # column 0 = background, never positive
    for c in (1, 2):
        multi[rng.permutation(n)[: n // 2], c] = 1  # exactly as many negatives as positives: w = 1
    scores = rng.integers(0, 4, (n, 3)).astype(float) if integer_scores else rng.random((n, 3))
    expected = np.mean([average_precision_score(multi[:, c], scores[:, c]) for c in (1, 2)])
    # integer scores tie often: tied frames must be ranked together, as scikit-learn does
    assert calibrated_ap([scores], [multi]) == pytest.approx(expected)


def test_calibrated_ap_every_frame_positive():
    scores = np.random.default_rng(5).random((4, 2))
    assert calibrated_ap(scores, np.ones(4, dtype=int)) == pytest.approx(1.0)


# ---- oad_metrics ---------------------------------------------------------------------------------

KEYS = {"seg_f1_0.1", "seg_f1_0.25", "seg_f1_0.5", "point_f1_1s", "point_f1_2s", "map", "cap", "frame_acc"}


def test_oad_metrics_keys_and_values():
    rng = np.random.default_rng(6)
    truths = [seq(30, [(1, 3, 10), (2, 15, 25)]), seq(20, [(2, 0, 6), (1, 12, 20)])]
    scores = [rng.random((len(t), 3)) + 2 * np.eye(3)[t] for t in truths]
    preds = [s.argmax(1) for s in scores]
    m = oad_metrics(preds, truths, scores, fps=2.0)
    assert set(m) == KEYS
    assert all(0.0 <= v <= 1.0 for v in m.values())
    assert m["seg_f1_0.1"] == segment_f1(preds, truths, 0.1)
    assert m["point_f1_2s"] == point_f1(preds, truths, 2.0, seconds=2.0)
    assert m["map"] == pytest.approx(per_frame_map(scores, truths))
    assert m["cap"] == pytest.approx(calibrated_ap(scores, truths))
    assert m["frame_acc"] == pytest.approx(np.mean(np.concatenate(preds) == np.concatenate(truths)))


def test_oad_metrics_ignored_frames():
    truth = np.array([1, 1, 1, 1, 1, 1, 0, 0])
    pred = np.array([1, 1, 2, 1, 1, 1, 0, 1])
    score = np.eye(3)[pred] * 0.8 + 0.1
    ignored = np.array([0, 0, 1, 0, 0, 0, 0, 1], dtype=bool)
    m = oad_metrics([pred], [truth], [score], fps=1.0, ignored=[ignored])
    # F1 (default, the authors' rule): frames 2 and 7 become background in the truth only:
    # truth [0, 2) [3, 6); pred [0, 2) TP, [2, 3) class 2 FP, [3, 6) TP, [7, 8) FP -> 2 / 3
    # point F1 1 s: starts 0 TP, 2 (nearest true start 3, class 2) FP, 3 TP, 7 FP -> 2 / 3
    assert m["seg_f1_0.5"] == pytest.approx(f1(2, 2, 0)) and m["point_f1_1s"] == pytest.approx(f1(2, 2, 0))
    # the earlier rule ("both"): background in prediction too: pred [0, 2) [3, 6): TP 2
    both = oad_metrics([pred], [truth], [score], fps=1.0, ignored=[ignored], ignored_in_f1="both")
    assert both["seg_f1_0.5"] == 1.0 and both["point_f1_1s"] == 1.0
    assert {k: v for k, v in both.items() if "f1" not in k} == {k: v for k, v in m.items() if "f1" not in k}
    # without ignoring: truth [0, 6); pred [0, 2) IoU 1/3, [2, 3) class 2, [3, 6) IoU 1/2, [7, 8)
    # IoU 0.5: TP 1, FP 3, FN 0 -> 2 / 5
    assert oad_metrics([pred], [truth], [score], fps=1.0)["seg_f1_0.5"] == pytest.approx(f1(1, 3, 0))
    # accuracy over the 6 kept frames: all right
    assert m["frame_acc"] == 1.0
    keep = ~ignored
    assert m["map"] == pytest.approx(per_frame_map(score[keep], truth[keep]))
    assert m["cap"] == pytest.approx(calibrated_ap(score[keep], truth[keep]))


def test_oad_metrics_thumos_postprocess_changes_map_only():
    rng = np.random.default_rng(7)
    truth = rng.choice([0, 5, 8], 60)
    scores = rng.random((60, 21))
    preds = scores.argmax(1)
    names = ["Background"] + [f"c{i}" for i in range(1, 21)]
    names[5], names[8] = "CliffDiving", "Diving"
    plain = oad_metrics([preds], [truth], [scores], fps=4.0, class_names=names)
    post = oad_metrics([preds], [truth], [scores], fps=4.0, class_names=names, thumos_postprocess=True)
    assert post["map"] == pytest.approx(per_frame_map(scores, truth, thumos_postprocess=True))
    assert post["map"] != pytest.approx(plain["map"])
    assert {k: v for k, v in post.items() if k != "map"} == {k: v for k, v in plain.items() if k != "map"}


def test_oad_metrics_all_background():
    truth = np.zeros(10, dtype=int)
    pred = seq(10, [(1, 2, 5)])
    m = oad_metrics([pred], [truth], [np.eye(2)[pred]], fps=1.0)
    # FP 1, nothing true: every F1 is 0; no action frame: mAP and cAP undefined (NaN)
    assert all(m[k] == 0.0 for k in KEYS if "f1" in k)
    assert np.isnan(m["map"]) and np.isnan(m["cap"])
    assert m["frame_acc"] == pytest.approx(0.7)


# ---- input checking ----------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    good = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="non-empty list"):
        segment_f1([], [], 0.5)
    with pytest.raises(ValueError, match="video 1"):
        segment_f1([good, good], [good, np.array([0, 1])], 0.5)
    with pytest.raises(ValueError, match="2 videos but truths has 1"):
        point_f1([good, good], [good], fps=1.0)
    with pytest.raises(ValueError, match=r"preds\[0\] must be integer labels"):
        segment_f1([np.zeros((3, 2), dtype=int)], [good], 0.5)
    with pytest.raises(ValueError, match="integer labels"):
        segments(np.array([0.0, 1.5]))
    with pytest.raises(ValueError, match="iou"):
        segment_f1([good], [good], 0.0)
    with pytest.raises(ValueError, match="fps"):
        point_f1([good], [good], fps=0.0)
    scores = np.ones((3, 2))
    with pytest.raises(ValueError, match="NaN"):
        per_frame_map([np.array([[0.1, np.nan]] * 3)], [good])
    with pytest.raises(ValueError, match=r"scores\[0\] must be numeric \[T, C\]"):
        calibrated_ap([np.ones(3)], [good])
    with pytest.raises(ValueError, match=r"video 0: truths\[0\]"):
        per_frame_map([scores], [np.array([0, 1])])
    with pytest.raises(ValueError, match="label 5 at frame 2"):
        per_frame_map([scores], [np.array([0, 1, 5])])
    with pytest.raises(ValueError, match=r"scores\[1\] must be \[T, C\]"):
        oad_metrics([good, good], [good, good], [scores, np.ones((2, 2))], fps=1.0)
    with pytest.raises(ValueError, match=r"ignored\[0\] must be bool"):
        oad_metrics([good], [good], [scores], fps=1.0, ignored=[np.array([0, 1, 0])])
    with pytest.raises(ValueError, match="every frame is ignored"):
        oad_metrics([good], [good], [scores], fps=1.0, ignored=[np.ones(3, dtype=bool)])
