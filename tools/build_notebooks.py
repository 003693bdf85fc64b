"""Write notebooks/*.ipynb from tools/nbNN.py (cell lists: clean diffs, easy review).

Run `python tools/build_notebooks.py` after editing a tools/nbNN.py file. Editing the .ipynb in
JupyterLab is fine too; then port the change back here before the next rebuild.
"""
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nb import write  # noqa: E402

root = Path(__file__).resolve().parents[1]
for module in sorted(p.stem for p in Path(__file__).parent.glob("nb[0-9][0-9].py")):
    m = importlib.import_module(module)
    write(root / "notebooks" / f"{m.NAME}.ipynb", m.CELLS, getattr(m, "METADATA", None))
    print(f"wrote notebooks/{m.NAME}.ipynb ({len(m.CELLS)} cells)")
