"""THUMOS'14 scoring as the authors' evaluation runs it (issue 18), on hand-made sequences.

- per-frame mAP on the multi-hot target rows as shipped: a CliffDiving frame is a Diving positive too;
- Ambiguous frames removed from mAP;
- the CliffDiving -> Diving *score switch* (`thumos_postprocess`) off by default;
- segment / point F1: predictions at Ambiguous frames keep their label, only the truth there is
  background (a predicted segment running through Ambiguous frames stays one segment);
- `read_oad` keeps the multi-hot truth and `evaluate_oad`'s mAP uses it.

Score columns are the 21 of the evaluation (background + the 20 actions; Ambiguous is not a class
the model scores), so CliffDiving = 5 and Diving = 8 as in the file's 22 columns.
"""
import json
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from gadlib.data.videos import Segment, Video
from gadlib.data.datasets import read_oad
from gadlib.evaluation.metrics import oad_metrics, per_frame_map, point_f1, segment_f1, segments
from gadlib.evaluation.oad import OADConfig, evaluate_oad
from test_readers_real import AMBIGUOUS, BG, CLIFF, DIVING, PITCH, THUMOS_CLASSES, _rows

C = 21  # score columns: background + 20 actions


def _scores(rows: dict[int, dict[int, float]], frames: int) -> np.ndarray:
    """float [frames, C]: 0 except scores[t, c] = value for the {t: {c: value}} given."""
    s = np.zeros((frames, C))
    for t, values in rows.items():
        for c, v in values.items():
            s[t, c] = v
    return s


def _sklearn_map(scores: np.ndarray, multi_hot: np.ndarray) -> float:
    """Mean of scikit-learn's AP over the action columns with a positive frame."""
    return float(np.mean([average_precision_score(multi_hot[:, c], scores[:, c])
                          for c in range(1, C) if multi_hot[:, c].any()]))


# Four frames: background, CliffDiving (+ Diving, as THUMOS'14 ships it) twice, Diving.
LABELS = np.array([BG, CLIFF, CLIFF, DIVING])  # what frame_labels() gives (argmax: CliffDiving wins)
MULTI_HOT = _rows([BG], [CLIFF, DIVING], [CLIFF, DIVING], [DIVING], num_classes=C).astype(bool)
SCORES = _scores({0: {CLIFF: 0.9, DIVING: 0.1}, 1: {CLIFF: 0.8, DIVING: 0.7}, 2: {CLIFF: 0.8, DIVING: 0.7},
                  3: {CLIFF: 0.2, DIVING: 0.6}}, 4)


# ---- (a) multi-hot truth ---------------------------------------------------------------------------

def test_map_on_multi_hot_rows_counts_cliff_diving_as_diving_too():
    m = oad_metrics([SCORES.argmax(1)], [LABELS], [SCORES], fps=4.0, multi_hot_truths=[MULTI_HOT])
    # By hand. CliffDiving, ranked 0.9 N, 0.8 P P (tie), 0.2 N: AP = 2/3 (precision 2/3 at recall 1).
    # Diving (positives: frames 1, 2, 3), ranked 0.7 P P, 0.6 P, 0.1 N: AP = 1.
    assert m["map"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["map"] == pytest.approx(_sklearn_map(SCORES, MULTI_HOT))
    # One label per frame (Diving positive at frame 3 only: 0.7 N N, 0.6 P -> AP 1/3) gives another number.
    one_hot = oad_metrics([SCORES.argmax(1)], [LABELS], [SCORES], fps=4.0)
    assert one_hot["map"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    # F1 and frame accuracy stay on the one label per frame
    assert {k: v for k, v in m.items() if k not in ("map", "cap")} == \
        {k: v for k, v in one_hot.items() if k not in ("map", "cap")}


def test_map_on_multi_hot_rows_equals_sklearn_on_a_longer_sequence():
    rng = np.random.default_rng(0)
    per_frame = ([BG], [BG], [CLIFF, DIVING], [CLIFF, DIVING], [CLIFF, DIVING], [DIVING], [DIVING], [BG],
                 [PITCH], [PITCH], [BG], [CLIFF, DIVING], [BG], [DIVING], [BG])
    multi = _rows(*per_frame, num_classes=C).astype(bool)
    labels = np.array([min(f) for f in per_frame])  # the lowest column, as read_oad reads it
    scores = [rng.random((9, C)), rng.random((6, C))]  # two videos, pooled
    got = oad_metrics([s.argmax(1) for s in scores], [labels[:9], labels[9:]], scores, fps=4.0,
                      multi_hot_truths=[multi[:9], None])  # None: that video's labels are its truth
    multi_video_2 = np.eye(C, dtype=bool)[labels[9:]]  # one-hot from labels (frame 11 loses Diving)
    assert got["map"] == pytest.approx(_sklearn_map(np.concatenate(scores),
                                                    np.concatenate([multi[:9], multi_video_2])))


# ---- (b) Ambiguous frames are out of mAP ------------------------------------------------------------

def test_ambiguous_frames_are_removed_from_map():
    # frame 4: Ambiguous (background in frame_labels, background-only row in the multi-hot truth),
    # scored highest for Diving: were it kept, it would be a Diving negative ranked first
    labels = np.r_[LABELS, BG]
    multi = np.r_[MULTI_HOT, np.eye(C, dtype=bool)[[BG]]]
    scores = np.r_[SCORES, _scores({0: {DIVING: 0.95}}, 1)]
    ignored = np.array([0, 0, 0, 0, 1], dtype=bool)
    m = oad_metrics([scores.argmax(1)], [labels], [scores], fps=4.0, ignored=[ignored], multi_hot_truths=[multi])
    assert m["map"] == pytest.approx((2 / 3 + 1) / 2)  # as without frame 4
    assert m["map"] == pytest.approx(_sklearn_map(scores[~ignored], multi[~ignored]))
    kept = oad_metrics([scores.argmax(1)], [labels], [scores], fps=4.0, multi_hot_truths=[multi])
    # Diving: 0.95 N, 0.7 P P, 0.6 P, 0.1 N: AP = (2/3 * 2/3 + 1/3 * 3/4)
    assert kept["map"] == pytest.approx((2 / 3 + (2 / 3 * 2 / 3 + 1 / 3 * 3 / 4)) / 2)


# ---- (c) the CliffDiving -> Diving score switch is off by default -------------------------------------

def test_score_switch_is_off_by_default():
    names = ["Background"] + THUMOS_CLASSES[1:21]
    default = oad_metrics([SCORES.argmax(1)], [LABELS], [SCORES], fps=4.0, class_names=names,
                          multi_hot_truths=[MULTI_HOT])
    switched = oad_metrics([SCORES.argmax(1)], [LABELS], [SCORES], fps=4.0, class_names=names,
                           multi_hot_truths=[MULTI_HOT], thumos_postprocess=True)
    # With the switch the Diving score is max(Diving, CliffDiving): 0.9 N, 0.8 P P, 0.6 P, so
    # Diving's AP drops from 1 to 2/3 * 2/3 + 1/3 * 3/4; CliffDiving's stays 2/3.
    assert default["map"] == pytest.approx((2 / 3 + 1) / 2)
    assert switched["map"] == pytest.approx((2 / 3 + (2 / 3 * 2 / 3 + 1 / 3 * 3 / 4)) / 2)
    assert per_frame_map([SCORES], [MULTI_HOT]) == pytest.approx(default["map"])


# ---- (d) F1: predictions at Ambiguous frames keep their label -----------------------------------------

# frames 0-9: BaseballPitch on [2, 5), Ambiguous at 5 and 6 (background in frame_labels);
# the prediction runs BaseballPitch from 2 through the Ambiguous frames to 7.
F1_TRUTH = np.array([0, 0, 1, 1, 1, 0, 0, 0, 0, 0])
F1_PRED = np.array([0, 0, 1, 1, 1, 1, 1, 1, 0, 0])
F1_IGNORED = np.array([0, 0, 0, 0, 0, 1, 1, 0, 0, 0], dtype=bool)


def test_predicted_segment_through_ambiguous_frames_stays_one_segment():
    scores = np.eye(C)[F1_PRED]
    m = oad_metrics([F1_PRED], [F1_TRUTH], [scores], fps=1.0, ignored=[F1_IGNORED])
    # authors' rule: the prediction is one segment [2, 8); the truth [2, 5): IoU 3/6 = 0.5
    assert segments(F1_PRED) == [(1, 2, 8)]
    assert m["seg_f1_0.1"] == m["seg_f1_0.5"] == 1.0  # TP 1, FP 0, FN 0
    assert m["point_f1_1s"] == 1.0  # one predicted start, at 2, on the true start
    # the earlier rule cut it in two at frames 5-6: [2, 5) TP, [7, 8) FP -> 2 / 3 (also for point F1:
    # the start at 7 is 5 frames from the true start)
    old = oad_metrics([F1_PRED], [F1_TRUTH], [scores], fps=1.0, ignored=[F1_IGNORED], ignored_in_f1="both")
    assert old["seg_f1_0.5"] == pytest.approx(2 / 3) and old["point_f1_1s"] == pytest.approx(2 / 3)
    # the same as the plain metrics with the truth (only) set to background there
    assert m["seg_f1_0.5"] == segment_f1([F1_PRED], [np.where(F1_IGNORED, 0, F1_TRUTH)], 0.5)
    assert m["point_f1_2s"] == point_f1([F1_PRED], [np.where(F1_IGNORED, 0, F1_TRUTH)], 1.0, 2.0)
    # mAP and frame accuracy still leave the Ambiguous frames out, under either rule
    assert m["frame_acc"] == old["frame_acc"] == pytest.approx(7 / 8)
    assert m["map"] == old["map"]


def test_an_action_predicted_only_at_ambiguous_frames_is_a_false_positive():
    pred = np.array([0, 0, 1, 1, 1, 0, 2, 0, 0, 0])  # class 2 predicted at Ambiguous frame 6 only
    m = oad_metrics([pred], [F1_TRUTH], [np.eye(C)[pred]], fps=1.0, ignored=[F1_IGNORED])
    assert m["seg_f1_0.5"] == pytest.approx(2 / 3)  # TP 1 ([2, 5)), FP 1 ([6, 7), class 2)
    old = oad_metrics([pred], [F1_TRUTH], [np.eye(C)[pred]], fps=1.0, ignored=[F1_IGNORED], ignored_in_f1="both")
    assert old["seg_f1_0.5"] == 1.0  # nothing blamed there
    with pytest.raises(ValueError, match="ignored_in_f1"):
        oad_metrics([pred], [F1_TRUTH], [np.eye(C)[pred]], fps=1.0, ignored_in_f1="prediction")


# ---- (e) read_oad keeps the multi-hot truth; evaluate_oad's mAP uses it ---------------------------

TEST_ROWS = _rows([BG], [CLIFF, DIVING], [CLIFF, DIVING], [DIVING], [AMBIGUOUS], [AMBIGUOUS, DIVING],
                  [PITCH], [PITCH], [BG], [BG])
TEST_SCORES = _scores({0: {CLIFF: 0.9, DIVING: 0.1, BG: 1.0}, 1: {CLIFF: 0.8, DIVING: 0.7},
                       2: {CLIFF: 0.8, DIVING: 0.7}, 3: {CLIFF: 0.2, DIVING: 0.6},
                       4: {DIVING: 0.95}, 5: {DIVING: 0.95}, 6: {PITCH: 0.9}, 7: {PITCH: 0.4},
                       8: {PITCH: 0.5, BG: 1.0}, 9: {BG: 1.0}}, 10)


@pytest.fixture
def thumos(tmp_path):
    """A THUMOS'14-style folder: 22 target columns (Ambiguous = 21), multi-hot CliffDiving + Diving
    rows; feature [t, 0] = t, so a stand-in classifier knows which frame a window ends at."""
    root = tmp_path / "THUMOS"
    for folder in ("rgb", "target_perframe"):
        (root / folder).mkdir(parents=True)
    info = {"class_names": THUMOS_CLASSES, "num_classes": 22, "ignore_index": 21, "fps": 4,
            "train_session_set": ["video_validation_0000001"], "test_session_set": ["video_test_0000001"]}
    (root / "data_info.json").write_text(json.dumps({"THUMOS": info}))
    for vid, target in (("video_validation_0000001", _rows([BG], [PITCH], [BG])), ("video_test_0000001", TEST_ROWS)):
        np.save(root / "target_perframe" / f"{vid}.npy", target)
        features = np.stack([np.arange(len(target)), np.ones(len(target))], axis=1).astype(np.float32)
        np.save(root / "rgb" / f"{vid}.npy", features)
    return root


class FrameScores:
    """Stands in for a classifier: the scores of the frame each window ends at, from a table."""

    def __init__(self, table: np.ndarray):
        self.table = table

    def eval(self):
        return self

    def predict(self, batch):
        frames = [int(v[-1, 0]) for v in batch.visual]  # the last token is frame t
        scores = self.table[frames].astype(np.float32)
        return SimpleNamespace(scores=scores, pred=scores.argmax(1))


def test_read_oad_keeps_multi_hot_truth_and_evaluate_oad_scores_it(thumos):
    data = read_oad(thumos, feature_dir="rgb")
    video = data.split("test")[0]
    cliff, diving = data.step_names.index("CliffDiving") + 1, data.step_names.index("Diving") + 1
    assert (cliff, diving) == (CLIFF, DIVING)
    # training targets: one label per frame, lowest column of a multi-hot row; Ambiguous -> ignored
    assert video.frame_labels().tolist() == [0, CLIFF, CLIFF, DIVING, 0, 0, PITCH, PITCH, 0, 0]
    assert video.segments == [Segment(1, 3, CLIFF - 1), Segment(3, 4, DIVING - 1), Segment(6, 8, PITCH - 1)]
    assert np.flatnonzero(video.ignored_mask()).tolist() == [4, 5]
    # the rest of the rows, kept for mAP: Diving at 1 and 2 (not at the ignored frame 5)
    assert video.also_true.tolist() == [[1, DIVING], [2, DIVING]]
    truth = video.multi_hot_truth(C)
    expected = TEST_ROWS[:, :C] > 0
    expected[[4, 5]] = np.eye(C, dtype=bool)[BG]  # Ambiguous rows: background only (removed when scored)
    assert truth.dtype == bool and np.array_equal(truth, expected)
    # a video whose rows are one-hot has no multi-hot truth: its labels are the truth
    assert data.split("train")[0].multi_hot_truth(C) is None
    assert Video("own", np.zeros((3, 1, 2), np.float32), [Segment(0, 2, 0)], None, "test").multi_hot_truth(C) is None
    with pytest.raises(ValueError, match="no column for label 8"):
        video.multi_hot_truth(5)

    result = evaluate_oad(FrameScores(TEST_SCORES), data, "test", OADConfig(window=1, long_context=0), batch_size=4)
    dense = result["videos"][0]
    np.testing.assert_allclose(dense.scores, TEST_SCORES, atol=1e-7)
    keep = ~video.ignored_mask()
    # mAP on the multi-hot rows as shipped, Ambiguous frames removed, no score switch
    want = _sklearn_map(TEST_SCORES[keep], (TEST_ROWS[:, :C] > 0)[keep])
    assert result["metrics"]["map"] == pytest.approx(want)
    # by hand: CliffDiving 2/3 (as above), Diving 1 (frames 4, 5 removed), BaseballPitch:
    # 0.9 P, 0.5 N, 0.4 P -> (1 + 2/3) / 2
    assert want == pytest.approx((2 / 3 + 1 + 5 / 6) / 3)
    one_label = per_frame_map([TEST_SCORES[keep]], [video.frame_labels()[keep]])
    assert result["metrics"]["map"] != pytest.approx(one_label)
    switched = per_frame_map([TEST_SCORES[keep]], [(TEST_ROWS[:, :C] > 0)[keep]], thumos_postprocess=True)
    assert result["metrics"]["map"] != pytest.approx(switched)
    # F1 on one label per frame: Diving predicted at the Ambiguous frames 4-5 keeps its label, so the
    # predicted Diving run is [3, 6) against the true [3, 4) (IoU 1/3): a TP at IoU 0.1, an FP and an
    # FN at 0.5; CliffDiving [1, 3) and BaseballPitch [6, 8) match exactly
    assert segments(dense.pred) == [(CLIFF, 1, 3), (DIVING, 3, 6), (PITCH, 6, 8)]
    assert result["metrics"]["seg_f1_0.1"] == 1.0
    assert result["metrics"]["seg_f1_0.5"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
