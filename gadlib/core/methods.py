"""The compared classifiers by name, assembled on one backbone recipe.

`assemble_classifier` puts a classifier on a loaded LM (connector, [CLS], heads, LoRA) and records
the recipe that rebuilds it (`spec`); `gadlib.lms.build.build_classifier` loads the LM by name
first. Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

from dataclasses import asdict

from gadlib.core.backbone import MLLM, BackboneConfig, apply_lora
from gadlib.core.discriminative import DiscriminativeClassifier
from gadlib.core.gad import GADClassifier
from gadlib.core.generative import GenerativeClassifier

METHODS = {"generative": GenerativeClassifier, "discriminative": DiscriminativeClassifier, "gad": GADClassifier}


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {sorted(METHODS)}")


def assemble_classifier(method: str, lm, tokenizer, label_names: dict[str, list[str]], visual_dim: int,
                        backbone: BackboneConfig, seed: int, **method_kwargs):
    """`method`'s classifier on `lm` (freshly loaded; the caller seeded its initialisation).

    method_kwargs go to the classifier: e.g. mapping="desync" (generative), lam=1.0, order="gen_first",
    generate="context_head", readout="last_token" (gad; the ablations of notebook 04).
    """
    check_method(method)
    mllm = MLLM(lm, tokenizer, visual_dim, backbone.prompt)
    classifier = METHODS[method](mllm, label_names, **method_kwargs)  # extend resizes embeddings here
    if backbone.uses_lora:
        lm.requires_grad_(False)
        mllm.lm = apply_lora(lm, backbone, train_lm_head=classifier.reads_lm_head,
                             new_token_ids=getattr(classifier, "new_token_ids", []))
    classifier.spec = {"method": method, "label_names": label_names, "visual_dim": visual_dim,
                       "backbone": asdict(backbone), "seed": seed, "method_kwargs": method_kwargs}
    return classifier
