"""The COIN layout: `COIN.json` (segments in seconds) + `features/<video>.npy` [T, tokens, D].

Explained in notebooks/01_generative_vs_discriminative.ipynb (data). Also our `meta.json`
(fps, step and task names), written so that a generated data set reads back exactly.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from gadlib.data.videos import Segment, Video, VideoDataset
from gadlib.data.layout_io import (check_dataset, check_features, check_same_shape, check_segments, check_splits,
                              extraction_fps, json_field, load_json, load_npy, name_list, same_fps, save_npy,
                              write_files, write_json)
from gadlib.data.owned_files import write_owned

_COIN_SUBSET = {"training": "train", "testing": "test"}
# Segment seconds -> frames: "round" (gadlib's: frames round(start x fps) .. round(end x fps) - 1)
# or "ceil" (the authors': from ceil(start x fps); their last frame, ceil(end x fps), is taken
# by the samples' `FrameRule(end_frame="inclusive")`).
FRAME_RULES = ("round", "ceil")


def merge_key(name: str) -> str:
    """A step name without its formatting: lower-cased, punctuation and runs of white space as one
    space ("Put On  the Lid." and "put on the lid" are one class, as the authors merge them)."""
    return " ".join(re.sub(r"[^\w\s]", " ", name.lower()).split())


def read_class_list(path: str | Path) -> list[str]:
    """The step classes of a text file, one a line (blank lines skipped), checked distinct after
    `merge_key` (two lines naming one class would make label indices ambiguous)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class list {path}: no such file")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    seen: dict[str, str] = {}
    for n in names:
        if seen.setdefault(merge_key(n), n) != n:
            raise ValueError(f"class list {path}: {seen[merge_key(n)]!r} and {n!r} are one class after merging")
    if not names:
        raise ValueError(f"class list {path}: no class names")
    return names


def _coin_files(dataset: VideoDataset) -> dict[str, Callable[[Path], None]]:
    """The files of `dataset` in the COIN layout (relative path -> function writing it), index last."""
    check_dataset(dataset)
    for v in dataset.videos:
        # COIN.json knows only "training" and "testing", and has no per-frame mask.
        if v.subset == "val" or v.ignored_mask().any():
            raise ValueError(f"data set {dataset.name!r}, video {v.video_id!r}: the COIN layout cannot "
                             f"hold {'a val subset' if v.subset == 'val' else 'ignored frames'}; "
                             f"use write_oad")
    files, database = {}, {}
    for v in dataset.videos:
        files[f"features/{v.video_id}.npy"] = partial(save_npy, array=np.asarray(v.features, dtype=np.float32))
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
    files["meta.json"] = partial(write_json, value={"name": dataset.name, "fps": dataset.fps,
                                                    "step_names": dataset.step_names,
                                                    "task_names": dataset.task_names})
    files["COIN.json"] = partial(write_json, value={"database": database})
    return files


def write_coin_files(dataset: VideoDataset, folder: Path) -> None:
    """Write `dataset` in the COIN layout into the new, empty `folder` (the generated cache)."""
    write_files(folder, _coin_files(dataset))


def write_coin(dataset: VideoDataset, root: str | Path) -> list[str]:
    """Write `dataset` in the COIN layout under `root`; returns the stale files it removed.

    Only gadlib's own files are created or replaced, one at a time (COIN.json and meta.json last):
    anything else in `root` is kept, and a file in the way that gadlib did not write is an error
    naming it before anything is written (`gadlib.data.owned_files`, data/README.md).
    """
    return write_owned(root, _coin_files(dataset), ["features/*.npy"], first=("COIN.json", "meta.json"),
                       what="write_coin")


@dataclass
class CoinReadReport:
    """What a lenient `read_coin` left out or changed.

    skipped: video id -> why (its feature file is missing); clipped: (video id, segment index,
    end frame in COIN.json, end frame kept) for each segment cut back to the last feature frame;
    dropped: (video id, segment index) of segments that clipping left empty.
    """
    skipped: dict[str, str] = field(default_factory=dict)
    clipped: list[tuple[str, int, int, int]] = field(default_factory=list)
    dropped: list[tuple[str, int]] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)} video(s) without a feature file "
                         f"({', '.join(list(self.skipped)[:5])}{', ...' if len(self.skipped) > 5 else ''})")
        if self.clipped:
            most = max(old - new for _, _, old, new in self.clipped)
            parts.append(f"clipped {len(self.clipped)} segment(s) ending past the features by at most "
                         f"{most} frame(s) (first: video {self.clipped[0][0]!r}, segment {self.clipped[0][1]})")
        if self.dropped:
            parts.append(f"dropped {len(self.dropped)} segment(s) left empty by clipping")
        return "; ".join(parts)


def read_coin(root: str | Path, features: str = "features", fps: float | None = None,
              missing_features: str = "error", clip_frames: int = 0,
              report: CoinReadReport | None = None, frame_rule: str = "round", spans: bool = False,
              classes: str | Path | None = None) -> VideoDataset:
    """Read a COIN-layout data set.

    fps (segment seconds -> frames, frame = round(seconds x fps)) is taken from every source
    there is, and they must agree (an error names both): `<root>/<features>/manifest.json`
    (settings.fps, written by `python -m gadlib.features`), meta.json, and the `fps` argument. With
    none of them it is an error: there is no default rate. Without meta.json, step and task names
    are the sorted names found in the annotations. Annotation "id"s are ignored (real COIN uses
    global ids).

    Strict by default (our generated data must read back exactly). For a real folder:
    missing_features="skip" leaves out the videos of COIN.json without a feature file, and
    clip_frames=N cuts a segment that ends at most N frames past the last feature frame back to it
    (real COIN end times often round to one frame past the features); a segment that clipping
    leaves empty is dropped, an overrun beyond N is still an error. Whatever was skipped or
    clipped is reported in a warning, and in full in `report` when one is passed.

    The authors' recipe (configs/README.md): frame_rule "ceil" (`FRAME_RULES`); spans: keep each
    video's COIN.json start .. end as `Video.span` (frames, the same rule); classes: "merged"
    (the step names lower-cased and merged by `merge_key`, sorted) or a text file of class
    names (`read_class_list`), every label mapped onto it by `merge_key` (a label not in it is
    an error naming it).
    """
    if frame_rule not in FRAME_RULES:
        raise ValueError(f"read_coin: frame_rule must be one of {FRAME_RULES}, got {frame_rule!r}")
    to_frame = (lambda x: int(math.ceil(x * fps - 1e-9))) if frame_rule == "ceil" else (lambda x: int(round(x * fps)))
    if missing_features not in ("error", "skip"):
        raise ValueError(f'read_coin: missing_features must be "error" or "skip", got {missing_features!r}')
    if not (isinstance(clip_frames, int) and clip_frames >= 0):
        raise ValueError(f"read_coin: clip_frames must be an integer >= 0 (frames), got {clip_frames!r}")
    report = CoinReadReport() if report is None else report
    root = Path(root)
    ann_path, meta_path = root / "COIN.json", root / "meta.json"
    database = json_field(load_json(ann_path), "database", str(ann_path), "dict")
    for vid, entry in database.items():
        where = f"{ann_path}: database[{vid!r}]"
        if json_field(entry, "subset", where, "string") not in _COIN_SUBSET:
            raise ValueError(f"{where}: field 'subset' should be one of {list(_COIN_SUBSET)}, "
                             f"got {entry['subset']!r}")
        for j, item in enumerate(json_field(entry, "annotation", where, "list")):
            json_field(item, "label", f"{where}.annotation[{j}]", "string")
            segment = json_field(item, "segment", f"{where}.annotation[{j}]", "list")
            if len(segment) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                            for x in segment):
                raise ValueError(f"{where}.annotation[{j}]: field 'segment' should be [start_s, end_s], "
                                 f"got {segment!r}")
    has_tasks = any("class" in e for e in database.values())

    rates = []  # (fps, where it comes from), compared in read_coin's documented order
    if meta_path.exists():
        meta = load_json(meta_path)
        rates.append((json_field(meta, "fps", str(meta_path), "number"), f"{meta_path} (field 'fps')"))
        step_names = name_list(meta, "step_names", str(meta_path))
        task_names = name_list(meta, "task_names", str(meta_path))
        name = meta.get("name", root.name)
        has_tasks = has_tasks or bool(task_names)
    else:
        step_names = sorted({item["label"] for e in database.values() for item in e["annotation"]})
        task_names = sorted({json_field(e, "class", f"{ann_path}: database[{vid!r}]", "string")
                             for vid, e in database.items()}) if has_tasks else []
        name = root.name
    fps = _coin_fps(rates + ([] if fps is None else [(fps, f"fps={fps} (argument)")]), root / features, root)
    step_index = {n: i for i, n in enumerate(step_names)}
    if classes is not None:
        step_names = (sorted({merge_key(n) for n in step_names}) if str(classes) == "merged"
                      else read_class_list(classes))
        merged = {merge_key(n): i for i, n in enumerate(step_names)}
        where = "the merged step names" if str(classes) == "merged" else f"class list {classes}"
        found = {item["label"] for e in database.values() for item in e["annotation"]}
        unknown = sorted(n for n in found if merge_key(n) not in merged)
        if unknown:
            raise ValueError(f"read_coin {root}: step label(s) {unknown[:5]} are not in {where}")
        step_index = {n: merged[merge_key(n)] for n in found}
    task_index = {n: i for i, n in enumerate(task_names)}

    videos, first = [], None
    for vid, entry in database.items():
        where = f"{ann_path}: database[{vid!r}]"
        feature_path = root / features / f"{vid}.npy"
        if missing_features == "skip" and not feature_path.is_file():
            report.skipped[vid] = f"{feature_path}: file not found"
            continue
        array = check_features(load_npy(feature_path, f"feature (video {vid!r} listed in {ann_path})"),
                                str(feature_path))
        first = check_same_shape(array, first, str(feature_path))
        task = None
        if has_tasks:
            task_name = json_field(entry, "class", where, "string")
            if task_name not in task_index:
                raise ValueError(f"{where}: field 'class' {task_name!r} is not in task_names of {meta_path}")
            task = task_index[task_name]
        segments = []
        for j, item in enumerate(entry["annotation"]):
            if item["label"] not in step_index:
                raise ValueError(f"{where}.annotation[{j}]: label {item['label']!r} is not in step_names "
                                 f"of {meta_path}")
            start, end = (to_frame(x) for x in item["segment"])
            if len(array) < end <= len(array) + clip_frames:
                report.clipped.append((vid, j, end, len(array)))
                end = len(array)
                if end <= start:
                    report.dropped.append((vid, j))
                    continue
            segments.append(Segment(start, end, step_index[item["label"]]))
        segments.sort(key=lambda s: s.start)
        check_segments(segments, len(array), len(step_names),
                        f"{where} (frames at {fps} fps; {len(array)} frames in {feature_path})")
        span = None
        if spans:
            start, end = (min(to_frame(json_field(entry, k, where, "number")), len(array)) for k in ("start", "end"))
            if end <= start:
                raise ValueError(f"{where}: start .. end ({entry['start']} .. {entry['end']} s) holds no frame "
                                 f"of {feature_path}")
            span = (start, end)
        videos.append(Video(vid, array, segments, task, _COIN_SUBSET[entry["subset"]], span=span))
    if report.summary():
        warnings.warn(f"read_coin {root}: {report.summary()}", stacklevel=2)
    check_splits(videos, str(ann_path))
    return VideoDataset(name=name, videos=videos, step_names=list(step_names),
                        task_names=list(task_names), fps=fps)



def _coin_fps(rates: list[tuple[float, str]], feature_folder: Path, root: Path) -> float:
    """The one frame rate that the extraction manifest, meta.json and the argument agree on."""
    extracted = extraction_fps(feature_folder)
    rates = ([extracted] if extracted else []) + rates
    if not rates:
        raise ValueError(f"read_coin {root}: no frame rate for the features: there is no "
                         f"{feature_folder / 'manifest.json'} (python -m gadlib.features) and no "
                         f"{root / 'meta.json'}; pass fps= (frames per second they were extracted at)")
    for value, where in rates:
        if not value > 0:
            raise ValueError(f"{where}: fps must be > 0, got {value}")
    for value, where in rates[1:]:
        if not same_fps(value, rates[0][0]):
            raise ValueError(f"read_coin {root}: frame rates disagree: {rates[0][0]} from {rates[0][1]} "
                             f"but {value} from {where}")
    return float(rates[0][0])
