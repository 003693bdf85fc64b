"""Metrics: the summaries notebooks report (top-k accuracy is `gadlib.core.training.accuracy_metrics`);
online action detection (OAD) metrics: segment F1, point F1, per-frame mAP, calibrated AP.

Accuracy: explained in notebooks/01_generative_vs_discriminative.ipynb.
OAD metrics: explained in notebooks/05_online_action_detection.ipynb.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score


def mean_std(values) -> dict:
    """{"mean", "std", "per_seed"} over seeds (std with ddof=1 when there are 2+ seeds)."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "per_seed": [float(x) for x in v]}


# ------------------------------------------------------------------------------------------------
# Online action detection (OAD) metrics. Explained in notebooks/05_online_action_detection.ipynb.
#
# Every function takes one array per video (a list); a single array is read as one video.
# Frame labels are integers, `background` marks "no action". Fractions in [0, 1], not percent.
# ------------------------------------------------------------------------------------------------

# THUMOS'14 column layout of the MAT/TeSTra community: 0 = Background, 1..20 = the actions in
# alphabetical order, 21 = Ambiguous (sometimes left out). CliffDiving and Diving sit here:
THUMOS_CLIFF_DIVING, THUMOS_DIVING = 5, 8


def segments(labels: np.ndarray, background: int = 0) -> list[tuple[int, int, int]]:
    """(label, start, end_exclusive) runs of one label, background runs dropped.

    >>> segments(np.array([0, 2, 2, 0, 0, 1]))
    [(2, 1, 3), (1, 5, 6)]
    """
    labels = _labels(labels, "labels")
    if len(labels) == 0:
        return []
    boundaries = np.flatnonzero(labels[1:] != labels[:-1]) + 1  # first frame of every new run
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(labels)]])
    return [(int(labels[s]), int(s), int(e)) for s, e in zip(starts, ends) if labels[s] != background]


def segment_f1(preds: list[np.ndarray], truths: list[np.ndarray], iou: float, background: int = 0) -> float:
    """Segment F1 at an IoU threshold (action-segmentation convention, as MS-TCN's `f_score`).

    Per video, predicted segments are visited in temporal order; each takes the true segment of the
    same class with the highest IoU (ties: the earliest true segment). It is a true positive if
    that IoU >= `iou` and that true segment was not matched before, else a false positive; so when two
    predicted segments cover one true segment, the first one that reaches the threshold gets it, even
    if a later one overlaps more. Unmatched true segments are false negatives.
    TP/FP/FN are summed over all videos, then F1 = 2 TP / (2 TP + FP + FN): long videos with many
    segments weigh more than in a mean of per-video F1s.
    No true positive gives 0, including the 0/0 case of no true and no predicted segments anywhere
    (scikit-learn's `zero_division` default): an all-background evaluation set scores 0, not 1.
    """
    return _f1(*segment_f1_counts(preds, truths, iou, background).sum(0))


def segment_f1_counts(preds: list[np.ndarray], truths: list[np.ndarray], iou: float,
                      background: int = 0) -> np.ndarray:
    """int64 [V, 3]: per video, the TP, FP, FN that `segment_f1` sums (`gadlib.evaluation.intervals`
    resamples videos from them)."""
    if not 0 < iou <= 1:
        raise ValueError(f"iou must be in (0, 1]; got {iou}")
    return np.array([_segment_counts(segments(pred, background), segments(truth, background), iou)
                     for pred, truth in _paired_videos(preds, truths)], dtype=np.int64).reshape(-1, 3)


def point_f1(preds, truths, fps: float, seconds: float = 1.0, background: int = 0) -> float:
    """Point F1 on action starts within `seconds` (StartNet / WOAD convention).

    Per video, every predicted segment start (background dropped; a segment at frame 0 counts) takes
    the nearest true segment start of *any* class (equidistant: the earlier true start). It is a
    true positive if it is at most `seconds * fps` frames away, has the same class and that true start
    was not matched before, else a false positive. Unmatched true starts are false negatives.
    Counts are summed over videos; F1 and its 0/0 case as in `segment_f1`.
    """
    return _f1(*point_f1_counts(preds, truths, fps, seconds, background).sum(0))


def point_f1_counts(preds, truths, fps: float, seconds: float = 1.0, background: int = 0) -> np.ndarray:
    """int64 [V, 3]: per video, the TP, FP, FN that `point_f1` sums."""
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number; got {fps}")
    if not (np.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"seconds must be >= 0; got {seconds}")
    return np.array([_start_counts(segments(pred, background), segments(truth, background), seconds * fps)
                     for pred, truth in _paired_videos(preds, truths)], dtype=np.int64).reshape(-1, 3)


def f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """F1 = 2 TP / (2 TP + FP + FN) of counts [..., 3] (TP, FP, FN), 0 where TP = 0 (as `segment_f1`)."""
    counts = np.asarray(counts, dtype=float)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    return np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12), 0.0)


def per_frame_map(scores: list[np.ndarray] | np.ndarray, truths, background: int = 0,
                  ignore_index: int | None = None, thumos_postprocess: bool = False,
                  class_names: list[str] | None = None) -> float:
    """Per-frame mean average precision (MAT / TeSTra convention).

    Frames of all videos are pooled. Frames whose truth is `ignore_index` are removed first; then
    scikit-learn's `average_precision_score` per class over all frames, skipping `background` and
    `ignore_index`, averaged over the classes with at least one positive frame (NaN if none has).
    `scores`: float [T, C] per video. `truths`: labels [T] or multi-hot [T, C] per video.

    `thumos_postprocess` (THUMOS'14, the "switch" of the per-frame protocol of Shou et al. 2017, CDC):
    every CliffDiving is also a Diving, so the Diving score becomes max(Diving, CliffDiving) per frame,
    and CliffDiving frames also count as Diving positives (THUMOS annotates each CliffDiving instance
    as Diving too; a no-op for multi-hot truth that already has both). The CDC protocol's other option,
    a 5-frame max smoothing, looks at future frames, so it is not offered (online setting).
    Off by default, and not the authors' evaluation: theirs scores the multi-hot target rows as
    shipped (a CliffDiving frame is a Diving positive too, `Video.multi_hot_truth`) with the scores
    unchanged and the Ambiguous frames dropped, i.e. `ignore_index=21` (or `ignored` in
    `oad_metrics`) with this left False. Kept to compare with papers that use the CDC protocol.
    The two columns come from `class_names` (one name per score column, or per non-background
    column) or, without names, from the 21/22-column MAT/TeSTra layout.
    """
    scores, truth = _pooled_frames(scores, truths, ignore_index)
    if thumos_postprocess:
        scores, truth = _thumos_diving_as_cliff_diving(scores, truth, class_names, background)
    aps = [average_precision_score(truth[:, c], scores[:, c])
           for c in _scored_classes(truth, background, ignore_index)]
    return float(np.mean(aps)) if aps else float("nan")


def calibrated_ap(scores, truths, background: int = 0, ignore_index: int | None = None) -> float:
    """Calibrated average precision, mean over classes (TVSeries convention, De Geest et al. 2016).

    Plain precision drops when a class has more negative frames, so AP is not comparable across
    classes and data sets. With w = negatives / positives (frames of one class, pooled over videos),
    the calibrated precision `cPrec = TP / (TP + FP / w)` is the precision as if the class had as
    many negatives as positives; cAP averages it over the positive frames, as AP averages precision.
    Frames tied in score are ranked together (as scikit-learn's AP does), so cAP equals AP when w = 1.
    Inputs, frame removal and class selection as in `per_frame_map`.
    """
    scores, truth = _pooled_frames(scores, truths, ignore_index)
    caps = [_calibrated_ap_one_class(truth[:, c], scores[:, c])
            for c in _scored_classes(truth, background, ignore_index)]
    return float(np.mean(caps)) if caps else float("nan")


IGNORED_IN_F1 = ("truth", "both")


def oad_metrics(preds: list[np.ndarray], truths: list[np.ndarray], scores: list[np.ndarray], fps: float,
                ignored: list[np.ndarray] | None = None, background: int = 0,
                class_names: list[str] | None = None, thumos_postprocess: bool = False,
                multi_hot_truths: list[np.ndarray | None] | None = None,
                ignored_in_f1: str = "truth") -> dict[str, float]:
    """All OAD metrics of one evaluation, per video inputs: predicted labels [T], true labels [T],
    class scores [T, C] (the labels are usually `scores.argmax(1)`, but need not be).

    `ignored` (bool [T] per video, e.g. THUMOS'14's Ambiguous frames): for "map", "cap" and
    "frame_acc" they are removed. For segment and point F1, `ignored_in_f1` says what happens there:
    "truth" (default, the authors' evaluation): only the truth becomes background, the prediction
    keeps its label, so a predicted segment running through an Ambiguous frame stays one segment;
    "both" (gadlib's earlier rule, not the authors'): prediction and truth both become background,
    which cuts such a segment in two and credits or blames nothing there.
    `multi_hot_truths` (per video bool [T, C] or None, `Video.multi_hot_truth`): the target rows as
    shipped, used instead of `truths` for "map" and "cap" (THUMOS'14: a CliffDiving frame is a Diving
    positive too); F1 and frame_acc use `truths`, one label per frame.
    `thumos_postprocess` (with `class_names`, see `per_frame_map`) applies to "map" only; off by
    default, as in the authors' evaluation.
    Returns {"seg_f1_0.1", "seg_f1_0.25", "seg_f1_0.5", "point_f1_1s", "point_f1_2s", "map", "cap",
    "frame_acc"}; frame_acc = fraction of kept frames whose predicted label is the true one.
    "map" and "cap" are NaN when no kept frame holds an action (they are undefined then).
    """
    if ignored_in_f1 not in IGNORED_IN_F1:
        raise ValueError(f"ignored_in_f1 should be one of {IGNORED_IN_F1}, got {ignored_in_f1!r}")
    pairs = _paired_videos(preds, truths)
    scores = _video_list(scores, "scores")
    if len(scores) != len(pairs):
        raise ValueError(f"scores has {len(scores)} videos but preds/truths have {len(pairs)}")
    for i, (s, (_, truth)) in enumerate(zip(scores, pairs)):
        if s.ndim != 2 or len(s) != len(truth):
            raise ValueError(f"scores[{i}] must be [T, C] with T = len(truths[{i}]) = {len(truth)}; "
                             f"got shape {s.shape}")
    if ignored is None:
        ignored = [np.zeros(len(truth), dtype=bool) for _, truth in pairs]
    else:
        ignored = _video_list(ignored, "ignored")
        if len(ignored) != len(pairs):
            raise ValueError(f"ignored has {len(ignored)} videos but preds/truths have {len(pairs)}")
        for i, (m, (_, truth)) in enumerate(zip(ignored, pairs)):
            if m.shape != truth.shape or m.dtype != bool:
                raise ValueError(f"ignored[{i}] must be bool [T] with T = len(truths[{i}]) = {len(truth)}; "
                                 f"got {m.dtype} {m.shape}")
    map_truths = [t for _, t in pairs]
    if multi_hot_truths is not None:
        if not isinstance(multi_hot_truths, (list, tuple)) or len(multi_hot_truths) != len(pairs):
            raise ValueError(f"multi_hot_truths must be a list with one [T, C] array (or None) per video, "
                             f"{len(pairs)} videos")
        for i, m in enumerate(multi_hot_truths):
            if m is not None:
                if np.ndim(m) != 2 or np.shape(m) != scores[i].shape:
                    raise ValueError(f"multi_hot_truths[{i}] must be [T, C] = {scores[i].shape} like scores[{i}]; "
                                     f"got shape {np.shape(m)}")
                map_truths[i] = np.asarray(m)
    f1_preds = [np.where(m, background, p) if ignored_in_f1 == "both" else p for (p, _), m in zip(pairs, ignored)]
    f1_truths = [np.where(m, background, t) for (_, t), m in zip(pairs, ignored)]
    kept_preds = [p[~m] for (p, _), m in zip(pairs, ignored)]
    kept_truths = [t[~m] for (_, t), m in zip(pairs, ignored)]
    kept_map_truths = [t[~m] for t, m in zip(map_truths, ignored)]
    kept_scores = [s[~m] for s, m in zip(scores, ignored)]
    n_kept = sum(len(t) for t in kept_truths)
    if n_kept == 0:
        raise ValueError("every frame is ignored: nothing to evaluate")
    return {
        "seg_f1_0.1": segment_f1(f1_preds, f1_truths, 0.1, background),
        "seg_f1_0.25": segment_f1(f1_preds, f1_truths, 0.25, background),
        "seg_f1_0.5": segment_f1(f1_preds, f1_truths, 0.5, background),
        "point_f1_1s": point_f1(f1_preds, f1_truths, fps, 1.0, background),
        "point_f1_2s": point_f1(f1_preds, f1_truths, fps, 2.0, background),
        "map": per_frame_map(kept_scores, kept_map_truths, background, thumos_postprocess=thumos_postprocess,
                             class_names=class_names),
        "cap": calibrated_ap(kept_scores, kept_map_truths, background),
        "frame_acc": float(np.mean(np.concatenate(kept_preds) == np.concatenate(kept_truths))),
    }


# ---- helpers: matching -------------------------------------------------------------------------

def _segment_counts(pred_segs, true_segs, iou: float) -> np.ndarray:
    """[TP, FP, FN] of one video for `segment_f1`."""
    if not true_segs:
        return np.array([0, len(pred_segs), 0])
    pred, true = np.array(pred_segs).reshape(-1, 3), np.array(true_segs)
    overlaps = _iou_matrix(pred, true)
    overlaps[pred[:, :1] != true[None, :, 0]] = 0.0  # only a true segment of the same class can match
    matched = np.zeros(len(true), dtype=bool)
    tp = 0
    for best, overlap in zip(overlaps.argmax(1), overlaps.max(1)):  # argmax: first of equal maxima
        if overlap >= iou and not matched[best]:
            matched[best] = True
            tp += 1
    return np.array([tp, len(pred) - tp, len(true) - tp])


def _iou_matrix(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """IoU [P, T] between (label, start, end) rows; ends exclusive."""
    p_start, p_end = pred[:, 1, None], pred[:, 2, None]  # [P, 1]
    t_start, t_end = true[None, :, 1], true[None, :, 2]  # [1, T]
    intersection = np.minimum(p_end, t_end) - np.maximum(p_start, t_start)
    hull = np.maximum(p_end, t_end) - np.minimum(p_start, t_start)  # the union when they overlap
    return np.where(intersection > 0, intersection / hull, 0.0)


def _start_counts(pred_segs, true_segs, tolerance: float) -> np.ndarray:
    """[TP, FP, FN] of one video for `point_f1`; `tolerance` in frames."""
    if not true_segs:
        return np.array([0, len(pred_segs), 0])
    pred, true = np.array(pred_segs).reshape(-1, 3), np.array(true_segs)
    distance = np.abs(pred[:, 1:2] - true[None, :, 1])  # [P, T] between starts
    nearest = distance.argmin(1)  # first of equal minima: true starts are sorted, so the earlier one
    matched = np.zeros(len(true), dtype=bool)
    tp = 0
    for p, best in enumerate(nearest):
        if distance[p, best] <= tolerance and true[best, 0] == pred[p, 0] and not matched[best]:
            matched[best] = True
            tp += 1
    return np.array([tp, len(pred) - tp, len(true) - tp])


def _f1(tp: int, fp: int, fn: int) -> float:
    # 2PR / (P + R) written with counts, so that P or R = 0/0 needs no special case
    return float(f1_from_counts(np.array([tp, fp, fn])))


def _calibrated_ap_one_class(positive: np.ndarray, score: np.ndarray) -> float:
    score = score.astype(np.float64)  # negating unsigned integer scores would wrap around
    order = np.argsort(-score, kind="stable")
    tp = np.cumsum(positive[order])
    fp = np.cumsum(~positive[order])
    # evaluate at each distinct score only (its last frame in the ranking): ties enter together
    last_of_tie = np.r_[np.flatnonzero(np.diff(score[order])), len(score) - 1]
    tp, fp = tp[last_of_tie], fp[last_of_tie]
    n_pos = positive.sum()
    w = (len(positive) - n_pos) / n_pos
    # w = 0 (every frame positive) leaves no false positive to calibrate: precision 1 throughout
    cprec = tp / (tp + fp / w) if w > 0 else np.ones(len(tp))
    recall_gain = np.diff(np.r_[0, tp]) / n_pos
    return float(np.sum(recall_gain * cprec))


# ---- helpers: input checking -------------------------------------------------------------------

def _labels(labels, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or len(labels) == 0):
        raise ValueError(f"{name} must be integer labels [T]; got {labels.dtype} {labels.shape}")
    return labels.astype(np.int64)


def _video_list(videos, name: str) -> list[np.ndarray]:
    if isinstance(videos, np.ndarray):
        videos = [videos]
    if not isinstance(videos, (list, tuple)) or len(videos) == 0:
        raise ValueError(f"{name} must be a non-empty list with one array per video; got {type(videos).__name__} "
                         f"of length {len(videos) if hasattr(videos, '__len__') else '?'}")
    return [np.asarray(v) for v in videos]


def _paired_videos(preds, truths) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-video (pred, truth) label arrays, checked: same number of videos, same length each."""
    preds, truths = _video_list(preds, "preds"), _video_list(truths, "truths")
    if len(preds) != len(truths):
        raise ValueError(f"preds has {len(preds)} videos but truths has {len(truths)}")
    pairs = []
    for i, (p, t) in enumerate(zip(preds, truths)):
        p, t = _labels(p, f"preds[{i}]"), _labels(t, f"truths[{i}]")
        if len(p) != len(t):
            raise ValueError(f"video {i}: preds[{i}] has {len(p)} frames but truths[{i}] has {len(t)}")
        pairs.append((p, t))
    return pairs


def _pooled_frames(scores, truths, ignore_index: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Frames of all videos: float scores [N, C] and bool multi-hot truth [N, C], ignored frames removed."""
    scores, truths = _video_list(scores, "scores"), _video_list(truths, "truths")
    if len(scores) != len(truths):
        raise ValueError(f"scores has {len(scores)} videos but truths has {len(truths)}")
    num_classes = scores[0].shape[-1] if scores[0].ndim == 2 else None
    kept_scores, kept_truths = [], []
    for i, (s, t) in enumerate(zip(scores, truths)):
        if s.ndim != 2 or s.shape[1] != num_classes or not np.issubdtype(s.dtype, np.number):
            raise ValueError(f"scores[{i}] must be numeric [T, C] with the same C in every video; got "
                             f"{s.dtype} {s.shape} (scores[0] has shape {scores[0].shape})")
        if not np.isfinite(s).all():
            raise ValueError(f"scores[{i}] has NaN or infinite values (first at frame "
                             f"{int(np.argwhere(~np.isfinite(s))[0, 0])})")
        if t.ndim not in (1, 2) or len(t) != len(s) or (t.ndim == 2 and t.shape[1] != num_classes):
            raise ValueError(f"video {i}: truths[{i}] must be labels [T] or multi-hot [T, C] matching "
                             f"scores[{i}] {s.shape}; got {t.shape}")
        positives, ignored = _multi_hot(t, num_classes, ignore_index, f"truths[{i}]")
        kept_scores.append(s[~ignored])  # dtype kept: EK100-sized [N, ~3800] scores are large
        kept_truths.append(positives[~ignored])
    scores, truth = np.concatenate(kept_scores), np.concatenate(kept_truths)
    if len(scores) == 0:
        raise ValueError("no frame left to evaluate (every frame is ignored or the videos are empty)")
    return scores, truth


def _multi_hot(truth: np.ndarray, num_classes: int, ignore_index: int | None, name: str):
    """(bool [T, C] truth, bool [T] ignored) from labels [T] or multi-hot [T, C]."""
    if truth.ndim == 2:
        if not np.isin(truth, (0, 1)).all():
            raise ValueError(f"{name}: multi-hot truth must hold only 0/1 (or bool) values")
        truth = truth.astype(bool)
        if ignore_index is None:
            return truth, np.zeros(len(truth), dtype=bool)
        if not 0 <= ignore_index < num_classes:
            raise ValueError(f"ignore_index {ignore_index} is not a column of {name} [T, {num_classes}]")
        return truth, truth[:, ignore_index]
    labels = _labels(truth, name)
    ignored = labels == ignore_index if ignore_index is not None else np.zeros(len(labels), dtype=bool)
    bad = (~ignored) & ((labels < 0) | (labels >= num_classes))
    if bad.any():
        raise ValueError(f"{name}: label {labels[bad][0]} at frame {int(np.flatnonzero(bad)[0])} is not a "
                         f"score column (scores have C = {num_classes})")
    one_hot = np.zeros((len(labels), num_classes), dtype=bool)
    one_hot[np.flatnonzero(~ignored), labels[~ignored]] = True
    return one_hot, ignored


def _scored_classes(truth: np.ndarray, background: int, ignore_index: int | None) -> list[int]:
    """Classes averaged over: not background, not ignored, at least one positive frame."""
    return [c for c in range(truth.shape[1]) if c not in (background, ignore_index) and truth[:, c].any()]


def _thumos_diving_as_cliff_diving(scores, truth, class_names, background):
    """THUMOS'14 post-processing of `per_frame_map`: CliffDiving also counts as Diving."""
    cliff, diving = _thumos_diving_columns(class_names, scores.shape[1], background)
    scores, truth = scores.copy(), truth.copy()
    scores[:, diving] = np.maximum(scores[:, diving], scores[:, cliff])
    truth[:, diving] |= truth[:, cliff]
    return scores, truth


def _thumos_diving_columns(class_names, num_classes: int, background: int) -> tuple[int, int]:
    if class_names is None:
        if num_classes not in (21, 22) or background != 0:
            raise ValueError(f"thumos_postprocess needs class_names (with 'CliffDiving' and 'Diving') unless "
                             f"scores use the MAT/TeSTra THUMOS'14 layout (21 or 22 columns, background 0); "
                             f"got {num_classes} columns, background {background}")
        return THUMOS_CLIFF_DIVING, THUMOS_DIVING
    names = list(class_names)
    if len(names) == num_classes - 1 and 0 <= background < num_classes:
        names.insert(background, None)  # names of the action columns only: put background back
    if len(names) != num_classes:
        raise ValueError(f"class_names has {len(class_names)} names; scores have {num_classes} columns "
                         f"(give one name per column, or per non-background column)")
    missing = [n for n in ("CliffDiving", "Diving") if n not in names]
    if missing:
        raise ValueError(f"thumos_postprocess: class_names lacks {missing}")
    return names.index("CliffDiving"), names.index("Diving")


def scored_as_background(preds: list[np.ndarray], scores: list[np.ndarray], names: list[str], dropped: list[str]):
    """(preds, scores, names) as the OAD metrics see them when the classes `dropped` (the last
    ones, e.g. THUMOS'14's Ambiguous trained as a class) count as background: their predictions
    become background (0) and their score columns are left out."""
    if not dropped:
        return preds, scores, names
    keep = len(names) - len(dropped)
    if names[keep:] != list(dropped):
        raise ValueError(f"scored_as_background: {dropped} must be the last classes, got {names[keep:]}")
    return [np.where(p >= keep, 0, p) for p in preds], [s[:, :keep] for s in scores], names[:keep]
