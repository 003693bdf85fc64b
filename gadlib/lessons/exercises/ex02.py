"""Notebook 02 (tokenization ablations): checkers of its graded exercises.

The exercises are the last section of notebooks/02_tokenization_ablations.ipynb; gadlib/lessons/exercises/common.py says how a
checker works.
"""
from __future__ import annotations

from functools import lru_cache

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from gadlib.data.benchmark import generate_benchmark, preset
from gadlib.core.label_spaces import LabelSpace, excluded_token_ids, token_overlap_stats

from .common import ExerciseFailed, Kind, _call, _check_measured, _passed, _predicted, _report_prediction
from .references import reference

# While a mapping answer runs, gadlib's own mappings are withheld: a LabelSpace cannot be built
# (its constructor draws the rand / desync tokens), so an answer cannot be
# `LabelSpace(names, tok, "rand", seed=seed).sequences`.
MAPPING_IMPLEMENTATIONS = (LabelSpace.__init__,)


@lru_cache(maxsize=4)
def _word_tokenizer_json(words: tuple[str, ...], vocab_size: int) -> str:
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

    words = tuple(sorted({w for n in names for w in n.split()}))
    if len(words) + 3 > vocab_size:
        raise ValueError(f"word_tokenizer: {len(words)} distinct words need vocab_size > {len(words) + 3}, got {vocab_size}")
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(_word_tokenizer_json(words, vocab_size)),
                                   unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")


def epic_like_names(num_classes: int = 30, label_overlap: float = 0.9, seed: int = 0) -> list[str]:
    """Class names of a small synthetic EPIC-like benchmark (verb-noun, heavy sharing)."""
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
    out = _call(answer, [list(s) for s in text], list(pool), seed, what=what, withheld_functions=MAPPING_IMPLEMENTATIONS)
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
    again = [[int(t) for t in s] for s in _call(answer, [list(s) for s in text], list(pool), seed, what=what,
                                                withheld_functions=MAPPING_IMPLEMENTATIONS)]
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
    sequences: same lengths as the text labels, random tokens of `pool`, every label position its
    own token (none used twice, in one label or in two)."""
    what = "desync_mapping"
    names, _, text, pool = _mapping_inputs()
    out = _mapped(desync_mapping, text, pool, 0, what)
    owner: dict[int, int] = {}
    for i, s in enumerate(out):
        repeated = sorted({t for t in s if s.count(t) > 1})
        if repeated:
            raise ExerciseFailed(f"{what}: class {i} ({names[i]!r}) repeats token {repeated[0]} in its own label "
                                 f"{s}; desync gives every position of every label its own token")
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


def check_snap_recovery(measure) -> None:
    """Notebook 02, exercise 3. measure() -> {mapping: share of classes snapped back to
    themselves after the first token is replaced by the next class's first token}, for text,
    rand and desync, on epic_like_names() with word_tokenizer (LabelSpace(..., seed=0).snap)."""
    what = "snap recovery"
    ref = reference("snap_recovery")
    want = {m: ref(m) for m in ("text", "rand", "desync")}
    _check_measured(_call(measure, what=what, withheld_functions=(ref,)), want, 1e-9, what,
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
    count = Kind(f"a count of token ids: a whole number from 1 to {len(tok) + len(names)} (the vocabulary, plus "
                 "one new token per class for extend)", 1, len(tok) + len(names), whole=True)
    mappings = ("text", "rand", "desync", "extend")
    # the prediction first, from the text sequences alone: the other label spaces are not built yet
    guess = _predicted(predict, {m: count for m in mappings}, what,
                       measuring=(measure, LabelSpace.__init__, LabelSpace.overlap_stats, token_overlap_stats))
    want = {m: float(LabelSpace(names, tok, m, seed=0).overlap_stats()["distinct_tokens"]) for m in mappings}
    _check_measured(_call(measure, what=what), want, 0, what, "Count distinct ids with LabelSpace(...).overlap_stats().")
    _passed(what, "the counts match LabelSpace")
    _report_prediction(guess, want, 0, what)
