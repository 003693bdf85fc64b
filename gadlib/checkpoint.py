"""Checkpoints: trainable weights in safetensors, the recipe in JSON, optimizer state for resuming.

A checkpoint folder holds `model.safetensors` (connector, heads, [CLS], LoRA adapter or full LM
weights: whatever is trainable), `spec.json` (method, label names, backbone recipe, seed: enough
to rebuild the untrained model), the tokenizer, and `training_state.pt` (optimizer, scheduler,
RNG, history) loaded with `weights_only=True` only.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .backbone import BackboneConfig


def trainable_state(classifier) -> dict[str, torch.Tensor]:
    """Trainable tensors, each storage once (safetensors refuses tied weights twice)."""
    state, seen = {}, set()
    for name, p in classifier.named_parameters():
        if p.requires_grad and p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            state[name] = p.detach().cpu().contiguous()
    return state


def save_checkpoint(folder, classifier, optimizer=None, scheduler=None, history: dict | None = None) -> Path:
    """Write a checkpoint atomically: a half-written folder never replaces a good one."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    save_file(trainable_state(classifier), tmp / "model.safetensors")
    (tmp / "spec.json").write_text(json.dumps(classifier.spec, indent=1))
    classifier.mllm.tokenizer.save_pretrained(tmp / "tokenizer")
    if optimizer is not None:
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "torch_rng": torch.get_rng_state(), "history": history or {}}, tmp / "training_state.pt")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


def load_classifier(folder):
    """Rebuild the classifier a checkpoint was trained as and load its weights."""
    from .methods import build_classifier

    folder = Path(folder)
    for f in ("spec.json", "model.safetensors"):
        if not (folder / f).is_file():
            raise FileNotFoundError(f"checkpoint {folder} has no {f}")
    spec = json.loads((folder / "spec.json").read_text())
    classifier = build_classifier(spec["method"], spec["label_names"], spec["visual_dim"],
                                  BackboneConfig(**spec["backbone"]), spec["seed"], **spec["method_kwargs"])
    state = load_file(folder / "model.safetensors")
    missing, unexpected = classifier.load_state_dict(state, strict=False)
    expected = set(trainable_state(classifier))
    if unexpected or expected - set(state):
        raise ValueError(f"checkpoint {folder} does not match its spec: missing "
                         f"{sorted(expected - set(state))[:5]}, unexpected {unexpected[:5]}")
    return classifier.eval()  # ready to predict: no (LoRA) dropout


def load_training_state(folder, classifier, optimizer, scheduler) -> dict:
    """Load weights, optimizer, scheduler and RNG to continue training exactly where it stopped."""
    folder = Path(folder)
    state = load_file(folder / "model.safetensors")
    classifier.load_state_dict(state, strict=False)
    extra = torch.load(folder / "training_state.pt", weights_only=True)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["torch_rng"])
    return extra
