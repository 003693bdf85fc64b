"""benchmarks/README.md's generated blocks: each benchmark that reports numbers there writes them
between its own markers from its results file, so no number in the README is typed by hand
(tests/test_benchmarks_readme.py checks every block against its results file)."""
from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- BEGIN generated:{name} -->", f"<!-- END generated:{name} -->"


def read_block(name: str, path: Path = README) -> str:
    """The text between block `name`'s markers (without the newlines that frame it)."""
    begin, end = markers(name)
    text = path.read_text()
    if begin not in text or end not in text:
        raise ValueError(f"{path} has no {begin} ... {end} block")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def write_block(name: str, block: str, path: Path = README) -> None:
    """Replace block `name`'s text; the markers must already be in the file (a block is placed by hand,
    once, where its section wants it)."""
    read_block(name, path)   # the markers are there, or a clear error
    begin, end = markers(name)
    head, rest = path.read_text().split(begin, 1)
    path.write_text(head + begin + "\n" + block + "\n" + end + rest.split(end, 1)[1])
