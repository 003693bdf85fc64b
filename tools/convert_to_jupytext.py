"""One-off, re-runnable migration: tools/nbNN.py cell lists -> jupytext pairs.

    python tools/convert_to_jupytext.py

For every tools/nbNN.py (a NAME and a CELLS list of (kind, source)), writes
notebooks/<NAME>.ipynb (cell ids c00, c01, ... as the old builder gave them) paired with the
percent-format script notebooks/<NAME>.py (pairing in the notebook's jupytext metadata), then
deletes the old sources (tools/nbNN.py, tools/nb.py, tools/build_notebooks.py) and runs
`python -m gadlib.course build` (links, jupytext --sync) and `student`. From then on the .py / .ipynb
pair is the source: edit either and run `python -m gadlib.course build`.
Nothing happens when there is no tools/nbNN.py left.
"""
import importlib
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
PAIRING = "ipynb,py:percent"


def notebook_from_cells(cells, metadata=None) -> nbformat.NotebookNode:
    """What tools/nb.py's `write` built, with the jupytext pairing added."""
    from nb import write  # the old builder, so metadata and ids are exactly what it wrote

    tmp = TOOLS / "_convert_tmp.ipynb"
    try:
        write(tmp, cells, metadata)
        nb = nbformat.read(tmp, as_version=4)
    finally:
        tmp.unlink(missing_ok=True)
    nb.metadata["jupytext"] = {"formats": PAIRING}
    return nb


def main() -> int:
    sources = sorted(TOOLS.glob("nb[0-9][0-9].py"))
    if not sources:
        print("no tools/nbNN.py left: already converted")
        return 0
    sys.path.insert(0, str(TOOLS))
    for src in sources:
        module = importlib.import_module(src.stem)
        nb = notebook_from_cells(module.CELLS, getattr(module, "METADATA", None))
        ipynb, py = ROOT / "notebooks" / f"{module.NAME}.ipynb", ROOT / "notebooks" / f"{module.NAME}.py"
        nbformat.write(nb, ipynb)
        jupytext.write(nb, py, fmt="py:percent")
        print(f"{src.relative_to(ROOT)} -> {py.relative_to(ROOT)} + {ipynb.name} ({len(nb.cells)} cells)")
    for old in sources + [TOOLS / "nb.py", TOOLS / "build_notebooks.py"]:
        old.unlink(missing_ok=True)
        print(f"removed {old.relative_to(ROOT)}")
    for cmd in ("build", "student"):
        subprocess.run([sys.executable, "-m", "gadlib.course", cmd], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
