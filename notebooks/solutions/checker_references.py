"""The exercise checkers' references: what each checker compares an answer with, where that is the
answer itself (an implementation, a formula, the measurement asked for).

Not imported from here: `python -m gadlib.course build` encodes this file into
gadlib/lessons/exercises/_references_blob.py, and gadlib.lessons.exercises.references compiles
it from there under a file name that does not exist, so `inspect.getsource` (which the notebooks
teach) cannot show a reference from the student's kernel, nor can the checkers' own sources, which
only name them. It sits beside the solution editions and, like them, is left out of a
student-only copy of the course (docs/instructors.md: "The solutions ship in the repository").
Edit it here, then run `python -m gadlib.course build`; `python -m gadlib.course check` (and the
tests) fail while the encoded copy is stale.
"""
import numpy as np
import torch
import torch.nn.functional as F
from rapidfuzz.distance import Levenshtein


# ---- 01 ------------------------------------------------------------------------------------------

def snap(text, names):
    """01, exercise 1: the nearest name by Levenshtein distance, ties to the lowest index."""
    return int(np.argmin([Levenshtein.distance(text, n) for n in names]))


def cls_readout(hidden, lengths):
    """01, exercise 2: each row's hidden state at its last real position, one row at a time."""
    return torch.stack([hidden[i, n - 1] for i, n in enumerate(lengths)])


def chance_same_verb(names):
    """01, exercise 4: the share of uniformly random errors that keep the true verb, exactly:
    a random error is any of the C - 1 other classes; those with the same verb keep it."""
    from gadlib.lessons.plots import split_label
    verbs = [split_label(n)[0] for n in names]
    return float(np.mean([(verbs.count(v) - 1) / (len(names) - 1) for v in verbs]))


# ---- 02 ------------------------------------------------------------------------------------------

def snap_recovery(mapping):
    """02, exercise 3: the share of classes snapped back after the first token is replaced."""
    from gadlib.core.label_spaces import LabelSpace
    from gadlib.lessons.exercises.ex02 import epic_like_names, word_tokenizer
    names = epic_like_names()
    tok = word_tokenizer(names)
    space = LabelSpace(names, tok, mapping, seed=0)
    seqs = space.sequences
    hits = 0
    for i, s in enumerate(seqs):
        wrong = [seqs[(i + 1) % len(seqs)][0]] + list(s[1:])
        hits += int(np.argmin(space.snap(wrong, tok)) == i)
    return hits / len(seqs)


# ---- 03 ------------------------------------------------------------------------------------------

def few_many_gaps():
    """03, exercise 4: the "many" - "few" gaps of the three scores."""
    from gadlib.evaluation.diversity import error_entropy, matched_counts, matched_error_entropy
    from gadlib.lessons.exercises.ex03 import few_and_many_errors
    errs = few_and_many_errors()
    n = matched_counts(errs)
    return {"raw_gap": error_entropy(errs["many"]) - error_entropy(errs["few"]),
            "miller_madow_gap": error_entropy(errs["many"], estimator="miller_madow")
            - error_entropy(errs["few"], estimator="miller_madow"),
            "matched_gap": matched_error_entropy(errs["many"], n) - matched_error_entropy(errs["few"], n)}


# ---- 04 ------------------------------------------------------------------------------------------

def previous_actions(labels, step_names):
    """04, exercise 1: gadlib's own per-frame OAD context (samples._previous_actions)."""
    from gadlib.data.samples import _previous_actions
    from gadlib.data.videos import Segment, Video, VideoDataset
    from gadlib.evaluation.metrics import segments
    segs = [Segment(s, e, label - 1) for label, s, e in segments(labels)]
    video = Video("exercise", np.zeros((len(labels), 1, 1), np.float32), segs, None, "train")
    return _previous_actions(VideoDataset("exercise", [video], list(step_names), [], 1.0), video)


def gad_loss(class_logits, targets, weights, token_logits, token_targets, lam):
    """04, exercise 2: L_cls (weighted mean) + lam * L_gen (mean over the batch's real tokens)."""
    cls = (F.cross_entropy(class_logits, targets, reduction="none") * weights).sum() / weights.sum()
    gen = F.cross_entropy(token_logits.flatten(0, 1), token_targets.flatten(), ignore_index=-100)
    return cls + lam * gen


def lora_measurement():
    """04, exercise 3: max |logit difference| to the original LM, fresh, fine-tuned, removed."""
    from accelerate.utils import set_seed
    from gadlib.core.checkpoint import remove_lora
    from gadlib.lessons.exercises.ex04 import lora_exercise_model, simulate_finetuning
    from gadlib.lms.build import load_language_model
    model, backbone, ids = lora_exercise_model()
    set_seed(0)
    original, _ = load_language_model(backbone)
    with torch.no_grad():
        want = original.eval()(input_ids=ids).logits
        diff = lambda lm: float((lm(input_ids=ids).logits - want).abs().max())
        out = {"fresh_adapter": diff(model.mllm.lm)}
        simulate_finetuning(model)
        out["finetuned_adapter"] = diff(model.mllm.lm)
        out["adapter_removed"] = diff(remove_lora(model).eval())
    return out


def positions_measurement():
    """04, exercise 4: LM positions of one training loss per order, and of one GAD prediction."""
    from gadlib.lessons.exercises.ex04 import ORDERS_04, count_lm_positions, positions_batch, positions_model
    batch, names, dim = positions_batch()
    out = {}
    for order in ORDERS_04:
        model = positions_model(order, names, dim)
        out[order] = count_lm_positions(model, lambda: model.loss(batch))
        if order == "disc_first":
            out["disc_first predict"] = count_lm_positions(model, lambda: model.predict(batch))
    return out
