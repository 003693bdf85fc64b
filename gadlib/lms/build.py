"""Build a classifier on any LM by name: the embedded tiny Llama (random init or pretrained here)
or a real checkpoint (hub name or local folder); rebuild one from its checkpoint.

`build_classifier` is what notebooks, benchmarks, the CLI and checkpoints call, so every method is
built the same way. Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from accelerate.utils import set_seed
from safetensors.torch import load_file

from gadlib.core.backbone import (EMBEDDED, EMBEDDED_NAMES, EMBEDDED_SCRATCH, BackboneConfig, pretrained_lm,
                                  pretrained_tokenizer)
from gadlib.core.checkpoint import trainable_state
from gadlib.core.methods import assemble_classifier, check_method
from gadlib.lms.embedded_lm import build_embedded_lm, embedded_tokenizer
from gadlib.lms.pretrain import pretrained_embedded_lm
from gadlib.lms.tokenizer import desync_vocab_size


def load_tokenizer(cfg: BackboneConfig):
    """The backbone's tokenizer alone (cheap: no weights are loaded)."""
    return embedded_tokenizer(cfg.vocab_size) if cfg.name in EMBEDDED_NAMES else pretrained_tokenizer(cfg)


def load_language_model(cfg: BackboneConfig):
    """(causal LM, tokenizer): the embedded tiny Llama (random init for `EMBEDDED_SCRATCH`; for
    `EMBEDDED` the cached pretrained weights, pretrained on first use: `gadlib.lms.pretrain`)
    or `cfg.name` from the hub or a folder."""
    tokenizer = load_tokenizer(cfg)
    if cfg.name == EMBEDDED_SCRATCH:
        return build_embedded_lm(cfg, tokenizer), tokenizer
    if cfg.name == EMBEDDED:
        return pretrained_embedded_lm(cfg, tokenizer), tokenizer
    return pretrained_lm(cfg, tokenizer), tokenizer


def build_classifier(method: str, label_names: dict[str, list[str]], visual_dim: int,
                     backbone: BackboneConfig | None = None, seed: int = 0, **method_kwargs):
    """A fresh classifier; `seed` fixes every random initialisation (LM, connector, heads, [CLS]).
    method_kwargs: see `gadlib.core.methods.assemble_classifier`."""
    check_method(method)
    backbone = backbone or BackboneConfig()
    if backbone.name in EMBEDDED_NAMES and method == "generative" and method_kwargs.get("mapping") == "desync":
        # Thousands of classes outgrow the embedded 4096-token BPE: grow it (reserved tokens only;
        # the pretrained embedded LM gets new embedding rows after its pretrained ones).
        needed = desync_vocab_size(list(label_names.values()), load_tokenizer(backbone))
        backbone = replace(backbone, vocab_size=max(backbone.vocab_size, needed))
    set_seed(seed)
    lm, tokenizer = load_language_model(backbone)
    return assemble_classifier(method, lm, tokenizer, label_names, visual_dim, backbone, seed, **method_kwargs)


def load_classifier(folder):
    """Rebuild the classifier a checkpoint was trained as and load its weights."""
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
