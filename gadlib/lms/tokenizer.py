"""The embedded tokenizer: a byte-level BPE trained here, deterministically, with no network.

A real LM's tokenizer (Llama-3, Qwen2.5) was trained on far more text than action labels, so a
label like "pour olive oil" splits into several sub-words and the label tokens are a small part of
the output vocabulary. That is what makes the generative classifier's output space overlap across
classes (paper claim 1). We mimic it by training on a large pseudo-English filler corpus plus the
prompts, and by seeing each label word only a few times, so label words are *not* whole tokens.

Explained in notebooks/02_tokenization_ablations.ipynb.
"""
from __future__ import annotations

import functools
import json

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from gadlib.core.label_spaces import excluded_token_ids, readable_label
from gadlib.core.prompts import PROMPTS

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"
ROLES = ["<|system|>", "<|user|>", "<|assistant|>"]
# ids 0, 1, 2 for pad/bos/eos: set in the LM config explicitly (see backbone.py)
SPECIAL_TOKENS = [PAD, BOS, EOS] + ROLES

# A minimal chat template, with one special token per role as instruct models have, so the
# embedded model goes through the same `apply_chat_template` path as a real one.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

_ONSETS = ["", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
           "st", "tr", "ch", "sh", "pl", "gr", "br", "sp", "cl", "fl", "th", "qu", "z"]
_VOWELS = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "ie", "y", "oo", "ei"]
_CODAS = ["", "", "n", "r", "s", "t", "l", "ng", "ck", "m", "rd", "st", "x", "p"]
_FUNCTION_WORDS = ("the a of and to in is it that for on with as was by at from this be are or an "
                   "not but what all were when we there can which their if has more one its so "
                   "video action next overall activity last frame step task first then").split()


def filler_corpus(num_words: int = 120_000, lexicon_size: int = 12_000, seed: int = 0) -> list[str]:
    """Pseudo-English sentences over a Zipf-distributed lexicon of syllable-built words.

    The lexicon is much larger than the BPE vocabulary, so merges end up sub-word sized, as in a
    real tokenizer.
    """
    rng = np.random.default_rng(seed)
    lexicon = []
    for _ in range(lexicon_size):
        n_syl = rng.choice([1, 2, 2, 3, 3, 4])
        lexicon.append("".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                               for _ in range(n_syl)))
    lexicon = list(_FUNCTION_WORDS) + lexicon
    ranks = np.arange(1, len(lexicon) + 1)
    p = 1.0 / ranks ** 1.05
    words = rng.choice(len(lexicon), size=num_words, p=p / p.sum())
    lines, i = [], 0
    while i < num_words:
        n = int(rng.integers(6, 18))
        lines.append(" ".join(lexicon[w] for w in words[i:i + n]).capitalize() + ".")
        i += n
    return lines


# BPE merges stop here: a larger vocab_size adds reserved tokens instead of merges, so that
# sizing the vocabulary up for desync never changes how any text is tokenized.
BPE_VOCAB_SIZE = 4096

# Whole words the embedded tokenizer encodes as ONE token, as a real LM's tokenizer does for
# common words (Llama-3: "background" and " background" are one token each): OAD's class 0 label,
# so that the generative classifier's first generated token can decide background (the paper's
# OAD protocol, `GenerativeClassifier(oad_background="first_token")`). Each is an added, non-special
# token matched only as a whole word (`single_word`): the label text "background" (as
# `LabelSpace` tokenizes a label: no leading space) is [background]; " background" is [Ġ,
# background]; "backgrounds" or "background_music" and every text without the word are tokenized
# exactly as by the BPE alone. Its id follows the BPE's (4096 by default), before any reserved token.
WORD_TOKENS = ("background",)


def train_embedded_tokenizer(extra_texts: list[str] = (), vocab_size: int = BPE_VOCAB_SIZE,
                             seed: int = 0) -> PreTrainedTokenizerFast:
    """Train the embedded byte-level BPE tokenizer (deterministic for a given input).

    extra_texts: domain text the tokenizer should have seen a little of (prompts, label names).
    vocab_size: up to BPE_VOCAB_SIZE, the number of BPE tokens; beyond it, the 4096-token BPE plus
    `<|reserved_i|>` tokens up to vocab_size. Reserved tokens are ordinary vocabulary entries
    that no text ever encodes to (no merge builds them): room for desync's random label tokens,
    which need one distinct token per sub-word occurrence (see `desync_vocab_size`).
    On top of vocab_size come the `WORD_TOKENS` (one whole-word token each), right after the BPE:
    len(tokenizer) = vocab_size + len(WORD_TOKENS).
    Each call returns a new tokenizer object (callers add tokens to it); training runs once per input.
    """
    fast = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(_trained(tuple(extra_texts), vocab_size, seed)),
                                   bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   additional_special_tokens=ROLES)
    fast.chat_template = CHAT_TEMPLATE
    return fast


@functools.lru_cache(maxsize=8)
def _trained_bpe(extra_texts: tuple[str, ...], vocab_size: int, seed: int) -> str:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    corpus = filler_corpus(seed=seed) + list(PROMPTS.values()) * 50 + list(extra_texts)
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok.to_str()


@functools.lru_cache(maxsize=8)
def _trained(extra_texts: tuple[str, ...], vocab_size: int, seed: int) -> str:
    state = json.loads(_trained_bpe(extra_texts, min(vocab_size, BPE_VOCAB_SIZE), seed))
    vocab = state["model"]["vocab"]
    bpe = len(vocab)
    for i, word in enumerate(WORD_TOKENS):
        # In the model's vocabulary (no merge builds it) and added: the added token is matched in
        # the text before the BPE runs, and takes this id.
        vocab[word] = bpe + i
        state["added_tokens"].append({"id": bpe + i, "content": word, "single_word": True, "lstrip": False,
                                      "rstrip": False, "normalized": False, "special": False})
    first = len(vocab)
    for i in range(vocab_size - bpe):
        vocab[f"<|reserved_{i}|>"] = first + i
    return json.dumps(state)


def desync_vocab_size(label_sets: list[list[str]], tokenizer) -> int:
    """The `vocab_size` (of `train_embedded_tokenizer`, `BackboneConfig`) the embedded tokenizer
    needs for the desync mapping of these label sets: desync draws a distinct random token for
    every sub-word occurrence of a label set's label texts (`readable_label`), from the tokens that
    are neither special nor added (`excluded_token_ids`), so a few thousand classes of ~3 sub-words
    outgrow the 4096-token BPE. Returns the tokenizer's own vocab_size (len(tokenizer) less the
    `WORD_TOKENS`) when it suffices."""
    pool = len(tokenizer) - len(excluded_token_ids(tokenizer))
    need = max((sum(len(tokenizer(readable_label(n), add_special_tokens=False)["input_ids"]) for n in names)
                for names in label_sets), default=0)
    return len(tokenizer) - len(WORD_TOKENS) + max(0, need - pool)
