"""No typed result in a notebook's prose (issue 21).

Every number a markdown cell states is one of: the paper's, quoted once in `gadlib.evaluation.paper`; a
structural number (a section, exercise, notebook or list item); or a setting the reader can see in
the code (a small count, a formula's constant). A measured result -- a decimal, a percentage, a
count of errors -- belongs in generated output, where the run computes it. A test that greps the
markdown fails on the first typed result; the SETTINGS list below names every larger number that
stays in prose and why, so adding one is a reviewed decision.
"""
import re
from pathlib import Path

import nbformat
import pytest

from gadlib.evaluation import paper

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))

# Numbers larger than 10 (or with a decimal point, or per cent) that prose may state: each a
# setting, a definition or an exercise's own input, never a measured result. Keys are the number
# as written ("95 %" for a percentage); "NN:" limits one to notebook NN.
SETTINGS = {
    "2026": "the paper's venue year (ICLR 2026)",
    "95 %": "the intervals' level and the collapse rule's share: definitions",
    "128": "LoRA r 128 and 128 long-context frames: the paper's settings",
    "256": "LoRA α 256: the paper's setting",
    "0.1": "IoU 0.1 and λ = 0.1: metric and ablation settings",
    "0.25": "IoU 0.25: a metric setting",
    "0.5": "IoU 0.5, λ and compositionality 0.5: settings",
    "0.3": "λ = 0.3: an ablation setting",
    "1e-3": "learning rate: a setting", "1e-4": "learning rate: the paper's setting",
    "16": "effective batch 16 (the paper's) and a 16-frame exercise input",
    "20": "exercise inputs of 20 classes",
    "64": "the first 64 test samples timed, batch 64: settings",
    "01:24": "the COIN-like preset's class count (printed in section 1)",
    "02:0.02": "the std of the N(0, 0.02) init of new output rows: a library setting",
    "02:0.99": "Adam's β2 = 0.99 tried in a probe: a setting",
    "02:30": "the exercises' 30 class names",
    "02:50": "the paper's 50 training epochs",
    "03:0.2": "the background weight: a setting (the paper's range starts there)",
    "03:30 %": "exercise 3's input: models wrong on 30 % of frames",
    "03:60": "exercise 4's input: 60 errors per class",
    "03:12": "2/12: the bias formula evaluated on exercise 4's input",
    "03:120": "2/120: the bias formula evaluated on exercise 4's input",
    "03:0.15": "2/12 - 2/120: the bias formula on exercise 4's input, computed in the text",
    "04:30": "a going-further λ to try: a setting",
    "05:80 %": "the learning-speed target (80 % of the lower kept validation score): a definition",
}

_STRUCTURAL = re.compile(
    r"(?:notebook|section|sections|part|parts|exercise|exercises|claim|step|cell|table|figure)s?\s+\d+(?:\s*(?:and|,|or|-|–)\s*\d+)*",
    re.I)
_NUMBER = re.compile(r"(?<![\w.\-:'/])(\d+(?:\.\d+)?(?:e-?\d+)?)(\s*%)?(?![\w.]*[A-Za-z_])")


def _prose(cell_source: str) -> list[str]:
    """The lines of a markdown cell with code, math, links and HTML taken out."""
    text = re.sub(r"<!--.*?-->", " ", cell_source, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    lines = []
    for line in text.splitlines():
        line = re.sub(r"`[^`]*`", " ", line)
        line = re.sub(r"\$[^$]*\$", " ", line)
        line = re.sub(r"\]\([^)]*\)", "]", line)             # link targets
        line = re.sub(r"https?://\S+|arXiv:\S+", " ", line)
        line = re.sub(r"^\s*#+\s*\d+\s*·", " ", line)          # "## 3 · ..." numbering
        line = re.sub(r"^\s*(?:\d+\.|\(\d+\))\s", " ", line)   # list items
        line = re.sub(r"^\|\s*\d+\s*\|", "|", line)            # the exercise table's first column
        line = re.sub(r"\|\s*\d+\s*min\s*\|", "|", line)       # and its time estimates
        line = re.sub(r"\(\d+\)|\b\d+\)", " ", line)           # "(1) ..." enumerations
        line = _STRUCTURAL.sub(" ", line)
        lines.append(line)
    return lines


def typed_numbers(notebook: Path) -> list[str]:
    """'cell N: number in «line»' for every number in the notebook's prose that is not allowed."""
    quoted = paper.numbers()
    found = []
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type != "markdown":
            continue
        for line in _prose(cell.source):
            for match in _NUMBER.finditer(line):
                number, percent = match.group(1), match.group(2)
                value, written = float(number), number + (" %" if percent else "")
                if written in SETTINGS or f"{notebook.name[:2]}:{written}" in SETTINGS or value in quoted:
                    continue
                if value <= 10 and "." not in number and not percent:
                    continue        # a small count a reader sees in the code: "3 seeds", "2-3 sentences"
                found.append(f"cell {index}: {number}{percent or ''} in «{line.strip()[:120]}»")
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_typed_result_in_prose(notebook):
    assert typed_numbers(notebook) == []


def test_a_typed_result_is_caught(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## 2 · Results\nSee section 3. Generative reaches 41.3 % here,\n"
                                              "the paper 46.8; it made 371 errors, `top1 = 0.62` in code.")]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    assert [t.split(" in ")[0] for t in typed_numbers(path)] == ["cell 0: 41.3 %", "cell 0: 371"]


def test_paper_numbers_match_the_paper_notes():
    notes = ROOT.parent / "shared" / "paper-notes.md"
    if not notes.exists():
        pytest.skip("the paper notes live beside the checkout (../shared), not in it")
    text = notes.read_text()
    quoted = set(re.findall(r"\d+\.\d+", text))
    missing = sorted(v for v in paper.numbers() if f"{v:g}" not in quoted and f"{v:.1f}" not in quoted
                     and f"{v:.2f}" not in quoted)
    assert missing == []
