"""Checkpoints: trainable weights in safetensors, the recipe in JSON, optimizer state for resuming.

A checkpoint folder holds `model.safetensors` (connector, heads, [CLS], LoRA adapter or full LM
weights: whatever is trainable), `spec.json` (method, label names, backbone recipe, seed: enough
to rebuild the untrained model), the tokenizer, and `training_state.pt` (optimizer, scheduler,
RNG, history) loaded with `weights_only=True` only.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file



def trainable_state(classifier) -> dict[str, torch.Tensor]:
    """Trainable tensors, each storage once (safetensors refuses tied weights twice)."""
    state, seen = {}, set()
    for name, p in classifier.named_parameters():
        if p.requires_grad and p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            state[name] = p.detach().cpu().contiguous()
    return state


def rng_states() -> dict:
    """Every random stream training draws from: python `random`, numpy's global RNG, torch CPU and
    each CUDA device (LoRA dropout on a GPU draws from the CUDA generator, not the CPU one).

    Plain tensors, ints and tuples only, so `torch.load(..., weights_only=True)` reads them back.
    """
    version, internal, gauss = random.getstate()
    kind, key, pos, has_gauss, cached = np.random.get_state()
    states = {"python": [version, torch.tensor(internal, dtype=torch.int64), gauss],
              "numpy": [kind, torch.from_numpy(key.astype(np.int64)), pos, has_gauss, cached],
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    """Inverse of `rng_states`. CUDA states are restored when saved on as many devices as
    there are now; a checkpoint written on a GPU resumes on a CPU (exactness then cannot hold)."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal.tolist()), gauss))
    kind, key, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def save_checkpoint(folder, classifier, optimizer=None, scheduler=None, history: dict | None = None,
                    rng: list[dict] | None = None) -> Path:
    """Write a checkpoint atomically: a half-written folder never replaces a good one.

    rng: `rng_states()` of every process, in process order (default: this process's only).
    With several processes only the main one may call this (they would race on the folder).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    save_file(trainable_state(classifier), tmp / "model.safetensors")
    (tmp / "spec.json").write_text(json.dumps(classifier.spec, indent=1))
    classifier.mllm.tokenizer.save_pretrained(tmp / "tokenizer")
    if optimizer is not None:
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng or [rng_states()], "history": history or {}}, tmp / "training_state.pt")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


def load_training_state(folder, classifier, optimizer, scheduler, process_index: int = 0,
                        num_processes: int = 1) -> dict:
    """Load weights, optimizer, scheduler and every RNG state to continue training exactly where
    it stopped. Returns the saved extras ("history": the `History` fields, "rng")."""
    folder = Path(folder)
    path = folder / "training_state.pt"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {folder} has no training_state.pt: it cannot be resumed")
    extra = torch.load(path, weights_only=True)
    if "rng" not in extra:
        raise ValueError(f"{path} has no RNG states: written by an older gadlib, it cannot resume "
                         "exactly; retrain, or load the weights with load_classifier")
    if len(extra["rng"]) != num_processes:
        raise ValueError(f"{path} was written by {len(extra['rng'])} process(es); resume it with as "
                         f"many, not {num_processes} (the data shards and RNG streams would differ)")
    classifier.load_state_dict(load_file(folder / "model.safetensors"), strict=False)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    restore_rng_states(extra["rng"][process_index])
    return extra


def remove_lora(classifier):
    """Take the LoRA adapter out of a classifier's LM and return the original pretrained LM:
    fine-tuning erodes a model's open-world ability, removing the adapter restores it (the
    paper's note). The base weights were never changed by LoRA training, so the returned LM
    computes exactly what it did before fine-tuning. The classifier is left without its
    adapter (its LM is the base model afterwards); reload the checkpoint to get it back.

    Explained in notebooks/04_gad_finetuning.ipynb.
    """
    lm = classifier.mllm.lm
    if not isinstance(lm, PeftModel):
        raise ValueError(f"the classifier's LM is a {type(lm).__name__}, not a LoRA (peft) model: "
                         "there is no adapter to remove (the embedded tiny LM is fully fine-tuned)")
    base = lm.unload()  # drops the adapter modules without merging them into the weights
    classifier.mllm.lm = base
    return base
