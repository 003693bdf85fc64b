"""Every relative link of the README and the docs pages resolves to a file in the repository."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "configs" / "README.md",
         ROOT / "benchmarks" / "README.md", ROOT / "data" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    """Targets of markdown links that point into the repository (no scheme, no bare anchor)."""
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:|#", t)]


def test_the_link_finder_sees_relative_links_only():
    text = "[a](docs/x.md) [b](https://x.org) [c](#here) [d](../README.md#quickstart) [e](mailto:a@b)"
    assert relative_links(text) == ["docs/x.md", "../README.md#quickstart"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = [t for t in relative_links(page.read_text()) if not (page.parent / t.split("#")[0]).exists()]
    assert not broken, f"{page.relative_to(ROOT)}: links to nothing: {broken}"
