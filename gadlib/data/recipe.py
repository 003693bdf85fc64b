"""Data-set steps of the authors' recipes that gadlib's defaults leave out (configs/README.md):
dropping listed videos, and training THUMOS'14's Ambiguous frames as a class of their own.

Explained in configs/README.md (the protocol table).
"""
from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from gadlib.data.videos import Segment, VideoDataset


def read_video_ids(path: str | Path) -> list[str]:
    """Video ids of a text file, one a line; blank lines and lines starting with # are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exclude_videos: no file {path}")
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def exclude_videos(dataset: VideoDataset, path: str | Path) -> VideoDataset:
    """`dataset` without the videos listed in `path` (the authors drop 25 CrossTask videos, 5 of
    them test videos). Listed ids the data set lacks are named in a warning (a download may miss
    some); a list of which none is in the data set is an error (the wrong file, most likely)."""
    ids = read_video_ids(path)
    present = {v.video_id for v in dataset.videos}
    unknown = [i for i in ids if i not in present]
    if ids and len(unknown) == len(ids):
        raise ValueError(f"exclude_videos {path}: none of its {len(ids)} video ids is in data set "
                         f"{dataset.name!r} (first: {ids[:3]})")
    if unknown:
        warnings.warn(f"exclude_videos {path}: {len(unknown)} id(s) not in data set {dataset.name!r}: "
                      f"{unknown[:10]}", stacklevel=2)
    drop = set(ids)
    return replace(dataset, videos=[v for v in dataset.videos if v.video_id not in drop])


def _runs(labels: np.ndarray) -> list[Segment]:
    """The segments of a per-frame label array (0 = background, label + 1 elsewhere)."""
    change = np.flatnonzero(np.diff(labels)) + 1
    starts, ends = np.r_[0, change], np.r_[change, len(labels)]
    return [Segment(int(s), int(e), int(labels[s]) - 1) for s, e in zip(starts, ends) if labels[s]]


def ambiguous_as_class(dataset: VideoDataset) -> VideoDataset:
    """THUMOS'14 as the authors train it: the ignored class (Ambiguous) becomes the last step, so
    the OAD head has background + 20 actions + Ambiguous = 22 outputs, and a training frame marked
    Ambiguous has it as target. Test videos are unchanged (their Ambiguous frames stay ignored:
    out of mAP, background truth for F1), and a predicted Ambiguous is scored as background
    (`scored_as_background`, read by `gadlib.evaluation.oad.evaluate_oad`)."""
    column = dataset.oad_info.ignored_column() if dataset.oad_info is not None else None
    if column is None:
        raise ValueError(f"thumos_ambiguous = class: data set {dataset.name!r} has no ignored class "
                         "(data_info.json's ignore_index, THUMOS'14's Ambiguous)")
    name = dataset.oad_info.class_names[column]
    label = len(dataset.step_names) + 1  # its OAD label (background is 0)
    videos = []
    for v in dataset.videos:
        if v.subset != "test" and v.ignored is not None:
            labels = np.where(v.ignored_mask(), label, v.frame_labels())
            v = replace(v, segments=_runs(labels), ignored=None)
        videos.append(v)
    return replace(dataset, videos=videos, step_names=[*dataset.step_names, name],
                   scored_as_background=[*dataset.scored_as_background, name])


def previous_same_label(labels: np.ndarray) -> np.ndarray:
    """int64 [T]: per frame, the last earlier frame with the same label, or -T - 1 when none
    (the authors' "last other action" dedupes a window's actions by first occurrence,
    `gadlib.evaluation.oad.oad_context`)."""
    out = np.full(len(labels), -len(labels) - 1, dtype=np.int64)
    order = np.lexsort((np.arange(len(labels)), labels))  # by label, then by frame
    same = labels[order[1:]] == labels[order[:-1]]
    out[order[1:][same]] = order[:-1][same]
    return out
