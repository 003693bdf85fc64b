"""Writing into a folder that may also hold the user's own files.

Explained in data/README.md ("Writers never delete your files"). The writers (`write_oad`,
`write_coin`, `python -m gadlib.convert`) create or replace only their own files, one at a time
(temporary file + `os.replace`), and keep `<root>/.gadlib-written.json`, the record of the files
gadlib wrote there (with size and modification time). A file gadlib did not write, or one changed
since, is never overwritten or deleted: the write stops before touching anything and names it.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Callable

RECORD = ".gadlib-written.json"
# One line per file, appended just before the file takes its place: a write interrupted half-way
# still knows which of its files are gadlib's (by fingerprint), and nothing else is assumed ours.
JOURNAL = ".gadlib-written.journal"
_MAX_NAMED = 10


class ForeignFileError(FileExistsError):
    """The write would overwrite or leave stale files gadlib did not write; the message lists them."""


def _fingerprint(path: Path) -> dict:
    # lstat: a symlink gadlib made is recorded as the link, not the file it points to
    stat = path.lstat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _load_record(root: Path) -> dict[str, dict]:
    path = root / RECORD
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON at line {e.lineno} ({e.msg}); it records which files "
                         f"gadlib wrote here: restore it or write to another folder") from None
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, dict):
        raise ValueError(f"{path}: missing field 'files'; restore it or write to another folder")
    return files


def _load_journal(root: Path, record: dict) -> dict:
    """The record plus the journal of an interrupted write: a file may then be either the version
    recorded before or the one journalled (the rename may or may not have happened)."""
    path = root / JOURNAL
    if not path.exists():
        return record
    merged = dict(record)
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            entry = json.loads(line)
            rel, fingerprint = entry["file"], {"size": entry["size"], "mtime_ns": entry["mtime_ns"]}
        except (json.JSONDecodeError, KeyError, TypeError):
            if n == len(path.read_text().splitlines()):
                break  # the last line of a write cut off mid-line: that file never took its place
            raise ValueError(f"{path}, line {n}: not a journal entry; restore it or write to another folder") from None
        merged[rel] = _fingerprints(merged.get(rel)) + [fingerprint]
    return merged


def _fingerprints(entry) -> list[dict]:
    return [] if entry is None else entry if isinstance(entry, list) else [entry]


def _save_record(root: Path, files: dict[str, dict]) -> None:
    text = json.dumps({"written_by": "gadlib", "files": dict(sorted(files.items()))}, indent=1) + "\n"
    replace_file(root / RECORD, lambda tmp: tmp.write_text(text))


def replace_file(path: Path, make: Callable[[Path], None], before: Callable[[Path], None] | None = None) -> None:
    """`make(tmp)` creates a temporary file next to `path`, which then replaces `path` in one step
    (after `before(tmp)`, if given: a rename keeps the file's size and modification time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        make(tmp)
        if before is not None:
            before(tmp)
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        raise


def _is_ours(root: Path, rel: str, record: dict[str, dict]) -> bool:
    return _fingerprint(root / rel) in _fingerprints(record.get(rel))


def _listing(root: Path, rels: list[str]) -> str:
    shown = ", ".join(str(root / r) for r in rels[:_MAX_NAMED])
    return shown + (f" and {len(rels) - _MAX_NAMED} more" if len(rels) > _MAX_NAMED else "")


def matching_files(root: Path, patterns: list[str]) -> list[str]:
    """Files (and symlinks) under `root` matching the glob patterns, relative and sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted({str(p.relative_to(root)) for pattern in patterns for p in root.glob(pattern)
                   if p.is_file() or p.is_symlink()})


def write_owned(root: str | Path, files: dict[str, Callable[[Path], None]], managed: list[str],
                first: tuple[str, ...] = (), what: str = "gadlib") -> list[str]:
    """Create or replace `files` (relative path -> function creating the file at a given path) under
    `root`; return the stale files removed.

    managed: glob patterns (relative to root) of files this layout owns, e.g. "target_perframe/*.npy":
    an existing match that is not in `files` is stale. It is removed when gadlib wrote it (per the
    record); otherwise, as for a file in `files` that exists and was not written by gadlib (or was
    changed since), nothing is written and ForeignFileError names them.
    first: files to delete before writing anything (when gadlib wrote them): the index files
    (data_info.json, COIN.json), so that a crash half-way leaves a folder the readers refuse
    instead of an old index over new arrays. They are written last (put them last in `files`).
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root}: exists and is not a folder")
    record = _load_journal(root, _load_record(root)) if root.exists() else {}
    clashes = [rel for rel in files if (root / rel).is_symlink() or (root / rel).exists()
               if (root / rel).is_dir() or not _is_ours(root, rel, record)]
    stale = [rel for rel in matching_files(root, managed) if rel not in files]
    foreign_stale = [rel for rel in stale if not _is_ours(root, rel, record)]
    if clashes or foreign_stale:
        parts = []
        if clashes:
            parts.append(f"would overwrite {len(clashes)} file(s) it did not write (or that changed since): "
                         f"{_listing(root, clashes)}")
        if foreign_stale:
            parts.append(f"would leave {len(foreign_stale)} stale file(s) it did not write, which the new "
                         f"data set does not have: {_listing(root, foreign_stale)}")
        raise ForeignFileError(f"{what}: refusing to write into {root}: it "
                               + "; and it ".join(parts)
                               + ". Nothing was written: move or delete them yourself, or write to another folder")
    root.mkdir(parents=True, exist_ok=True)
    record = {rel: entry for rel, entry in record.items() if (root / rel).is_symlink() or (root / rel).exists()}
    for rel in first:
        if (root / rel).is_symlink() or (root / rel).exists():
            (root / rel).unlink()
    with open(root / JOURNAL, "a") as journal:
        for rel, make in files.items():
            def note(tmp, rel=rel):
                journal.write(json.dumps({"file": rel, **_fingerprint(tmp)}) + "\n")
                journal.flush()
                os.fsync(journal.fileno())
            replace_file(root / rel, make, before=note)
            record[rel] = _fingerprint(root / rel)
    for rel in stale:
        (root / rel).unlink()
        record.pop(rel, None)
    _save_record(root, record)
    (root / JOURNAL).unlink()
    return stale
