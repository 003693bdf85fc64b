"""The embedded tiny Llama: its names, its config (`BackboneConfig`), its tokenizer and its
architecture, in one place that both the loader (`gadlib.backbone`) and the pretraining
(`gadlib.pretrain`) import, so the pretrained model is exactly the architecture the loader builds
and neither module imports the other's loader.

Explained in notebooks/01_generative_vs_discriminative.ipynb; the pretrained variant in README.md
("The embedded LM, pretrained").
"""
from __future__ import annotations

from dataclasses import dataclass

from transformers import LlamaConfig, LlamaForCausalLM

from .tokenizer import train_embedded_tokenizer
from .vocabulary import tokenizer_corpus

EMBEDDED = "embedded-tiny-llama"                  # pretrained on the synthetic world (gadlib.pretrain)
EMBEDDED_SCRATCH = "embedded-tiny-llama-scratch"  # the same architecture, random init
EMBEDDED_NAMES = (EMBEDDED, EMBEDDED_SCRATCH)     # built here, fully fine-tuned, float32


@dataclass
class BackboneConfig:
    """Which LM to use and how to fine-tune it.

    name: `EMBEDDED_SCRATCH` (random-init tiny Llama, CPU-sized), `EMBEDDED` (the same tiny
      Llama pretrained as a causal LM on text of the synthetic benchmarks' world, cached under
      data/pretrained/: `gadlib.pretrain`) or a hub name / local folder of a real model.
    vocab_size: the embedded tokenizer's BPE size (`train_embedded_tokenizer`; beyond 4096, reserved
      tokens); its vocabulary also holds the one-token word "background" (`tokenizer.WORD_TOKENS`),
      so len(tokenizer) = vocab_size + 1.
    lora: None = LoRA for a real (pretrained) model, full fine-tuning for either embedded one.
    The LoRA defaults are the paper's (r 128, alpha 256, dropout 0.05 on q/k/v/o/gate/up/down).
    """
    name: str = EMBEDDED_SCRATCH
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    vocab_size: int = 4096
    lora: bool | None = None
    lora_r: int = 128
    lora_alpha: int = 256
    lora_dropout: float = 0.05
    dtype: str = "auto"  # for real checkpoints; the embedded model is float32
    trust_remote_code: bool = False


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
