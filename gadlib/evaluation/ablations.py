"""The two-stage ablation of GAD: train the generative classifier first, freeze it, then train a
[CLS] query and a linear head on the frozen model (the paper found it collapses).

Every other GAD ablation is an option of `gadlib.core.gad.GADClassifier`.

Explained in notebooks/04_gad_finetuning.ipynb.
"""
from __future__ import annotations

from dataclasses import replace

from gadlib.core.discriminative import DiscriminativeClassifier
from gadlib.evaluation.experiment import Run, Setup
from gadlib.core.generative import GenerativeClassifier
from gadlib.evaluation.oad import EpochWindows, OADConfig, evaluate_oad, oad_validator
from gadlib.core.training import train


def freeze_generative_model(generative: GenerativeClassifier) -> None:
    """Stop every parameter of the stage-1 model from training: the LM (with its LoRA adapter,
    if any) and the connector. The [CLS] query, unused by a generative model, stays trainable."""
    generative.mllm.lm.requires_grad_(False)
    generative.mllm.connector.requires_grad_(False)


def two_stage_classifier(generative: GenerativeClassifier) -> DiscriminativeClassifier:
    """Stage 2: a discriminative classifier on the frozen backbone of a trained generative one
    (the same `MLLM` object); only its [CLS] query and heads train."""
    if not isinstance(generative, GenerativeClassifier):
        raise TypeError(f"two_stage_classifier needs a trained GenerativeClassifier, got {type(generative).__name__}")
    freeze_generative_model(generative)
    head = DiscriminativeClassifier(generative.mllm, generative.label_names, generative.background_weight,
                                    generative.loss_norm)
    head.spec = {**generative.spec, "stage": "two_stage"}
    return head


def run_two_stage_oad(generative_run: Run, dataset, setup: Setup, cfg: OADConfig, name: str = "two_stage",
                      validate_on: str | None = None) -> Run:
    """Stage 2 of the two-stage ablation on OAD, from a finished `run_oad("generative", ...,
    keep_model=True)` run (stage 1): the same seed, windows, budget and validation as `run_oad`,
    then dense evaluation. Freezes the stage-1 model in place."""
    if generative_run.classifier is None:
        raise ValueError("the generative run kept no model: call run_oad(..., keep_model=True)")
    seed = generative_run.seed
    head = two_stage_classifier(generative_run.classifier)

    history = train(head, EpochWindows(dataset, "train", cfg, seed), replace(setup.train, seed=seed),
                    validate=oad_validator(dataset, validate_on, cfg))
    return Run(name, seed, history, {"oad": evaluate_oad(head, dataset, "test", cfg)})
