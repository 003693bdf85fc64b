"""The embedded tokenizer's one-token "background" (the label text of OAD's class 0), and the
readable label texts of real class names (`gadlib.core.label_spaces.readable_label`)."""
from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from gadlib.data import benchmark
from gadlib.core.backbone import prompt_ids
from gadlib.core.classifier import Batch
from gadlib.core.label_spaces import LabelSpace, excluded_token_ids, readable_label
from gadlib.lms.build import build_classifier
from gadlib.core.prompts import PROMPTS
from gadlib.data.samples import NO_PREVIOUS_ACTION
from gadlib.lms.tokenizer import (BPE_VOCAB_SIZE, CHAT_TEMPLATE, WORD_TOKENS, _trained_bpe, filler_corpus,
                              train_embedded_tokenizer)
from gadlib.data.vocabulary import OBJECTS, PHRASES, TASKS, VERBS, tokenizer_corpus


@pytest.fixture(scope="module")
def tok():
    return train_embedded_tokenizer(tokenizer_corpus())


@pytest.fixture(scope="module")
def bpe_alone():
    """The same BPE without the word tokens: how every text was tokenized before they existed."""
    fast = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(
        _trained_bpe(tuple(tokenizer_corpus()), BPE_VOCAB_SIZE, 0)), bos_token="<|bos|>", eos_token="<|eos|>",
        pad_token="<|pad|>", additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"])
    fast.chat_template = CHAT_TEMPLATE
    return fast


def preset_label_texts() -> list[str]:
    """Every class and task name of every preset at both sizes, and GAD's contexts of them."""
    texts = []
    for name in benchmark.PRESETS:
        for size in ("cpu", "gpu"):
            names = benchmark._make_classes(benchmark.preset(name, size))[0]
            texts += names + [f"{n}." for n in names]
    return texts + TASKS + [f"{n}. {t}." for n in texts[:50] for t in TASKS[:3]] + [NO_PREVIOUS_ACTION]


def ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_background_is_one_token_as_a_label_space_tokenizes_it(tok):
    assert WORD_TOKENS == ("background",)
    assert ids(tok, "background") == [BPE_VOCAB_SIZE] and len(tok) == BPE_VOCAB_SIZE + 1
    space = LabelSpace(["background", "add salt", "check backgrounds", "Background Music"], tok)
    assert space.sequences[0] == [BPE_VOCAB_SIZE]
    assert BPE_VOCAB_SIZE not in space.sequences[1] + space.sequences[2]  # never inside another word
    assert space.sequences[3][0] == BPE_VOCAB_SIZE  # the word itself, in "background music"
    assert tok.decode([BPE_VOCAB_SIZE]) == "background"
    # an added, non-special token: excluded from the random mappings' pool, kept by decoding
    assert BPE_VOCAB_SIZE in excluded_token_ids(tok) and BPE_VOCAB_SIZE not in tok.all_special_ids
    assert tok.decode(ids(tok, "the background."), skip_special_tokens=True) == "the background."


def test_no_other_text_is_tokenized_differently(tok, bpe_alone):
    texts = (list(PROMPTS.values()) + preset_label_texts() + VERBS + OBJECTS + PHRASES + filler_corpus()[:500]
             + ["backgrounds", "background_music", "Background", "back ground", "backgroundx"])
    changed = [t for t in texts if ids(tok, t) != ids(bpe_alone, t)]
    assert not changed
    for kind in PROMPTS:  # the rendered chat prompts around the visual tokens
        assert prompt_ids(tok, kind) == prompt_ids(bpe_alone, kind)
    # where the word occurs, only the word itself becomes the one token
    assert tok.convert_ids_to_tokens(ids(tok, "a background b")) == ["a", "Ġ", "background", "Ġb"]
    assert ids(bpe_alone, "background") != [BPE_VOCAB_SIZE] and len(ids(bpe_alone, "background")) > 1


def test_reserved_tokens_follow_the_word_tokens():
    big = train_embedded_tokenizer(tokenizer_corpus(), vocab_size=BPE_VOCAB_SIZE + 3)
    assert len(big) == BPE_VOCAB_SIZE + 3 + len(WORD_TOKENS)
    assert ids(big, "background") == [BPE_VOCAB_SIZE]
    assert big.convert_ids_to_tokens(list(range(BPE_VOCAB_SIZE + 1, len(big)))) == [
        f"<|reserved_{i}|>" for i in range(3)]
    small = train_embedded_tokenizer(tokenizer_corpus(), vocab_size=1024)
    assert len(small) == 1025 and ids(small, "background") == [1024]


# ------------------------------------------------------------------ readable label texts

@pytest.mark.parametrize("name,text", [
    ("BaseballPitch", "baseball pitch"), ("PoleVault", "pole vault"), ("CleanAndJerk", "clean and jerk"),
    ("Ambiguous", "ambiguous"), ("pour olive oil", "pour olive oil"), ("BBQGrill", "bbq grill"),
    ("TVShow", "tv show"), ("GPS", "gps"), ("take_wrap:plastic", "take wrap:plastic"), ("pick-up", "pick up"),
    ("  Pick   something up ", "pick something up"), ("step2", "step2"), ("Cook: boil pasta", "cook: boil pasta"),
    ("pour water (Make Tea)", "pour water (make tea)"), ("sauté Crêpe", "sauté crêpe"), ("background", "background"),
])
def test_readable_label(name, text):
    assert readable_label(name) == text
    assert readable_label(text) == text  # idempotent


def test_synthetic_names_are_already_readable():
    texts = preset_label_texts() + VERBS + OBJECTS + PHRASES
    assert [t for t in texts if readable_label(t) != t] == []


def test_label_space_reads_and_snaps_the_readable_text(tok):
    names = ["background", "BaseballPitch", "CliffDiving", "Diving"]
    space = LabelSpace(names, tok)
    assert space.names == names and space.texts == ["background", "baseball pitch", "cliff diving", "diving"]
    assert space.sequences[1] == ids(tok, "baseball pitch")
    assert space.snap(ids(tok, "cliff diving"), tok).tolist() == [
        float(x) for x in (11, 13, 0, 6)]  # edit distances to the readable texts
    with pytest.raises(ValueError, match=r"same label text.*\('PoleVault', 'pole_vault'\)"):
        LabelSpace(["PoleVault", "pole_vault"], tok)


def test_gad_generates_the_readable_texts():
    names = {"oad": ["background", "BaseballPitch", "CliffDiving"]}
    batch = Batch([torch.zeros(2, 4)] * 2, ["oad", "oad"], torch.tensor([1, 2]), ["none", "BaseballPitch"])
    context = build_classifier("gad", names, visual_dim=4)
    assert context.generation_texts(batch) == ["none", "baseball pitch"]
    label = build_classifier("gad", names, visual_dim=4, generate="label")
    assert label.generation_texts(batch) == ["baseball pitch", "cliff diving"]
