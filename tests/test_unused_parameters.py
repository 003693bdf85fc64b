"""`unused_parameters` / `leaves_parameters_unused` against a backward pass.

Under DDP, `find_unused_parameters` (from `leaves_parameters_unused`) must be on where a step can
leave a trainable parameter without a gradient (or the backward breaks), and should be off where
none is ever left (or every step pays a graph search, and DDP warns). For every classifier and
option that changes what is read, and for batches of every composition a run trains on (COIN:
step + next + task samples, steps alone, tasks alone; OAD windows), the trainable parameters
without a gradient after one backward must be exactly those the classifier names.
"""
from __future__ import annotations

import pytest

from gadlib.core.backbone import BackboneConfig
from gadlib.core.classifier import collate
from gadlib.data.samples import (label_names, step_forecasting_samples, step_recognition_samples,
                                 task_recognition_samples)
from gadlib.evaluation.ablations import two_stage_classifier
from gadlib.evaluation.oad import OADConfig, oad_context_classes, oad_samples
from gadlib.lms.build import build_classifier

LORA = BackboneConfig(lora=True, lora_r=4, lora_alpha=8)
CLS, LM_HEAD = "mllm.cls_query", "lm_head"  # what can be left unused: the [CLS] query, the LM head

# (method, options, backbone, what is never read). The embedded LM is fully fine-tuned: its LM
# head is trainable, and unused unless a loss generates text; under LoRA it is frozen.
CASES = [
    ("gad", {}, None, set()),                          # the paper's GAD: every head, every step
    ("gad", {"order": "gen_first"}, None, set()),
    ("gad", {"order": "parallel"}, None, set()),
    ("gad", {"generate": "label"}, None, set()),
    ("gad", {"readout": "last_token"}, None, {CLS}),
    ("gad", {"generate": "none"}, None, {LM_HEAD}),
    ("gad", {"generate": "context_head"}, None, {LM_HEAD}),
    ("gad", {}, LORA, set()),
    ("discriminative", {}, None, {LM_HEAD}),
    ("discriminative", {}, LORA, set()),
    ("generative", {}, None, {CLS}),
    ("generative", {"mapping": "extend"}, None, {CLS}),
    ("generative", {}, LORA, {CLS}),
    ("two_stage", {}, None, set()),                    # frozen generative LM: [CLS] query and heads
]


@pytest.fixture(scope="module")
def coin(dataset):
    """COIN's label sets and three batches: every kind, steps alone (the task head reads no
    sample), tasks alone."""
    step = step_recognition_samples(dataset, "train", 2)[:3]
    nxt = step_forecasting_samples(dataset, "train", 2)[:2]
    task = task_recognition_samples(dataset, "train", 2)[:2]
    names = {"steps": label_names(dataset, "steps"), "tasks": label_names(dataset, "tasks")}
    return names, {"all kinds": collate(step + nxt + task), "steps only": collate(step + nxt),
                   "tasks only": collate(task)}


@pytest.fixture(scope="module")
def oad(dataset):
    """OAD's one label set and a batch of windows (the context head's classes too)."""
    windows = oad_samples(dataset, "train", window=3, stride=2, context="previous_action")
    batch = collate([windows[i] for i in range(0, len(windows), max(1, len(windows) // 8))][:8])
    classes = oad_context_classes(dataset, OADConfig(window=3, context="previous_action"))
    return {"oad": ["background"] + list(dataset.step_names)}, {"oad windows": batch}, classes


def build(method, options, backbone, names, visual_dim, context_classes):
    if method == "two_stage":
        return two_stage_classifier(build_classifier("generative", names, visual_dim, backbone))
    if options.get("generate") == "context_head":
        options = {**options, "context_classes": context_classes}
    return build_classifier(method, names, visual_dim, backbone, **options)


def without_gradient(clf, batch) -> set[str]:
    """The trainable parameters that one backward of `batch`'s loss leaves without a gradient."""
    clf.train()
    clf.zero_grad(set_to_none=True)
    clf.loss(batch).backward()
    return {n for n, p in clf.named_parameters() if p.requires_grad and p.grad is None}


@pytest.mark.parametrize("method, options, backbone, never_read", CASES,
                         ids=[f"{m}-{o or ''}-{'lora' if b else 'full'}" for m, o, b, _ in CASES])
@pytest.mark.parametrize("layout", ["coin", "oad"])
def test_unused_parameters_are_those_without_a_gradient(method, options, backbone, never_read, layout, coin, oad,
                                                        visual_dim):
    if options.get("generate") == "context_head" and layout == "coin":
        pytest.skip("the context head's classes are OAD's")
    names, batches = coin if layout == "coin" else oad[:2]
    clf = build(method, options, backbone, names, visual_dim, oad[2])
    claimed = set(clf.unused_parameters())
    assert {CLS if n == CLS else LM_HEAD for n in claimed} == never_read, claimed
    assert all(n == CLS or "lm_head" in n for n in claimed), claimed
    for kind, batch in batches.items():
        assert without_gradient(clf, batch) == claimed, kind
    assert clf.leaves_parameters_unused == bool(never_read)
