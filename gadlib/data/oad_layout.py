"""The OAD layout of the MAT/TeSTra community (THUMOS'14, TVSeries, EPIC-Kitchens-100, ...).

Explained in notebooks/01_generative_vs_discriminative.ipynb (data); the rules are in `read_oad`
and data/README.md. `<root>/<feature_dir>/<video>.npy` [T, D] (one folder per modality, e.g.
`rgb_kinetics_resnet50` and `flow_kinetics_bninception`), `<root>/target_perframe/<video>.npy`
[T, C] (column 0 = background) and `<root>/data_info.json` (class_names, num_classes, fps,
ignore_index, train/val/test session sets; one data set or several keyed by name).
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from gadlib.data import layout_io
from gadlib.data.videos import SUBSETS, ConcatenatedFeatures, OADInfo, Segment, Video, VideoDataset
from gadlib.data.layout_io import (check_dataset, check_numeric_finite, check_same_shape, extraction_fps, json_field,
                              load_json, load_npy, name_list, same_fps, save_npy, write_files, write_json)
from gadlib.data.owned_files import write_owned

# data_info.json fields read_oad interprets; any other field of the entry is kept in OADInfo.extra.
_OAD_FIELDS = ("name", "class_names", "num_classes", "ignore_index", "fps",
               "train_session_set", "val_session_set", "test_session_set")
EMPTY_ROWS = ("error", "background", "ignore")


def _oad_target(dataset: VideoDataset, video: Video, columns: list[int], ignored_column: int | None,
                num_classes: int) -> np.ndarray:
    """float32 [T, C]: a frame's class column and its `also_true` columns (multi-hot rows come back
    as read, with 1.0); ignored frames set only the ignore column."""
    column_of_label = np.array([0] + columns)
    target = np.eye(num_classes, dtype=np.float32)[column_of_label[video.frame_labels()]]
    if video.also_true is not None:
        extra = np.asarray(video.also_true, dtype=np.int64).reshape(-1, 2)
        target[extra[:, 0], column_of_label[extra[:, 1]]] = 1
    mask = video.ignored_mask()
    if mask.any():  # _oad_files checked that there is an ignored column
        target[mask] = 0
        target[mask, ignored_column] = 1
    return target


def _oad_files(dataset: VideoDataset, feature_dir: str) -> dict[str, Callable[[Path], None]]:
    """The files of `dataset` in the OAD layout: relative path -> function writing it.

    Everything is checked first; targets are built one video at a time as they are written, and
    data_info.json comes last.
    """
    check_dataset(dataset)
    if dataset.tokens_per_frame != 1:
        raise ValueError(f"data set {dataset.name!r}: the OAD layout stores one token per frame, "
                         f"got tokens_per_frame={dataset.tokens_per_frame}")
    info = dataset.oad_info or OADInfo(["background"] + list(dataset.step_names))
    columns, ignored_column = info.step_columns(), info.ignored_column()
    if [info.class_names[c] for c in columns] != list(dataset.step_names):
        raise ValueError(f"data set {dataset.name!r}: oad_info.class_names (without background and the "
                         f"ignored class) differ from step_names; fix one, or set oad_info=None")
    if not feature_dir or "/" in feature_dir or feature_dir.startswith(".") or feature_dir == "target_perframe":
        raise ValueError(f"write_oad: feature_dir should be a plain folder name, got {feature_dir!r}")
    files = {}
    for v in dataset.videos:
        if ignored_column is None and v.ignored_mask().any():
            raise ValueError(f"data set {dataset.name!r}, video {v.video_id!r}: has ignored frames but no "
                             f"ignore class to write them as (dataset.oad_info has no ignore_index "
                             f"pointing at an action column)")
        for a, b in zip(v.segments, v.segments[1:]):
            if a.end == b.start and a.label == b.label:
                # Per-frame targets cannot tell two touching same-label segments from one.
                raise ValueError(f"data set {dataset.name!r}, video {v.video_id!r}: segments at frames "
                                 f"{a.start} and {b.start} touch and share a label; the OAD layout "
                                 f"would merge them")
        files[f"{feature_dir}/{v.video_id}.npy"] = partial(
            _save_lazily, lambda v=v: np.asarray(v.features[:, 0, :], dtype=np.float32))
        files[f"target_perframe/{v.video_id}.npy"] = partial(
            _save_lazily, lambda v=v: _oad_target(dataset, v, columns, ignored_column, len(info.class_names)))
    entry = {**info.extra, "class_names": list(info.class_names), "num_classes": len(info.class_names)}
    if info.ignore_index is not None:
        entry["ignore_index"] = info.ignore_index
    entry["fps"] = dataset.fps
    for subset in SUBSETS:
        ids = [v.video_id for v in dataset.videos if v.subset == subset]
        if ids or subset != "val":  # val_session_set only when there is a val split
            entry[f"{subset}_session_set"] = ids
    info_json = {info.key: entry} if info.key else {"name": dataset.name, **entry}
    files["data_info.json"] = partial(write_json, value=info_json)
    return files


def _save_lazily(array: Callable[[], np.ndarray], path: Path) -> None:
    save_npy(path, array())


def write_oad_files(dataset: VideoDataset, folder: Path, feature_dir: str = "rgb_features") -> None:
    """Write `dataset` in the OAD layout into the new, empty `folder` (the generated cache)."""
    write_files(folder, _oad_files(dataset, feature_dir))


def write_oad(dataset: VideoDataset, root: str | Path, feature_dir: str = "rgb_features") -> list[str]:
    """Write `dataset` in the OAD layout under `root`. Tasks are not written. Returns the stale
    files it removed (earlier gadlib output the new data set does not have).

    Only gadlib's own files are created or replaced (one at a time, data_info.json last), recorded
    in `<root>/.gadlib-written.json`: anything else in `root` is kept, and a file in the way that
    gadlib did not write (a data_info.json of yours, a `<video>.npy` left from another data set) is
    an error naming it before anything is written (`gadlib.data.owned_files`, data/README.md).

    With `dataset.oad_info` (set by `read_oad`), data_info.json gets the original class list,
    `ignore_index`, data-set key and other fields back unchanged, and ignored frames are written
    as rows with only the ignore column set. A multi-hot row comes back multi-hot (`Video.also_true`,
    every set column as 1.0), so per-frame mAP on the written data equals mAP on the original;
    soft values come back as 1.0.
    """
    return write_owned(root, _oad_files(dataset, feature_dir), [f"{feature_dir}/*.npy", "target_perframe/*.npy"],
                       first=("data_info.json",), what="write_oad")


def _oad_entry(info, info_path: Path, name: str | None,
               pick: str = "pass name= to pick one") -> tuple[dict, str, str | None]:
    """The data set's entry of data_info.json, where to say it is, and its key (None: flat file).
    `pick` says how the caller's user names a data set (read_oad's name=, a command-line option)."""
    where = str(info_path)
    if not isinstance(info, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(info).__name__}")
    if "class_names" in info:
        return info, where, None
    nested = {k: v for k, v in info.items() if isinstance(v, dict) and "class_names" in v}
    if name is None and len(nested) > 1:
        raise ValueError(f"{where}: holds several data sets {sorted(nested)}; {pick}")
    if name is None and nested:
        name = next(iter(nested))
    if name not in nested:
        raise ValueError(f"{where}: missing field 'class_names' (and no data set entry {name!r} among "
                         f"{sorted(nested)})")
    return nested[name], f"{info_path}: [{name!r}]", name


def _oad_info(entry: dict, where: str, key: str | None) -> OADInfo:
    class_names = name_list(entry, "class_names", where)
    num_classes = json_field(entry, "num_classes", where, "integer")
    if num_classes != len(class_names) or num_classes < 2:
        raise ValueError(f"{where}: field 'num_classes' is {num_classes} but 'class_names' has "
                         f"{len(class_names)} entries (background first, at least one action)")
    ignore_index = json_field(entry, "ignore_index", where, "integer") if "ignore_index" in entry else None
    if ignore_index is not None and ignore_index >= num_classes:
        raise ValueError(f"{where}: field 'ignore_index' is {ignore_index}, not a column of the "
                         f"{num_classes} classes (negative, e.g. -100, means no ignored class)")
    info = OADInfo(list(class_names), ignore_index, key, {k: v for k, v in entry.items() if k not in _OAD_FIELDS})
    if not info.step_columns():
        raise ValueError(f"{where}: field 'class_names' has no action class besides background and the "
                         f"ignored class {ignore_index}")
    return info


def data_info_entry(info_path: Path, name: str | None, pick: str) -> tuple[dict, str]:
    """One data set's entry of a data_info.json, found as read_oad finds it (flat, or keyed by data
    set as TeSTra's), and where to say it is: for what reuses its class list or split
    (`gadlib.convert --class-order / --split-from`)."""
    entry, where, _ = _oad_entry(load_json(Path(info_path)), Path(info_path), name, pick)
    return entry, where


def session_sets(entry: dict, where: str) -> dict[str, list[str]]:
    """Video ids per subset of a data_info.json entry, checked as read_oad checks them."""
    return _oad_sessions(entry, where)


def _oad_sessions(entry: dict, where: str) -> dict[str, list[str]]:
    """Video ids per subset; val only when the file has a val_session_set."""
    sessions = {}
    for subset in SUBSETS:
        key = f"{subset}_session_set"
        if subset == "val" and key not in entry:
            continue
        ids = json_field(entry, key, where, "list")
        if not all(isinstance(i, str) for i in ids):
            raise ValueError(f"{where}: field {key!r} should be a list of video id strings")
        if not ids and subset != "val":
            raise ValueError(f"{where}: field {key!r} is empty (empty {subset!r} split)")
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"{where}: field {key!r} lists videos {repeated[:5]} more than once")
        sessions[subset] = ids
    subsets = list(sessions)
    for i, a in enumerate(subsets):
        for b in subsets[i + 1:]:
            both = set(sessions[a]) & set(sessions[b])
            if both:
                raise ValueError(f"{where}: videos {sorted(both)[:5]} are in both {a}_session_set "
                                 f"and {b}_session_set")
    return sessions


def _oad_feature_file(path: Path, what: str, mmap: bool) -> np.ndarray:
    part = load_npy(path, what, mmap)
    if part.ndim == 3 and part.shape[1] == 1:
        part = part[:, 0, :]
    if part.ndim != 2 or 0 in part.shape:
        raise ValueError(f"{path}: OAD features should be [T, D] with T, D > 0, got shape {part.shape}")
    return part


def _oad_features(root: Path, feature_dirs: list[str], vid: str, info_path: Path, first: list,
                  mmap: bool):
    """One video's features from every folder: [T, 1, sum D] array, memory map or lazy view.

    `first` holds, per folder, (file, [1, D]) of the first video, filled on the first call.
    """
    parts, paths = [], []
    for k, folder in enumerate(feature_dirs):
        path = root / folder / f"{vid}.npy"
        what = f"feature (video {vid!r} listed in {info_path})"
        part = _oad_feature_file(path, what, mmap)
        check_numeric_finite(part, str(path))
        first[k] = check_same_shape(part[:, None, :], first[k], str(path))
        if parts and len(part) != len(parts[0]):
            raise ValueError(f"{path} has {len(part)} frames but {paths[0]} has {len(parts[0])}; "
                             f"every feature folder needs one row per frame")
        if mmap:
            # A fresh map: the pages the check touched leave this process (the OS may cache them).
            del part
            part = _oad_feature_file(path, what, mmap)
        parts.append(part)
        paths.append(path)
    if not mmap and len(parts) == 1:
        return parts[0].astype(np.float32, copy=False)[:, None, :]
    if not mmap:
        return np.concatenate([p.astype(np.float32, copy=False) for p in parts], axis=1)[:, None, :]
    if len(parts) == 1 and parts[0].dtype == np.float32:
        return parts[0][:, None, :]  # still a read-only memory map
    return ConcatenatedFeatures(parts)


def _oad_labels(target, num_frames: int, info: OADInfo, path: Path,
                empty_rows: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: label (0 = background, step + 1) and ignored flag, by the rules of `read_oad`;
    and the (frame, label) pairs [K, 2] of the other classes set in kept rows (`Video.also_true`)."""
    num_classes = len(info.class_names)
    if target.ndim != 2 or target.shape != (num_frames, num_classes):
        raise ValueError(f"{path}: target should be [T, C] = [{num_frames}, {num_classes}] (T from the "
                         f"features, C = num_classes), got shape {target.shape}")
    if not (np.issubdtype(target.dtype, np.number) or target.dtype == bool):
        raise ValueError(f"{path}: target should be numeric, got dtype {target.dtype}")
    columns, ignored_column = np.array(info.step_columns()), info.ignored_column()
    label_of_column = np.full(num_classes, -1, dtype=np.int64)  # -1: the ignored column
    label_of_column[0], label_of_column[columns] = 0, np.arange(1, len(columns) + 1)
    labels = np.zeros(num_frames, dtype=np.int64)
    ignored = np.zeros(num_frames, dtype=bool)
    also_true = []
    step = max(1, layout_io.CHUNK_BYTES // (8 * num_classes))  # rows of float64
    for start in range(0, num_frames, step):
        block = np.asarray(target[start:start + step], dtype=np.float64)
        bad = ~((block >= 0) & (block <= 1))  # NaN fails both
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(f"{path}: row {start + row}, column {col} ({info.class_names[col]!r}) is "
                             f"{block[row, col]}; targets should be 0/1 (or soft values in [0, 1])")
        actions = block[:, columns]
        is_ignored = (block[:, ignored_column] > 0 if ignored_column is not None
                      else np.zeros(len(block), dtype=bool))
        has_action = actions.max(axis=1) > 0
        empty = ~(has_action | is_ignored | (block[:, 0] > 0))
        if empty.any() and empty_rows == "error":
            raise ValueError(f"{path}: row {start + int(np.argmax(empty))} has no class set (all zeros); "
                             f"pass empty_rows='background' or 'ignore' to read such rows")
        is_ignored |= empty & (empty_rows == "ignore")
        # argmax: the largest value wins, ties go to the lowest column (CliffDiving before Diving).
        block_labels = np.where(has_action & ~is_ignored, actions.argmax(axis=1) + 1, 0)
        labels[start:start + step] = block_labels
        ignored[start:start + step] = is_ignored
        # the rest of a multi-hot row, kept for mAP (the truth as shipped); ignored rows are not scored
        others = (block > 0) & (label_of_column[None] >= 0) & ~is_ignored[:, None]
        others[np.arange(len(block)), np.where(block_labels, columns[block_labels - 1], 0)] = False
        rows, cols = np.nonzero(others)
        also_true.append(np.stack([rows + start, label_of_column[cols]], axis=1))
    return labels, ignored, np.concatenate(also_true) if also_true else np.zeros((0, 2), dtype=np.int64)


def read_oad(root: str | Path, feature_dir: str | list[str] = "rgb_features", name: str | None = None,
             mmap: bool = False, empty_rows: str = "error") -> VideoDataset:
    """Read an OAD-layout data set (MAT/TeSTra convention); segments are runs of one label.

    data_info.json: one data set, or several keyed by name ({"THUMOS": {...}, "TVSeries": {...}},
    as TeSTra ships it): `name` picks one (required when there are several). Its `fps` must agree
    with the extraction manifest (`<feature_dir>/manifest.json`, settings.fps, written by
    `python -m gadlib.features`) of each feature folder that has one. Subsets:
    train_session_set, test_session_set and, when present, val_session_set (subset "val").

    feature_dir: one folder or a list (e.g. ["rgb_kinetics_resnet50", "flow_kinetics_bninception"]):
    each `<folder>/<video>.npy` is [T, D_i], all with the same T; frames are concatenated to
    [T, 1, sum D_i] in the order given.

    Target rows (`target_perframe/<video>.npy`, [T, C], 0/1 or soft values in [0, 1]; a column is
    "set" when > 0):
    - ignore_index: a row whose ignored column is set (THUMOS'14's "Ambiguous", 21) is ignored,
      whatever else is set (as the MAT/TeSTra losses drop it): `Video.ignored` is True there and
      the frame is background in `frame_labels()` (not trained on, left out of mAP, background
      truth for F1). The ignored class is not a step. -100 (no class) and 0 (the background
      column, EPIC-Kitchens-100 in TeSTra) ignore nothing.
    - several actions set (THUMOS'14 labels CliffDiving frames Diving too): `frame_labels()` (the
      training target) takes the largest value, ties to the lowest column; background (column 0)
      counts only when no action is set. The other set columns are kept in `Video.also_true`, so
      `Video.multi_hot_truth` gives the rows as shipped and per-frame mAP scores a CliffDiving
      frame as a Diving positive too, as the authors' evaluation does.
    - nothing set: an error naming file and row, unless `empty_rows` is "background" or "ignore".

    mmap: memory-map the feature files instead of reading them (for data sets larger than RAM):
    features are then read-only memory maps, or `ConcatenatedFeatures` views for several folders
    or a non-float32 dtype, and NaN/inf are checked in blocks of `layout_io.CHUNK_BYTES`. Peak memory:
    without mmap, the features of the whole data set as float32 plus one video's concatenation;
    with mmap, a few blocks of CHUNK_BYTES plus 9 bytes per frame (labels, ignored mask) and 16 bytes
    per extra class of a multi-hot row. Measured
    numbers: data/README.md (benchmarks/oad_reader_memory.py).
    """
    root = Path(root)
    if empty_rows not in EMPTY_ROWS:
        raise ValueError(f"read_oad: empty_rows should be one of {EMPTY_ROWS}, got {empty_rows!r}")
    feature_dirs = [feature_dir] if isinstance(feature_dir, (str, os.PathLike)) else list(feature_dir)
    if not feature_dirs:
        raise ValueError("read_oad: feature_dir is an empty list")
    info_path = root / "data_info.json"
    entry, where, key = _oad_entry(load_json(info_path), info_path, name)
    info = _oad_info(entry, where, key)
    fps = json_field(entry, "fps", where, "number")
    if fps <= 0:
        raise ValueError(f"{where}: field 'fps' must be > 0, got {fps}")
    for folder in feature_dirs:
        extracted = extraction_fps(root / folder)
        if extracted is not None and not same_fps(extracted[0], fps):
            raise ValueError(f"{where}: field 'fps' is {fps}, but the features were extracted at "
                             f"{extracted[0]} fps according to {extracted[1]}; fix data_info.json's fps "
                             f"(segments are frames at that rate)")
    sessions = _oad_sessions(entry, where)

    videos, first = [], [None] * len(feature_dirs)
    for subset, ids in sessions.items():
        for vid in ids:
            features = _oad_features(root, feature_dirs, vid, info_path, first, mmap)
            target_path = root / "target_perframe" / f"{vid}.npy"
            target = load_npy(target_path, f"target (video {vid!r} listed in {info_path})", mmap=True)
            labels, ignored, also_true = _oad_labels(target, len(features), info, target_path, empty_rows)
            del target  # closes the memory map
            change = np.flatnonzero(np.diff(labels)) + 1
            starts, ends = np.r_[0, change], np.r_[change, len(labels)]
            segments = [Segment(int(s), int(e), int(labels[s]) - 1) for s, e in zip(starts, ends) if labels[s]]
            videos.append(Video(vid, features, segments, None, subset, ignored if ignored.any() else None,
                                also_true if len(also_true) else None))
    return VideoDataset(name=key or entry.get("name") or name or root.name, videos=videos,
                        step_names=[info.class_names[c] for c in info.step_columns()], task_names=[],
                        fps=float(fps), oad_info=info)

