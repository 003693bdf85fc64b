"""What a user already has, applied to any converter's `Annotations`: a class order from a class
list (`python -m gadlib.convert --class-order`) and a split from a data_info.json (`--split-from`).

Explained in data/README.md ("Converting official annotations"). Both keep the segments as the
reader made them; only column numbers or the split change, and the rule applied is recorded in
`Annotations.rules` for the report. A mismatch is an error naming the file and the names at fault.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gadlib.data.annotation_formats import Annotations
from gadlib.data.layout_io import name_list, read_text
from gadlib.data.oad_layout import data_info_entry, session_sets

_SHOWN = 5  # names quoted in an error


def _some(names: list[str]) -> str:
    return ", ".join(map(repr, names[:_SHOWN])) + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def read_class_list(path: Path, key: str | None = None) -> tuple[str | None, list[str], str]:
    """(background name or None, action class names in order, where to say they are) of a class
    list: a data_info.json's class_names (its first entry is the background column, by the OAD
    layout's rule) or a text file with one name a line (a first line "background", any case, is
    the background; blank lines are skipped)."""
    path = Path(path)
    if path.suffix == ".json":
        entry, where = data_info_entry(path, key, "pass --info-key to pick one")
        names = name_list(entry, "class_names", where)
        return names[0], names[1:], f"{where} (class_names)"
    names = [line.strip() for line in read_text(path).splitlines() if line.strip()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{path}: names {_some(repeated)} are listed more than once; list each class once")
    if names and names[0].lower() == "background":
        return names[0], names[1:], str(path)
    return None, names, str(path)


def order_classes(ann: Annotations, path: Path, key: str | None = None) -> Annotations:
    """`ann` with its columns in the order of the class list at `path` (`read_class_list`), which
    must name exactly the classes of `ann` besides the background (THUMOS'14's Ambiguous included)."""
    background, names, where = read_class_list(path, key)
    ours = ann.class_names[1:]
    listed, known = set(names), set(ours)
    missing = [n for n in ours if n not in listed]
    extra = [n for n in names if n not in known]
    if missing or extra:
        parts = [f"lacks {len(missing)} of the {len(ours)} {ann.name} classes ({_some(missing)})"] if missing else []
        parts += [f"lists {len(extra)} names that are no {ann.name} class ({_some(extra)})"] if extra else []
        raise ValueError(f"{where}: {' and '.join(parts)}; it should name each of the {len(ours)} classes once, "
                         f"spelt as the converter names them (e.g. {_some(ours[:2])}), background first or left out")
    class_names = [background or ann.class_names[0]] + names
    column = {0: 0} | {old: class_names.index(name) for old, name in enumerate(ann.class_names) if old}
    return replace(ann, class_names=class_names, segments=[replace(s, column=column[s.column]) for s in ann.segments],
                   ignore_index=None if ann.ignore_index is None else column[ann.ignore_index],
                   rules=ann.rules + [f"class order: that of {where}, replacing the order above"])


def split_from(ann: Annotations, path: Path, key: str | None = None) -> Annotations:
    """`ann` with the split of a data_info.json (train/val/test_session_set, checked as read_oad
    checks them). Annotated videos it does not list are dropped (`Annotations.dropped_videos`,
    reported); listed videos without annotations are counted in the rule."""
    entry, where = data_info_entry(Path(path), key, "pass --info-key to pick one")
    sessions = session_sets(entry, where)
    listed = {video: subset for subset, ids in sessions.items() for video in ids}
    for subset in ("train", "test"):
        if not any(video in ann.subsets for video in sessions[subset]):
            raise ValueError(f"{where}: none of the {len(sessions[subset])} videos of {subset}_session_set "
                             f"(e.g. {_some(sessions[subset][:2])}) is in the {ann.name} annotations (e.g. "
                             f"{_some(list(ann.subsets)[:2])}); pass the data_info.json of this data set")
    counts = {}
    for s in ann.segments:
        counts[s.video] = counts.get(s.video, 0) + 1
    left_out = [v for v in ann.subsets if v not in listed]
    dropped = [{"video": v, "split": ann.subsets[v], "segments": counts.get(v, 0),
                "reason": f"in no session set of {where} (--split-from)"} for v in left_out]
    unknown = sum(video not in ann.subsets for video in listed)
    rule = (f"split: the {', '.join(f'{k}_session_set' for k in sessions)} of {where}; {len(left_out)} annotated "
            f"videos in none of them are dropped, {unknown} listed videos have no annotation")
    # The reader's own split rule ("split: ...") no longer holds; its class rules do.
    rules = [r for r in ann.rules if not r.startswith("split:")] + [rule]
    return replace(ann, subsets={v: listed[v] for v in ann.subsets if v in listed}, rules=rules,
                   dropped_videos=ann.dropped_videos + dropped)
