"""Reading and writing helpers shared by the on-disk layouts (`coin_layout`, `oad_layout`).

Explained in notebooks/01_generative_vs_discriminative.ipynb (data) and data/README.md. Every check
names the file and field at fault. Writing into a user's folder goes through `gadlib.data.owned_files`
(one file at a time, never a file gadlib did not write); `atomic_write` swaps a whole folder and
is only for a folder gadlib owns outright (the generated cache of `datasets.ensure_benchmark`).
"""

from __future__ import annotations

import codecs
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from gadlib.data.videos import SUBSETS, ConcatenatedFeatures, Segment, Video, VideoDataset

# Arrays are checked this many bytes at a time, so a memory-mapped file is never copied whole.
CHUNK_BYTES = 16 << 20


def read_text(path: Path) -> str:
    """A text file decoded as UTF-8. A byte-order mark is dropped: Excel and Windows Notepad write
    one at the start of a UTF-8 file they save, and annotation files are often fixed in them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    data = path.read_bytes()
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        # newlines as written: the CSV reader needs them untranslated (quoted line breaks)
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = bom + e.start
        line = data[:at].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {at}); save the file as UTF-8") from None


def load_json(path: Path):
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e


def load_npy(path: Path, what: str, mmap: bool = False) -> np.ndarray:
    """np.load, read-only memory-mapped when `mmap` (nothing is read until it is indexed)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} file not found")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot read {what} array: {e}") from e


_KINDS = {"list": list, "dict": dict, "string": str, "number": (int, float), "integer": int}


def json_field(record, key: str, where: str, kind: str):
    """record[key], checked to be of `kind` (a key of _KINDS); errors name where and key."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if key not in record:
        raise ValueError(f"{where}: missing field {key!r}")
    value = record[key]
    if not isinstance(value, _KINDS[kind]) or isinstance(value, bool):
        raise ValueError(f"{where}: field {key!r} should be a {kind}, got {value!r}")
    return value


def name_list(record, key: str, where: str) -> list[str]:
    """A list of distinct class names (a duplicate would make label indices ambiguous)."""
    names = json_field(record, key, where, "list")
    if not all(isinstance(n, str) for n in names):
        raise ValueError(f"{where}: field {key!r} should be a list of strings")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{where}: field {key!r} has duplicate names {duplicates[:5]}")
    return names


def extraction_fps(feature_folder: Path) -> tuple[float, str] | None:
    """(fps, where) from the `manifest.json` that `python -m gadlib.features` keeps in a feature
    folder (field settings.fps), or None when there is none.

    A manifest.json without a 'settings' field is not an extraction manifest and is left alone;
    one with settings but no valid fps is an error.
    """
    path = Path(feature_folder) / "manifest.json"
    if not path.is_file():
        return None
    manifest = load_json(path)
    if not isinstance(manifest, dict) or "settings" not in manifest:
        return None
    fps = json_field(json_field(manifest, "settings", str(path), "dict"), "fps", f"{path}: settings", "number")
    if fps <= 0:
        raise ValueError(f"{path}: settings.fps must be > 0, got {fps}")
    return float(fps), f"{path} (settings.fps)"


def same_fps(a: float, b: float) -> bool:
    # 4 and 4.0, or 29.97 written two ways, are one rate; 2 and 4 are not
    return math.isclose(a, b, rel_tol=1e-6)


def chunk_starts(array) -> range:
    """Start rows of blocks of about CHUNK_BYTES (works on arrays, memory maps and views)."""
    row_bytes = max(1, int(np.prod(array.shape[1:])) * array.dtype.itemsize)
    return range(0, len(array), max(1, CHUNK_BYTES // row_bytes))


def first_nonfinite_row(array) -> int | None:
    """Index of the first row holding NaN or inf, checked block by block (no full copy), or None."""
    if not np.issubdtype(array.dtype, np.inexact):
        return None
    step = chunk_starts(array).step
    for start in chunk_starts(array):
        block = np.asarray(array[start:start + step])
        finite = np.isfinite(block).reshape(len(block), -1).all(axis=1)
        if not finite.all():
            return start + int(np.argmin(finite))
    return None


def check_numeric_finite(array, where: str) -> None:
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{where}: features should be numeric, got dtype {array.dtype}")
    bad = first_nonfinite_row(array)
    if bad is not None:
        raise ValueError(f"{where}: features contain NaN or inf (first at frame {bad})")


def check_features(features: np.ndarray, where: str) -> np.ndarray:
    """Features as float32 [T, tokens, D] ([T, D] is read as one token per frame)."""
    if features.ndim == 2:
        features = features[:, None, :]
    if features.ndim != 3 or features.shape[0] == 0 or features.shape[2] == 0:
        raise ValueError(f"{where}: features should be [T, D] or [T, tokens, D] with T, D > 0, "
                         f"got shape {features.shape}")
    check_numeric_finite(features, where)
    return features.astype(np.float32, copy=False)


def check_same_shape(features: np.ndarray, first: tuple[str, tuple] | None, where: str):
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


def check_segments(segments: list[Segment], num_frames: int, num_steps: int, where: str) -> None:
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


def check_dataset(dataset: VideoDataset) -> None:
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
        check_numeric_finite(v.features, where)
        first = check_same_shape(v.features, first, where)
        check_segments(v.segments, len(v.features), len(dataset.step_names), where)
        if v.ignored is not None and np.shape(v.ignored) != (len(v.features),):
            raise ValueError(f"{where}: ignored should be a bool array [T] = [{len(v.features)}], "
                             f"got shape {np.shape(v.ignored)}")
        if v.also_true is not None:
            extra = np.asarray(v.also_true)
            if (extra.ndim != 2 or extra.shape[1] != 2 or not np.issubdtype(extra.dtype, np.integer)
                    or (extra < 0).any() or (extra[:, 0] >= len(v.features)).any()
                    or (extra[:, 1] > len(dataset.step_names)).any()):
                raise ValueError(f"{where}: also_true should be integer (frame, label) rows [K, 2] with frame in "
                                 f"[0, {len(v.features)}) and label in [0, {len(dataset.step_names)}]")
        if dataset.task_names and not (isinstance(v.task, (int, np.integer))
                                       and 0 <= v.task < len(dataset.task_names)):
            raise ValueError(f"{where}: task should be an index into the {len(dataset.task_names)} "
                             f"task_names, got {v.task!r}")
        if not dataset.task_names and v.task is not None:
            raise ValueError(f"{where}: task is {v.task!r} but the data set has no task_names")


def check_splits(videos: list[Video], where: str) -> None:
    for subset in ("train", "test"):
        if not any(v.subset == subset for v in videos):
            raise ValueError(f"{where}: the {subset!r} split is empty")


def atomic_write(target: Path, fill: Callable[[Path], None],
                  keep_existing: Callable[[], bool] = lambda: False) -> None:
    """Let `fill` write a temporary folder next to `target`, then rename it to `target`.

    The old `target` is deleted whole: call it only on a folder gadlib owns outright (the caller
    checks that, as `datasets.ensure_benchmark` does). A crash leaves either the old folder or the new one, never a mix. `keep_existing` is asked
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


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=1) + "\n")


def save_npy(path: Path, array: np.ndarray) -> None:
    # A file object: np.save given a name not ending in .npy (a temporary name) would append .npy.
    with open(path, "xb") as f:
        np.save(f, array)


def write_files(folder: Path, files: dict[str, Callable[[Path], None]]) -> None:
    """Create each file of `files` (relative path -> function writing it) in the new, empty `folder`."""
    for rel, make in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        make(folder / rel)

