"""The official annotation formats of the paper's OAD data sets, read into one form: segments in
seconds, a class list (background first) and a split. `gadlib.data.convert` turns that into the OAD layout.

Explained in data/README.md ("Converting official annotations"); the rules each reader applies
(class order, class names, split) are stated in its docstring and recorded in `Annotations.rules`.
Every error names the file and line (or JSON path) at fault.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gadlib.data.layout_io import json_field, load_json, read_text

THUMOS_CLASSES = ["BaseballPitch", "BasketballDunk", "Billiards", "CleanAndJerk", "CliffDiving", "CricketBowling",
                  "CricketShot", "Diving", "FrisbeeCatch", "GolfSwing", "HammerThrow", "HighJump", "JavelinThrow",
                  "LongJump", "PoleVault", "Shotput", "SoccerPenalty", "TennisSwing", "ThrowDiscus",
                  "VolleyballSpiking"]
SPLIT_VALUES = ("train", "val", "test")
# How a segment in seconds becomes frames (gadlib.data.convert.frame_range), by name.
FRAME_RULES = {
    "sample": "frame t is the instant t / fps; a segment [start, end) covers the frames whose time lies in "
              "it: ceil(start x fps) .. ceil(end x fps) - 1",
    "overlap": "frame t is the span [t / fps, (t + 1) / fps); a segment covers every frame it overlaps: "
               "floor(start x fps) .. ceil(end x fps) - 1 (CrossTask's own loader at 1 fps: floor(start) .. "
               "ceil(end) - 1)",
}


@dataclass
class TimedSegment:
    video: str
    column: int  # target column (index into Annotations.class_names; never 0, the background)
    start: float  # seconds
    end: float  # seconds
    source: str  # "file:line" or "file: JSON path", for reports and errors


@dataclass
class Annotations:
    name: str
    class_names: list[str]  # every target column, background first
    subsets: dict[str, str]  # video -> "train" | "val" | "test"
    segments: list[TimedSegment]
    ignore_index: int | None = None  # the column whose frames are ignored (THUMOS'14 "Ambiguous")
    rules: list[str] = field(default_factory=list)  # how classes and split were made, for the report
    frame_rule: str = "sample"  # a key of FRAME_RULES: the data set's own convention
    # Annotated videos left out of `subsets` (a reused split that does not list them), reported
    # by gadlib.data.convert with the videos that lack features: {"video", "split", "segments", "reason"}.
    dropped_videos: list[dict] = field(default_factory=list)


def _float(text: str, where: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {what} should be a number of seconds, got {text!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"{where}: {what} should be a finite number of seconds, got {text!r}")
    return value


def _hms(text: str, where: str, what: str) -> float:
    """'HH:MM:SS.ff' (EPIC-KITCHENS timestamps) -> seconds."""
    match = re.fullmatch(r"(\d+):([0-5]?\d):([0-5]?\d(?:\.\d*)?)", text.strip())
    if not match:
        raise ValueError(f"{where}: {what} should be HH:MM:SS.ff, got {text!r}")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _set_subset(subsets: dict[str, str], video: str, subset: str, where: str) -> None:
    if subsets.setdefault(video, subset) != subset:
        raise ValueError(f"{where}: video {video!r} is in the {subset!r} split here but in the "
                         f"{subsets[video]!r} split elsewhere")


def _csv_rows(path: Path, required: tuple[str, ...]):
    """(line number, row dict) of a CSV with a header naming at least `required`."""
    # newline="": quoted fields may hold line breaks (csv module's rule for its input)
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{path}: line 1: the header {reader.fieldnames} lacks column(s) {missing}")
    for row in reader:
        if None in row or any(row[c] is None for c in required):
            raise ValueError(f"{path}:{reader.line_num}: expected {len(reader.fieldnames)} comma-separated "
                             f"fields (header {reader.fieldnames})")
        yield reader.line_num, row


def _csv_lines(path: Path):
    """(line number, fields) of a CSV without a header; blank lines skipped."""
    for line_no, row in enumerate(csv.reader(io.StringIO(read_text(path), newline="")), start=1):
        if row and "".join(row).strip():
            yield line_no, row


def _one_file(candidates: list[Path], missing: str) -> Path:
    """The one existing file among `candidates` (copies with the same bytes count as one); none
    is FileNotFoundError(`missing`), two that differ an error naming both."""
    found = [p for p in candidates if p.is_file()]
    if not found:
        raise FileNotFoundError(missing)
    for other in found[1:]:
        if other.read_bytes() != found[0].read_bytes():
            raise ValueError(f"{found[0]} and {other} both exist and differ: it is not clear which to read; "
                             f"move one away")
    return found[0]


def seeded_split(groups: dict[str, list[str]], seed: int, test_fraction: float) -> dict[str, str]:
    """video -> "train" | "test": per group (sorted by name), its videos sorted, permuted by one
    numpy Generator(PCG64(seed)) and the first round(test_fraction x n) made test (at least one
    when the group has two or more videos, never all of them)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction should be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    subsets = {}
    for group in sorted(groups):
        videos = sorted(set(groups[group]))
        n_test = min(max(round(test_fraction * len(videos)), 1), len(videos) - 1) if len(videos) > 1 else 0
        order = rng.permutation(len(videos))
        for rank, index in enumerate(order):
            subsets[videos[index]] = "test" if rank < n_test else "train"
    return subsets


def _seeded_rule(seed: int, test_fraction: float, per: str) -> str:
    return (f"split: no split given, so a seeded split {per}: videos sorted, permuted by "
            f"numpy.random.default_rng({seed}), the first round({test_fraction} x n) (at least 1, "
            f"never all) are test, the rest train")


# ---------------------------------------------------------------------------------------------
# THUMOS'14
# ---------------------------------------------------------------------------------------------

def read_thumos14(folders: Path | list[Path]) -> Annotations:
    """THUMOS'14 temporal annotations: `<Class>_val.txt` / `<Class>_test.txt`, lines "video start
    end" (seconds, any whitespace), looked for in each of `folders` (THUMOS'14's download keeps the
    validation and the test annotations in two folders: pass both, or one holding all 42 files).
    Columns: Background, the 20 classes in the usual order, Ambiguous (21 = ignore_index, from
    `Ambiguous_*.txt`). Validation videos are the training split, test videos the test split (as
    TeSTra). All 42 files are required; another `*_val.txt` / `*_test.txt` is an error (its class
    would be dropped)."""
    folders = [Path(f) for f in ([folders] if isinstance(folders, (str, Path)) else folders)]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: THUMOS'14 annotation folder not found")
    names = THUMOS_CLASSES + ["Ambiguous"]
    for path in sorted({p for folder in folders for p in folder.glob("*_*.txt")}):
        stem, _, suffix = path.stem.rpartition("_")
        if suffix in ("val", "test") and stem not in names:
            raise ValueError(f"{path}: {stem!r} is not one of the 20 THUMOS'14 classes nor Ambiguous")
    searched = " and ".join(str(f) for f in folders)
    subsets, segments = {}, []
    for suffix, subset in (("val", "train"), ("test", "test")):
        for column, name in enumerate(names, start=1):
            path = _one_file([folder / f"{name}_{suffix}.txt" for folder in folders], (
                f"{name}_{suffix}.txt: file not found in {searched} (THUMOS'14 has one file per class and "
                f"split, Ambiguous included; its download keeps the validation *_val.txt and the test "
                f"*_test.txt files in two folders: pass both, --annotations VAL_FOLDER --annotations TEST_FOLDER)"))
            for line_no, line in enumerate(read_text(path).splitlines(), start=1):
                fields, where = line.split(), f"{path}:{line_no}"
                if not fields:
                    continue
                if len(fields) != 3:
                    raise ValueError(f"{where}: expected 'video start end', got {line!r}")
                video = fields[0]
                _set_subset(subsets, video, subset, where)
                segments.append(TimedSegment(video, column, _float(fields[1], where, "start"),
                                             _float(fields[2], where, "end"), where))
    return Annotations("thumos14", ["Background"] + names, dict(sorted(subsets.items())), segments,
                       ignore_index=len(names), rules=[
                           "classes: Background, the 20 THUMOS'14 classes in the usual order, Ambiguous "
                           "(ignore_index 21: its frames are ignored)",
                           "split: *_val.txt videos -> train, *_test.txt videos -> test"])


# ---------------------------------------------------------------------------------------------
# CrossTask
# ---------------------------------------------------------------------------------------------

def _crosstask_tasks(path: Path) -> list[tuple[str, str, list[str]]]:
    """(task id, task name, steps) per block of tasks_primary.txt."""
    lines = read_text(path).splitlines()
    tasks, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        block = lines[i:i + 5]
        where = f"{path}:{i + 1}"
        if len(block) < 5 or not all(x.strip() for x in block):
            raise ValueError(f"{where}: a task block should be 5 lines (id, name, url, number of steps, "
                             f"comma-separated steps) followed by a blank line")
        task_id, name, _url, count, steps_line = (x.strip() for x in block)
        steps = [s.strip() for s in steps_line.split(",")]
        if not count.isdigit() or int(count) != len(steps) or not all(steps):
            raise ValueError(f"{path}:{i + 4}: task {task_id} says {count!r} steps but line {i + 5} lists "
                             f"{len(steps)} ({steps_line!r})")
        if any(task_id == t for t, _, _ in tasks):
            raise ValueError(f"{where}: task id {task_id} appears twice")
        tasks.append((task_id, name, steps))
        i += 5
    if not tasks:
        raise ValueError(f"{path}: no task blocks")
    return tasks


def _crosstask_classes(tasks, step_names: str) -> tuple[list[str], dict[tuple[str, int], int], str]:
    """Class names, (task id, 1-based step) -> column, and the rule applied."""
    owners: dict[str, list[str]] = {}
    for _, name, steps in tasks:
        for step in steps:
            owners.setdefault(step, []).append(name)
    names, column = ["background"], {}
    for task_id, task_name, steps in tasks:
        for k, step in enumerate(steps, start=1):
            label = step if step_names == "shared" or len(set(owners[step])) == 1 else f"{step} ({task_name})"
            if label not in names:
                names.append(label)
            column[(task_id, k)] = names.index(label)
    shared = sorted(s for s, o in owners.items() if len(set(o)) > 1)
    rule = (f"classes: one per distinct step text over the primary tasks, in tasks_primary.txt order; "
            f"{len(shared)} step text(s) used by several tasks are one class" if step_names == "shared" else
            f"classes: one per task step, named by its text; the {len(shared)} step text(s) used by several "
            f"tasks are named '<step> (<task name>)'")
    return names, column, rule


def read_crosstask(folder: Path, split_file: Path | None = None, seed: int = 0, test_fraction: float = 0.2,
                   step_names: str = "shared") -> Annotations:
    """CrossTask: `<folder>/tasks_primary.txt` and `<folder>/annotations/<task>_<video>.csv` (rows
    "step, start, end", step 1-based, seconds); the task id is the file name up to its first "_".

    step_names "shared": a step text is one class whichever tasks use it (e.g. one "pour water"),
    which gives the 105 step classes the paper reports for the 18 primary tasks; "per-task": a
    text used by several tasks becomes one class per task, "<step> (<task name>)".
    Split: `split_file` (CrossTask's videos_val.csv, rows "task,video,url") lists the test videos;
    without it, `seeded_split` per task. Frames: the "overlap" rule of CrossTask's own loader (a
    step covers every frame it overlaps at 1 feature a second, floor(start) .. ceil(end) - 1).
    """
    folder = Path(folder)
    if step_names not in ("shared", "per-task"):
        raise ValueError(f"step names rule should be 'shared' or 'per-task', got {step_names!r}")
    tasks = _crosstask_tasks(folder / "tasks_primary.txt")
    names, column, class_rule = _crosstask_classes(tasks, step_names)
    steps_of = {task_id: len(steps) for task_id, _, steps in tasks}
    annotation_dir = folder / "annotations"
    if not annotation_dir.is_dir():
        raise FileNotFoundError(f"{annotation_dir}: annotation folder not found")
    groups, segments = {}, []
    for path in sorted(annotation_dir.glob("*.csv")):
        task_id, _, video = path.stem.partition("_")
        if task_id not in steps_of or not video:
            raise ValueError(f"{path}: expected <task>_<video>.csv with a task id of {folder / 'tasks_primary.txt'}, "
                             f"got task {task_id!r}")
        if any(video in vs for vs in groups.values()):
            raise ValueError(f"{path}: video {video!r} is annotated for two tasks")
        groups.setdefault(task_id, []).append(video)
        for line_no, row in _csv_lines(path):
            where = f"{path}:{line_no}"
            if len(row) != 3:
                raise ValueError(f"{where}: expected 'step,start,end', got {row!r}")
            step = row[0].strip()
            if not step.isdigit() or not 1 <= int(step) <= steps_of[task_id]:
                raise ValueError(f"{where}: step should be 1..{steps_of[task_id]} (task {task_id}), got {step!r}")
            segments.append(TimedSegment(video, column[(task_id, int(step))], _float(row[1], where, "start"),
                                         _float(row[2], where, "end"), where))
    if not groups:
        raise ValueError(f"{annotation_dir}: no <task>_<video>.csv files")
    annotated = {v for vs in groups.values() for v in vs}
    if split_file is not None:
        test, unknown = set(), set()
        for line_no, row in _csv_lines(Path(split_file)):
            if len(row) < 2:
                raise ValueError(f"{split_file}:{line_no}: expected 'task,video,url', got {row!r}")
            (test if row[1].strip() in annotated else unknown).add(row[1].strip())
        subsets = {v: "test" if v in test else "train" for v in annotated}
        split_rule = (f"split: the {len(test)} videos of {split_file} are test, the other annotated videos train"
                      + (f"; {len(unknown)} listed videos have no annotation file and are not in the data set"
                         if unknown else ""))
    else:
        subsets = seeded_split(groups, seed, test_fraction)
        split_rule = _seeded_rule(seed, test_fraction, "per task")
    return Annotations("crosstask", names, dict(sorted(subsets.items())), segments, rules=[class_rule, split_rule],
                       frame_rule="overlap")


# ---------------------------------------------------------------------------------------------
# EPIC-KITCHENS-100
# ---------------------------------------------------------------------------------------------

def _class_keys(path: Path) -> dict[int, str]:
    keys = {}
    for line_no, row in _csv_rows(path, ("id", "key")):
        if not row["id"].strip().isdigit():
            raise ValueError(f"{path}:{line_no}: id should be an integer, got {row['id']!r}")
        keys[int(row["id"])] = row["key"].strip()
    return keys


def read_epic100(folder: Path) -> Annotations:
    """EPIC-KITCHENS-100: EPIC_100_train.csv (-> train) and EPIC_100_validation.csv (-> test),
    start/stop_timestamp HH:MM:SS.ff. Classes: every (verb_class, noun_class) pair in the two files,
    sorted by verb then noun class id, named "<verb key> <noun key>" from EPIC_100_verb_classes.csv
    and EPIC_100_noun_classes.csv."""
    folder = Path(folder)
    verbs = _class_keys(folder / "EPIC_100_verb_classes.csv")
    nouns = _class_keys(folder / "EPIC_100_noun_classes.csv")
    required = ("video_id", "start_timestamp", "stop_timestamp", "verb_class", "noun_class")
    rows, subsets = [], {}
    for file_name, subset in (("EPIC_100_train.csv", "train"), ("EPIC_100_validation.csv", "test")):
        path = folder / file_name
        for line_no, row in _csv_rows(path, required):
            where = f"{path}:{line_no}"
            verb, noun = row["verb_class"].strip(), row["noun_class"].strip()
            if not verb.isdigit() or int(verb) not in verbs:
                raise ValueError(f"{where}: verb_class {verb!r} is not an id of EPIC_100_verb_classes.csv")
            if not noun.isdigit() or int(noun) not in nouns:
                raise ValueError(f"{where}: noun_class {noun!r} is not an id of EPIC_100_noun_classes.csv")
            video = row["video_id"].strip()
            _set_subset(subsets, video, subset, where)
            rows.append((video, (int(verb), int(noun)), _hms(row["start_timestamp"], where, "start_timestamp"),
                         _hms(row["stop_timestamp"], where, "stop_timestamp"), where))
    pairs = sorted({pair for _, pair, _, _, _ in rows})
    names = ["background"] + [f"{verbs[v]} {nouns[n]}" for v, n in pairs]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{folder}: verb-noun names {twice[:5]} stand for several (verb, noun) pairs")
    column = {pair: k for k, pair in enumerate(pairs, start=1)}
    segments = [TimedSegment(video, column[pair], a, b, where) for video, pair, a, b, where in rows]
    return Annotations("epic100", names, dict(sorted(subsets.items())), segments, rules=[
        f"classes: the {len(pairs)} (verb_class, noun_class) pairs of the train and validation files, sorted "
        f"by verb then noun id, named '<verb key> <noun key>'",
        "split: EPIC_100_train.csv -> train, EPIC_100_validation.csv -> test"])


# ---------------------------------------------------------------------------------------------
# Ego4D GoalStep
# ---------------------------------------------------------------------------------------------

GOALSTEP_FILES = {"train": ("goalstep_train.json",),
                  # the Ego4D CLI's name, then the one in github.com/facebookresearch/ego4d-goalstep (data/)
                  "test": ("goalstep_val.json", "goalstep_valid.json")}
GOALSTEP_NAMES = ("category", "step")
GOALSTEP_LEVELS = ("steps", "steps+substeps")


def goalstep_class_name(category: str, names: str) -> str:
    """A step_category as a class name: "category" keeps it whole ("Make baked goods: Knead the
    dough"); "step" keeps the step text after the taxonomy's "<group>: " prefix, lower-cased
    ("knead the dough"), the naming of the paper's GoalStep classes."""
    if names == "category":
        return category
    return (category.partition(": ")[2] or category).strip().lower()


def _goalstep_segments(video: dict, where: str, level: str):
    """(JSON path, segment) of a video's steps, and of their substeps with "steps+substeps"."""
    for j, step in enumerate(json_field(video, "segments", where, "list")):
        yield f"{where}.segments[{j}]", step
        # substeps carry no "segments" field of their own in the release: absent means none
        if level == "steps+substeps" and isinstance(step, dict) and "segments" in step:
            for k, sub in enumerate(json_field(step, "segments", f"{where}.segments[{j}]", "list")):
                yield f"{where}.segments[{j}].segments[{k}]", sub


def read_goalstep(folder: Path, names: str = "category", level: str = "steps") -> Annotations:
    """Ego4D GoalStep: goalstep_train.json (-> train) and goalstep_val.json (-> test; the
    ego4d-goalstep GitHub repository names it goalstep_valid.json, either is read), {"videos":
    [{"video_uid", "segments": [{"start_time", "end_time", "step_category", "segments": [substeps
    of the same form]}]}]}.

    level "steps": each first-level segment is a segment of its step_category; "steps+substeps":
    the nested substeps too (they share the step taxonomy), so a substep's frames have its class
    and its parent step's set (multi-hot). names: `goalstep_class_name` ("category", the default,
    or "step"; categories with the same step text are then one class). Classes: the names found,
    sorted.
    """
    folder = Path(folder)
    if names not in GOALSTEP_NAMES or level not in GOALSTEP_LEVELS:
        raise ValueError(f"GoalStep names should be one of {GOALSTEP_NAMES} and level one of {GOALSTEP_LEVELS}, "
                         f"got {names!r} and {level!r}")
    subsets, found, read = {}, [], []
    for subset, file_names in GOALSTEP_FILES.items():
        path = _one_file([folder / n for n in file_names], (
            f"{folder}: no GoalStep {subset} annotations: looked for {' and '.join(file_names)}; pass the folder "
            f"holding them as --annotations"))
        read.append(f"{path.name} -> {subset}")
        for i, video in enumerate(json_field(load_json(path), "videos", str(path), "list")):
            where = f"{path}: videos[{i}]"
            uid = json_field(video, "video_uid", where, "string")
            _set_subset(subsets, uid, subset, where)
            for at, step in _goalstep_segments(video, where, level):
                category = json_field(step, "step_category", at, "string")
                found.append((uid, goalstep_class_name(category, names), category,
                              float(json_field(step, "start_time", at, "number")),
                              float(json_field(step, "end_time", at, "number")), at))
    classes = sorted({name for _, name, *_ in found})
    categories = {}
    for _, name, category, *_ in found:
        categories.setdefault(name, set()).add(category)
    merged = sum(len(c) > 1 for c in categories.values())
    column = {c: k for k, c in enumerate(classes, start=1)}
    segments = [TimedSegment(uid, column[name], a, b, at) for uid, name, _, a, b, at in found]
    levels = "first-level segments (steps; substeps not used)" if level == "steps" else \
        "steps and their substeps (a substep's frames have its parent step's class too)"
    naming = "the step_category" if names == "category" else \
        (f"the step text of step_category (after '<group>: '), lower-cased; {merged} name(s) stand for several "
         f"categories")
    return Annotations("goalstep", ["background"] + classes, dict(sorted(subsets.items())), segments, rules=[
        f"classes: the {len(classes)} names of the {levels}, each {naming}, sorted",
        f"split: {', '.join(read)}"])


# ---------------------------------------------------------------------------------------------
# Your own videos
# ---------------------------------------------------------------------------------------------

def read_own(path: Path, test_videos: Path | None = None, seed: int = 0, test_fraction: float = 0.2) -> Annotations:
    """A CSV with header `video,start,end,label` (seconds) and optionally `split` (train/val/test).
    Classes: the labels found, sorted. Split: the split column, else `test_videos` (one video id
    per line: test, the rest train), else `seeded_split` over all videos."""
    path = Path(path)
    rows = list(_csv_rows(path, ("video", "start", "end", "label")))
    split_column = bool(rows) and "split" in rows[0][1]
    if split_column and test_videos is not None:
        raise ValueError(f"{path}: has a split column, so --test-videos would be a second split; pass one")
    subsets, found = {}, []
    for line_no, row in rows:
        where = f"{path}:{line_no}"
        video, label = row["video"].strip(), row["label"].strip()
        if not video or not label:
            raise ValueError(f"{where}: empty video or label")
        if label.lower() == "background":
            raise ValueError(f"{where}: label 'background' is reserved for unannotated frames (column 0); "
                             f"leave such spans out")
        if split_column:
            if row["split"].strip() not in SPLIT_VALUES:
                raise ValueError(f"{where}: split should be one of {SPLIT_VALUES}, got {row['split']!r}")
            _set_subset(subsets, video, row["split"].strip(), where)
        found.append((video, label, _float(row["start"], where, "start"), _float(row["end"], where, "end"), where))
    if not found:
        raise ValueError(f"{path}: no annotation rows")
    videos = sorted({video for video, *_ in found})
    if split_column:
        split_rule = f"split: the split column of {path}"
    elif test_videos is not None:
        listed = {line.strip() for line in read_text(Path(test_videos)).splitlines() if line.strip()}
        unknown = sorted(listed - set(videos))
        if unknown:
            raise ValueError(f"{test_videos}: videos {unknown[:5]} have no row in {path}")
        subsets = {v: "test" if v in listed else "train" for v in videos}
        split_rule = f"split: the {len(listed)} videos of {test_videos} are test, the rest train"
    else:
        subsets = seeded_split({"all": videos}, seed, test_fraction)
        split_rule = _seeded_rule(seed, test_fraction, "over all videos")
    labels = sorted({label for _, label, *_ in found})
    column = {label: k for k, label in enumerate(labels, start=1)}
    segments = [TimedSegment(v, column[label], a, b, where) for v, label, a, b, where in found]
    return Annotations("own", ["background"] + labels, dict(sorted(subsets.items())), segments,
                       rules=[f"classes: the {len(labels)} labels of {path}, sorted", split_rule])
