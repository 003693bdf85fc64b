"""Official annotations + per-video features -> the OAD layout `read_oad` reads.

    python -m gadlib.convert thumos14  --annotations /data/THUMOS14/validation_annotations \\
        --annotations /data/THUMOS14/test_annotations --features /data/THUMOS/rgb --fps 4 --out /data/THUMOS
    python -m gadlib.convert crosstask --annotations /data/crosstask_release \\
        --features /data/CrossTask/dinov2_vitg14 --split /data/crosstask_release/videos_val.csv --out /data/CrossTask
    python -m gadlib.convert epic100   --annotations /data/epic-kitchens-100-annotations --features DIR --fps 4 \\
        --class-order /data/TeSTra/data_info.json --info-key EK100 --out DIR
    python -m gadlib.convert goalstep  --annotations /data/goalstep --features DIR --out DIR \\
        [--goalstep-names step] [--goalstep-level steps+substeps]
    python -m gadlib.convert own       --annotations my_segments.csv --features DIR --fps 2 --out DIR
    python -m gadlib.convert coin      --annotations /data/COIN/COIN.json --features /data/COIN/features --out DIR

Explained in data/README.md ("Converting official annotations"); the formats are read by
`gadlib.data.annotation_formats`. What is written under --out: `data_info.json` (class_names with
background first, num_classes, fps, train/test_session_set, ignore_index for THUMOS'14),
`target_perframe/<video>.npy` (uint8 [T, C], multi-hot where segments of different classes
overlap), `<feature_dir>/<video>.npy` (symlinks to the --features files, or the folder itself
when --features is already `<out>/<feature_dir>`) and `convert_report.json`.

Frames (--frame-rule, `annotation_formats.FRAME_RULES`): "sample", the default, takes frame t as the
time t / fps, and a segment [start, end) in seconds covers the frames whose time lies in it: frames
ceil(start x fps) .. ceil(end x fps) - 1; "overlap", crosstask's default as in CrossTask's own
loader, takes frame t as the span [t / fps, (t + 1) / fps) and a segment covers every frame
it overlaps: floor(start x fps) .. ceil(end x fps) - 1. --class-order and --split-from reuse a
class list or split the user has (`gadlib.data.annotation_options`). fps comes from the extraction
manifest in --features (`python -m gadlib.features`), else --fps; both given and different is an
error. Nothing is dropped silently: videos without a feature file, segments of zero length,
covering no frame or starting past the last frame are dropped, segments running past the last
frame (or starting before 0) are clipped, and each is listed in the printed summary and in
convert_report.json. --out follows the writer rule of `gadlib.data.owned_files`: no file gadlib did
not write is overwritten or deleted. `coin` writes only the report: `read_coin` reads COIN.json
as it is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from functools import partial
from pathlib import Path

import numpy as np

from gadlib.data import annotation_formats as formats
from gadlib.data.annotation_formats import FRAME_RULES, GOALSTEP_LEVELS, GOALSTEP_NAMES, Annotations
from gadlib.data.annotation_options import order_classes, split_from
from gadlib.data.coin_layout import CoinReadReport, read_coin
from gadlib.data.layout_io import extraction_fps, load_npy, same_fps, save_npy, write_json
from gadlib.data.owned_files import matching_files, write_owned

DATASETS = ("thumos14", "crosstask", "epic100", "goalstep", "own", "coin")
REPORT = "convert_report.json"
_SHOWN = 5  # items of each kind printed in the summary (all of them are in the report)


def frame_range(start: float, end: float, fps: float, rule: str = "sample") -> tuple[int, int]:
    """[first, last + 1) of the frames a segment covers by `rule` (a key of FRAME_RULES), before
    clipping to the video.

    Rounded to 1e-6 frame first, so that 0.7 s x 10 fps (7.000000000000001 in floating point) is
    frame 7, not 8, and 0.3 s x 10 fps (2.9999999999999996) frame 3, not 2.
    """
    first, end_frame = round(start * fps, 6), round(end * fps, 6)
    return (math.ceil(first) if rule == "sample" else math.floor(first)), math.ceil(end_frame)


def resolve_fps(features: Path, fps: float | None) -> tuple[float, str]:
    """(fps, where it comes from): the extraction manifest, else the --fps given; they must agree."""
    extracted = extraction_fps(features)
    if fps is not None and not fps > 0:
        raise ValueError(f"--fps must be > 0, got {fps}")
    if extracted and fps is not None and not same_fps(extracted[0], fps):
        raise ValueError(f"--fps {fps} disagrees with {extracted[1]}, which says {extracted[0]}: "
                         f"the features were extracted at {extracted[0]} fps")
    if extracted:
        return extracted[0], extracted[1]
    if fps is None:
        raise ValueError(f"{features}: no extraction manifest (manifest.json with settings.fps) to take the "
                         f"frame rate from: pass --fps (frames per second of the feature files)")
    return float(fps), "--fps"


def _feature_lengths(ann: Annotations, features: Path, report: dict) -> dict[str, int]:
    """Frames per video with a feature file; videos without one go to the report."""
    lengths, first = {}, None
    for video in ann.subsets:
        path = features / f"{video}.npy"
        if not path.is_file():
            count = sum(s.video == video for s in ann.segments)
            report["dropped_videos"].append({"video": video, "split": ann.subsets[video], "segments": count,
                                             "reason": f"no feature file {path}"})
            continue
        shape = load_npy(path, f"feature (video {video!r})", mmap=True).shape
        if not (len(shape) == 2 or (len(shape) == 3 and shape[1] == 1)) or 0 in shape:
            raise ValueError(f"{path}: features should be [T, D] or [T, 1, D] with T, D > 0, got shape {shape}")
        if first is not None and shape[-1] != first[1]:
            raise ValueError(f"{path}: features are {shape[-1]}-d but {first[0]} has {first[1]}")
        first = first or (path, shape[-1])
        lengths[video] = shape[0]
    return lengths


def _frame_segments(ann: Annotations, lengths: dict[str, int], fps: float, rule: str, report: dict):
    """video -> [(first frame, end frame, column)], after dropping and clipping (all reported)."""
    per_video = {video: [] for video in lengths}
    for s in ann.segments:
        if s.end < s.start:
            raise ValueError(f"{s.source}: end {s.end} s is before start {s.start} s")
        if s.video not in lengths:
            continue  # counted with its video in dropped_videos
        record = {"video": s.video, "class": ann.class_names[s.column], "start_s": s.start, "end_s": s.end,
                  "source": s.source}
        a, b = frame_range(s.start, s.end, fps, rule)
        frames = lengths[s.video]
        if s.end == s.start:
            report["dropped_segments"].append({**record, "reason": "zero length"})
        elif a >= frames:
            report["dropped_segments"].append({**record, "reason": f"starts at frame {a}, past the video's "
                                                                   f"{frames} frames"})
        elif b <= max(a, 0):
            report["dropped_segments"].append({**record, "reason": f"covers no frame at {fps} fps"})
        else:
            if a < 0 or b > frames:
                report["clipped_segments"].append({**record, "frames": [a, b], "kept": [max(a, 0), min(b, frames)]})
            per_video[s.video].append((max(a, 0), min(b, frames), s.column))
    return per_video


def _multi_label_frames(segments, frames: int, ignore_index: int | None) -> int:
    """Frames where two or more action classes are set (the ignored class not counted)."""
    columns = sorted({c for _, _, c in segments if c != ignore_index})
    if len(columns) < 2:
        return 0
    covered = np.zeros((frames, len(columns)), dtype=bool)
    for a, b, c in segments:
        if c != ignore_index:
            covered[a:b, columns.index(c)] = True
    return int((covered.sum(axis=1) > 1).sum())


def _target(segments, frames: int, num_classes: int) -> np.ndarray:
    """uint8 [T, C]: every class covering a frame is set (multi-hot); background only where none is."""
    target = np.zeros((frames, num_classes), dtype=np.uint8)
    for a, b, column in segments:
        target[a:b, column] = 1
    target[:, 0] = target.max(axis=1) == 0
    return target


def _empty_report(dataset: str, annotations: str, features: Path, out: Path) -> dict:
    return {"dataset": dataset, "annotations": annotations, "features": str(features), "out": str(out),
            "dropped_videos": [], "dropped_segments": [], "clipped_segments": []}


def convert(ann: Annotations, features: str | Path, out: str | Path, fps: float | None = None,
            feature_dir: str | None = None, annotations_path: str | Path = "", frame_rule: str | None = None) -> dict:
    """Write `ann` with the feature files of `features` in the OAD layout under `out`; returns the report.

    feature_dir: the features' folder name under `out` (default: the name of `features`).
    frame_rule: a key of FRAME_RULES (default: the data set's own, `ann.frame_rule`).
    """
    features, out = Path(features), Path(out)
    frame_rule = frame_rule or ann.frame_rule
    if frame_rule not in FRAME_RULES:
        raise ValueError(f"--frame-rule should be one of {', '.join(FRAME_RULES)}, got {frame_rule!r}")
    if not features.is_dir():
        raise FileNotFoundError(f"{features}: features folder not found")
    feature_dir = feature_dir or features.resolve().name
    if "/" in feature_dir or feature_dir.startswith(".") or feature_dir == "target_perframe":
        raise ValueError(f"--feature-dir should be a plain folder name, got {feature_dir!r}")
    # A video id becomes a file name under --out: "a/b" or ".." would write elsewhere.
    odd = [v for v in ann.subsets if not v or v in (".", "..") or "/" in v or "\\" in v or v.startswith(".")]
    if odd:
        raise ValueError(f"{annotations_path or ann.name}: video ids must be plain file names; got "
                         f"{', '.join(map(repr, odd[:5]))}")
    fps, fps_from = resolve_fps(features, fps)
    report = _empty_report(ann.name, str(annotations_path), features, out)
    report["dropped_videos"] = list(ann.dropped_videos)
    lengths = _feature_lengths(ann, features, report)
    per_video = _frame_segments(ann, lengths, fps, frame_rule, report)
    kept = {video: subset for video, subset in ann.subsets.items() if video in lengths}
    for subset in ("train", "test"):
        if subset not in kept.values():
            raise ValueError(f"{ann.name}: the {subset!r} split has no video with a feature file in {features} "
                             f"({sum(s == subset for s in ann.subsets.values())} annotated)")
    linked = (out / feature_dir).resolve() != features.resolve()
    unannotated = sorted(p.stem for p in features.glob("*.npy") if p.stem not in ann.subsets)
    multi = {video: _multi_label_frames(segments, lengths[video], ann.ignore_index)
             for video, segments in per_video.items()}
    report.update({
        "fps": fps, "fps_from": fps_from, "feature_dir": feature_dir,
        "features_linked": linked, "classes": len(ann.class_names) - 1 - (ann.ignore_index is not None),
        "class_names_file": "data_info.json", "rules": ann.rules,
        "frame_rule": f"{frame_rule}: {FRAME_RULES[frame_rule]}",
        "videos": {subset: sum(s == subset for s in kept.values()) for subset in ("train", "val", "test")},
        "segments": {"annotated": len(ann.segments), "kept": sum(len(s) for s in per_video.values()),
                     "clipped": len(report["clipped_segments"]), "dropped": len(report["dropped_segments"]),
                     "in_dropped_videos": sum(v["segments"] for v in report["dropped_videos"])},
        "multi_label_frames": sum(multi.values()),
        "overlap_rule": "frames covered by segments of several classes have every one of them set (multi-hot); "
                        "read_oad reads such a row as the lowest of those columns",
        "feature_files_without_annotations": unannotated,
    })
    entry = {"name": ann.name, "class_names": ann.class_names, "num_classes": len(ann.class_names), "fps": fps}
    if ann.ignore_index is not None:
        entry["ignore_index"] = ann.ignore_index
    for subset in ("train", "val", "test"):
        ids = [video for video, s in kept.items() if s == subset]
        if ids or subset != "val":
            entry[f"{subset}_session_set"] = ids
    files = {}
    for video in kept:
        files[f"target_perframe/{video}.npy"] = partial(_save_target, per_video[video], lengths[video],
                                                        len(ann.class_names))
        if linked:
            files[f"{feature_dir}/{video}.npy"] = partial(_link, (features / f"{video}.npy").resolve())
    managed = ["target_perframe/*.npy"] + ([f"{feature_dir}/*.npy"] if linked else [])
    # The files write_owned will remove: gadlib's own earlier output (it refuses if any is not).
    report["removed_stale_files"] = [f for f in matching_files(out, managed) if f not in files]
    files[REPORT] = partial(write_json, value=report)
    files["data_info.json"] = partial(write_json, value=entry)
    write_owned(out, files, managed, first=("data_info.json",), what="python -m gadlib.convert")
    return report


def _save_target(segments, frames: int, num_classes: int, path: Path) -> None:
    save_npy(path, _target(segments, frames, num_classes))


def _link(target: Path, path: Path) -> None:
    # A symlink, not a copy: feature releases are gigabytes; read_oad follows it.
    os.symlink(target, path)


def check_coin(annotations: str | Path, features: str | Path, out: str | Path, fps: float | None = None,
               clip_frames: int = 0) -> dict:
    """COIN needs no conversion (`read_coin` reads COIN.json itself): read it as `read_coin` would,
    with videos lacking features skipped, and write only `<out>/convert_report.json`."""
    annotations, features, out = Path(annotations), Path(features), Path(out)
    root = annotations if annotations.is_dir() else annotations.parent
    if annotations.is_file() and annotations.name != "COIN.json":
        raise ValueError(f"{annotations}: read_coin reads <folder>/COIN.json; name the file COIN.json")
    coin_report = CoinReadReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # everything it would warn about is in coin_report
        data = read_coin(root, features=str(features.resolve()), fps=fps, missing_features="skip",
                         clip_frames=clip_frames, report=coin_report)
    report = _empty_report("coin", str(annotations), features, out)
    report.update({
        "fps": data.fps, "classes": len(data.step_names), "tasks": len(data.task_names),
        "videos": {subset: sum(v.subset == subset for v in data.videos) for subset in ("train", "test")},
        "segments": {"kept": sum(len(v.segments) for v in data.videos), "clipped": len(coin_report.clipped),
                     "dropped": len(coin_report.dropped)},
        "rules": ["nothing written but this report: read_coin reads COIN.json as it is",
                  f"read_coin(..., missing_features='skip', clip_frames={clip_frames}) rules: frame = "
                  f"round(seconds x fps)"],
    })
    report["dropped_videos"] = [{"video": v, "reason": why} for v, why in coin_report.skipped.items()]
    report["dropped_segments"] = [{"video": v, "segment": j, "reason": "empty once clipped"}
                                  for v, j in coin_report.dropped]
    report["clipped_segments"] = [{"video": v, "segment": j, "end_frame": old, "kept_end_frame": new}
                                  for v, j, old, new in coin_report.clipped]
    write_owned(out, {REPORT: partial(write_json, value=report)}, [], what="python -m gadlib.convert")
    return report


def summary(report: dict) -> str:
    """The printed summary: counts, then the first few of each dropped / clipped item."""
    videos = ", ".join(f"{n} {s}" for s, n in report["videos"].items() if n)
    lines = [f"{report['dataset']}: {report['classes']} classes, videos {videos}, at {report['fps']} fps"
             + (f" (from {report['fps_from']})" if "fps_from" in report else ""),
             "segments: " + ", ".join(f"{k} {v}" for k, v in report["segments"].items())]
    if "multi_label_frames" in report:
        lines.append(f"frames with several classes (multi-hot): {report['multi_label_frames']}")
    for kind in ("dropped_videos", "dropped_segments", "clipped_segments"):
        items = report[kind]
        if items:
            lines.append(f"{kind.replace('_', ' ')}: {len(items)}")
            lines += [f"  {json.dumps(item)}" for item in items[:_SHOWN]]
            if len(items) > _SHOWN:
                lines.append(f"  ... {len(items) - _SHOWN} more in {REPORT}")
    if report.get("feature_files_without_annotations"):
        lines.append(f"feature files without annotations (not in the data set): "
                     f"{len(report['feature_files_without_annotations'])}")
    lines.append(f"report: {Path(report['out']) / REPORT}")
    return "\n".join(lines)


# Options that only one converter reads: any other naming them is an error, not silently ignored.
_ONLY = {"--split": ("crosstask",), "--test-videos": ("own",), "--step-names": ("crosstask",),
         "--goalstep-names": ("goalstep",), "--goalstep-level": ("goalstep",), "--clip-frames": ("coin",)}
# What every converter but coin reads (coin writes nothing but the report).
_OAD_ONLY = ("--class-order", "--split-from", "--info-key", "--frame-rule", "--feature-dir")


def _check_options(args) -> None:
    given = {flag for flag in (*_ONLY, *_OAD_ONLY) if getattr(args, flag[2:].replace("-", "_")) is not None}
    for flag in sorted(given):
        allowed = _ONLY.get(flag, tuple(d for d in DATASETS if d != "coin"))
        if args.dataset not in allowed:
            raise ValueError(f"{flag} applies to {', '.join(allowed)} only")
    if len(args.annotations) > 1 and args.dataset != "thumos14":
        raise ValueError(f"--annotations given {len(args.annotations)} times: only thumos14 reads several folders "
                         f"(its validation and test annotations); pass one")
    if args.split_from is not None and given & {"--split", "--test-videos"}:
        raise ValueError("--split-from is a whole split: pass it or --split / --test-videos, not both")
    if args.info_key is not None and args.split_from is None and args.class_order is None:
        raise ValueError("--info-key picks the data set of the data_info.json given to --split-from or --class-order; "
                         "pass one of those")


def _annotations(args) -> Annotations:
    path = Path(args.annotations[0])
    if args.dataset == "thumos14":
        ann = formats.read_thumos14([Path(a) for a in args.annotations])
    elif args.dataset == "crosstask":
        ann = formats.read_crosstask(path, args.split, args.seed, args.test_fraction, args.step_names or "shared")
    elif args.dataset == "epic100":
        ann = formats.read_epic100(path)
    elif args.dataset == "goalstep":
        ann = formats.read_goalstep(path, args.goalstep_names or "category", args.goalstep_level or "steps")
    else:
        ann = formats.read_own(path, args.test_videos, args.seed, args.test_fraction)
    if args.class_order is not None:
        ann = order_classes(ann, args.class_order, args.info_key)
    if args.split_from is not None:
        ann = split_from(ann, args.split_from, args.info_key)
    return ann


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gadlib.convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=DATASETS)
    parser.add_argument("--annotations", required=True, action="append",
                        help="the official annotation folder (file for own, coin); thumos14: give it twice, the "
                             "validation and the test annotation folders")
    parser.add_argument("--features", required=True, help="folder of <video>.npy, [T, D] or [T, 1, D]")
    parser.add_argument("--out", required=True, help="data set root to write (the OAD layout)")
    parser.add_argument("--fps", type=float, default=None,
                        help="frames per second of the features (default: the extraction manifest's)")
    parser.add_argument("--feature-dir", default=None, help="features' folder name under --out (default: "
                                                            "the name of --features)")
    parser.add_argument("--frame-rule", choices=tuple(FRAME_RULES), default=None,
                        help="seconds -> frames: sample (frames ceil(start x fps) .. ceil(end x fps) - 1) or "
                             "overlap (floor(start x fps) .. ceil(end x fps) - 1); default: overlap for crosstask "
                             "(CrossTask's own loader), sample for the others")
    parser.add_argument("--class-order", type=Path, default=None,
                        help="column order of this class list: a data_info.json (class_names) or a text file, one "
                             "name a line; it must name exactly the converter's classes")
    parser.add_argument("--split-from", type=Path, default=None,
                        help="the split of this data_info.json (train/val/test_session_set) instead of the data "
                             "set's own; annotated videos it does not list are dropped (reported)")
    parser.add_argument("--info-key", default=None,
                        help="the data set entry of a data_info.json holding several (e.g. TeSTra's THUMOS, EK100)")
    parser.add_argument("--split", type=Path, default=None, help="crosstask: videos_val.csv (its videos are test)")
    parser.add_argument("--test-videos", type=Path, default=None, help="own: a file of test video ids, one a line")
    parser.add_argument("--step-names", choices=("shared", "per-task"), default=None,
                        help="crosstask: one class per step text (shared, default) or per task step")
    parser.add_argument("--goalstep-names", choices=GOALSTEP_NAMES, default=None,
                        help="goalstep: class names are the step_category (category, default) or its step text, "
                             "lower-cased (step: 'add avocado to recipe')")
    parser.add_argument("--goalstep-level", choices=GOALSTEP_LEVELS, default=None,
                        help="goalstep: classes of the steps (default) or of the steps and their substeps")
    parser.add_argument("--seed", type=int, default=0, help="seeded split (crosstask without --split, own)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="seeded split: share of test videos")
    parser.add_argument("--clip-frames", type=int, default=None, help="coin: read_coin's clip_frames (default 0)")
    args = parser.parse_args(argv)
    try:
        _check_options(args)
        if args.dataset == "coin":
            report = check_coin(args.annotations[0], args.features, args.out, args.fps, args.clip_frames or 0)
        else:
            report = convert(_annotations(args), args.features, args.out, args.fps, args.feature_dir,
                             ", ".join(args.annotations), args.frame_rule)
    except (ValueError, OSError) as e:  # bad input: one line naming the file at fault, no traceback
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"python -m gadlib.convert: error: {message}", file=sys.stderr)
        return 2
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
