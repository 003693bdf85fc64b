"""Build any of the compared classifiers from a name, on one backbone recipe.

`build_classifier("generative" | "discriminative" | "gad", ...)` is what notebooks, benchmarks and
checkpoints call, so every method is built the same way and a checkpoint can rebuild its model.
"""
from __future__ import annotations

from dataclasses import asdict, replace

from accelerate.utils import set_seed

from .backbone import EMBEDDED_NAMES, MLLM, BackboneConfig, apply_lora, load_language_model, load_tokenizer
from .discriminative import DiscriminativeClassifier
from .gad import GADClassifier
from .generative import GenerativeClassifier
from .tokenizer import desync_vocab_size

METHODS = {"generative": GenerativeClassifier, "discriminative": DiscriminativeClassifier, "gad": GADClassifier}


def build_classifier(method: str, label_names: dict[str, list[str]], visual_dim: int,
                     backbone: BackboneConfig | None = None, seed: int = 0, **method_kwargs):
    """A fresh classifier; `seed` fixes every random initialisation (LM, connector, heads, [CLS]).

    method_kwargs go to the classifier: e.g. mapping="desync" (generative), lam=1.0, order="gen_first",
    generate="context_head", readout="last_token" (gad; the ablations of notebook 04).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {sorted(METHODS)}")
    backbone = backbone or BackboneConfig()
    if backbone.name in EMBEDDED_NAMES and method == "generative" and method_kwargs.get("mapping") == "desync":
        # Thousands of classes outgrow the embedded 4096-token BPE: grow it (reserved tokens only;
        # the pretrained embedded LM gets new embedding rows after its pretrained ones).
        needed = desync_vocab_size(list(label_names.values()), load_tokenizer(backbone))
        backbone = replace(backbone, vocab_size=max(backbone.vocab_size, needed))
    set_seed(seed)
    lm, tokenizer = load_language_model(backbone)
    use_lora = backbone.lora if backbone.lora is not None else backbone.name not in EMBEDDED_NAMES
    mllm = MLLM(lm, tokenizer, visual_dim)
    classifier = METHODS[method](mllm, label_names, **method_kwargs)  # extend resizes embeddings here
    if use_lora:
        lm.requires_grad_(False)
        # The LM head gets an adapter only when a loss reads it (not GAD's "none" / "context_head").
        lm_loss = method == "generative" or (method == "gad" and classifier.generate in ("context", "label"))
        mllm.lm = apply_lora(lm, backbone, train_lm_head=lm_loss,
                             new_token_ids=getattr(classifier, "new_token_ids", []))
    classifier.spec = {"method": method, "label_names": label_names, "visual_dim": visual_dim,
                       "backbone": asdict(backbone), "seed": seed, "method_kwargs": method_kwargs}
    return classifier
