"""Which sizes and which LM a notebook runs with: the one place that reads the environment.

Every notebook's settings cell calls `lesson_profile(...)` before anything is built or trained:

* `GADLAB_PROFILE` = "cpu" (the default, on any device: on a GPU the CPU-size lesson simply runs
  faster) or "gpu" (alias "paper"): the paper-scale sizes, opted into, never picked by the device.
  A notebook's own `lesson_profile(..., profile="gpu")` wins over the environment.
* `GADLAB_BACKBONE`: the LM, a hub name ("Qwen/Qwen2.5-0.5B-Instruct") or a local folder; unset,
  the embedded tiny Llama, except notebook 04's paper profile (Llama-3.2-1B-Instruct with a
  Hugging Face token, else the ungated Qwen2.5-0.5B-Instruct).
* `GADLAB_SIZE` = "full" (the default) or "tiny": the rehearsal size (tests/test_rehearsal.py):
  the minimum of data, epochs and seeds, so that every line of a profile's branch runs on a CPU
  in seconds. Its numbers mean nothing.

It prints what the choice costs (download, approximate time) before anything starts.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from huggingface_hub import get_token

from gadlib.core.backbone import EMBEDDED_NAMES, BackboneConfig
from gadlib.core.training import default_lr
from gadlib.evaluation.results import repo_root

PROFILE_ENV, BACKBONE_ENV, SIZE_ENV = "GADLAB_PROFILE", "GADLAB_BACKBONE", "GADLAB_SIZE"
PROFILES = {"cpu": "cpu", "gpu": "gpu", "paper": "gpu"}   # accepted spellings -> the profile
SIZES = ("full", "tiny")
# Notebook 04's paper-scale LM: the paper's (gated: needs a Hugging Face token with access), else an ungated one.
PAPER_LM, OPEN_LM = "meta-llama/Llama-3.2-1B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct"
# What a download of a hub checkpoint weighs (its safetensors in bf16, from the hub's file lists).
DOWNLOAD_GB = {PAPER_LM: 2.5, OPEN_LM: 1.0, "HuggingFaceTB/SmolLM2-360M-Instruct": 0.7}
# The rehearsal size: a benchmark of a few short videos over 8 classes, whatever the preset.
TINY_DATA = dict(num_classes=8, num_tasks=2, steps_per_task=(4, 5), videos_per_task=8, feature_dim=32,
                 test_fraction=0.25)
TINY_PRESET = {"coin_like": dict(tokens_per_frame=2)}
TINY_SEEDS = [0]


class ProfileError(ValueError):
    """A GADLAB_* variable (or the notebook's own setting) holds a value that is not known."""


@dataclasses.dataclass(frozen=True)
class LessonProfile:
    notebook: str
    profile: str          # "cpu" or "gpu"
    size: str             # "full" or "tiny" (the rehearsal)
    backbone: BackboneConfig
    hf_token: str | None  # the token the hub library knows (paper profile of notebook 04 only)
    description: str

    @property
    def tiny(self) -> bool:
        return self.size == "tiny"

    @property
    def pretrained(self) -> bool:
        """A real (pretrained) LM, fine-tuned with LoRA; False for the embedded tiny Llama."""
        return self.backbone.name not in EMBEDDED_NAMES

    @property
    def lr(self) -> float:
        """The learning rate for this backbone: 1e-3 for the embedded LM, the paper's 1e-4 with LoRA."""
        return default_lr(self.backbone.name)

    @property
    def tiny_seeds(self) -> list[int]:
        return list(TINY_SEEDS)

    def tiny_data(self, preset: str) -> dict:
        """`ensure_benchmark` overrides that shrink `preset` to the rehearsal size."""
        return {**TINY_DATA, **TINY_PRESET.get(preset, {})}

    def pick(self, cpu, gpu, tiny=None):
        """The value of this profile: `cpu` or `gpu`; at the rehearsal size `tiny` (when given)."""
        if self.tiny and tiny is not None:
            return tiny
        return cpu if self.profile == "cpu" else gpu

    def __str__(self) -> str:
        return self.description


def _choice(value: str | None, env: str, known, default: str) -> str:
    raw = value if value is not None else os.environ.get(env, "").strip()
    if not raw:
        return default
    key = raw.lower()
    if key not in known:
        raise ProfileError(f"{env}={raw!r} is not known: use one of {sorted(known)}")
    return known[key] if isinstance(known, dict) else key


def _folder_gb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9


def _last_run_minutes(notebook: str) -> float | None:
    path = repo_root() / "results" / f"{notebook}.json"
    try:
        res = json.loads(path.read_text())
        seconds = res.get("run", {}).get("wall_seconds", res.get("seconds"))
        return None if seconds is None else seconds / 60
    except (OSError, ValueError):
        return None


def _describe(notebook: str, profile: str, size: str, backbone, pretrained: bool, device) -> str:
    where = f" on {device}" if device is not None else ""
    lines = [f"{notebook}: profile {profile!r}" + (" (rehearsal size: tiny data, 1 epoch; its numbers mean nothing)"
                                                     if size == "tiny" else "") + where]
    name = backbone.name
    if not pretrained:
        lines.append(f"  backbone: {name} (the embedded tiny Llama, built locally: nothing to download)")
    elif Path(name).expanduser().is_dir():
        lines.append(f"  backbone: {name} (a local folder, {_folder_gb(Path(name).expanduser()):.2f} GB: nothing to download; LoRA, lr 1e-4)")
    else:
        gb = DOWNLOAD_GB.get(name)
        lines.append(f"  backbone: {name}: downloaded from the Hugging Face hub on first use "
                     f"({f'about {gb:g} GB' if gb else 'size unknown here'}), then cached; LoRA, lr 1e-4")
    minutes = _last_run_minutes(notebook)
    if size == "tiny":
        lines.append("  time: about a minute on a CPU")
    elif profile == "cpu":
        measured = (f"the previous recorded run took {minutes:.0f} min (2 CPU cores; it varies with the machine and "
                    "its load; this run prints its own time at the end)"
                    if minutes else "not measured yet")
        lines.append(f"  time: {measured}; faster on a GPU. Paper scale: GADLAB_PROFILE=gpu (or profile=\"gpu\" here)")
    else:
        lines.append("  time: NOT MEASURED (no GPU run of the paper profile yet): larger data, more epochs and seeds; "
                     + ("with a pretrained LM expect hours on a T4. " if pretrained else "expect well over the CPU profile's "
                        + (f"{minutes:.0f} min" if minutes else "time") + " of work. ")
                     + "Back to the lesson size: GADLAB_PROFILE=cpu")
    return "\n".join(lines)


def lesson_profile(notebook: str, profile: str | None = None, backbone: str | None = None, *,
                   paper_lm: bool = False, device=None, show: bool = True) -> LessonProfile:
    """The notebook's profile, size and backbone, from its own arguments, else the environment
    (GADLAB_PROFILE, GADLAB_SIZE, GADLAB_BACKBONE), else the defaults: the CPU profile at full size
    with the embedded LM. `paper_lm`: in the paper profile, the notebook's default LM is the paper's
    (notebook 04). Prints what the choice costs (unless show=False) before anything starts."""
    profile = _choice(profile, PROFILE_ENV, PROFILES, "cpu")
    size = _choice(None, SIZE_ENV, SIZES, "full")
    name = backbone if backbone is not None else (os.environ.get(BACKBONE_ENV, "").strip() or None)
    token = None
    if profile == "gpu" and paper_lm:
        if name is None or not Path(name).expanduser().is_dir():
            token = get_token()   # HF_TOKEN, `hf auth login`, or Colab's Secrets panel
        if name is None:
            name = PAPER_LM if token else OPEN_LM
    if name is not None and Path(name).expanduser().is_dir():
        name = str(Path(name).expanduser().resolve())
    config = BackboneConfig() if name is None else BackboneConfig(name=name)
    pretrained = config.name not in EMBEDDED_NAMES
    description = _describe(notebook, profile, size, config, pretrained, device)
    if show:
        print(description)
    return LessonProfile(notebook, profile, size, config, token, description)
