"""The paper's OAD decoding for the generative classifier: background decided from the first
generated token (argmax, or its probability against a threshold), the rest of the label decoded
only for action frames, at most 8 tokens; other label sets decode as before."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
import torch
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from gadlib.core.backbone import MLLM
from gadlib.core.classifier import Batch
from gadlib.core.generative import OAD_MAX_NEW_TOKENS, GenerativeClassifier
from gadlib.lms.build import build_classifier
from gadlib.evaluation.oad import OADConfig, OADWindows
from gadlib.tools.run_config import check_method_kwargs
from gadlib.data.samples import label_names
from conftest import tiny_oad_stream

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    return tiny_oad_stream()


@pytest.fixture(scope="module")
def model(data):
    return build_classifier("generative", {"oad": label_names(data, "oad")}, data.feature_dim, seed=0).eval()


@pytest.fixture(scope="module")
def batch(data):
    """Six OAD windows of different lengths (4 and 6 frames): decoding starts from left padding."""
    video = data.split("test")[0]
    short = OADWindows([video], [np.arange(6)], OADConfig(window=4)).batch(np.arange(0, 6, 2))
    long = OADWindows([video], [np.arange(6)], OADConfig(window=6)).batch(np.arange(1, 6, 2))
    return Batch([v for pair in zip(short.visual, long.visual) for v in pair], ["oad"] * 6,
                 torch.stack([short.targets, long.targets], 1).flatten(), [""] * 6)


@contextmanager
def favoured(clf, token: int, margin: float):
    """Every LM-head output gets `token`'s logit set to the row's maximum + margin."""
    def hook(module, inputs, out):
        out = out.clone()
        out[..., token] = out.max(-1).values + margin
        return out
    handle = clf.mllm.lm.get_output_embeddings().register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def counted_decoder_calls(clf):
    calls = []
    handle = clf.mllm.lm.get_decoder().register_forward_hook(lambda *args: calls.append(1))
    try:
        yield calls
    finally:
        handle.remove()


def snapped(clf, label_set, decoded) -> np.ndarray:
    space = clf.label_spaces[label_set]
    return -np.stack([space.snap(g, clf.mllm.tokenizer) for g in decoded])


def test_background_argmax_predicts_background_after_one_prefill(model, batch, monkeypatch):
    bg = model.background_tokens["oad"]
    assert bg == model.label_spaces["oad"].sequences[0][0] == len(model.mllm.tokenizer) - 1  # the word token
    monkeypatch.setattr(model.mllm.lm, "generate", lambda *a, **k: pytest.fail("generate() was called"))
    with favoured(model, bg, margin=5.0), counted_decoder_calls(model) as calls:
        pred = model.predict(batch)
    assert len(calls) == 1  # the prefill, nothing decoded after it
    assert pred.pred.tolist() == [0] * len(batch)
    # the scores of the background label itself: 0 for background, minus the edit distance elsewhere
    np.testing.assert_array_equal(pred.scores, np.repeat(snapped(model, "oad", [[bg]]), len(batch), 0))
    assert (pred.scores[:, 0] == 0).all() and (pred.scores[:, 1:] < 0).all()
    with favoured(model, bg, margin=5.0):
        found = model.first_token_decode(batch)
    assert found.background.all() and found.decoded == [[]] * len(batch) and (found.p_background > 0).all()


def test_action_frames_decode_as_generate_does(model, batch):
    """Untrained, the background token is never the argmax: every frame is decoded, from the
    prefill's KV cache, to the tokens `generate` gives (labels here are <= 4 tokens + EOS)."""
    found = model.first_token_decode(batch)
    assert not found.background.any()
    assert found.decoded == model.greedy_decode(batch)
    pred = model.predict(batch)
    want = snapped(model, "oad", found.decoded)
    np.testing.assert_array_equal(pred.scores[:, 1:], want[:, 1:])
    # an action frame never snaps to background: its background column stays below its best action
    assert (pred.scores[:, 0] == np.minimum(want[:, 0], want[:, 1:].max(1) - 1)).all() and (pred.pred > 0).all()
    # the same frames one at a time
    for i in range(len(batch)):
        alone = model.predict(Batch(batch.visual[i:i + 1], ["oad"], batch.targets[i:i + 1], [""]))
        np.testing.assert_array_equal(alone.scores, pred.scores[i:i + 1])


def test_threshold_on_the_background_probability(model, batch):
    bg = model.background_tokens["oad"]
    with favoured(model, bg, margin=0.05):  # background is the argmax, with a small probability
        argmax = model.first_token_decode(batch)
        p = argmax.p_background
        assert argmax.background.all() and (p < 0.5).all()
        try:
            for threshold, expected in ((float(p.min()) / 2, np.ones(len(p), bool)),
                                        (min(1.0, float(p.max()) * 2), np.zeros(len(p), bool)),
                                        (float(np.sort(p)[2:4].mean()), p >= np.sort(p)[2:4].mean())):
                model.background_threshold = threshold
                found = model.first_token_decode(batch)
                pred = model.predict(batch)
                np.testing.assert_array_equal(found.background, expected)
                np.testing.assert_allclose(found.p_background, p, rtol=1e-6)
                assert (pred.pred == 0).tolist() == expected.tolist()
                for is_bg, seq in zip(found.background, found.decoded):
                    # an action frame's label never starts with the background token (though it is the argmax)
                    assert seq == [] if is_bg else (seq and seq[0] != bg)
        finally:
            model.background_threshold = None


def test_oad_decoding_is_capped_at_eight_tokens(data):
    names = {"oad": ["background", "add the brown sugar with a sharp knife on the cutting board", "stir"]}
    clf = build_classifier("generative", names, data.feature_dim, seed=0).eval()
    assert len(clf.label_spaces["oad"].sequences[1]) + 1 > OAD_MAX_NEW_TOKENS == 8
    video = data.split("test")[0]
    batch = OADWindows([video], [np.arange(8)], OADConfig(window=4)).batch(np.arange(8))
    found = clf.first_token_decode(batch)
    assert not found.background.any() and max(len(s) for s in found.decoded) == 8
    assert found.decoded == [g[:8] for g in clf.greedy_decode(batch)]


def test_other_label_sets_and_the_snap_rule_decode_as_before(names, visual_dim, mixed_batch):
    both = {"steps": names["steps"], "oad": ["background"] + names["steps"]}
    first = build_classifier("generative", both, visual_dim, seed=0).eval()
    snap = build_classifier("generative", both, visual_dim, seed=0, oad_background="snap").eval()
    assert first.background_tokens == {"oad": first.label_spaces["oad"].sequences[0][0]} and snap.background_tokens == {}
    oad_batch = Batch(mixed_batch.visual, ["oad"] * len(mixed_batch), mixed_batch.targets, mixed_batch.contexts)
    with favoured(first, first.background_tokens["oad"], 5.0), favoured(snap, first.background_tokens["oad"], 5.0):
        for clf in (first, snap):  # "steps" ignores the rule
            np.testing.assert_array_equal(clf.predict(mixed_batch).scores,
                                          snapped(clf, "steps", clf.greedy_decode(mixed_batch)))
        # "snap": OAD's background is decoded and snapped like any label, over all classes
        np.testing.assert_array_equal(snap.predict(oad_batch).scores, snapped(snap, "oad", snap.greedy_decode(oad_batch)))
        assert (first.predict(oad_batch).pred == 0).all()
    with pytest.raises(ValueError, match="no first-token rule"):
        first.first_token_decode(mixed_batch)
    # exact decoding is unchanged by either rule
    torch.testing.assert_close(first.predict(oad_batch, decoding="exact").scores,
                               snap.class_log_likelihoods(oad_batch).numpy())


def test_options_are_checked_before_any_data_is_loaded():
    assert GenerativeClassifier.OPTIONS["oad_background"] == ("first_token", "snap")
    assert check_method_kwargs("generative", {"background_threshold": "0.25"}) == {"background_threshold": 0.25}
    assert check_method_kwargs("generative", {"oad_background": "snap"}) == {"oad_background": "snap"}
    for kwargs, message in (({"oad_background": "last_token"}, "oad_background"),
                            ({"oad_background": "snap", "background_threshold": 0.5}, "needs oad_background"),
                            ({"background_threshold": 0.0}, r"in \(0, 1\]"),
                            ({"background_threshold": 1.5}, r"in \(0, 1\]")):
        with pytest.raises(ValueError, match=message):
            check_method_kwargs("generative", kwargs)


def test_extend_decides_background_from_its_class_token(data):
    clf = build_classifier("generative", {"oad": label_names(data, "oad")}, data.feature_dim, mapping="extend")
    assert clf.background_tokens["oad"] == clf.mllm.tokenizer.convert_tokens_to_ids("<|oad_0|>")


# ------------------------------------------------------------------ a real LM's tokenizer

def split_word_tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    """Word-level, but "back" and "ground" are pieces of their own, so that "background" is two
    tokens [back, ground], as in a tokenizer that has no whole-word token for it."""
    vocab = {t: i for i, t in enumerate(["<unk>", "<pad>", "<eos>", "back", "ground"] + words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Split(Regex("back|ground"), "isolated")])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")


def small_generative(label_names: list[str], **kwargs) -> GenerativeClassifier:
    tok = split_word_tokenizer(["flip", "high", "jump", "pole", "vault"])
    torch.manual_seed(0)
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, bos_token_id=None,
                                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
    return GenerativeClassifier(MLLM(lm, tok, visual_dim=4), {"oad": label_names}, **kwargs).eval()


def test_a_several_token_background_label_decides_on_its_first_token():
    clf = small_generative(["background", "HighJump", "PoleVault"])
    tok = clf.mllm.tokenizer
    back = tok.convert_tokens_to_ids("back")
    assert clf.label_spaces["oad"].sequences[0] == [back, tok.convert_tokens_to_ids("ground")]
    assert clf.label_spaces["oad"].texts[1:] == ["high jump", "pole vault"]
    assert clf.background_tokens["oad"] == back
    batch = Batch([torch.randn(5, 4), torch.randn(3, 4)], ["oad", "oad"], torch.tensor([0, 1]), ["", ""])
    with favoured(clf, back, 5.0), counted_decoder_calls(clf) as calls:
        pred = clf.predict(batch)
    assert pred.pred.tolist() == [0, 0] and len(calls) == 1
    # the background label's scores, though this tokenizer decodes [back, ground] as "back ground"
    assert pred.scores[:, 0].tolist() == [0, 0] and (pred.scores[:, 1:] < 0).all()


def test_a_background_first_token_shared_with_another_label_is_an_error():
    with pytest.raises(ValueError, match=r"'background' starts with token 3, as 1 other label\(s\) do "
                                         r"\(\['back flip'\]\).*oad_background='snap'"):
        small_generative(["background", "back flip", "HighJump"])
    small_generative(["background", "back flip", "HighJump"], oad_background="snap")  # decodes and snaps instead
