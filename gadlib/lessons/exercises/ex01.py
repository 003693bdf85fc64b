"""Notebook 01 (generative vs discriminative): checkers of its graded exercises.

The exercises are the last section of notebooks/01_generative_vs_discriminative.ipynb; gadlib/lessons/exercises/common.py says how a
checker works.
"""
from __future__ import annotations

import numpy as np
import torch

from gadlib.data.benchmark import generate_benchmark, preset
from gadlib.data.vocabulary import label_overlap_stats
from gadlib.lessons.plots import error_sharing

from .common import SHARE, ExerciseFailed, _call, _check_measured, _passed, _predicted, _report_prediction, python_lines
from .references import reference


def coin_like_names(num_classes: int = 24, label_overlap: float = 0.6, seed: int = 0) -> list[str]:
    """Step names of a small synthetic COIN-like benchmark (the exercises' shared input)."""
    config = preset("coin_like", num_classes=num_classes, num_tasks=-(-num_classes // 5) + 1, steps_per_task=(3, 5), videos_per_task=2,
                    label_overlap=label_overlap, seed=seed)
    return list(generate_benchmark(config).step_names)


def _typos(names: list[str], rng: np.random.Generator, n: int) -> list[str]:
    """Generated texts a decoder might produce: a class name with a few characters changed, a
    word dropped or swapped with another class's word, or an exact name."""
    words = sorted({w for name in names for w in name.split()})
    out = []
    for _ in range(n):
        text = list(names[rng.integers(len(names))])
        for _ in range(rng.integers(0, 4)):
            i = rng.integers(len(text))
            text[i] = chr(rng.integers(97, 123))
        text = "".join(text).split()
        if rng.random() < 0.4:
            text[rng.integers(len(text))] = words[rng.integers(len(words))]
        out.append(" ".join(text))
    return out


def check_snap(snap) -> None:
    """Notebook 01, exercise 1. snap(text, names) -> index of the class name with the smallest
    Levenshtein (character edit) distance to `text`; ties go to the lowest index."""
    what = "snap"
    names = coin_like_names()
    rng = np.random.default_rng(1)
    cases = [("", names[:3]), (names[2], names), ("a", ["b", "a", "a"]), ("ab", ["ba", "ab"])]
    cases += [(t, names) for t in _typos(names, rng, 60)]
    cases.sort(key=lambda c: (len(c[1]), len(c[0])))  # report the smallest failing case
    ref = reference("snap")
    for text, pool in cases:
        want = ref(text, pool)
        got = _call(snap, text, list(pool), what=what, withheld_functions=(ref,))
        shown = f"{what}({text!r}, {pool if len(pool) <= 4 else f'<{len(pool)} names>'})"
        if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
            raise ExerciseFailed(f"{what}: return a class index (an int), got {type(got).__name__} for text {text!r}")
        if not 0 <= int(got) < len(pool):
            raise ExerciseFailed(f"{shown} returned {int(got)}, not an index of the list (0 to {len(pool) - 1}): an "
                                 f"off-by-one? It should return {want} ({pool[want]!r})")
        if int(got) != want:
            raise ExerciseFailed(f"{what}({text!r}, {pool if len(pool) <= 4 else f'<{len(pool)} names>'}) returned "
                                 f"{int(got)} ({pool[int(got)]!r}) but {want} ({pool[want]!r}) is nearer or, "
                                 f"at equal distance, earlier in the list")
    _passed(what, f"{len(cases)} cases, incl. ties and the empty string")


def check_cls_readout(cls_readout) -> None:
    """Notebook 01, exercise 2. cls_readout(hidden [B, L, H], mask [B, L] right-padded 0/1)
    -> [B, H]: each row's hidden state at its last real position (where [CLS] sits)."""
    what = "cls_readout"
    gen = torch.Generator().manual_seed(0)
    cases = []
    for lengths in ([1], [3], [3, 3], [2, 5, 4], [6, 1, 6, 2]):
        L = max(lengths)
        hidden = torch.randn(len(lengths), L, 4, generator=gen)
        mask = torch.zeros(len(lengths), L, dtype=torch.long)
        for i, n in enumerate(lengths):
            mask[i, :n] = 1
        cases.append((lengths, hidden, mask))
    ref = reference("cls_readout")
    for lengths, hidden, mask in cases:
        want = ref(hidden, lengths)
        got = _call(cls_readout, hidden.clone(), mask.clone(), what=what, withheld_functions=(ref,))
        if not isinstance(got, torch.Tensor):
            raise ExerciseFailed(f"{what}: return a torch.Tensor, got {type(got).__name__}")
        if tuple(got.shape) != tuple(want.shape):
            raise ExerciseFailed(f"{what}: for hidden {tuple(hidden.shape)} (B, L, H) the result should have shape "
                                 f"{tuple(want.shape)} (B, H), got {tuple(got.shape)}")
        bad = [i for i in range(len(lengths)) if not torch.allclose(got[i], want[i], atol=1e-6)]
        if bad:
            i = bad[0]
            hit = [j for j in range(hidden.shape[1]) if torch.allclose(got[i], hidden[i, j], atol=1e-6)]
            where = f"position {hit[0]}" if hit else "no single position"
            raise ExerciseFailed(f"{what}: with sequence lengths {lengths} (mask row {mask[i].tolist()}), row {i} "
                                 f"holds the hidden state of {where}, not of its last real position")
    # the same work for 2 rows and for 12: no Python loop over the batch
    lines = [python_lines(cls_readout, torch.randn(B, 5, 4, generator=gen), (torch.arange(5) < 3).long().expand(B, 5))
             for B in (2, 12)]
    if lines[1] > lines[0]:
        raise ExerciseFailed(f"{what}: more Python lines run for a batch of 12 ({lines[1]}) than of 2 ({lines[0]}): "
                             "a loop over the batch; use tensor indexing (one gather for all rows) instead")
    _passed(what, f"{len(cases)} padded batches, no Python loop")


OVERLAP_KNOB = (0.0, 0.25, 0.5, 0.75, 1.0)


def check_overlap_knob(measure) -> None:
    """Notebook 01, exercise 3. measure() -> {label_overlap: how many classes start with a
    class's verb (itself included), averaged over the classes}, for label_overlap in
    OVERLAP_KNOB, on `coin_like_names(40, label_overlap)` (label_overlap_stats' classes_per_first_word)."""

    what = "overlap knob"
    got = _call(measure, what=what)
    want = {o: label_overlap_stats(coin_like_names(40, o))["classes_per_first_word"] for o in OVERLAP_KNOB}
    _check_measured(got, want, 1e-9, what, "Use coin_like_names(40, overlap); for each class count the classes "
                    "(itself included) with the same first word, then average.")
    _passed(what, "the averages match label_overlap_stats")


def chance_predictions(names: list[str], n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(pred, targets): uniformly random classes, the errors a model with no idea would make."""
    rng = np.random.default_rng(seed)
    return rng.integers(len(names), size=n), rng.integers(len(names), size=n)


def check_chance_same_verb(predict, measure) -> None:
    """Notebook 01, exercise 4 (predict, then check). predict() -> your formula's value of the
    share of *errors* that keep the true verb when predictions are uniformly random;
    measure() -> the same share measured with gadlib.lessons.plots.error_sharing on
    chance_predictions(coin_like_names()). Both as {"same_verb": value}."""
    what = "chance level of same-verb errors"
    names = coin_like_names()
    exact = reference("chance_same_verb")
    # the prediction first, before anything is measured, and it may not measure
    guess = _predicted(predict, {"same_verb": SHARE}, what, measuring=(measure, error_sharing, chance_predictions, exact))
    pred, targets = chance_predictions(names)
    want = {"same_verb": error_sharing(pred, targets, names)["same_verb"]}
    _check_measured(_call(measure, what=what, withheld_functions=(exact,)), want, 1e-9, what,
                    "Measure on chance_predictions(coin_like_names()) with error_sharing.")
    _passed(what, "the measurement matches error_sharing")
    _report_prediction(guess, {"same_verb": exact(names)}, 0.02, what, against="exact")
