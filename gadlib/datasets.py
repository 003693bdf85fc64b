"""Videos with step segments in memory, and the two on-disk layouts people already have.

Explained in notebooks/01_generative_vs_discriminative.ipynb (data) and used by every notebook.

- COIN layout: `<root>/COIN.json` (segments in seconds), `<root>/features/<video>.npy`
  `[T, tokens, D]`, and our `<root>/meta.json` (fps, step and task names).
- OAD layout (MAT/TeSTra convention): `<root>/<feature_dir>/<video>.npy` `[T, D]`,
  `<root>/target_perframe/<video>.npy` `[T, C]` one-hot (column 0 = background) and
  `<root>/data_info.json` (class_names, num_classes, fps, train/test session sets).

Readers check everything they read and name the file and field at fault. Writers never leave a
half-written data set behind: they write into a temporary folder next to the target and rename
it at the end. `ensure_benchmark` generates a synthetic preset on first use, writes it in its
layout and reads it back through the same reader, so our data and yours take the same path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

SUBSETS = ("train", "test")
_COIN_SUBSET = {"training": "train", "testing": "test"}


@dataclass
class Segment:
    """One annotated step: frames start .. end - 1."""

    start: int  # first frame index (inclusive)
    end: int  # last frame index (exclusive); end > start
    label: int  # index into VideoDataset.step_names


@dataclass
class Video:
    """One video: per-frame visual tokens plus its step segments."""

    video_id: str
    features: np.ndarray  # float32 [T, tokens_per_frame, D]
    segments: list[Segment]  # sorted by start, non-overlapping, inside [0, T)
    task: int | None  # index into VideoDataset.task_names; None when the data set has no tasks
    subset: str  # "train" or "test"
    # bool [T] or None: frames neither trained on nor scored (a data set's `ignore_index` class,
    # e.g. THUMOS'14's "Ambiguous"); None = every frame counts
    ignored: np.ndarray | None = None

    def ignored_mask(self) -> np.ndarray:
        """bool [T]: True where a frame must not be trained on, scored or used as a previous action."""
        if self.ignored is None:
            return np.zeros(len(self.features), dtype=bool)
        return np.asarray(self.ignored, dtype=bool)

    def frame_labels(self) -> np.ndarray:
        """int64 [T]: 0 = background, step label + 1 inside a segment."""
        labels = np.zeros(len(self.features), dtype=np.int64)
        for s in self.segments:
            labels[s.start:s.end] = s.label + 1
        return labels


@dataclass
class VideoDataset:
    """A data set: videos, class names without background, task names ([] for OAD data)."""

    name: str
    videos: list[Video]
    step_names: list[str]
    task_names: list[str]
    fps: float

    def split(self, subset: str) -> list[Video]:
        """The videos of one subset ("train" or "test")."""
        videos = [v for v in self.videos if v.subset == subset]
        if not videos:
            raise ValueError(f"data set {self.name!r} has no videos in subset {subset!r} "
                             f"(subsets present: {sorted({v.subset for v in self.videos})})")
        return videos

    @property
    def feature_dim(self) -> int:
        return int(self.videos[0].features.shape[2])

    @property
    def tokens_per_frame(self) -> int:
        return int(self.videos[0].features.shape[1])


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


def _load_npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} file not found")
    try:
        return np.load(path, allow_pickle=False)
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


def _check_features(features: np.ndarray, where: str) -> np.ndarray:
    """Features as float32 [T, tokens, D] ([T, D] is read as one token per frame)."""
    if features.ndim == 2:
        features = features[:, None, :]
    if features.ndim != 3 or features.shape[0] == 0 or features.shape[2] == 0:
        raise ValueError(f"{where}: features should be [T, D] or [T, tokens, D] with T, D > 0, "
                         f"got shape {features.shape}")
    if not np.issubdtype(features.dtype, np.number):
        raise ValueError(f"{where}: features should be numeric, got dtype {features.dtype}")
    finite = np.isfinite(features).all(axis=(1, 2))
    if not finite.all():
        raise ValueError(f"{where}: features contain NaN or inf (first at frame {int(np.argmin(finite))})")
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
        if not isinstance(v.features, np.ndarray) or v.features.ndim != 3:
            raise ValueError(f"{where}: features should be an array [T, tokens, D], got "
                             f"{getattr(v.features, 'shape', type(v.features).__name__)}")
        _check_features(v.features, where)
        first = _check_same_shape(v.features, first, where)
        _check_segments(v.segments, len(v.features), len(dataset.step_names), where)
        if dataset.task_names and not (isinstance(v.task, (int, np.integer))
                                       and 0 <= v.task < len(dataset.task_names)):
            raise ValueError(f"{where}: task should be an index into the {len(dataset.task_names)} "
                             f"task_names, got {v.task!r}")
        if not dataset.task_names and v.task is not None:
            raise ValueError(f"{where}: task is {v.task!r} but the data set has no task_names")


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
    (folder / "features").mkdir()
    database = {}
    for v in dataset.videos:
        np.save(folder / "features" / f"{v.video_id}.npy", v.features.astype(np.float32))
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


def _check_splits(videos: list[Video], where: str) -> None:
    for subset in SUBSETS:
        if not any(v.subset == subset for v in videos):
            raise ValueError(f"{where}: the {subset!r} split is empty")


# ---------------------------------------------------------------------------------------------
# OAD layout (MAT / TeSTra)
# ---------------------------------------------------------------------------------------------

def _write_oad_files(dataset: VideoDataset, folder: Path, feature_dir: str = "rgb_features") -> None:
    _check_dataset(dataset)
    if dataset.tokens_per_frame != 1:
        raise ValueError(f"data set {dataset.name!r}: the OAD layout stores one token per frame, "
                         f"got tokens_per_frame={dataset.tokens_per_frame}")
    (folder / feature_dir).mkdir(parents=True)
    (folder / "target_perframe").mkdir()
    num_classes = len(dataset.step_names) + 1
    for v in dataset.videos:
        for a, b in zip(v.segments, v.segments[1:]):
            if a.end == b.start and a.label == b.label:
                # Per-frame targets cannot tell two touching same-label segments from one.
                raise ValueError(f"data set {dataset.name!r}, video {v.video_id!r}: segments at frames "
                                 f"{a.start} and {b.start} touch and share a label; the OAD layout "
                                 f"would merge them")
        np.save(folder / feature_dir / f"{v.video_id}.npy", v.features[:, 0, :].astype(np.float32))
        np.save(folder / "target_perframe" / f"{v.video_id}.npy",
                np.eye(num_classes, dtype=np.float32)[v.frame_labels()])
    _write_json(folder / "data_info.json", {
        "name": dataset.name,
        "class_names": ["background"] + list(dataset.step_names),
        "num_classes": num_classes,
        "fps": dataset.fps,
        "train_session_set": [v.video_id for v in dataset.videos if v.subset == "train"],
        "test_session_set": [v.video_id for v in dataset.videos if v.subset == "test"],
    })


def write_oad(dataset: VideoDataset, root: str | Path, feature_dir: str = "rgb_features") -> None:
    """Write `dataset` in the OAD layout under `root` (atomically). Tasks are not written."""
    _atomic_write(Path(root), lambda folder: _write_oad_files(dataset, folder, feature_dir))


def read_oad(root: str | Path, feature_dir: str = "rgb_features", name: str | None = None) -> VideoDataset:
    """Read an OAD-layout data set; segments are the runs of equal non-background labels.

    MAT/TeSTra keep one data_info.json for several data sets ({"THUMOS": {...}, ...}): then
    `name` picks the entry (optional when there is only one).
    """
    root = Path(root)
    info_path = root / "data_info.json"
    info = _load_json(info_path)
    where = str(info_path)
    if isinstance(info, dict) and "class_names" not in info:
        nested = {k: v for k, v in info.items() if isinstance(v, dict) and "class_names" in v}
        if name is None and len(nested) == 1:
            name = next(iter(nested))
        if name not in nested:
            raise ValueError(f"{where}: missing field 'class_names' (and no data set entry "
                             f"{name!r} among {sorted(nested)})")
        info, where = nested[name], f"{info_path}: [{name!r}]"
    class_names = _names(info, "class_names", where)
    num_classes = _field(info, "num_classes", where, "integer")
    if num_classes != len(class_names) or num_classes < 2:
        raise ValueError(f"{where}: field 'num_classes' is {num_classes} but 'class_names' has "
                         f"{len(class_names)} entries (background first, at least one action)")
    fps = _field(info, "fps", where, "number")
    if fps <= 0:
        raise ValueError(f"{where}: field 'fps' must be > 0, got {fps}")
    sessions = {subset: _field(info, f"{subset}_session_set", where, "list") for subset in SUBSETS}
    for subset, ids in sessions.items():
        if not ids:
            raise ValueError(f"{where}: field '{subset}_session_set' is empty (empty {subset!r} split)")
    both = set(sessions["train"]) & set(sessions["test"])
    if both:
        raise ValueError(f"{where}: videos {sorted(both)[:5]} are in both train_session_set and test_session_set")

    videos, first = [], None
    for subset, ids in sessions.items():
        for vid in ids:
            feature_path = root / feature_dir / f"{vid}.npy"
            target_path = root / "target_perframe" / f"{vid}.npy"
            array = _check_features(_load_npy(feature_path, f"feature (video {vid!r} listed in {info_path})"),
                                    str(feature_path))
            if array.shape[1] != 1:
                raise ValueError(f"{feature_path}: OAD features should be [T, D], got shape {array.shape}")
            first = _check_same_shape(array, first, str(feature_path))
            labels = _one_hot_labels(_load_npy(target_path, f"target (video {vid!r} listed in {info_path})"),
                                     len(array), num_classes, target_path)
            change = np.flatnonzero(np.diff(labels)) + 1
            starts, ends = np.r_[0, change], np.r_[change, len(labels)]
            segments = [Segment(int(s), int(e), int(labels[s]) - 1) for s, e in zip(starts, ends) if labels[s]]
            videos.append(Video(vid, array, segments, None, subset))
    return VideoDataset(name=info.get("name", name or root.name), videos=videos,
                        step_names=list(class_names[1:]), task_names=[], fps=float(fps))


def _one_hot_labels(target: np.ndarray, num_frames: int, num_classes: int, path: Path) -> np.ndarray:
    """Class index per frame from a [T, C] one-hot target, checking it is exactly that."""
    if target.ndim != 2 or target.shape != (num_frames, num_classes):
        raise ValueError(f"{path}: target should be [T, C] = [{num_frames}, {num_classes}] (T from the "
                         f"features, C = num_classes), got shape {target.shape}")
    ok = ((target == 0) | (target == 1)).all(axis=1) & (target.sum(axis=1) == 1)
    if not ok.all():
        row = int(np.argmin(ok))
        raise ValueError(f"{path}: row {row} is not one-hot: {target[row].tolist()[:10]}")
    return target.argmax(axis=1)


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
    from gadlib.benchmark import BenchmarkConfig, generate_benchmark, preset  # benchmark imports us

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
        dataset = generate_benchmark(config)

        def fill(tmp: Path) -> None:
            if config.layout == "coin":
                _write_coin_files(dataset, tmp)
            else:
                _write_oad_files(dataset, tmp)
            files = {f: _sha256(tmp / f) for f in _data_files(tmp)}
            _write_json(tmp / "manifest.json", {**record, "files": files})

        _atomic_write(folder, fill, keep_existing=lambda: _manifest_ok(folder, record))
    return read_coin(folder) if config.layout == "coin" else read_oad(folder)
