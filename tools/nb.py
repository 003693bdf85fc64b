"""Tiny helper to write notebooks from a list of (kind, source) cells: `python tools/make_notebooks.py`."""
import nbformat

# Shared opening cells of every notebook.
COLAB_CELL = ("code", r"""
# Colab only: install gadlib and its dependencies, keeping Colab's own torch.
import sys, os
if "google.colab" in sys.modules and not os.path.isdir("/content/gad-lab"):
    !git clone -q --depth 1 https://github.com/gad-lab/gad-lab /content/gad-lab
    !grep -v '^torch==' /content/gad-lab/requirements.txt > /tmp/req.txt && pip install -q -r /tmp/req.txt -e /content/gad-lab
    sys.path.insert(0, "/content/gad-lab")  # the editable install is picked up only after a restart
""")

SETUP_CELL = ("code", r"""
%matplotlib inline
import time
import numpy as np, pandas as pd, torch
import matplotlib.pyplot as plt, seaborn as sns
from IPython.display import display
from gadlib.utils import pick_device, quiet, versions
quiet()
T0 = time.perf_counter()
device = pick_device()
pd.Series(versions()).to_frame("version").T
""")


def write(path, cells, metadata=None):
    """metadata: extra notebook metadata (e.g. Colab's GPU runtime request)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.update(metadata or {})
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    # nbmake's per-cell timeout (default 300 s) is too short for a training cell on a slow CPU
    nb.metadata["execution"] = {"timeout": 1800}
    for kind, src in cells:
        src = src.strip("\n")
        nb.cells.append(nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src))
    for i, c in enumerate(nb.cells):
        c["id"] = f"c{i:02d}"
    nbformat.write(nb, path)
