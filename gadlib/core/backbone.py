"""The MLLM backbone: a Hugging Face causal LM + an MLP connector for pre-extracted visual tokens
+ a learnable [CLS] query embedding.

Which LM: `BackboneConfig`. A real checkpoint (hub name or local folder) loads here
(`from_pretrained`); the embedded tiny Llama is built by gadlib/lms, and `gadlib.lms.build`
picks between the two by name.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from datetime import datetime

import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from transformers import AutoModelForCausalLM, AutoTokenizer

from gadlib.core.prompts import PROMPTS

EMBEDDED = "embedded-tiny-llama"                  # pretrained on the synthetic world (gadlib.lms.pretrain)
EMBEDDED_SCRATCH = "embedded-tiny-llama-scratch"  # the same architecture, random init
EMBEDDED_NAMES = (EMBEDDED, EMBEDDED_SCRATCH)     # built by gadlib.lms, fully fine-tuned, float32
VIDEO_MARKER = "<video>"  # split point of the rendered chat template; never tokenized
# The date chat templates write into prompts (Llama-3.x's own fallback when no clock is given).
PROMPT_DATE = datetime(2024, 7, 26)
# "chat": every prompt in the LM's chat template, the video before the question (gadlib's);
# "authors": the layout of the authors' scripts (`prompt_ids`).
PROMPT_LAYOUTS = ("chat", "authors")
# The authors' COIN prompts follow the question with this sentence.
CONCISE = "Format your answer concisely. No extra text output."
# Their COIN prompts open with a system turn; our notes do not give its words, so this one is ours.
SYSTEM_PROMPT = "You are a helpful assistant."
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class BackboneConfig:
    """Which LM to use and how to fine-tune it.

    name: `EMBEDDED_SCRATCH` (random-init tiny Llama, CPU-sized), `EMBEDDED` (the same tiny
      Llama pretrained as a causal LM on text of the synthetic benchmarks' world) or a hub name /
      local folder of a real model.
    hidden_size .. vocab_size: the embedded tiny Llama's sizes (its BPE has vocab_size tokens plus
      the one-token word "background").
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
    prompt: str = "chat"  # the prompt layout, one of PROMPT_LAYOUTS (`prompt_ids`)

    @property
    def uses_lora(self) -> bool:
        return self.lora if self.lora is not None else self.name not in EMBEDDED_NAMES


def pretrained_tokenizer(cfg: BackboneConfig):
    """A real checkpoint's tokenizer alone (cheap: no weights are loaded)."""
    tokenizer = AutoTokenizer.from_pretrained(cfg.name, trust_remote_code=cfg.trust_remote_code)
    if tokenizer.pad_token is None:  # Llama-3 ships without one; padded positions are masked anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def pretrained_lm(cfg: BackboneConfig, tokenizer):
    """A real checkpoint's causal LM (hub name or local folder)."""
    lm = AutoModelForCausalLM.from_pretrained(cfg.name, dtype=cfg.dtype, trust_remote_code=cfg.trust_remote_code)
    lm.generation_config.pad_token_id = tokenizer.pad_token_id
    return lm


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


def prompt_ids(tokenizer, kind: str, layout: str = "chat") -> tuple[list[int], list[int]]:
    """Token ids before and after the visual tokens of a `kind` sample.

    layout "chat": the tokenizer's chat template, the video before the question (a plain
    "Question/Answer" layout when it has none). "authors": the authors' scripts' layouts: OAD
    has no chat template, `<bos>` + question + the visual tokens (then [CLS]); COIN kinds have
    a system turn, then the question + `CONCISE`, then the video (their frames also come
    bracketed and comma-separated: not done here, configs/README.md).

    Llama-3.1+ templates write today's date into the system turn ("Today Date: 23 Nov 2026",
    from `date_string` or the renderer's clock `strftime_now`): a model trained today and
    reloaded tomorrow would see another prompt. Both are fixed to `PROMPT_DATE` here.
    """
    if layout not in PROMPT_LAYOUTS:
        raise ValueError(f"prompt layout must be one of {PROMPT_LAYOUTS}, got {layout!r}")
    encode = lambda t: tokenizer(t, add_special_tokens=False)["input_ids"]
    if layout == "authors" and kind == "oad":
        return [tokenizer.bos_token_id] * (tokenizer.bos_token_id is not None) + encode(PROMPTS[kind]), []
    content = (f"{PROMPTS[kind]} {CONCISE}\n{VIDEO_MARKER}" if layout == "authors"
               else f"{VIDEO_MARKER}\n{PROMPTS[kind]}")
    system = [{"role": "system", "content": SYSTEM_PROMPT}] if layout == "authors" else []
    if tokenizer.chat_template:
        text = tokenizer.apply_chat_template(system + [{"role": "user", "content": content}],
                                             chat_template=stop_template_clock(tokenizer.chat_template),
                                             date_string=PROMPT_DATE.strftime("%d %b %Y"),
                                             add_generation_prompt=True, tokenize=False)
    else:
        text = (tokenizer.bos_token or "") + "".join(f"{m['content']}\n" for m in system) + \
            f"Question: {content}\nAnswer:"
    before, after = text.split(VIDEO_MARKER)
    return encode(before), encode(after)


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


def until_eos(tokens: list[int], eos: int) -> list[int]:
    """Decoded tokens up to, not including, the first EOS."""
    return tokens[:tokens.index(eos)] if eos in tokens else tokens


class PromptEmbeddings:
    """Embeddings of the prompt tokens before and after the visual tokens, per sample kind.

    They depend on nothing but the input-embedding module's parameters, so they are cached per
    kind (embedding them on every call was a measurable part of a batch-1 prediction). The cache
    never serves stale or graph-less embeddings: with gradients enabled and a trainable embedding
    (full fine-tuning) they are recomputed, so training gets the graph; otherwise an entry is keyed
    on each parameter's identity and in-place version counter, which an optimizer step,
    `load_state_dict` or `.to()` all change.
    """

    def __init__(self, tokenizer, layout: str = "chat"):
        self.ids = {kind: prompt_ids(tokenizer, kind, layout) for kind in PROMPTS}
        self._cache: dict[str, tuple] = {}  # kind -> (parameter refs, their state, embeddings)

    def get(self, mllm: MLLM, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
        params = list(mllm.lm.get_input_embeddings().parameters())
        if torch.is_grad_enabled() and any(p.requires_grad for p in params):
            return tuple(mllm.embed_tokens(ids) for ids in self.ids[kind])
        state = [(p._version, p.device, p.dtype) for p in params]
        hit = self._cache.get(kind)
        if hit is not None and hit[1] == state and all(r() is p for r, p in zip(hit[0], params)):
            return hit[2]
        embeds = tuple(mllm.embed_tokens(ids) for ids in self.ids[kind])
        self._cache[kind] = ([weakref.ref(p) for p in params], state, embeds)
        return embeds


@dataclass
class TeacherForced:
    """`MLLM.teacher_forced`'s output."""
    hidden: torch.Tensor          # [B, L, H] last-layer states of the whole sequences
    loss: torch.Tensor            # mean next-token NLL over every target token of the batch
    token_logprobs: torch.Tensor  # [M] log p of each target token, sample after sample


class MLLM(nn.Module):
    """Visual tokens -> connector -> LM, with a learnable [CLS] query.

    A sample's input sequence is `[chat prefix] [visual tokens] [prompt, assistant turn] (+ [CLS])
    (+ target tokens)`; every part is an embedding built explicitly, so no placeholder token id
    ever needs to exist in the LM's vocabulary.
    """

    def __init__(self, lm, tokenizer, visual_dim: int, prompt: str = "chat"):
        super().__init__()
        self.lm, self.tokenizer, self.visual_dim = lm, tokenizer, visual_dim
        hidden = lm.config.get_text_config().hidden_size
        self.connector = Connector(visual_dim, hidden)
        std = lm.config.get_text_config().initializer_range
        self.cls_query = nn.Parameter(torch.randn(hidden) * std)
        self.prompts = PromptEmbeddings(tokenizer, prompt)

    pad = staticmethod(pad)  # for callers that hold an MLLM

    @property
    def device(self) -> torch.device:
        return self.cls_query.device

    def embed_tokens(self, ids) -> torch.Tensor:
        ids = torch.as_tensor(ids, dtype=torch.long, device=self.device)
        return self.lm.get_input_embeddings()(ids)

    def prompt_embeds(self, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The prompt's embeddings before and after the visual tokens of a `kind` sample (cached)."""
        return self.prompts.get(self, kind)

    def connect(self, visual: list[torch.Tensor]) -> list[torch.Tensor]:
        """The connector: each sample's visual tokens [N_i, D] -> LM embeddings [N_i, H], token by
        token, so a live system connects each arriving frame once (`gadlib.evaluation.streaming`)."""
        for v in visual:
            if v.ndim != 2 or v.shape[1] != self.visual_dim:
                raise ValueError(f"visual tokens must be [N, {self.visual_dim}], got {tuple(v.shape)}")
        # One connector call for the whole batch (per-sample calls cost more than the tiny LM).
        flat = (visual[0] if len(visual) == 1 else torch.cat(visual)).to(self.device, self.connector[0].weight.dtype)
        return list(self.connector(flat).split([len(v) for v in visual]))

    def assemble(self, connected: list[torch.Tensor], kinds: list[str], cls: bool = False) -> list[torch.Tensor]:
        """One [L_i, H] embedding sequence per sample: chat prefix, connected visual tokens,
        question, and the [CLS] query when `cls` (in the same concatenation: at batch 1 every copy
        of the sequence is a visible part of a live system's per-frame cost)."""
        # Kinds in order of first appearance, never a set's order: the prompts are embedded in this
        # order, their gradients add up in it, and a set's order changes with PYTHONHASHSEED.
        prompt = {k: self.prompt_embeds(k) for k in dict.fromkeys(kinds)}
        dtype = prompt[kinds[0]][0].dtype  # the LM's embedding dtype; the connector may run in fp32
        tail = [self.cls_embed(prompt[kinds[0]][0])] if cls else []
        return [torch.cat([prompt[k][0], v.to(dtype), prompt[k][1], *tail]) for v, k in zip(connected, kinds)]

    def prefix_embeds(self, visual: list[torch.Tensor], kinds: list[str], cls: bool = False) -> list[torch.Tensor]:
        """`assemble(connect(visual), kinds, cls)`: the input sequences of a batch."""
        return self.assemble(self.connect(visual), kinds, cls)

    def cls_embed(self, like: torch.Tensor) -> torch.Tensor:
        return self.cls_query.to(like.dtype)[None]

    def hidden_states(self, embeds, mask, positions) -> torch.Tensor:
        """Last-layer hidden states (already after the final norm); the LM head is not computed."""
        # use_cache=False: a KV cache nobody reads is built otherwise (the config's default).
        out = self.lm.get_decoder()(inputs_embeds=embeds, attention_mask=mask, position_ids=positions,
                                    use_cache=False)
        return out.last_hidden_state

    def last_states(self, seqs: list[torch.Tensor]) -> torch.Tensor:
        """[B, H]: the hidden state at each sequence's last real position (the readout)."""
        embeds, mask, positions = pad(seqs)
        hidden = self.hidden_states(embeds, mask, positions)
        if all(len(s) == hidden.shape[1] for s in seqs):  # unpadded (OAD windows, batch 1): one slice
            return hidden[:, -1]
        return hidden[torch.arange(len(seqs)), mask.sum(1) - 1]

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm.get_output_embeddings()(hidden)

    def generate_greedy(self, prefixes: list[torch.Tensor], max_new_tokens: int, min_new_tokens: int = 0,
                        use_cache: bool = True) -> list[list[int]]:
        """Greedy continuations of each prefix (transformers' `generate`, KV cache), EOS included."""
        tok = self.tokenizer
        # Left padding puts every prefix's last token in the last column, where decoding starts.
        embeds, mask, _ = pad(prefixes, left=True)
        out = self.lm.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens,
                               min_new_tokens=min_new_tokens, do_sample=False, num_beams=1, use_cache=use_cache,
                               eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        return out.tolist()  # with inputs_embeds, generate returns only the new tokens

    def teacher_forced(self, stems: list[torch.Tensor], targets: list[list[int]],
                       suffix: torch.Tensor | None = None) -> TeacherForced:
        """Append each stem's target tokens (then `suffix`, if given) and compute the next-token
        loss on the target tokens only: LM logits at the target positions alone (the output
        vocabulary is the most expensive matrix in a small model)."""
        tail = [] if suffix is None else [suffix]
        # One embedding call for the whole batch: each call's backward writes a dense
        # vocabulary-sized gradient, so per-sample calls cost more than the LM itself here.
        embedded = self.embed_tokens([tok for t in targets for tok in t]).split([len(t) for t in targets])
        embeds, mask, positions = pad([torch.cat([s, e, *tail]) for s, e in zip(stems, embedded)])
        hidden = self.hidden_states(embeds, mask, positions)
        rows = torch.tensor([i for i, t in enumerate(targets) for _ in t], device=self.device)
        cols = torch.tensor([len(s) - 1 + j for s, t in zip(stems, targets) for j in range(len(t))],
                            device=self.device)
        gold = torch.tensor([tok for t in targets for tok in t], device=self.device)
        logprobs = self.lm_logits(hidden[rows, cols]).float().log_softmax(-1)
        token_logprobs = logprobs.gather(-1, gold[:, None])[:, 0]
        return TeacherForced(hidden, -token_logprobs.mean(), token_logprobs)
