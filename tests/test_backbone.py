"""The backbone: the embedded tiny Llama, and real-model folders (Llama, Qwen2) loaded by path
with LoRA. The "real" models here are tiny random-init ones saved with `save_pretrained`, so no
download is ever needed."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

import gadlib.core.backbone as backbone
from gadlib.core.backbone import EMBEDDED_SCRATCH, MLLM, BackboneConfig, position_ids_from_mask
from gadlib.lms.build import load_language_model, load_classifier, build_classifier
from gadlib.data.benchmark import tokenizer_corpus
from gadlib.core.checkpoint import save_checkpoint
from gadlib.core.classifier import collate
from gadlib.core.prompts import PROMPTS
from gadlib.lms.tokenizer import CHAT_TEMPLATE, train_embedded_tokenizer
from gadlib.core.training import TrainConfig, train

from conftest import QUICK_TRAIN

ARCHS = {"llama": (LlamaConfig, LlamaForCausalLM, {}),
         "qwen2": (Qwen2Config, Qwen2ForCausalLM, {"tie_word_embeddings": True})}


@pytest.fixture(scope="module", params=sorted(ARCHS))
def model_folder(request, tmp_path_factory):
    """A tiny random-init causal LM of a real architecture, saved like a hub checkpoint, with
    the embedded tokenizer (and its chat template) saved into the same folder."""
    config_cls, model_cls, extra = ARCHS[request.param]
    tok = train_embedded_tokenizer(tokenizer_corpus())
    config = config_cls(vocab_size=len(tok) + 10, hidden_size=64, intermediate_size=128,
                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                        max_position_embeddings=512, bos_token_id=tok.bos_token_id,
                        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **extra)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp(request.param)
    model_cls(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _lora_backbone(folder, **kw):
    return BackboneConfig(name=str(folder), lora=True, lora_r=4, lora_alpha=8, **kw)


def test_trust_remote_code_is_off_by_default(model_folder, monkeypatch):
    assert BackboneConfig().trust_remote_code is False
    calls = []
    for cls in (backbone.AutoTokenizer, backbone.AutoModelForCausalLM):
        original = cls.from_pretrained

        def spy(*args, _original=original, **kwargs):
            calls.append(kwargs.get("trust_remote_code"))
            return _original(*args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", spy)
    load_language_model(BackboneConfig(name=str(model_folder)))
    assert calls == [False, False]


def test_loading_a_folder_by_path_gives_the_same_prompt_as_the_embedded_model(model_folder, visual_dim):
    lm, tok = load_language_model(BackboneConfig(name=str(model_folder)))
    assert tok.chat_template == CHAT_TEMPLATE
    assert lm.config.model_type in ARCHS and lm.dtype == torch.float32
    assert lm.generation_config.pad_token_id == tok.pad_token_id
    embedded = MLLM(*load_language_model(BackboneConfig()), visual_dim)
    mllm = MLLM(lm, tok, visual_dim)
    assert mllm.prompts.ids == embedded.prompts.ids
    before, after = mllm.prompts.ids["step"]
    assert tok.decode(before) == "<|bos|><|user|>"
    assert tok.decode(after) == "\n" + PROMPTS["step"] + "<|assistant|>"


@pytest.mark.parametrize("method", ["discriminative", "generative", "gad"])
def test_lora_on_a_real_model_folder(model_folder, names, visual_dim, train_samples, mixed_batch, method, tmp_path):
    clf = build_classifier(method, names, visual_dim, backbone=_lora_backbone(model_folder))
    from peft import PeftModel
    assert isinstance(clf.mllm.lm, PeftModel)
    trainable = {n for n, p in clf.named_parameters() if p.requires_grad}
    frozen = {n for n, p in clf.named_parameters() if not p.requires_grad}
    lora = {n for n in trainable if "lora_" in n}
    own = {n for n in trainable if n.startswith(("mllm.connector.", "heads.")) or n == "mllm.cls_query"}
    assert trainable == lora | own and lora and own
    assert all(n.startswith("mllm.lm.") and "lora_" not in n for n in frozen)
    assert any("embed_tokens" in n for n in frozen)
    for module in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert any(f".{module}.lora_A" in n for n in lora), module
    # The LM head is adapted only when an LM loss is trained.
    assert any("lm_head.lora_" in n for n in lora) == (method != "discriminative")

    before = {n: p.detach().clone() for n, p in clf.named_parameters()}
    train(clf, train_samples[:16], TrainConfig(**{**QUICK_TRAIN, "epochs": 1, "warmup": 0.0, "lr": 1e-2}))
    after = dict(clf.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in frozen)  # base weights frozen
    changed_b = [n for n in lora if "lora_B" in n and not torch.equal(before[n], after[n])]
    assert len(changed_b) >= 7 * 2  # every adapted projection of both layers learned

    clf.eval()
    kwargs = [{"decoding": "greedy"}, {"decoding": "exact"}] if method == "generative" else [{}]
    for kw in kwargs:
        pred = clf.predict(mixed_batch, **kw)
        assert pred.scores.shape == (len(mixed_batch), len(names["steps"]))
        assert np.isfinite(pred.scores).all() and pred.pred.shape == (len(mixed_batch),)

    # A LoRA checkpoint holds only the trainable tensors; loading rebuilds the base from the folder.
    folder = save_checkpoint(tmp_path / "ckpt", clf)
    loaded = load_classifier(folder).eval()
    for kw in kwargs:
        np.testing.assert_array_equal(loaded.predict(mixed_batch, **kw).scores,
                                      clf.predict(mixed_batch, **kw).scores)


def test_lora_by_default_for_real_models_full_fine_tuning_for_the_embedded_one(model_folder, names, visual_dim):
    real = build_classifier("discriminative", names, visual_dim,
                            backbone=BackboneConfig(name=str(model_folder), lora_r=4, lora_alpha=8))
    assert not real.mllm.lm.get_input_embeddings().weight.requires_grad
    assert any("lora_" in n for n, _ in real.named_parameters())
    embedded = build_classifier("discriminative", names, visual_dim)
    assert all(p.requires_grad for p in embedded.parameters())
    assert not any("lora_" in n for n, _ in embedded.named_parameters())


def test_predictions_are_deterministic_after_training_and_loading(model_folder, names, visual_dim,
                                                                  train_samples, mixed_batch, tmp_path):
    """LoRA dropout (0.05 by default) must not make `predict` random: right after `train` and
    after `load_classifier`, the model predicts in eval mode."""
    clf = build_classifier("discriminative", names, visual_dim,
                           backbone=_lora_backbone(model_folder, lora_dropout=0.5))
    train(clf, train_samples[:16], TrainConfig(**{**QUICK_TRAIN, "epochs": 1, "lr": 1e-2}))
    a, b = clf.predict(mixed_batch), clf.predict(mixed_batch)
    np.testing.assert_array_equal(a.scores, b.scores)
    loaded = load_classifier(save_checkpoint(tmp_path / "ckpt", clf))
    np.testing.assert_array_equal(loaded.predict(mixed_batch).scores, a.scores)


@pytest.mark.parametrize("stop_after", [2, 3])  # epoch boundary, mid-epoch
def test_resuming_with_lora_dropout_matches_an_uninterrupted_run(model_folder, names, visual_dim,
                                                                 train_samples, tmp_path, stop_after):
    """Dropout draws from the torch RNG: resuming must continue its stream exactly."""
    cfg = dict(QUICK_TRAIN, epochs=2, lr=1e-2, warmup=0.0)
    samples = train_samples[:32]  # 2 steps per epoch
    make = lambda: build_classifier("gad", names, visual_dim,
                                    backbone=_lora_backbone(model_folder, lora_dropout=0.3))
    full = make()
    full_history = train(full, samples, TrainConfig(**cfg))
    part = make()
    train(part, samples, TrainConfig(**cfg, checkpoint_dir=str(tmp_path / "c"), checkpoint_every=stop_after,
                                     stop_after=stop_after))
    resumed = make()
    history = train(resumed, samples, TrainConfig(**cfg), resume_from=tmp_path / "c")
    assert history.loss == full_history.loss
    for (n, p), (_, q) in zip(resumed.named_parameters(), full.named_parameters()):
        assert torch.equal(p, q), n


def test_embedded_backbone_config():
    lm, tok = load_language_model(BackboneConfig())
    cfg = lm.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads) == (128, 2, 4)
    # The special ids come from our tokenizer, never LlamaConfig's defaults (bos=1, eos=2).
    assert (cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id) == (tok.bos_token_id, tok.eos_token_id,
                                                                      tok.pad_token_id)
    assert cfg.vocab_size == len(tok) and lm.get_input_embeddings().weight.shape[0] == len(tok)
    assert tok.chat_template == CHAT_TEMPLATE and EMBEDDED_SCRATCH == BackboneConfig().name
    # The paper's LoRA recipe is the default.
    d = BackboneConfig()
    assert (d.lora_r, d.lora_alpha, d.lora_dropout) == (128, 256, 0.05)


def test_prefix_embeds_and_position_ids(names, visual_dim, test_samples):
    clf = build_classifier("discriminative", names, visual_dim)
    mllm = clf.mllm
    batch = collate(test_samples[:2])
    prefixes = mllm.prefix_embeds(batch.visual, batch.kinds)
    before, after = mllm.prompts.ids["step"]
    n_vis = batch.visual[0].shape[0]
    assert prefixes[0].shape == (len(before) + n_vis + len(after), mllm.cls_query.numel())
    with torch.no_grad():
        torch.testing.assert_close(prefixes[0][:len(before)], mllm.embed_tokens(before))
        torch.testing.assert_close(prefixes[0][len(before):len(before) + n_vis], mllm.connector(batch.visual[0]))
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert position_ids_from_mask(mask).tolist() == [[0, 0, 0, 1, 2], [0, 1, 2, 3, 4], [0, 1, 2, 2, 2]]
    seqs = [torch.ones(2, 3), torch.ones(4, 3)]
    for left in (False, True):
        embeds, m, pos = MLLM.pad(seqs, left=left)
        assert embeds.shape == (2, 4, 3) and m.sum(1).tolist() == [2, 4]
        assert m[0].tolist() == ([0, 0, 1, 1] if left else [1, 1, 0, 0])
        assert pos[0][m[0].bool()].tolist() == [0, 1]


class _Clock:
    """Stands in for the `datetime` class transformers' template renderer reads `now()` from."""
    today = None

    @classmethod
    def now(cls, tz=None):
        return cls.today


# A Llama-3.2-style template that reads the clock itself, without looking at `date_string`.
CLOCK_ONLY_TEMPLATE = ("{{ bos_token }}Today Date: {{ strftime_now('%d %b %Y') }}\n"
                       "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
                       "{% if add_generation_prompt %}<|assistant|>{% endif %}")


@pytest.mark.parametrize("template", ["llama3", "clock_only"])
def test_prompts_do_not_change_from_day_to_day(template, monkeypatch):
    """Llama-3.x templates write today's date into the prompt: a model reloaded tomorrow must
    still see the prompt it was trained with."""
    import datetime

    import transformers.utils.chat_template_utils as renderer
    from test_real_lm import llama3_tokenizer

    tok = llama3_tokenizer()
    if template == "clock_only":
        tok.chat_template = CLOCK_ONLY_TEMPLATE
    messages = [{"role": "user", "content": "hi"}]
    monkeypatch.setattr(renderer, "datetime", _Clock)
    rendered, prompts = [], []
    for day in (datetime.datetime(2026, 11, 23), datetime.datetime(2027, 1, 2)):
        _Clock.today = day
        rendered.append(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
        prompts.append({kind: backbone.prompt_ids(tok, kind) for kind in PROMPTS})
    assert "23 Nov 2026" in rendered[0] and "02 Jan 2027" in rendered[1]  # the clock is what moved
    assert prompts[0] == prompts[1]
    before, _ = prompts[0]["step"]
    assert "Today Date: 26 Jul 2024" in tok.decode(before)


def test_stop_template_clock_rewrites_literal_formats_and_refuses_others():
    assert backbone.stop_template_clock("{{ strftime_now('%Y-%m-%d') }} {{ strftime_now( \"%b\" ) }}") == \
        "{{ '2024-07-26' }} {{ 'Jul' }}"
    template = "{% set f = '%d' %}{{ strftime_now(f) }}"
    with pytest.raises(ValueError, match="strftime_now"):
        backbone.stop_template_clock(template)
    assert backbone.stop_template_clock(CHAT_TEMPLATE) == CHAT_TEMPLATE  # no clock: unchanged
