"""Checkers for the graded exercises at the end of every notebook: `check_<name>(answer)`.

An answer is a function the student wrote (every solution lives in a function body, so a student
edition, where the body is `raise NotImplementedError`, still runs top to bottom). A checker calls
it on small inputs, compares with a reference it computes right then with gadlib, scikit-learn or
rapidfuzz (no stored numbers), and raises `ExerciseFailed` (an AssertionError, so nbgrader and
pytest count it as a failed test) saying what is wrong: a shape, a tolerance, the smallest input
that fails. Function answers are shown the expected output of that one small case; measured
numbers are never shown (they would be the answer).

The exercises: every notebook (01-05), section "Exercises"; docs/instructors.md says which
lecture each fits and how long it takes.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import torch
from rapidfuzz.distance import Levenshtein

from .label_spaces import LabelSpace, excluded_token_ids, token_overlap_stats
from .metrics import point_f1, segment_f1, segments
from .plots import error_sharing, split_label


class ExerciseFailed(AssertionError):
    """A checker's verdict: the answer is wrong, or not written yet."""


def _call(answer, *args, what: str):
    """answer(*args); a stub still raising NotImplementedError fails with one clear line."""
    if not callable(answer):
        raise ExerciseFailed(f"{what}: pass the function itself (e.g. check_x(my_function)), got {type(answer).__name__}")
    try:
        return answer(*args)
    except NotImplementedError:
        raise ExerciseFailed(f"{what}: not implemented yet (the function still raises NotImplementedError)") from None


def _passed(what: str, detail: str) -> None:
    print(f"✓ {what}: passed ({detail})")


def _close(got, want, tol: float) -> bool:
    return bool(np.isfinite(got)) and abs(float(got) - float(want)) <= tol


def _same_keys(got, keys, what: str) -> dict:
    if not isinstance(got, dict):
        raise ExerciseFailed(f"{what}: return a dict with keys {sorted(keys, key=str)}, got {type(got).__name__}")
    missing, extra = [k for k in keys if k not in got], [k for k in got if k not in keys]
    if missing or extra:
        raise ExerciseFailed(f"{what}: the dict's keys should be {sorted(keys, key=str)}; missing {missing}, unexpected {extra}")
    return got


def _check_measured(got: dict, want: dict, tol: float, what: str, hint: str) -> None:
    """Each measured value against a recomputation, without telling the recomputed value."""
    _same_keys(got, want, what)
    for k in want:
        if not _close(got[k], want[k], tol):
            raise ExerciseFailed(f"{what}: the value for {k!r} does not match a recomputation with gadlib "
                                 f"(tolerance {tol}). {hint}")


def _report_prediction(prediction: dict, measured: dict, tol: float, what: str) -> None:
    _same_keys(prediction, measured, f"{what} (prediction)")
    off = {k: float(prediction[k]) - float(measured[k]) for k in measured}
    good = [k for k, d in off.items() if abs(d) <= tol]
    print(f"  your prediction was within {tol} of the measurement for {len(good)}/{len(off)} entries"
          + ("" if len(good) == len(off) else f"; off for {[k for k in off if k not in good]}: explain why below"))


# =================================================================================================
# Notebook 01: generative vs discriminative
# =================================================================================================

def coin_like_names(num_classes: int = 24, label_overlap: float = 0.6, seed: int = 0) -> list[str]:
    """Step names of a small synthetic COIN-like benchmark (the exercises' shared input)."""
    from .benchmark import generate_benchmark, preset

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
    for text, pool in cases:
        want = int(np.argmin([Levenshtein.distance(text, n) for n in pool]))
        got = _call(snap, text, list(pool), what=what)
        if not isinstance(got, (int, np.integer)):
            raise ExerciseFailed(f"{what}: return a class index (an int), got {type(got).__name__} for text {text!r}")
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
    for lengths, hidden, mask in cases:
        want = torch.stack([hidden[i, n - 1] for i, n in enumerate(lengths)])  # one row at a time
        got = _call(cls_readout, hidden.clone(), mask.clone(), what=what)
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
    _passed(what, f"{len(cases)} padded batches")


OVERLAP_KNOB = (0.0, 0.25, 0.5, 0.75, 1.0)


def check_overlap_knob(measure) -> None:
    """Notebook 01, exercise 3. measure() -> {label_overlap: how many classes start with a
    class's verb (itself included), averaged over the classes}, for label_overlap in
    OVERLAP_KNOB, on `coin_like_names(40, label_overlap)` (label_overlap_stats' classes_per_first_word)."""
    from .benchmark import label_overlap_stats

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
    measure() -> the same share measured with gadlib.plots.error_sharing on
    chance_predictions(coin_like_names()). Both as {"same_verb": value}."""
    what = "chance level of same-verb errors"
    names = coin_like_names()
    pred, targets = chance_predictions(names)
    want = {"same_verb": error_sharing(pred, targets, names)["same_verb"]}
    _check_measured(_call(measure, what=what), want, 1e-9, what,
                    "Measure on chance_predictions(coin_like_names()) with error_sharing.")
    guess = _call(predict, what=what + " (prediction)")
    # the formula the prediction is judged against: random errors pick any of the C-1 other classes
    verbs = [split_label(n)[0] for n in names]
    exact = np.mean([(verbs.count(v) - 1) / (len(names) - 1) for v in verbs])
    _passed(what, "the measurement matches error_sharing")
    _report_prediction(guess, {"same_verb": exact}, 0.02, what)


# =================================================================================================
# Notebook 02: tokenization ablations
# =================================================================================================

@lru_cache(maxsize=4)
def _word_tokenizer_json(words: tuple[str, ...], vocab_size: int) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers

    specials = ["<unk>", "<pad>", "<eos>"]
    fillers = [f"w{i}" for i in range(max(0, vocab_size - len(specials) - len(words)))]
    vocab = {t: i for i, t in enumerate(specials + list(words) + fillers)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok.to_str()


def word_tokenizer(names: list[str], vocab_size: int = 512):
    """A tiny word-level tokenizer (one token per word of `names`, filler words up to
    `vocab_size`): a stand-in for the backbone's BPE that builds in milliseconds, so the
    exercises need no tokenizer training. Its sub-words are whole words."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    words = tuple(sorted({w for n in names for w in n.split()}))
    if len(words) + 3 > vocab_size:
        raise ValueError(f"word_tokenizer: {len(words)} distinct words need vocab_size > {len(words) + 3}, got {vocab_size}")
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(_word_tokenizer_json(words, vocab_size)),
                                   unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")


def epic_like_names(num_classes: int = 30, label_overlap: float = 0.9, seed: int = 0) -> list[str]:
    """Class names of a small synthetic EPIC-like benchmark (verb-noun, heavy sharing)."""
    from .benchmark import generate_benchmark, preset

    config = preset("epic_like", num_classes=num_classes, num_tasks=-(-num_classes // 6) + 1, steps_per_task=(4, 6), videos_per_task=2,
                    label_overlap=label_overlap, seed=seed)
    return list(generate_benchmark(config).step_names)


def _mapping_inputs():
    names = epic_like_names()
    tok = word_tokenizer(names)
    text = LabelSpace(names, tok, "text").sequences
    pool = sorted(set(range(len(tok))) - excluded_token_ids(tok))
    return names, tok, text, pool


def _mapped(answer, text, pool, seed, what):
    out = _call(answer, [list(s) for s in text], list(pool), seed, what=what)
    if not isinstance(out, (list, tuple)) or len(out) != len(text):
        raise ExerciseFailed(f"{what}: return one token list per class ({len(text)} lists), got "
                             f"{type(out).__name__} of length {len(out) if hasattr(out, '__len__') else '?'}")
    out = [[int(t) for t in s] for s in out]
    for i, (s, t) in enumerate(zip(out, text)):
        if len(s) != len(t):
            raise ExerciseFailed(f"{what}: class {i} has {len(t)} text tokens but your sequence has {len(s)}; "
                                 "a mapping changes which tokens, never how many")
    outside = sorted({x for s in out for x in s} - set(pool))
    if outside:
        raise ExerciseFailed(f"{what}: token ids {outside[:5]} are not in `pool` (special tokens and ids past the "
                             "vocabulary must never be a label token)")
    again = [[int(t) for t in s] for s in _call(answer, [list(s) for s in text], list(pool), seed, what=what)]
    if again != out:
        raise ExerciseFailed(f"{what}: two calls with the same seed gave different sequences; draw from "
                             "np.random.default_rng(seed)")
    return out


def check_rand_mapping(rand_mapping) -> None:
    """Notebook 02, exercise 1. rand_mapping(text_sequences, pool, seed) -> the `rand` sequences:
    every distinct text token renamed to a random token of `pool`, the same token -> the same
    random token in every label, different tokens -> different random tokens."""
    what = "rand_mapping"
    names, tok, text, pool = _mapping_inputs()
    out = _mapped(rand_mapping, text, pool, 0, what)
    renamed: dict[int, int] = {}
    for i, (s, t) in enumerate(zip(out, text)):
        for a, b in zip(t, s):
            if renamed.setdefault(a, b) != b:
                word = tok.convert_ids_to_tokens(a)
                raise ExerciseFailed(f"{what}: the word {word!r} (token {a}) became {renamed[a]} in one label and {b} in "
                                     f"label {i} ({names[i]!r}); rand renames a token the same way everywhere")
    if len(set(renamed.values())) != len(renamed):
        raise ExerciseFailed(f"{what}: two different text tokens were renamed to the same token, which adds "
                             "overlap the text labels do not have")
    if sum(a == b for a, b in renamed.items()) > len(renamed) // 2:
        raise ExerciseFailed(f"{what}: most tokens kept their own id; draw the new ids at random from `pool`")
    if token_overlap_stats(out) != token_overlap_stats(text):
        raise ExerciseFailed(f"{what}: the overlap statistics differ from the text mapping's")
    _passed(what, f"{len(renamed)} tokens renamed consistently; overlap statistics equal text's")


def check_desync_mapping(desync_mapping) -> None:
    """Notebook 02, exercise 2. desync_mapping(text_sequences, pool, seed) -> the `desync`
    sequences: same lengths as the text labels, random tokens of `pool`, no token used by two
    classes."""
    what = "desync_mapping"
    names, _, text, pool = _mapping_inputs()
    out = _mapped(desync_mapping, text, pool, 0, what)
    owner: dict[int, int] = {}
    for i, s in enumerate(out):
        for t in s:
            j = owner.setdefault(t, i)
            if j != i:
                raise ExerciseFailed(f"{what}: token {t} is used by class {j} ({names[j]!r}) and class {i} "
                                     f"({names[i]!r}); desync shares no token between classes")
    stats = token_overlap_stats(out)
    if stats["share_first_token_shared"] != 0 or stats["tokens_per_label"] != token_overlap_stats(text)["tokens_per_label"]:
        raise ExerciseFailed(f"{what}: overlap statistics are not those of a desync mapping")
    if _mapped(desync_mapping, text, pool, 1, what) == out:
        raise ExerciseFailed(f"{what}: seed 1 gave the same sequences as seed 0; draw from np.random.default_rng(seed)")
    _passed(what, f"{sum(map(len, out))} tokens, none shared between the {len(out)} classes")


def _snap_recovery(mapping: str) -> float:
    """The measurement of notebook 02's exercise 3, as gadlib computes it (used by the checker)."""
    names = epic_like_names()
    tok = word_tokenizer(names)
    space = LabelSpace(names, tok, mapping, seed=0)
    seqs = space.sequences
    hits = 0
    for i, s in enumerate(seqs):
        wrong = [seqs[(i + 1) % len(seqs)][0]] + list(s[1:])
        hits += int(np.argmin(space.snap(wrong, tok)) == i)
    return hits / len(seqs)


def check_snap_recovery(measure) -> None:
    """Notebook 02, exercise 3. measure() -> {mapping: share of classes snapped back to
    themselves after the first token is replaced by the next class's first token}, for text,
    rand and desync, on epic_like_names() with word_tokenizer (LabelSpace(..., seed=0).snap)."""
    what = "snap recovery"
    want = {m: _snap_recovery(m) for m in ("text", "rand", "desync")}
    _check_measured(_call(measure, what=what), want, 1e-9, what,
                    "Class i's corrupted sequence is [first token of class (i + 1) % C] + its own tokens after the "
                    "first; snap it with the same LabelSpace and count argmin == i.")
    _passed(what, "all three shares match LabelSpace.snap")


def check_distinct_tokens(predict, measure) -> None:
    """Notebook 02, exercise 4 (predict, then check). {mapping: number of distinct token ids
    used by all labels} for text, rand, desync, extend on epic_like_names() with word_tokenizer
    (LabelSpace.overlap_stats()["distinct_tokens"]); predict() from the text sequences alone."""
    what = "distinct tokens per mapping"
    names = epic_like_names()
    tok = word_tokenizer(names)
    want = {m: float(LabelSpace(names, tok, m, seed=0).overlap_stats()["distinct_tokens"])
            for m in ("text", "rand", "desync", "extend")}
    _check_measured(_call(measure, what=what), want, 0, what, "Count distinct ids with LabelSpace(...).overlap_stats().")
    guess = _call(predict, what=what + " (prediction)")
    _passed(what, "the counts match LabelSpace")
    _report_prediction(guess, want, 0, what)


# =================================================================================================
# Notebook 05: online action detection metrics
# =================================================================================================

def _short_sequences(max_len: int, labels=(0, 1, 2)):
    """Every label sequence up to max_len frames, shortest first (smallest failing case first)."""
    for n in range(max_len + 1):
        yield from (np.array(s, dtype=np.int64) for s in itertools.product(labels, repeat=n))


def check_segments(my_segments) -> None:
    """Notebook 05, exercise 1. my_segments(labels) -> [(label, start, end_exclusive), ...]:
    the runs of one label in temporal order, background (0) runs dropped."""
    what = "my_segments"
    cases = 0
    for labels in _short_sequences(6):
        got = _call(my_segments, labels.copy(), what=what)
        want = segments(labels)
        try:
            ok = [tuple(int(x) for x in seg) for seg in got] == want
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ExerciseFailed(f"{what}({labels.tolist()}) returned {got!r}; expected {want}")
        cases += 1
    _passed(what, f"all {cases} sequences of up to 6 frames over labels 0-2")


def random_oad_pair(rng: np.random.Generator, n: int, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A short truth sequence of segments with background gaps, and a noisy prediction of it."""
    truth = np.repeat(rng.integers(0, classes + 1, size=n), rng.integers(1, 4, size=n))[:n]
    pred = truth.copy()
    flip = rng.random(len(pred)) < 0.3
    pred[flip] = rng.integers(0, classes + 1, size=flip.sum())
    return pred, truth


def check_segment_f1(my_segment_f1) -> None:
    """Notebook 05, exercise 2. my_segment_f1(pred, truth, iou) -> segment F1 of one video
    (gadlib.metrics.segment_f1's matching rule), a float in [0, 1]."""
    what = "my_segment_f1"
    rng = np.random.default_rng(0)
    cases = [(p, t, iou) for n in range(1, 13) for _ in range(12) for p, t in [random_oad_pair(rng, n)]
             for iou in (0.1, 0.5)]
    cases += [(np.array([1, 1, 1, 1, 0]), np.array([1, 1, 0, 0, 0]), 0.5),   # IoU exactly at the threshold
              (np.array([1, 0, 1, 1]), np.array([1, 1, 1, 1]), 0.25)]        # two predictions, one true segment
    cases.sort(key=lambda c: len(c[1]))
    for pred, truth, iou in cases:
        want = segment_f1([pred], [truth], iou)
        got = _call(my_segment_f1, pred.copy(), truth.copy(), iou, what=what)
        if not _close(got, want, 1e-9):
            raise ExerciseFailed(f"{what}(pred={pred.tolist()}, truth={truth.tolist()}, iou={iou}) returned {got!r}; "
                                 f"expected {want:.4f} (TP/FP/FN counted as in segment_f1's docstring)")
    _passed(what, f"{len(cases)} short videos at IoU 0.1, 0.25, 0.5")


FLICKER_RATES = (0.0, 0.02, 0.1)


def flicker(truth: np.ndarray, rate: float, seed: int = 0, classes: int = 4) -> np.ndarray:
    """The truth with each frame independently replaced, with probability `rate`, by a random
    other class (0-`classes`): a model that is right on most frames but flickers."""
    rng = np.random.default_rng(seed)
    pred = np.asarray(truth).copy()
    flip = rng.random(len(pred)) < rate
    pred[flip] = (pred[flip] + rng.integers(1, classes + 1, size=flip.sum())) % (classes + 1)
    return pred


def flicker_truth(seed: int = 0, frames: int = 600, classes: int = 4) -> np.ndarray:
    """A long ground-truth stream: action segments of 10-40 frames with background gaps."""
    rng = np.random.default_rng(seed)
    parts = []
    while sum(map(len, parts)) < frames:
        parts += [np.zeros(rng.integers(3, 12), np.int64), np.full(rng.integers(10, 41), rng.integers(1, classes + 1))]
    return np.concatenate(parts)[:frames]


def check_flicker(measure) -> None:
    """Notebook 05, exercise 3. measure() -> {rate: {"frame_accuracy", "seg_f1_0.5"}} for the
    rates in FLICKER_RATES, with pred = flicker(flicker_truth(), rate)."""
    what = "flicker"
    got = _same_keys(_call(measure, what=what), FLICKER_RATES, what)
    truth = flicker_truth()
    for rate in FLICKER_RATES:
        pred = flicker(truth, rate)
        want = {"frame_accuracy": float(np.mean(pred == truth)), "seg_f1_0.5": segment_f1([pred], [truth], 0.5)}
        _check_measured(got[rate], want, 1e-9, f"{what}, rate {rate}",
                        "Frame accuracy = share of frames equal to the truth (background included).")
    _passed(what, "accuracy and segment F1 match a recomputation")


LATE_FPS = 4.0


def check_late_predictions(predict, measure) -> None:
    """Notebook 05, exercise 4 (predict, then check). For the truth [0]*8 + [1]*16 + [0]*8 and
    the prediction shifted `d` frames late (np.roll, d in 0, 2, 4, 8) at 4 fps:
    {d: {"seg_f1_0.5", "point_f1_1s"}}."""
    what = "late predictions"
    truth = np.array([0] * 8 + [1] * 16 + [0] * 8)
    want = {}
    for d in (0, 2, 4, 8):
        pred = np.roll(truth, d)
        want[d] = {"seg_f1_0.5": segment_f1([pred], [truth], 0.5), "point_f1_1s": point_f1([pred], [truth], LATE_FPS, 1.0)}
    got = _same_keys(_call(measure, what=what), want, what)
    for d in want:
        _check_measured(got[d], want[d], 1e-9, f"{what}, d={d}", "Use np.roll(truth, d) and gadlib.metrics.")
    guess = _same_keys(_call(predict, what=what + " (prediction)"), want, what + " (prediction)")
    _passed(what, "the measurements match gadlib.metrics")
    flat = lambda nested: {f"d={d} {k}": v for d, inner in nested.items() for k, v in inner.items()}
    for d in want:
        _same_keys(guess[d], want[d], f"{what} (prediction), d={d}")
    _report_prediction(flat(guess), flat(want), 0.05, what)


# =================================================================================================
# Notebook 04: GAD fine-tuning and its ablations
# =================================================================================================

def _previous_actions_reference(labels: np.ndarray, step_names: list[str]) -> list[str]:
    """gadlib's own per-frame OAD context (samples._previous_actions) for one label sequence."""
    from .data import Segment, Video, VideoDataset
    from .samples import _previous_actions

    segs = [Segment(s, e, label - 1) for label, s, e in segments(labels)]
    video = Video("exercise", np.zeros((len(labels), 1, 1), np.float32), segs, None, "train")
    return _previous_actions(VideoDataset("exercise", [video], list(step_names), [], 1.0), video)


def check_previous_actions(previous_actions) -> None:
    """Notebook 04, exercise 1. previous_actions(labels, step_names) -> one string per frame:
    the name of the last action segment that ended at or before that frame (labels: 0 =
    background, k >= 1 = step_names[k - 1]); gadlib.samples.NO_PREVIOUS_ACTION before the first.
    GAD's generation target for online action detection."""
    what = "previous_actions"
    step_names = ["add sugar", "add salt", "stir"]
    cases = 0
    for labels in _short_sequences(6, labels=(0, 1, 2, 3)):
        want = _previous_actions_reference(labels, step_names)
        got = _call(previous_actions, labels.copy(), list(step_names), what=what)
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


def _gad_loss_reference(class_logits, targets, weights, token_logits, token_targets, lam):
    import torch.nn.functional as F

    cls = (F.cross_entropy(class_logits, targets, reduction="none") * weights).sum() / weights.sum()
    gen = F.cross_entropy(token_logits.flatten(0, 1), token_targets.flatten(), ignore_index=-100)
    return cls + lam * gen


def check_gad_loss(gad_loss) -> None:
    """Notebook 04, exercise 2. gad_loss(class_logits, targets, weights, token_logits,
    token_targets, lam) -> L_cls + lam * L_gen: L_cls the weighted mean cross-entropy over the
    samples, L_gen the mean next-token cross-entropy over the real context tokens of the whole
    batch (-100 = padding), as GADClassifier.loss computes it."""
    what = "gad_loss"
    cases = [(seed, lam) for seed in range(3) for lam in (0.0, 1.0, 0.3)]
    for seed, lam in sorted(cases, key=lambda c: c[1]):
        inputs = gad_loss_inputs(seed)
        want = float(_gad_loss_reference(*inputs, lam))
        got = _call(gad_loss, *(x.clone() for x in inputs), lam, what=what)
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
    from .backbone import BackboneConfig
    from .methods import build_classifier

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


def _lora_measurement() -> dict:
    from accelerate.utils import set_seed

    from .backbone import load_language_model
    from .checkpoint import remove_lora

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


def check_lora_removal(measure) -> None:
    """Notebook 04, exercise 3. measure() -> {"fresh_adapter", "finetuned_adapter",
    "adapter_removed"}: the max |logit difference| to the original LM on lora_exercise_model()'s
    prompt, for the LoRA model as built, after simulate_finetuning(model), and after remove_lora."""
    what = "LoRA removal"
    want = _lora_measurement()
    _check_measured(_call(measure, what=what), want, 1e-5, what,
                    "Build the original LM with set_seed(0); load_language_model(backbone); compare "
                    "`.logits` on the same ids, max of the absolute difference.")
    _passed(what, "the three differences match a recomputation")


ORDERS_04 = ("discriminative", "disc_first", "gen_first", "parallel")


def positions_batch(num_samples: int = 3, num_frames: int = 4):
    """A small batch of step-recognition samples (COIN-like, synthetic) and the label names."""
    from .classifier import collate
    from .datasets import ensure_benchmark
    from .samples import step_recognition_samples

    data = ensure_benchmark("coin_like", size="cpu", num_classes=12, num_tasks=3, videos_per_task=2)
    samples = step_recognition_samples(data, "train", num_frames)[:num_samples]
    return collate(samples), {"steps": list(data.step_names), "tasks": list(data.task_names)}, data.feature_dim


def positions_model(order: str, names, visual_dim: int):
    """The classifier of one order (ORDERS_04; "discriminative" = no generation), embedded LM."""
    from .methods import build_classifier

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


def _positions_measurement() -> dict:
    batch, names, dim = positions_batch()
    out = {}
    for order in ORDERS_04:
        model = positions_model(order, names, dim)
        out[order] = count_lm_positions(model, lambda: model.loss(batch))
        if order == "disc_first":
            out["disc_first predict"] = count_lm_positions(model, lambda: model.predict(batch))
    return out


def check_lm_positions(predict, measure) -> None:
    """Notebook 04, exercise 4 (predict, then check). {order: LM positions one training loss
    processes on positions_batch()} for each order in ORDERS_04, plus "disc_first predict" (one
    prediction of the GAD model), measured with count_lm_positions on a fresh positions_model per
    order; predict() from the prefix and context token counts alone."""
    what = "LM positions per order"
    want = _positions_measurement()
    _check_measured(_call(measure, what=what), want, 0, what,
                    "Count with count_lm_positions(model, lambda: model.loss(batch)) (and model.predict(batch) "
                    "for 'disc_first predict'), one fresh positions_model per order.")
    guess = _call(predict, what=what + " (prediction)")
    _passed(what, "the counts match count_lm_positions")
    _report_prediction(guess, want, 0, what)


# =================================================================================================
# Notebook 03: misclassification diversity
# =================================================================================================

def _random_label_pairs(rng: np.random.Generator):
    """Short (pred, truth, num_classes, exclude) cases, from 1 to 12 labels over 2-5 classes
    (error_counts, via scikit-learn's confusion_matrix, refuses an empty sequence)."""
    for n in range(1, 13):
        for _ in range(6):
            C = int(rng.integers(2, 6))
            exclude = () if rng.random() < 0.5 else (0,)
            yield rng.integers(C, size=n), rng.integers(C, size=n), C, exclude


def check_error_counts(my_error_counts) -> None:
    """Notebook 03, exercise 1. my_error_counts(pred, truth, num_classes, exclude) -> int [C, C]:
    E[i, j] = how often true class i was predicted as j != i; diagonal 0; rows and columns of
    the classes in `exclude` 0 (gadlib.diversity.error_counts)."""
    from .diversity import error_counts

    what = "my_error_counts"
    cases = [(np.array([1, 1, 2]), np.array([1, 2, 2]), 3, ()), (np.array([0, 2, 1]), np.array([1, 1, 0]), 3, (0,))]
    cases += list(_random_label_pairs(np.random.default_rng(0)))
    cases.sort(key=lambda c: (len(c[0]), c[2]))
    for pred, truth, C, exclude in cases:
        want = error_counts(pred, truth, C, exclude)
        got = _call(my_error_counts, pred.copy(), truth.copy(), C, exclude, what=what)
        shown = f"{what}(pred={pred.tolist()}, truth={truth.tolist()}, num_classes={C}, exclude={exclude})"
        got = np.asarray(got)
        if got.shape != want.shape:
            raise ExerciseFailed(f"{shown}: the result should have shape {want.shape} (true class, predicted class), "
                                 f"got {got.shape}")
        if not np.array_equal(got, want):
            raise ExerciseFailed(f"{shown} returned {got.tolist()}; expected {want.tolist()} (row = true class, "
                                 "column = predicted class; correct predictions and excluded classes count 0)")
    _passed(what, f"{len(cases)} short label sequences, with and without an excluded background")


def check_error_entropy(my_error_entropy) -> None:
    """Notebook 03, exercise 2. my_error_entropy(errors, min_errors) -> the misclassification
    score: mean over the classes (rows) with >= min_errors errors of the entropy in nats of
    where their errors go; NaN when no class has enough (gadlib.diversity.error_entropy)."""
    from .diversity import error_entropy

    what = "my_error_entropy"
    hand = [np.array([[0, 6, 0], [0, 0, 0], [0, 0, 0]]),          # one confuser: 0
            np.array([[0, 3, 3], [0, 0, 0], [0, 0, 0]]),          # two equal confusers: ln 2
            np.array([[0, 3, 3], [1, 0, 0], [0, 0, 0]]),          # a class below min_errors is left out
            np.array([[0, 1, 1], [1, 0, 0], [0, 2, 0]])]          # no class has enough errors: NaN
    cases = [(e, 2) for e in hand]
    rng = np.random.default_rng(0)
    for C in (3, 4, 6):
        for _ in range(8):
            errors = rng.integers(0, 5, size=(C, C)) * (rng.random((C, C)) < 0.6)
            np.fill_diagonal(errors, 0)
            cases.append((errors, int(rng.integers(1, 8))))
    for errors, min_errors in cases:
        want = error_entropy(errors, min_errors)
        got = _call(my_error_entropy, errors.copy(), min_errors, what=what)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise ExerciseFailed(f"{what}: return one number (a float), got {type(got).__name__}") from None
        ok = np.isnan(got) if np.isnan(want) else _close(got, want, 1e-9)
        if not ok:
            raise ExerciseFailed(f"{what}(errors={errors.tolist()}, min_errors={min_errors}) returned {got!r}; expected "
                                 f"{'nan (no class has enough errors)' if np.isnan(want) else f'{want:.4f}'} "
                                 "(natural log; classes with fewer than min_errors errors left out of the mean)")
    _passed(what, f"{len(cases)} error matrices, incl. one confuser, too few errors and no class left")


MISS_CLASSES = 6  # background (0) + 5 actions


def missed_as_background_streams(frames: int = 3000, seed: int = 0) -> tuple[np.ndarray, dict]:
    """(truth, {"cautious": pred, "confused": pred}): per-frame labels of two OAD models that are
    both right on ~70% of frames. When wrong on an action frame, "cautious" says background
    (class 0) 4 times in 5, else a random other action; "confused" says any other class at
    random (background included). On a background frame both say a random action when wrong."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(MISS_CLASSES, size=frames)
    preds = {}
    for model, to_background in (("cautious", 0.8), ("confused", None)):
        pred = truth.copy()
        for i in np.flatnonzero(rng.random(frames) < 0.3):
            others = [c for c in range(MISS_CLASSES) if c != truth[i]]
            if to_background is not None and truth[i] != 0:
                others = [0] if rng.random() < to_background else others[1:]
            pred[i] = others[rng.integers(len(others))]
        preds[model] = pred
    return truth, preds


def check_background_destination(measure) -> None:
    """Notebook 03, exercise 3. measure() -> {model: {"background_kept", "background_excluded"}}:
    error_entropy(error_counts(pred, truth, MISS_CLASSES, exclude), min_errors=5) with
    exclude=() and (0,), for both models of missed_as_background_streams()."""
    from .diversity import error_counts, error_entropy

    what = "background as a destination"
    truth, preds = missed_as_background_streams()
    got = _same_keys(_call(measure, what=what), preds, what)
    for model, pred in preds.items():
        want = {key: error_entropy(error_counts(pred, truth, MISS_CLASSES, exclude), 5)
                for key, exclude in (("background_kept", ()), ("background_excluded", (0,)))}
        _check_measured(got[model], want, 1e-9, f"{what}, {model}",
                        "Use gadlib.diversity.error_counts(pred, truth, MISS_CLASSES, exclude) and error_entropy(..., 5).")
    _passed(what, "both scores of both models match gadlib.diversity")


def few_and_many_errors(classes: int = 20, confusers: int = 3, few: int = 6, many: int = 60,
                        seed: int = 0) -> dict:
    """{"few": errors, "many": errors}: error_counts matrices [C, C] of two classifiers whose
    errors are spread *the same way*: each class's errors go uniformly at random to its 3
    confusers (the next 3 classes, cyclically). Only the number of errors per class differs."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in (("few", few), ("many", many)):
        errors = np.zeros((classes, classes), np.int64)
        for c in range(classes):
            errors[c, (c + 1 + np.arange(confusers)) % classes] = rng.multinomial(n, np.full(confusers, 1 / confusers))
        out[name] = errors
    return out


def _few_many_gaps() -> dict:
    from .diversity import error_entropy, matched_counts, matched_error_entropy

    errs = few_and_many_errors()
    n = matched_counts(errs)
    return {"raw_gap": error_entropy(errs["many"]) - error_entropy(errs["few"]),
            "miller_madow_gap": error_entropy(errs["many"], estimator="miller_madow")
            - error_entropy(errs["few"], estimator="miller_madow"),
            "matched_gap": matched_error_entropy(errs["many"], n) - matched_error_entropy(errs["few"], n)}


def check_few_vs_many(predict, measure) -> None:
    """Notebook 03, exercise 4 (predict, then check). For few_and_many_errors(): the "many" minus
    "few" score with gadlib.diversity's defaults, as {"raw_gap": plug-in error_entropy,
    "miller_madow_gap": estimator="miller_madow", "matched_gap": matched_error_entropy at
    matched_counts}; predict() gives your values before measuring."""
    what = "few vs many errors"
    want = _few_many_gaps()
    _check_measured(_call(measure, what=what), want, 1e-9, what,
                    "Default min_errors (5), draws (20) and seed (0); n_per_class = matched_counts(errs) for both.")
    guess = _call(predict, what=what + " (prediction)")
    _passed(what, "the three gaps match gadlib.diversity")
    _report_prediction(guess, want, 0.05, what)
