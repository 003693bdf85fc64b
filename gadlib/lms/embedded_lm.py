"""The embedded tiny Llama: its tokenizer and its architecture, in one place that both the loader
(`gadlib.lms.build`) and the pretraining (`gadlib.lms.pretrain`) import, so the pretrained model is
exactly the architecture the loader builds. Its names and sizes are `gadlib.core.backbone`'s
`BackboneConfig`.

Explained in notebooks/01_generative_vs_discriminative.ipynb; the pretrained variant in
docs/hardware.md ("The embedded LM, pretrained").
"""
from __future__ import annotations

from transformers import LlamaConfig, LlamaForCausalLM

from gadlib.core.backbone import BackboneConfig
from gadlib.data.vocabulary import tokenizer_corpus
from gadlib.lms.tokenizer import train_embedded_tokenizer


def embedded_tokenizer(vocab_size: int = 4096):
    """The embedded tokenizer (trained once per process on the filler text and our vocabulary)."""
    return train_embedded_tokenizer(tokenizer_corpus(), vocab_size=vocab_size)


def build_embedded_lm(cfg: BackboneConfig, tokenizer) -> LlamaForCausalLM:
    """The tiny Llama of cfg's sizes, randomly initialised (from torch's generator), one
    embedding row per token of `tokenizer`."""
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads, max_position_embeddings=1024,
        # LlamaConfig defaults bos=1, eos=2: real ids of *our* vocabulary would silently stop
        # generation, so the ids always come from the tokenizer.
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    return LlamaForCausalLM(config)
