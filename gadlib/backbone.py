"""The MLLM backbone: a Hugging Face causal LM + an MLP connector for pre-extracted visual tokens
+ a learnable [CLS] query embedding.

The same `load_language_model` loads the embedded tiny Llama (built from a config, tokenizer
trained locally; random init, or pretrained on the synthetic world by `gadlib.pretrain`) or any
real checkpoint by hub name or local path (`meta-llama/Llama-3.2-1B-Instruct`,
`Qwen/Qwen2.5-0.5B-Instruct`, SmolLM2, ...).

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import re
import weakref
from datetime import datetime

import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from transformers import AutoModelForCausalLM, AutoTokenizer

# BackboneConfig and the embedded names live with the tiny Llama's builder (gadlib.embedded_lm),
# which gadlib.pretrain imports too; re-exported here, where callers import them from.
from .embedded_lm import (EMBEDDED_SCRATCH, EMBEDDED_NAMES, EMBEDDED, BackboneConfig,  # noqa: F401
                          build_embedded_lm, embedded_tokenizer)
from .pretrain import pretrained_embedded_lm
from .prompts import PROMPTS

VIDEO_MARKER = "<video>"  # split point of the rendered chat template; never tokenized
# The date chat templates write into prompts (Llama-3.x's own fallback when no clock is given).
PROMPT_DATE = datetime(2024, 7, 26)
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load_tokenizer(cfg: BackboneConfig):
    """The backbone's tokenizer alone (cheap: no weights are loaded)."""
    if cfg.name in EMBEDDED_NAMES:
        return embedded_tokenizer(cfg.vocab_size)
    tokenizer = AutoTokenizer.from_pretrained(cfg.name, trust_remote_code=cfg.trust_remote_code)
    if tokenizer.pad_token is None:  # Llama-3 ships without one; padded positions are masked anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_language_model(cfg: BackboneConfig):
    """Return (causal LM, tokenizer). Builds the embedded tiny Llama (random init for `EMBEDDED_SCRATCH`;
    for `EMBEDDED` the cached pretrained weights, pretrained on first use:
    `gadlib.pretrain`) or loads `cfg.name`."""
    tokenizer = load_tokenizer(cfg)
    if cfg.name == EMBEDDED_SCRATCH:
        return build_embedded_lm(cfg, tokenizer), tokenizer
    if cfg.name == EMBEDDED:
        return pretrained_embedded_lm(cfg, tokenizer), tokenizer
    lm = AutoModelForCausalLM.from_pretrained(cfg.name, dtype=cfg.dtype,
                                              trust_remote_code=cfg.trust_remote_code)
    lm.generation_config.pad_token_id = tokenizer.pad_token_id
    return lm, tokenizer


def _module_name(model, module) -> str:
    return next(name for name, m in model.named_modules() if m is module)


def apply_lora(lm, cfg: BackboneConfig, train_lm_head: bool, new_token_ids: list[int] = ()):
    """Wrap the LM with LoRA adapters (peft). The LM head is adapted only when an LM loss is trained.

    new_token_ids: vocabulary rows added for this model (the `extend` label mapping). A frozen LM
    would never train them (a low-rank update of the LM head only approximates them), so their
    input and output rows are made fully trainable with peft's `trainable_token_indices`; every
    other row stays frozen. With tied embeddings peft ties the output rows to the input rows.
    """
    head = _module_name(lm, lm.get_output_embeddings())
    targets = LORA_TARGETS + ([head] if train_lm_head else [])
    trainable_tokens = None
    if new_token_ids:
        new_token_ids = sorted(int(i) for i in new_token_ids)
        rows = lm.get_input_embeddings().num_embeddings
        if new_token_ids[-1] >= rows:
            raise ValueError(f"new token id {new_token_ids[-1]} is outside the LM's {rows} embedding rows; "
                             "resize the embeddings (LabelSpace.add_tokens) before applying LoRA")
        if lm.config.get_text_config().tie_word_embeddings:
            trainable_tokens = new_token_ids  # the input embedding; peft ties the LM head to it
        else:
            # A LoRA-wrapped head keeps the original Linear as `base_layer`: the token rows wrap that.
            out = f"{head}.base_layer" if train_lm_head else head
            trainable_tokens = {_module_name(lm, lm.get_input_embeddings()): new_token_ids, out: new_token_ids}
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, trainable_token_indices=trainable_tokens)
    # peft injects the adapters into `lm`'s own modules, so `lm` keeps working as the adapted model.
    return get_peft_model(lm, lora)


class Connector(nn.Sequential):
    """Linear -> GELU -> Linear: one visual token (feature_dim) -> one LM input embedding."""

    def __init__(self, visual_dim: int, hidden_size: int):
        super().__init__(nn.Linear(visual_dim, hidden_size), nn.GELU(), nn.Linear(hidden_size, hidden_size))


def position_ids_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Positions count only real tokens, so left or right padding leaves them unchanged."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


_STRFTIME_NOW = re.compile(r"""strftime_now\(\s*(['"])(.*?)\1\s*\)""")


def stop_template_clock(template: str) -> str:
    """The chat template with every `strftime_now("<format>")` call replaced by `PROMPT_DATE`
    in that format (a string literal).

    The renderer turns variables passed to it into plain data, so its `strftime_now` cannot be
    shadowed by a function; the template source is rewritten instead.
    """
    stopped = _STRFTIME_NOW.sub(lambda m: repr(PROMPT_DATE.strftime(m.group(2))), template)
    if re.search(r"strftime_now\s*\(", stopped):
        raise ValueError("the chat template calls strftime_now() with a format that is not a string literal, "
                         "so its prompts would change from day to day; pass a fixed template")
    return stopped


def prompt_ids(tokenizer, kind: str) -> tuple[list[int], list[int]]:
    """Token ids before and after the visual tokens of a `kind` sample, from the tokenizer's
    chat template (a plain "Question/Answer" layout when it has none).

    Llama-3.1+ templates write today's date into the system turn ("Today Date: 23 Nov 2026",
    from `date_string` or the renderer's clock `strftime_now`): a model trained today and
    reloaded tomorrow would see another prompt. Both are fixed to `PROMPT_DATE` here.
    """
    content = f"{VIDEO_MARKER}\n{PROMPTS[kind]}"
    if tokenizer.chat_template:
        text = tokenizer.apply_chat_template([{"role": "user", "content": content}],
                                             chat_template=stop_template_clock(tokenizer.chat_template),
                                             date_string=PROMPT_DATE.strftime("%d %b %Y"),
                                             add_generation_prompt=True, tokenize=False)
    else:
        text = (tokenizer.bos_token or "") + f"Question: {content}\nAnswer:"
    before, after = text.split(VIDEO_MARKER)
    encode = lambda t: tokenizer(t, add_special_tokens=False)["input_ids"]
    return encode(before), encode(after)


class MLLM(nn.Module):
    """Visual tokens -> connector -> LM, with a learnable [CLS] query.

    A sample's input sequence is `[chat prefix] [visual tokens] [prompt, assistant turn] (+ [CLS])
    (+ target tokens)`; every part is an embedding built explicitly, so no placeholder token id
    ever needs to exist in the LM's vocabulary.
    """

    def __init__(self, lm, tokenizer, visual_dim: int):
        super().__init__()
        self.lm, self.tokenizer, self.visual_dim = lm, tokenizer, visual_dim
        hidden = lm.config.get_text_config().hidden_size
        self.connector = Connector(visual_dim, hidden)
        std = lm.config.get_text_config().initializer_range
        self.cls_query = nn.Parameter(torch.randn(hidden) * std)
        self._prompt_ids = {kind: prompt_ids(tokenizer, kind) for kind in PROMPTS}
        self._prompt_cache: dict[str, tuple] = {}  # kind -> (embedding parameters' state, embeddings)

    @property
    def device(self) -> torch.device:
        return self.cls_query.device

    def embed_tokens(self, ids) -> torch.Tensor:
        ids = torch.as_tensor(ids, dtype=torch.long, device=self.device)
        return self.lm.get_input_embeddings()(ids)

    def prompt_embeds(self, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of the prompt tokens before and after the visual tokens of a `kind` sample.

        They depend on nothing but the input-embedding module's parameters, so they are cached
        per kind (embedding them on every call was a measurable part of a batch-1 prediction).
        The cache can never serve stale or graph-less embeddings: with gradients enabled and a
        trainable embedding (full fine-tuning of the embedded LM) they are recomputed, so training
        gets the graph; otherwise (inference, or a frozen embedding under LoRA) an entry is keyed
        on each parameter's identity and in-place version counter, which an optimizer step,
        `load_state_dict` or `.to()` all change.
        """
        module = self.lm.get_input_embeddings()
        params = list(module.parameters())
        if torch.is_grad_enabled() and any(p.requires_grad for p in params):
            return tuple(self.embed_tokens(ids) for ids in self._prompt_ids[kind])
        state = [(p._version, p.device, p.dtype) for p in params]
        hit = self._prompt_cache.get(kind)
        if hit is not None and hit[1] == state and all(r() is p for r, p in zip(hit[0], params)):
            return hit[2]
        embeds = tuple(self.embed_tokens(ids) for ids in self._prompt_ids[kind])
        self._prompt_cache[kind] = ([weakref.ref(p) for p in params], state, embeds)
        return embeds

    def connect(self, visual: list[torch.Tensor]) -> list[torch.Tensor]:
        """The connector: each sample's visual tokens [N_i, D] -> LM embeddings [N_i, H]. Token by
        token (no mixing), so a live system connects each arriving frame once
        (`gadlib.streaming.StreamingDetector`)."""
        for v in visual:
            if v.ndim != 2 or v.shape[1] != self.visual_dim:
                raise ValueError(f"visual tokens must be [N, {self.visual_dim}], got {tuple(v.shape)}")
        # One connector call for the whole batch (per-sample calls cost more than the tiny LM).
        flat = (visual[0] if len(visual) == 1 else torch.cat(visual)).to(self.device, self.connector[0].weight.dtype)
        return list(self.connector(flat).split([len(v) for v in visual]))

    def assemble(self, connected: list[torch.Tensor], kinds: list[str], cls: bool = False) -> list[torch.Tensor]:
        """One [L_i, H] embedding sequence per sample: chat prefix, connected visual tokens,
        question, and the [CLS] query when `cls` (in the same concatenation: at batch 1 every copy
        of the sequence is a visible part of a live system's per-frame cost, benchmarks/live_cost.py)."""
        prompt = {k: self.prompt_embeds(k) for k in set(kinds)}
        dtype = prompt[kinds[0]][0].dtype  # the LM's embedding dtype; the connector may run in fp32
        tail = [self.cls_embed(prompt[kinds[0]][0])] if cls else []
        return [torch.cat([prompt[k][0], v.to(dtype), prompt[k][1], *tail]) for v, k in zip(connected, kinds)]

    def prefix_embeds(self, visual: list[torch.Tensor], kinds: list[str], cls: bool = False) -> list[torch.Tensor]:
        """`assemble(connect(visual), kinds, cls)`: the input sequences of a batch."""
        return self.assemble(self.connect(visual), kinds, cls)

    def cls_embed(self, like: torch.Tensor) -> torch.Tensor:
        return self.cls_query.to(like.dtype)[None]

    @staticmethod
    def pad(seqs: list[torch.Tensor], left: bool = False):
        """Pad [L_i, H] sequences to a batch; returns embeds, attention mask, position ids."""
        longest = max(len(s) for s in seqs)
        if all(len(s) == longest for s in seqs):  # nothing to pad (always so at batch 1): fewer ops
            mask = torch.ones(len(seqs), longest, dtype=torch.long, device=seqs[0].device)
            embeds = seqs[0][None] if len(seqs) == 1 else torch.stack(seqs)  # a view, not a copy, at batch 1
            return embeds, mask, torch.arange(longest, device=mask.device).expand_as(mask)
        side = "left" if left else "right"
        embeds = pad_sequence(seqs, batch_first=True, padding_side=side)
        ones = [torch.ones(len(s), dtype=torch.long, device=s.device) for s in seqs]
        mask = pad_sequence(ones, batch_first=True, padding_side=side)
        return embeds, mask, position_ids_from_mask(mask)

    def hidden_states(self, embeds, mask, positions) -> torch.Tensor:
        """Last-layer hidden states (already after the final norm); the LM head is not computed."""
        # use_cache=False: a KV cache nobody reads is built otherwise (the config's default).
        out = self.lm.get_decoder()(inputs_embeds=embeds, attention_mask=mask, position_ids=positions,
                                    use_cache=False)
        return out.last_hidden_state

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm.get_output_embeddings()(hidden)

    def teacher_forced(self, stems: list[torch.Tensor], targets: list[list[int]],
                       suffix: torch.Tensor | None = None):
        """Append each stem's target tokens (then `suffix`, if given) and compute the next-token
        loss on the target tokens only.

        LM logits are computed at the target positions alone, never over the whole sequence (the
        output vocabulary is the most expensive matrix in a small model). Returns (hidden states
        [B, L, H], attention mask, mean loss over target tokens, per-token log-probs [M]).
        """
        tail = [] if suffix is None else [suffix]
        # One embedding call for the whole batch: each call's backward writes a dense
        # vocabulary-sized gradient, so per-sample calls cost more than the LM itself here.
        embedded = self.embed_tokens([tok for t in targets for tok in t]).split([len(t) for t in targets])
        seqs = [torch.cat([s, e, *tail]) for s, e in zip(stems, embedded)]
        embeds, mask, positions = self.pad(seqs)
        hidden = self.hidden_states(embeds, mask, positions)
        rows = torch.tensor([i for i, t in enumerate(targets) for _ in t], device=self.device)
        cols = torch.tensor([len(s) - 1 + j for s, t in zip(stems, targets) for j in range(len(t))],
                            device=self.device)
        gold = torch.tensor([tok for t in targets for tok in t], device=self.device)
        logprobs = self.lm_logits(hidden[rows, cols]).float().log_softmax(-1)
        token_logprobs = logprobs.gather(-1, gold[:, None])[:, 0]
        return hidden, mask, -token_logprobs.mean(), token_logprobs
