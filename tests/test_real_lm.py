"""Real-LM checkpoints as they arrive from the hub: half precision, chat templates with a date,
hundreds of added special tokens, tied and untied embeddings.

The "real" models are tiny random-init Llama / Qwen2 folders written here with `save_pretrained`
in bf16 or fp16, each with a tokenizer built by the `tokenizers` library: a Llama-3.2-style one
(header tokens, `<|eot_id|>`, 248 reserved special tokens, a template that calls `strftime_now`)
and a Qwen2-style ChatML one (a few added tokens that are *not* special). No download.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config,
                          Qwen2ForCausalLM)

from gadlib.core.backbone import BackboneConfig
from gadlib.lms.build import load_language_model, load_classifier, build_classifier
from gadlib.data.benchmark import tokenizer_corpus
from gadlib.core.checkpoint import save_checkpoint
from gadlib.core.label_spaces import MAPPINGS
from gadlib.core.prompts import PROMPTS
from gadlib.evaluation.timing import ms_per_sample
from gadlib.core.training import TrainConfig, evaluate, train

# Llama-3.2-Instruct's template, shortened to the part that matters here: today's date.
LLAMA3_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if not date_string is defined %}{%- if strftime_now is defined %}"
    "{%- set date_string = strftime_now(\"%d %b %Y\") %}"
    "{%- else %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}{%- endif %}"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}"
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}{{- \"<|eot_id|>\" }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
    " + '<|eot_id|>' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
LLAMA3_SPECIAL = (["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                   "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>"]
                  + [f"<|reserved_special_token_{i}|>" for i in range(248)])

QWEN2_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
QWEN2_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_pad|>"]
QWEN2_ADDED = ["<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]  # not special


def _bpe(vocab_size: int = 600) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(tokenizer_corpus(repeats=2) + list(PROMPTS.values()) * 5, trainer=trainer)
    return tok


def llama3_tokenizer() -> PreTrainedTokenizerFast:
    """Llama-3-style: the special tokens follow the BPE vocabulary; no pad token."""
    bpe = _bpe()
    bpe.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in LLAMA3_SPECIAL])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
    tok.chat_template = LLAMA3_TEMPLATE
    return tok


def qwen2_tokenizer() -> PreTrainedTokenizerFast:
    """Qwen2-style ChatML: no BOS, pad = <|endoftext|>, some added tokens are not special."""
    bpe = _bpe()
    bpe.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN2_SPECIAL])
    bpe.add_tokens([AddedToken(t, special=False, normalized=False) for t in QWEN2_ADDED])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = QWEN2_TEMPLATE
    return tok


# name: (tokenizer, config class, model class, dtype, tie_word_embeddings)
FOLDERS = {
    "llama3-bf16-tied": (llama3_tokenizer, LlamaConfig, LlamaForCausalLM, torch.bfloat16, True),
    "qwen2-bf16-untied": (qwen2_tokenizer, Qwen2Config, Qwen2ForCausalLM, torch.bfloat16, False),
    "qwen2-fp16-tied": (qwen2_tokenizer, Qwen2Config, Qwen2ForCausalLM, torch.float16, True),
}


def write_model_folder(kind: str, folder) -> None:
    """A tiny random-init checkpoint saved the way a hub checkpoint arrives (half precision)."""
    make_tok, config_cls, model_cls, dtype, tied = FOLDERS[kind]
    tok = make_tok()
    # Real checkpoints pad the vocabulary beyond the tokenizer (Qwen2.5: 151936 rows, 151665 tokens).
    config = config_cls(vocab_size=len(tok) + 6, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id, tie_word_embeddings=tied)
    torch.manual_seed(0)
    model_cls(config).to(dtype).save_pretrained(folder)
    tok.save_pretrained(folder)


@pytest.fixture(scope="module", params=sorted(FOLDERS))
def folder(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param)
    write_model_folder(request.param, path)
    return request.param, path


def _backbone(path) -> BackboneConfig:
    return BackboneConfig(name=str(path), lora_r=4, lora_alpha=8)  # LoRA: the default for a folder


METHOD_CASES = [("discriminative", {}), ("gad", {})] + [("generative", {"mapping": m}) for m in MAPPINGS]
FEW_STEPS = TrainConfig(epochs=1, batch_size=8, lr=1e-2, warmup=0.0, progress=False)


def test_the_folders_arrive_like_hub_checkpoints(folder):
    kind, path = folder
    lm, tok = load_language_model(BackboneConfig(name=str(path)))
    assert lm.dtype == FOLDERS[kind][3]  # dtype="auto" keeps the checkpoint's half precision
    assert lm.config.tie_word_embeddings == FOLDERS[kind][4]
    assert tok.chat_template and tok.pad_token is not None
    assert len(tok.added_tokens_decoder) >= 10


@pytest.mark.parametrize("method,kwargs", METHOD_CASES, ids=[k.get("mapping", m) for m, k in METHOD_CASES])
def test_train_evaluate_checkpoint_reload_predict(folder, method, kwargs, names, visual_dim, train_samples,
                                                  test_samples, mixed_batch, tmp_path):
    """The whole life of a model on a half-precision checkpoint, on CPU without autocast: each
    step used to stop at `mat1 and mat2 must have the same dtype (BFloat16, Float)`."""
    kind, path = folder
    clf = build_classifier(method, names, visual_dim, backbone=_backbone(path), **kwargs)
    half = FOLDERS[kind][3]
    assert clf.mllm.lm.get_input_embeddings().weight.dtype == half
    # What is trained from scratch stays fp32; so do the LoRA adapters (peft upcasts them).
    trainable = {n: p for n, p in clf.named_parameters() if p.requires_grad}
    assert trainable and all(p.dtype == torch.float32 for p in trainable.values())

    history = train(clf, train_samples[:16], FEW_STEPS)
    assert history.steps == 2 and np.isfinite(history.loss).all()
    decodings = [{"decoding": "greedy"}, {"decoding": "exact"}] if method == "generative" else [{}]
    for kw in decodings:
        result = evaluate(clf, test_samples[:8], batch_size=4, **kw)["step"]
        assert result["scores"].shape == (8, len(names["steps"])) and np.isfinite(result["scores"]).all()

    loaded = load_classifier(save_checkpoint(tmp_path / "ckpt", clf))
    assert loaded.mllm.lm.get_input_embeddings().weight.dtype == half
    for kw in decodings:
        np.testing.assert_array_equal(loaded.predict(mixed_batch, **kw).scores,
                                      clf.predict(mixed_batch, **kw).scores)
        assert ms_per_sample(loaded, test_samples[:2], batch_size=2, repeats=1, **kw) > 0  # runs outside autocast


def _token_rows(lm) -> dict[str, torch.Tensor]:
    """The effective (full-rank) input and output embedding matrices: base rows with peft's
    trainable token rows written over them, before any low-rank LoRA update of the LM head."""
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    rows = {}
    for module in lm.modules():
        if isinstance(module, TrainableTokensLayer):
            side = "input" if isinstance(module.base_layer, torch.nn.Embedding) else "output"
            rows[side] = module.get_merged_weights(module.active_adapters).detach().float().clone()
    return rows


@pytest.mark.parametrize("method", ["generative", "discriminative"])
def test_extend_trains_the_new_rows_and_only_them(folder, method, names, visual_dim, train_samples):
    """Under LoRA the LM is frozen: the class tokens `extend` adds must still train, input and
    output rows, with tied and untied embeddings, while every pretrained row stays as it was."""
    kind, path = folder
    if method == "discriminative":  # no new tokens: no trainable rows either
        clf = build_classifier(method, names, visual_dim, backbone=_backbone(path))
        assert _token_rows(clf.mllm.lm) == {}
        return
    # label_eos=True: the class token is then fed as input too, so its input rows get a gradient
    # (without EOS, extend's default, untied input rows are never used and rightly stay put).
    clf = build_classifier(method, names, visual_dim, backbone=_backbone(path), mapping="extend", label_eos=True)
    new = clf.new_token_ids
    assert len(new) == len(names["steps"])
    old = torch.ones(clf.mllm.lm.get_input_embeddings().weight.shape[0], dtype=torch.bool)
    old[new] = False
    before = _token_rows(clf.mllm.lm)
    assert set(before) == {"input", "output"}
    train(clf, train_samples[:16], FEW_STEPS)
    after = _token_rows(clf.mllm.lm)
    for side in ("input", "output"):
        assert torch.equal(after[side][old], before[side][old]), side
        moved = (after[side][new] - before[side][new]).abs().amax(1)
        assert (moved > 0).all(), (side, moved)
    if FOLDERS[kind][4]:  # tied: one matrix, the new rows included
        assert torch.equal(after["input"], after["output"])
    else:
        assert not torch.equal(after["input"][new], after["output"][new])
    # The LM head keeps its LoRA adapter as well (the paper's recipe when an LM loss is trained).
    assert any("lm_head" in n and "lora_B" in n for n, _ in clf.named_parameters())
