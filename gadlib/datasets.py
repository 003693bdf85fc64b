"""The two on-disk layouts people already have, and the synthetic benchmarks written in them.

Explained in notebooks/01_generative_vs_discriminative.ipynb (data) and used by every notebook.
The data model (`Segment`, `Video`, `VideoDataset`) lives in `gadlib.data` and is re-exported here.

- COIN layout: `<root>/COIN.json` (segments in seconds), `<root>/features/<video>.npy`
  `[T, tokens, D]`, and our `<root>/meta.json` (fps, step and task names).
- OAD layout (MAT/TeSTra convention): `<root>/<feature_dir>/<video>.npy` `[T, D]` (one folder
  per modality, e.g. `rgb_kinetics_resnet50` and `flow_kinetics_bninception`),
  `<root>/target_perframe/<video>.npy` `[T, C]` (column 0 = background) and
  `<root>/data_info.json` (class_names, num_classes, fps, ignore_index, train/val/test session
  sets; either one data set or several keyed by name). The label rules are in `read_oad`.

Readers check everything they read and name the file and field at fault. Writers never leave a
half-written data set behind: they write into a temporary folder next to the target and rename
it at the end. `ensure_benchmark` generates a synthetic preset on first use, writes it in its
layout and reads it back through the same reader, so our data and yours take the same path.
See data/README.md for pointing the readers at real COIN / THUMOS'14 / EPIC-Kitchens folders.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from gadlib import benchmark
from gadlib.benchmark import BenchmarkConfig, preset
# Re-exported: `from gadlib.datasets import Video, Segment, VideoDataset` keeps working.
from gadlib.data import SUBSETS, ConcatenatedFeatures, OADInfo, Segment, Video, VideoDataset  # noqa: F401

log = logging.getLogger(__name__)

_COIN_SUBSET = {"training": "train", "testing": "test"}
# Arrays are checked this many bytes at a time, so a memory-mapped file is never copied whole.
CHUNK_BYTES = 16 << 20


# ---------------------------------------------------------------------------------------------
# Checks shared by readers and writers
# ---------------------------------------------------------------------------------------------

def _load_json(path: Path):
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e


def _load_npy(path: Path, what: str, mmap: bool = False) -> np.ndarray:
    """np.load, read-only memory-mapped when `mmap` (nothing is read until it is indexed)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} file not found")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot read {what} array: {e}") from e


_KINDS = {"list": list, "dict": dict, "string": str, "number": (int, float), "integer": int}


def _field(record, key: str, where: str, kind: str):
    """record[key], checked to be of `kind` (a key of _KINDS); errors name where and key."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if key not in record:
        raise ValueError(f"{where}: missing field {key!r}")
    value = record[key]
    if not isinstance(value, _KINDS[kind]) or isinstance(value, bool):
        raise ValueError(f"{where}: field {key!r} should be a {kind}, got {value!r}")
    return value


def _names(record, key: str, where: str) -> list[str]:
    """A list of distinct class names (a duplicate would make label indices ambiguous)."""
    names = _field(record, key, where, "list")
    if not all(isinstance(n, str) for n in names):
        raise ValueError(f"{where}: field {key!r} should be a list of strings")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{where}: field {key!r} has duplicate names {duplicates[:5]}")
    return names


def _chunks(array) -> range:
    """Start rows of blocks of about CHUNK_BYTES (works on arrays, memory maps and views)."""
    row_bytes = max(1, int(np.prod(array.shape[1:])) * array.dtype.itemsize)
    return range(0, len(array), max(1, CHUNK_BYTES // row_bytes))


def _first_nonfinite_row(array) -> int | None:
    """Index of the first row holding NaN or inf, checked block by block (no full copy), or None."""
    if not np.issubdtype(array.dtype, np.inexact):
        return None
    step = _chunks(array).step
    for start in _chunks(array):
        block = np.asarray(array[start:start + step])
        finite = np.isfinite(block).reshape(len(block), -1).all(axis=1)
        if not finite.all():
            return start + int(np.argmin(finite))
    return None


def _check_numeric_finite(array, where: str) -> None:
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{where}: features should be numeric, got dtype {array.dtype}")
    bad = _first_nonfinite_row(array)
    if bad is not None:
        raise ValueError(f"{where}: features contain NaN or inf (first at frame {bad})")


def _check_features(features: np.ndarray, where: str) -> np.ndarray:
    """Features as float32 [T, tokens, D] ([T, D] is read as one token per frame)."""
    if features.ndim == 2:
        features = features[:, None, :]
    if features.ndim != 3 or features.shape[0] == 0 or features.shape[2] == 0:
        raise ValueError(f"{where}: features should be [T, D] or [T, tokens, D] with T, D > 0, "
                         f"got shape {features.shape}")
    _check_numeric_finite(features, where)
    return features.astype(np.float32, copy=False)


def _check_same_shape(features: np.ndarray, first: tuple[str, tuple] | None, where: str):
    """Every video must have the same [tokens, D] as the first one.

    `first` is (where, [tokens, D]) of the first video, None for the first video itself; the
    return value is what to pass for the next video.
    """
    if first is None:
        return where, features.shape[1:]
    if features.shape[1:] != first[1]:
        raise ValueError(f"{where}: features have [tokens, D] = {list(features.shape[1:])}, "
                         f"but {first[0]} has {list(first[1])}")
    return first


def _check_segments(segments: list[Segment], num_frames: int, num_steps: int, where: str) -> None:
    previous_end = 0
    for j, s in enumerate(segments):
        if not 0 <= s.label < num_steps:
            raise ValueError(f"{where}: segment {j} has label {s.label}, outside [0, {num_steps})")
        if s.end <= s.start:
            raise ValueError(f"{where}: segment {j} has end {s.end} <= start {s.start} (frames)")
        if s.start < 0 or s.end > num_frames:
            raise ValueError(f"{where}: segment {j} frames [{s.start}, {s.end}) outside the video's "
                             f"{num_frames} frames")
        if s.start < previous_end:
            raise ValueError(f"{where}: segment {j} starts at frame {s.start}, before the previous "
                             f"segment ends ({previous_end}); segments must be sorted and not overlap")
        previous_end = s.end


def _check_dataset(dataset: VideoDataset) -> None:
    """Everything a writer relies on, for a data set built in memory."""
    if not dataset.videos:
        raise ValueError(f"data set {dataset.name!r} has no videos")
    first, seen = None, set()
    for v in dataset.videos:
        where = f"data set {dataset.name!r}, video {v.video_id!r}"
        if not v.video_id or "/" in v.video_id or "\\" in v.video_id or v.video_id.startswith("."):
            raise ValueError(f"{where}: video_id must be a plain file name")
        if v.video_id in seen:
            raise ValueError(f"{where}: duplicate video_id")
        seen.add(v.video_id)
        if v.subset not in SUBSETS:
            raise ValueError(f"{where}: subset should be one of {SUBSETS}, got {v.subset!r}")
        if not isinstance(v.features, (np.ndarray, ConcatenatedFeatures)) or v.features.ndim != 3 \
                or 0 in v.features.shape:
            raise ValueError(f"{where}: features should be an array [T, tokens, D] with T, D > 0, got "
                             f"{getattr(v.features, 'shape', type(v.features).__name__)}")
        _check_numeric_finite(v.features, where)
        first = _check_same_shape(v.features, first, where)
        _check_segments(v.segments, len(v.features), len(dataset.step_names), where)
        if v.ignored is not None and np.shape(v.ignored) != (len(v.features),):
            raise ValueError(f"{where}: ignored should be a bool array [T] = [{len(v.features)}], "
                             f"got shape {np.shape(v.ignored)}")
        if dataset.task_names and not (isinstance(v.task, (int, np.integer))
                                       and 0 <= v.task < len(dataset.task_names)):
            raise ValueError(f"{where}: task should be an index into the {len(dataset.task_names)} "
                             f"task_names, got {v.task!r}")
        if not dataset.task_names and v.task is not None:
            raise ValueError(f"{where}: task is {v.task!r} but the data set has no task_names")


def _check_splits(videos: list[Video], where: str) -> None:
    for subset in ("train", "test"):
        if not any(v.subset == subset for v in videos):
            raise ValueError(f"{where}: the {subset!r} split is empty")


# ---------------------------------------------------------------------------------------------
# Atomic writing
# ---------------------------------------------------------------------------------------------

def _atomic_write(target: Path, fill: Callable[[Path], None],
                  keep_existing: Callable[[], bool] = lambda: False) -> None:
    """Let `fill` write a temporary folder next to `target`, then rename it to `target`.

    A crash leaves either the old folder or the new one, never a mix. `keep_existing` is asked
    once the new folder is complete: if another process wrote a valid `target` meanwhile, ours
    is thrown away instead of pulling theirs from under its readers.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        fill(tmp)
        if target.exists() and keep_existing():
            shutil.rmtree(tmp)
            return
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "data")
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=1) + "\n")


# ---------------------------------------------------------------------------------------------
# COIN layout
# ---------------------------------------------------------------------------------------------

def _write_coin_files(dataset: VideoDataset, folder: Path) -> None:
    _check_dataset(dataset)
    for v in dataset.videos:
        # COIN.json knows only "training" and "testing", and has no per-frame mask.
        if v.subset == "val" or v.ignored_mask().any():
            raise ValueError(f"data set {dataset.name!r}, video {v.video_id!r}: the COIN layout cannot "
                             f"hold {'a val subset' if v.subset == 'val' else 'ignored frames'}; "
                             f"use write_oad")
    (folder / "features").mkdir()
    database = {}
    for v in dataset.videos:
        np.save(folder / "features" / f"{v.video_id}.npy", np.asarray(v.features, dtype=np.float32))
        fps, T = dataset.fps, len(v.features)
        entry = {"subset": "training" if v.subset == "train" else "testing"}
        if v.task is not None:
            entry.update({"class": dataset.task_names[v.task], "recipe_type": int(v.task)})
        entry.update({
            "start": v.segments[0].start / fps if v.segments else 0.0,
            "end": v.segments[-1].end / fps if v.segments else T / fps,
            "duration": T / fps,
            "annotation": [{"id": str(s.label), "segment": [s.start / fps, s.end / fps],
                            "label": dataset.step_names[s.label]} for s in v.segments],
        })
        database[v.video_id] = entry
    _write_json(folder / "COIN.json", {"database": database})
    _write_json(folder / "meta.json", {"name": dataset.name, "fps": dataset.fps,
                                       "step_names": dataset.step_names, "task_names": dataset.task_names})


def write_coin(dataset: VideoDataset, root: str | Path) -> None:
    """Write `dataset` in the COIN layout under `root` (replacing it atomically)."""
    _atomic_write(Path(root), lambda folder: _write_coin_files(dataset, folder))


def read_coin(root: str | Path, features: str = "features", fps: float | None = None) -> VideoDataset:
    """Read a COIN-layout data set.

    fps comes from meta.json; without it, from the `fps` argument, else 2.0 (the rate at which
    the paper extracted COIN features). Without meta.json, step and task names are the sorted
    names found in the annotations. Annotation "id"s are ignored (real COIN uses global ids).
    """
    root = Path(root)
    ann_path, meta_path = root / "COIN.json", root / "meta.json"
    database = _field(_load_json(ann_path), "database", str(ann_path), "dict")
    for vid, entry in database.items():
        where = f"{ann_path}: database[{vid!r}]"
        if _field(entry, "subset", where, "string") not in _COIN_SUBSET:
            raise ValueError(f"{where}: field 'subset' should be one of {list(_COIN_SUBSET)}, "
                             f"got {entry['subset']!r}")
        for j, item in enumerate(_field(entry, "annotation", where, "list")):
            _field(item, "label", f"{where}.annotation[{j}]", "string")
            segment = _field(item, "segment", f"{where}.annotation[{j}]", "list")
            if len(segment) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                            for x in segment):
                raise ValueError(f"{where}.annotation[{j}]: field 'segment' should be [start_s, end_s], "
                                 f"got {segment!r}")
    has_tasks = any("class" in e for e in database.values())

    if meta_path.exists():
        meta = _load_json(meta_path)
        meta_fps = _field(meta, "fps", str(meta_path), "number")
        if fps is not None and fps != meta_fps:
            raise ValueError(f"{meta_path}: field 'fps' is {meta_fps} but fps={fps} was passed")
        fps = meta_fps
        step_names = _names(meta, "step_names", str(meta_path))
        task_names = _names(meta, "task_names", str(meta_path))
        name = meta.get("name", root.name)
        has_tasks = has_tasks or bool(task_names)
    else:
        step_names = sorted({item["label"] for e in database.values() for item in e["annotation"]})
        task_names = sorted({_field(e, "class", f"{ann_path}: database[{vid!r}]", "string")
                             for vid, e in database.items()}) if has_tasks else []
        name = root.name
    fps = 2.0 if fps is None else float(fps)
    if fps <= 0:
        raise ValueError(f"{meta_path}: field 'fps' must be > 0, got {fps}")
    step_index = {n: i for i, n in enumerate(step_names)}
    task_index = {n: i for i, n in enumerate(task_names)}

    videos, first = [], None
    for vid, entry in database.items():
        where = f"{ann_path}: database[{vid!r}]"
        feature_path = root / features / f"{vid}.npy"
        array = _check_features(_load_npy(feature_path, f"feature (video {vid!r} listed in {ann_path})"),
                                str(feature_path))
        first = _check_same_shape(array, first, str(feature_path))
        task = None
        if has_tasks:
            task_name = _field(entry, "class", where, "string")
            if task_name not in task_index:
                raise ValueError(f"{where}: field 'class' {task_name!r} is not in task_names of {meta_path}")
            task = task_index[task_name]
        segments = []
        for j, item in enumerate(entry["annotation"]):
            if item["label"] not in step_index:
                raise ValueError(f"{where}.annotation[{j}]: label {item['label']!r} is not in step_names "
                                 f"of {meta_path}")
            start, end = (int(round(x * fps)) for x in item["segment"])
            segments.append(Segment(start, end, step_index[item["label"]]))
        segments.sort(key=lambda s: s.start)
        _check_segments(segments, len(array), len(step_names),
                        f"{where} (frames at {fps} fps; {len(array)} frames in {feature_path})")
        videos.append(Video(vid, array, segments, task, _COIN_SUBSET[entry["subset"]]))
    _check_splits(videos, str(ann_path))
    return VideoDataset(name=name, videos=videos, step_names=list(step_names),
                        task_names=list(task_names), fps=fps)


# ---------------------------------------------------------------------------------------------
# OAD layout (MAT / TeSTra)
# ---------------------------------------------------------------------------------------------

# data_info.json fields read_oad interprets; any other field of the entry is kept in OADInfo.extra.
_OAD_FIELDS = ("name", "class_names", "num_classes", "ignore_index", "fps",
               "train_session_set", "val_session_set", "test_session_set")
EMPTY_ROWS = ("error", "background", "ignore")


def _oad_target(dataset: VideoDataset, video: Video, columns: list[int], ignored_column: int | None,
                num_classes: int) -> np.ndarray:
    """float32 one-hot [T, C]: a frame's class column; ignored frames set only the ignore column."""
    column_of_label = np.array([0] + columns)
    target = np.eye(num_classes, dtype=np.float32)[column_of_label[video.frame_labels()]]
    mask = video.ignored_mask()
    if mask.any():
        if ignored_column is None:
            raise ValueError(f"data set {dataset.name!r}, video {video.video_id!r}: has ignored frames but "
                             f"no ignore class to write them as (dataset.oad_info has no ignore_index "
                             f"pointing at an action column)")
        target[mask] = 0
        target[mask, ignored_column] = 1
    return target


def _write_oad_files(dataset: VideoDataset, folder: Path, feature_dir: str = "rgb_features") -> None:
    _check_dataset(dataset)
    if dataset.tokens_per_frame != 1:
        raise ValueError(f"data set {dataset.name!r}: the OAD layout stores one token per frame, "
                         f"got tokens_per_frame={dataset.tokens_per_frame}")
    info = dataset.oad_info or OADInfo(["background"] + list(dataset.step_names))
    columns, ignored_column = info.step_columns(), info.ignored_column()
    if [info.class_names[c] for c in columns] != list(dataset.step_names):
        raise ValueError(f"data set {dataset.name!r}: oad_info.class_names (without background and the "
                         f"ignored class) differ from step_names; fix one, or set oad_info=None")
    (folder / feature_dir).mkdir(parents=True)
    (folder / "target_perframe").mkdir()
    for v in dataset.videos:
        for a, b in zip(v.segments, v.segments[1:]):
            if a.end == b.start and a.label == b.label:
                # Per-frame targets cannot tell two touching same-label segments from one.
                raise ValueError(f"data set {dataset.name!r}, video {v.video_id!r}: segments at frames "
                                 f"{a.start} and {b.start} touch and share a label; the OAD layout "
                                 f"would merge them")
        np.save(folder / feature_dir / f"{v.video_id}.npy", np.asarray(v.features[:, 0, :], dtype=np.float32))
        np.save(folder / "target_perframe" / f"{v.video_id}.npy",
                _oad_target(dataset, v, columns, ignored_column, len(info.class_names)))
    entry = {**info.extra, "class_names": list(info.class_names), "num_classes": len(info.class_names)}
    if info.ignore_index is not None:
        entry["ignore_index"] = info.ignore_index
    entry["fps"] = dataset.fps
    for subset in SUBSETS:
        ids = [v.video_id for v in dataset.videos if v.subset == subset]
        if ids or subset != "val":  # val_session_set only when there is a val split
            entry[f"{subset}_session_set"] = ids
    _write_json(folder / "data_info.json", {info.key: entry} if info.key else {"name": dataset.name, **entry})


def write_oad(dataset: VideoDataset, root: str | Path, feature_dir: str = "rgb_features") -> None:
    """Write `dataset` in the OAD layout under `root` (atomically). Tasks are not written.

    With `dataset.oad_info` (set by `read_oad`), data_info.json gets the original class list,
    `ignore_index`, data-set key and other fields back unchanged, and ignored frames are written
    as rows with only the ignore column set. Targets are written one-hot: a multi-hot row that
    `read_oad` resolved to one class is written as that class.
    """
    _atomic_write(Path(root), lambda folder: _write_oad_files(dataset, folder, feature_dir))


def _oad_entry(info, info_path: Path, name: str | None) -> tuple[dict, str, str | None]:
    """The data set's entry of data_info.json, where to say it is, and its key (None: flat file)."""
    where = str(info_path)
    if not isinstance(info, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(info).__name__}")
    if "class_names" in info:
        return info, where, None
    nested = {k: v for k, v in info.items() if isinstance(v, dict) and "class_names" in v}
    if name is None and len(nested) > 1:
        raise ValueError(f"{where}: holds several data sets {sorted(nested)}; pass name= to pick one")
    if name is None and nested:
        name = next(iter(nested))
    if name not in nested:
        raise ValueError(f"{where}: missing field 'class_names' (and no data set entry {name!r} among "
                         f"{sorted(nested)})")
    return nested[name], f"{info_path}: [{name!r}]", name


def _oad_info(entry: dict, where: str, key: str | None) -> OADInfo:
    class_names = _names(entry, "class_names", where)
    num_classes = _field(entry, "num_classes", where, "integer")
    if num_classes != len(class_names) or num_classes < 2:
        raise ValueError(f"{where}: field 'num_classes' is {num_classes} but 'class_names' has "
                         f"{len(class_names)} entries (background first, at least one action)")
    ignore_index = _field(entry, "ignore_index", where, "integer") if "ignore_index" in entry else None
    if ignore_index is not None and ignore_index >= num_classes:
        raise ValueError(f"{where}: field 'ignore_index' is {ignore_index}, not a column of the "
                         f"{num_classes} classes (negative, e.g. -100, means no ignored class)")
    info = OADInfo(list(class_names), ignore_index, key, {k: v for k, v in entry.items() if k not in _OAD_FIELDS})
    if not info.step_columns():
        raise ValueError(f"{where}: field 'class_names' has no action class besides background and the "
                         f"ignored class {ignore_index}")
    return info


def _oad_sessions(entry: dict, where: str) -> dict[str, list[str]]:
    """Video ids per subset; val only when the file has a val_session_set."""
    sessions = {}
    for subset in SUBSETS:
        key = f"{subset}_session_set"
        if subset == "val" and key not in entry:
            continue
        ids = _field(entry, key, where, "list")
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
    part = _load_npy(path, what, mmap)
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
        _check_numeric_finite(part, str(path))
        first[k] = _check_same_shape(part[:, None, :], first[k], str(path))
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
                empty_rows: str) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: label (0 = background, step + 1) and ignored flag, by the rules of `read_oad`."""
    num_classes = len(info.class_names)
    if target.ndim != 2 or target.shape != (num_frames, num_classes):
        raise ValueError(f"{path}: target should be [T, C] = [{num_frames}, {num_classes}] (T from the "
                         f"features, C = num_classes), got shape {target.shape}")
    if not (np.issubdtype(target.dtype, np.number) or target.dtype == bool):
        raise ValueError(f"{path}: target should be numeric, got dtype {target.dtype}")
    columns, ignored_column = np.array(info.step_columns()), info.ignored_column()
    labels = np.zeros(num_frames, dtype=np.int64)
    ignored = np.zeros(num_frames, dtype=bool)
    step = max(1, CHUNK_BYTES // (8 * num_classes))  # rows of float64
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
        labels[start:start + step] = np.where(has_action & ~is_ignored, actions.argmax(axis=1) + 1, 0)
        ignored[start:start + step] = is_ignored
    return labels, ignored


def read_oad(root: str | Path, feature_dir: str | list[str] = "rgb_features", name: str | None = None,
             mmap: bool = False, empty_rows: str = "error") -> VideoDataset:
    """Read an OAD-layout data set (MAT/TeSTra convention); segments are runs of one label.

    data_info.json: one data set, or several keyed by name ({"THUMOS": {...}, "TVSeries": {...}},
    as TeSTra ships it): `name` picks one (required when there are several). Subsets:
    train_session_set, test_session_set and, when present, val_session_set (subset "val").

    feature_dir: one folder or a list (e.g. ["rgb_kinetics_resnet50", "flow_kinetics_bninception"]):
    each `<folder>/<video>.npy` is [T, D_i], all with the same T; frames are concatenated to
    [T, 1, sum D_i] in the order given.

    Target rows (`target_perframe/<video>.npy`, [T, C], 0/1 or soft values in [0, 1]; a column is
    "set" when > 0):
    - ignore_index: a row whose ignored column is set (THUMOS'14's "Ambiguous", 21) is ignored,
      whatever else is set (as the MAT/TeSTra losses drop it): `Video.ignored` is True there and
      the frame is background in `frame_labels()`. The ignored class is not a step. -100 (no
      class) and 0 (the background column, EPIC-Kitchens-100 in TeSTra) ignore nothing.
    - several actions set (THUMOS'14 labels CliffDiving frames Diving too): the largest value
      wins, ties go to the lowest column; background (column 0) counts only when no action is set.
    - nothing set: an error naming file and row, unless `empty_rows` is "background" or "ignore".

    mmap: memory-map the feature files instead of reading them (for data sets larger than RAM):
    features are then read-only memory maps, or `ConcatenatedFeatures` views for several folders
    or a non-float32 dtype, and NaN/inf are checked in blocks of CHUNK_BYTES. Peak memory:
    without mmap, the features of the whole data set as float32 plus one video's concatenation;
    with mmap, a few blocks of CHUNK_BYTES plus 9 bytes per frame (labels, ignored mask). Measured
    numbers: data/README.md (benchmarks/oad_reader_memory.py).
    """
    root = Path(root)
    if empty_rows not in EMPTY_ROWS:
        raise ValueError(f"read_oad: empty_rows should be one of {EMPTY_ROWS}, got {empty_rows!r}")
    feature_dirs = [feature_dir] if isinstance(feature_dir, (str, os.PathLike)) else list(feature_dir)
    if not feature_dirs:
        raise ValueError("read_oad: feature_dir is an empty list")
    info_path = root / "data_info.json"
    entry, where, key = _oad_entry(_load_json(info_path), info_path, name)
    info = _oad_info(entry, where, key)
    fps = _field(entry, "fps", where, "number")
    if fps <= 0:
        raise ValueError(f"{where}: field 'fps' must be > 0, got {fps}")
    sessions = _oad_sessions(entry, where)

    videos, first = [], [None] * len(feature_dirs)
    for subset, ids in sessions.items():
        for vid in ids:
            features = _oad_features(root, feature_dirs, vid, info_path, first, mmap)
            target_path = root / "target_perframe" / f"{vid}.npy"
            target = _load_npy(target_path, f"target (video {vid!r} listed in {info_path})", mmap=True)
            labels, ignored = _oad_labels(target, len(features), info, target_path, empty_rows)
            del target  # closes the memory map
            change = np.flatnonzero(np.diff(labels)) + 1
            starts, ends = np.r_[0, change], np.r_[change, len(labels)]
            segments = [Segment(int(s), int(e), int(labels[s]) - 1) for s, e in zip(starts, ends) if labels[s]]
            videos.append(Video(vid, features, segments, None, subset, ignored if ignored.any() else None))
    return VideoDataset(name=key or entry.get("name") or name or root.name, videos=videos,
                        step_names=[info.class_names[c] for c in info.step_columns()], task_names=[],
                        fps=float(fps), oad_info=info)


# ---------------------------------------------------------------------------------------------
# Generated benchmarks, verified by a manifest
# ---------------------------------------------------------------------------------------------

def _default_root() -> Path:
    """<repo>/data/generated for a source checkout, else ~/.cache/gadlib."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "gadlib").is_dir():
            return parent / "data" / "generated"
    return Path.home() / ".cache" / "gadlib"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _data_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.name != "manifest.json")


def _manifest_ok(folder: Path, record: dict) -> bool:
    """True when folder/manifest.json describes this config and every checksum matches."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        files = manifest["files"]
        return (manifest["config"] == record["config"] and manifest["layout"] == record["layout"]
                and sorted(files) == _data_files(folder)
                and all(_sha256(folder / f) == digest for f, digest in files.items()))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_benchmark(name_or_config, size: str = "cpu", layout: str | None = None,
                     root: str | Path | None = None, **overrides) -> VideoDataset:
    """A synthetic benchmark, generated on first use and read back from disk.

    name_or_config: a preset name from `gadlib.benchmark.PRESETS` (with `size` "cpu"/"gpu")
    or a `BenchmarkConfig`; `overrides` replace config fields. The data goes to
    `<root>/<name>[-<size>]-<hash of the config>/` (root defaults to `<repo>/data/generated`),
    in the config's layout unless `layout` ("coin"/"oad") says otherwise, with a
    `manifest.json` (config + sha256 of every file) written last. A missing manifest or a
    changed file means it is generated again.
    """
    if isinstance(name_or_config, BenchmarkConfig):
        config = dataclasses.replace(name_or_config, **overrides)
        label = config.name
    else:
        config, label = preset(name_or_config, size, **overrides), f"{name_or_config}-{size}"
    if layout is not None:
        config = dataclasses.replace(config, layout=layout)
    # JSON round trip so tuples compare equal to the lists read back from the manifest.
    record = json.loads(json.dumps({"config": dataclasses.asdict(config), "layout": config.layout}))
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:10]
    folder = Path(root) if root is not None else _default_root()
    folder = folder / f"{label}-{digest}"

    if not _manifest_ok(folder, record):
        log.info("generating %s", folder)
        dataset = benchmark.generate_benchmark(config)

        def fill(tmp: Path) -> None:
            if config.layout == "coin":
                _write_coin_files(dataset, tmp)
            else:
                _write_oad_files(dataset, tmp)
            files = {f: _sha256(tmp / f) for f in _data_files(tmp)}
            _write_json(tmp / "manifest.json", {**record, "files": files})

        _atomic_write(folder, fill, keep_existing=lambda: _manifest_ok(folder, record))
    return read_coin(folder) if config.layout == "coin" else read_oad(folder)
