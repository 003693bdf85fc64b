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

from gadlib.tools.course import READINGS
from nbclient import NotebookClient

from gadlib.lessons.profile import BACKBONE_ENV, PROFILE_ENV, SIZE_ENV
from test_real_lm import write_model_folder

ROOT = Path(__file__).resolve().parents[1]
# the lessons with a profile (a reading such as notebook 00 trains nothing and has none)
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py") if p.stem not in READINGS)
TIMEOUT = 600   # per cell
# What each rehearsal must show it ran, beyond the profile and the checkpoint (every notebook).
RAN = {"04_gad_finetuning": ["Hugging Face token: no", "in float16; lr 0.0001; batch 4 x 4",   # no bf16 here: fp16; a T4's split
                             "gradient checkpointing True",
                             "reloaded model, identical step-recognition scores on 32 test samples: True"]}


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
    assert f"{checkpoint.resolve()} (a local folder" in text and "LoRA, lr 1e-4" in text   # ... with the local checkpoint
    for line in RAN.get(stem, []):
        assert line in text, line


# ---- lesson_profile itself -------------------------------------------------------------------------

def test_lesson_profile_is_cpu_on_any_device_unless_chosen(monkeypatch, capsys):
    import torch
    from gadlib.lessons.profile import ProfileError, lesson_profile
    for var in (PROFILE_ENV, BACKBONE_ENV, SIZE_ENV):
        monkeypatch.delenv(var, raising=False)
    lp = lesson_profile("01_generative_vs_discriminative", device=torch.device("cuda"))
    assert (lp.profile, lp.size, lp.pretrained, lp.lr) == ("cpu", "full", False, 1e-3)
    assert lp.pick([0, 1], [0, 1, 2], tiny=[0]) == [0, 1]
    out = capsys.readouterr().out
    assert "profile 'cpu'" in out and "nothing to download" in out and "GADLAB_PROFILE=gpu" in out
    monkeypatch.setenv(PROFILE_ENV, "paper")
    monkeypatch.setenv(SIZE_ENV, "tiny")
    lp = lesson_profile("01_generative_vs_discriminative", show=False)
    assert (lp.profile, lp.tiny, lp.pick(1, 2, tiny=3), lp.pick(1, 2)) == ("gpu", True, 3, 2)
    assert lesson_profile("01_generative_vs_discriminative", profile="cpu", show=False).profile == "cpu"   # the notebook wins
    monkeypatch.setenv(PROFILE_ENV, "huge")
    with pytest.raises(ProfileError, match="GADLAB_PROFILE='huge'"):
        lesson_profile("01_generative_vs_discriminative", show=False)


def test_paper_lm_of_notebook_04_is_named_and_costed_before_anything_starts(monkeypatch, capsys):
    from gadlib.lessons.profile import OPEN_LM, PAPER_LM, lesson_profile
    monkeypatch.delenv(BACKBONE_ENV, raising=False)
    monkeypatch.delenv(SIZE_ENV, raising=False)
    monkeypatch.setenv(PROFILE_ENV, "gpu")
    from gadlib.lessons import profile
    for token, name in ((None, OPEN_LM), ("hf_x", PAPER_LM)):
        monkeypatch.setattr(profile, "get_token", lambda token=token: token)
        lp = lesson_profile("04_gad_finetuning", paper_lm=True)
        out = capsys.readouterr().out
        assert lp.backbone.name == name and lp.hf_token == token and lp.pretrained and lp.lr == 1e-4
        assert "downloaded from the Hugging Face hub" in out and "GB" in out and "NOT MEASURED" in out
    monkeypatch.setenv(BACKBONE_ENV, "embedded-tiny-llama-scratch")   # the GPU sizes with the tiny model
    assert not lesson_profile("04_gad_finetuning", paper_lm=True, show=False).pretrained
