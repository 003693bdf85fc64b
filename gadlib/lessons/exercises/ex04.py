"""Notebook 04 (GAD fine-tuning and its ablations): checkers of its graded exercises.

The exercises are the last section of notebooks/04_gad_finetuning.ipynb; gadlib/lessons/exercises/common.py says how a
checker works.
"""
from __future__ import annotations

import numpy as np
import torch

from gadlib.core.backbone import BackboneConfig
from gadlib.lms.build import build_classifier
from gadlib.core.classifier import collate
from gadlib.data.datasets import ensure_benchmark
from gadlib.data.samples import _previous_actions, step_recognition_samples

from .common import (ExerciseFailed, Kind, _call, _check_measured, _close, _passed, _predicted, _report_prediction,
                     _short_sequences)
from .references import reference
from .ex01 import coin_like_names


def check_previous_actions(previous_actions) -> None:
    """Notebook 04, exercise 1. previous_actions(labels, step_names) -> one string per frame:
    the name of the last action segment that ended at or before that frame (labels: 0 =
    background, k >= 1 = step_names[k - 1]); gadlib.data.samples.NO_PREVIOUS_ACTION before the first.
    GAD's generation target for online action detection."""
    what = "previous_actions"
    step_names = ["add sugar", "add salt", "stir"]
    cases, ref = 0, reference("previous_actions")
    for labels in _short_sequences(6, labels=(0, 1, 2, 3)):
        want = ref(labels, step_names)
        got = _call(previous_actions, labels.copy(), list(step_names), what=what,
                    withheld_functions=(_previous_actions, ref))
        if not isinstance(got, (list, tuple)) or len(got) != len(labels):
            raise ExerciseFailed(f"{what}({labels.tolist()}, ...): return one name per frame ({len(labels)}), got "
                                 f"{type(got).__name__} of length {len(got) if hasattr(got, '__len__') else '?'}")
        if list(got) != want:
            raise ExerciseFailed(f"{what}({labels.tolist()}, {step_names}) returned {list(got)}; expected {want}")
        cases += 1
    _passed(what, f"all {cases} sequences of up to 6 frames over background + 3 classes")


def gad_loss_inputs(seed: int = 0):
    """Small random inputs of the GAD objective: class logits [B, C], targets [B], sample
    weights [B], LM logits at the context positions [B, T, V] and context token targets [B, T]
    (-100 = padding: contexts have different lengths)."""
    gen = torch.Generator().manual_seed(seed)
    B, C, T, V = 5, 7, 6, 11
    lengths = torch.tensor([1, 6, 3, 2, 6])[:B]
    token_targets = torch.randint(V, (B, T), generator=gen)
    token_targets[torch.arange(T)[None] >= lengths[:, None]] = -100
    weights = torch.tensor([1.0, 0.2, 1.0, 0.2, 1.0])[:B]  # OAD background samples down-weighted
    return (torch.randn(B, C, generator=gen), torch.randint(C, (B,), generator=gen), weights,
            torch.randn(B, T, V, generator=gen), token_targets)


def check_gad_loss(gad_loss) -> None:
    """Notebook 04, exercise 2. gad_loss(class_logits, targets, weights, token_logits,
    token_targets, lam) -> L_cls + lam * L_gen: L_cls the weighted mean cross-entropy over the
    samples, L_gen the mean next-token cross-entropy over the real context tokens of the whole
    batch (-100 = padding), as GADClassifier.loss computes it."""
    what = "gad_loss"
    cases = [(seed, lam) for seed in range(3) for lam in (0.0, 1.0, 0.3)]
    ref = reference("gad_loss")
    for seed, lam in sorted(cases, key=lambda c: c[1]):
        inputs = gad_loss_inputs(seed)
        want = float(ref(*inputs, lam))
        got = _call(gad_loss, *(x.clone() for x in inputs), lam, what=what, withheld_functions=(ref,))
        if isinstance(got, torch.Tensor):
            if got.numel() != 1:
                raise ExerciseFailed(f"{what}: return one scalar (the batch's loss), got a tensor of shape {tuple(got.shape)}")
            got = got.item()
        if not isinstance(got, (float, int, np.floating)):
            raise ExerciseFailed(f"{what}: return a scalar tensor or float, got {type(got).__name__}")
        if not _close(got, want, 1e-5):
            hint = ("at lam = 0 only L_cls is left: check the weighting of the samples (a weighted mean divides by "
                    "the sum of the weights)" if lam == 0 else
                    "L_cls is right (lam = 0 passed); L_gen is the mean over all real tokens of the batch, padding "
                    "(-100) excluded, not a mean of per-sample means")
            raise ExerciseFailed(f"{what}(gad_loss_inputs({seed}), lam={lam}) returned {got:.6f}; expected {want:.6f}. {hint}")
    _passed(what, f"{len(cases)} batches with padded contexts of different lengths, lam in 0, 0.3, 1")


def lora_exercise_model(seed: int = 0):
    """A GAD classifier whose LM carries a small LoRA adapter (r 4), on the embedded tiny Llama
    (its random init plays the pretrained weights), as section 6 builds one, and the prompt
    token ids its logits are compared on."""

    backbone = BackboneConfig(lora=True, lora_r=4, lora_alpha=8)
    model = build_classifier("gad", {"steps": coin_like_names(8)}, 16, backbone, seed=seed).eval()
    ids = model.mllm.tokenizer("What is the action in the video?", return_tensors="pt")["input_ids"]
    return model, backbone, ids


def simulate_finetuning(model, seed: int = 0, scale: float = 0.5) -> None:
    """Stand-in for LoRA training, in milliseconds: fill every LoRA matrix with random values
    (the adapter's `B` matrices start at zero), leaving every base weight as it was."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.mllm.lm.named_parameters():
            if "lora_" in name:
                p.copy_(scale * torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)


def check_lora_removal(measure) -> None:
    """Notebook 04, exercise 3. measure() -> {"fresh_adapter", "finetuned_adapter",
    "adapter_removed"}: the max |logit difference| to the original LM on lora_exercise_model()'s
    prompt, for the LoRA model as built, after simulate_finetuning(model), and after remove_lora."""
    what = "LoRA removal"
    ref = reference("lora_measurement")
    want = ref()
    _check_measured(_call(measure, what=what, withheld_functions=(ref,)), want, 1e-5, what,
                    "Build the original LM with set_seed(0); load_language_model(backbone); compare "
                    "`.logits` on the same ids, max of the absolute difference.")
    _passed(what, "the three differences match a recomputation")


ORDERS_04 = ("discriminative", "disc_first", "gen_first", "parallel")


def positions_batch(num_samples: int = 3, num_frames: int = 4):
    """A small batch of step-recognition samples (COIN-like, synthetic) and the label names."""
    data = ensure_benchmark("coin_like", size="cpu", num_classes=12, num_tasks=3, videos_per_task=2)
    samples = step_recognition_samples(data, "train", num_frames)[:num_samples]
    return collate(samples), {"steps": list(data.step_names), "tasks": list(data.task_names)}, data.feature_dim


def positions_model(order: str, names, visual_dim: int):
    """The classifier of one order (ORDERS_04; "discriminative" = no generation), embedded LM."""
    if order == "discriminative":
        return build_classifier("discriminative", names, visual_dim, seed=0)
    return build_classifier("gad", names, visual_dim, seed=0, order=order)


def count_lm_positions(model, fn) -> int:
    """Run fn() and count the real (unpadded) positions of every pass through
    model.mllm.hidden_states (the LM's decoder, where every order's loss and read-out run);
    generate()'s decoding steps (generate-first at inference) are not counted."""
    count, inner = [0], model.mllm.hidden_states

    def counting(embeds, mask, positions):
        count[0] += int(mask.sum())
        return inner(embeds, mask, positions)

    model.mllm.hidden_states = counting
    try:
        fn()
    finally:
        del model.mllm.hidden_states  # back to the class's method
    return count[0]


def check_lm_positions(predict, measure) -> None:
    """Notebook 04, exercise 4 (predict, then check). {order: LM positions one training loss
    processes on positions_batch()} for each order in ORDERS_04, plus "disc_first predict" (one
    prediction of the GAD model), measured with count_lm_positions on a fresh positions_model per
    order; predict() from the prefix and context token counts alone."""
    what = "LM positions per order"
    ref = reference("positions_measurement")
    positions = Kind("a whole number of positions, at least 1", 1, 10**6, whole=True)
    # the prediction first, from the token counts alone: counting positions is withheld while it runs
    guess = _predicted(predict, {k: positions for k in (*ORDERS_04, "disc_first predict")}, what,
                       measuring=(measure, ref, count_lm_positions))
    want = ref()
    _check_measured(_call(measure, what=what, withheld_functions=(ref,)), want, 0, what,
                    "Count with count_lm_positions(model, lambda: model.loss(batch)) (and model.predict(batch) "
                    "for 'disc_first predict'), one fresh positions_model per order.")
    _passed(what, "the counts match count_lm_positions")
    _report_prediction(guess, want, 0, what)
