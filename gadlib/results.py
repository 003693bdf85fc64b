"""Results files: every notebook saves its headline numbers to results/<notebook-name>.json, so
runs can be compared and the README table regenerated (`python -m gadlib.readme_table`)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def repo_root() -> Path:
    """The folder holding pyproject.toml above the working directory (notebooks run in
    notebooks/), else the working directory itself (e.g. a Colab scratch folder)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "gadlib").is_dir():
            return folder
    return here


def _plain(value):
    """numpy scalars and arrays -> JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_results(notebook: str, payload: dict) -> Path:
    """Write results/<notebook>.json atomically (a crash never leaves half a file)."""
    folder = repo_root() / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{notebook}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(_plain({"notebook": notebook, **payload}), f, indent=1)
    os.replace(tmp, path)
    return path


def load_results(notebook: str) -> dict:
    path = repo_root() / "results" / f"{notebook}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results file {path}: run notebooks/{notebook}.ipynb first")
    return json.loads(path.read_text())
