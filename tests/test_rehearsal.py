"""Rehearse every notebook's paper-scale ("gpu") branch on a CPU.

Each case executes one notebook top to bottom in a Jupyter kernel (nbclient, as nbmake does) with
`GADLAB_PROFILE=gpu` (every line under `if PROFILE == "gpu"` runs), `GADLAB_SIZE=tiny` (the
rehearsal size: a few videos over 8 classes, one seed, one epoch) and `GADLAB_BACKBONE` set to a
tiny real-format checkpoint folder: a Llama-3-style model saved in bf16 with a chat template and
hundreds of reserved special tokens (tests/test_real_lm.py). So the real-LM path runs as it would on
a GPU: the model is loaded by name (a local folder), wrapped with LoRA, its dtype chosen on a
machine without bf16 (fp16 here), trained with micro-batches and gradient accumulation and
gradient checkpointing, its adapter saved and reloaded. Only CUDA itself is not exercised.

No download (HF_HUB_OFFLINE=1); results go to the session's temporary folder (conftest.py).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

from gadlib.lessons.profile import BACKBONE_ENV, PROFILE_ENV, SIZE_ENV
from test_real_lm import write_model_folder

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
TIMEOUT = 600   # per cell


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny Llama-3-style bf16 folder with a chat template (written per xdist worker: no sharing)."""
    path = tmp_path_factory.mktemp("llama3-bf16-tied")
    write_model_folder("llama3-bf16-tied", path)
    return path


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_paper_profile_rehearsal(stem, checkpoint, monkeypatch):
    for var, value in {PROFILE_ENV: "gpu", SIZE_ENV: "tiny", BACKBONE_ENV: str(checkpoint), "HF_HUB_OFFLINE": "1",
                       "TRANSFORMERS_OFFLINE": "1", "HF_TOKEN": "", "MPLBACKEND": "Agg", "TQDM_DISABLE": "1",
                       "PYTHONPATH": str(ROOT)}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    nb = jupytext.read(ROOT / "notebooks" / f"{stem}.py")
    start = time.perf_counter()
    NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    seconds = time.perf_counter() - start
    print(f"{stem}: rehearsal of the paper profile took {seconds:.0f} s")
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"{stem}: profile 'gpu' (rehearsal size" in text       # lesson_profile said what it runs
    assert str(checkpoint.resolve()) in text                       # ... with the local checkpoint
