"""The generative classifier: decode the label text token by token, then snap it to the nearest
class name by edit distance (the paper's protocol).

Training is next-token cross-entropy on the label tokens only. Inference costs a prefill plus one
forward per label token. Exact scoring of every class (not in the paper) is
`gadlib.core.class_scoring`.

Explained in notebooks/01_generative_vs_discriminative.ipynb and 02_tokenization_ablations.ipynb.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from gadlib.core.backbone import MLLM, pad, until_eos
from gadlib.core.class_scoring import LabelPrefixTree, class_log_likelihoods
from gadlib.core.classifier import ActionClassifier, Batch, Prediction, check_choice
from gadlib.core.label_spaces import EXTEND_INITS, MAPPINGS, LabelSpace
from gadlib.core.prompts import LABEL_SET_OF_KIND

DECODING = ("greedy", "exact")
# How greedy decoding decides OAD background (label set "oad", class 0 = "background"):
# "first_token": the paper's rule, from the first generated token alone; "snap": decode and snap
# like any other label.
OAD_BACKGROUND = ("first_token", "snap")
OAD_MAX_NEW_TOKENS = 8  # the cap on the tokens generated per OAD frame (see OAD_NEW_TOKENS)
# "in_all": at most OAD_MAX_NEW_TOKENS tokens in all, and no more than the longest label needs
# (gadlib's); "after_first": the first token, then up to OAD_MAX_NEW_TOKENS more (the authors').
OAD_NEW_TOKENS = ("in_all", "after_first")
# Which classes a decoded OAD action frame may snap to: "actions" (never background, gadlib's)
# or "all" (background too: the authors' edit distance runs over every name).
SNAP_SETS = ("actions", "all")
# Which class wins an edit-distance tie: the lowest "index" (gadlib's) or the "alphabetical"ly
# first label text (the authors').
SNAP_TIES = ("index", "alphabetical")


class FirstToken(NamedTuple):
    """The first-token decision of a batch (`first_token_decode`)."""
    background: np.ndarray    # bool [B]: decided background after the prefill (nothing more decoded)
    p_background: np.ndarray  # float32 [B]: probability of the background token at the first step
    decoded: list[list[int]]  # per sample: the label tokens generated, up to EOS ([] for background)


def first_token_decode(mllm: MLLM, prefixes: list[torch.Tensor], background_token: int,
                       threshold: float | None, max_new: int) -> FirstToken:
    """The paper's OAD decoding: one prefill decides background for every sample (the background
    token is the argmax, or its probability is >= `threshold`); the others go on from the
    prefill's KV cache, greedily, the background token barred at their first step."""
    embeds, mask, positions = pad(prefixes, left=True)
    out = mllm.lm.get_decoder()(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True)
    logits = mllm.lm_logits(out.last_hidden_state[:, -1]).float()
    p_background = (logits[:, background_token] - logits.logsumexp(-1)).exp()
    background = logits.argmax(-1) == background_token if threshold is None else p_background >= threshold
    decoded: list[list[int]] = [[] for _ in prefixes]
    rows = torch.nonzero(~background)[:, 0]
    if len(rows):
        cache = out.cache
        if len(rows) < len(prefixes):
            cache.batch_select_indices(rows)
        logits[:, background_token] = -torch.inf  # an action's label never starts with it
        steps = continue_greedy(mllm, cache, logits[rows].argmax(-1), mask[rows], positions[rows, -1:], max_new)
        for r, seq in zip(rows.tolist(), steps):
            decoded[r] = until_eos(seq, mllm.tokenizer.eos_token_id)
    return FirstToken(background.cpu().numpy(), p_background.cpu().numpy(), decoded)


def continue_greedy(mllm: MLLM, cache, token: torch.Tensor, mask: torch.Tensor, last: torch.Tensor,
                    max_new: int) -> list[list[int]]:
    """Greedy decoding on from a KV cache whose first generated `token` [B] is chosen; rows that
    wrote EOS are padded. Returns max_new tokens per row at most, the first one included."""
    tok, decoder = mllm.tokenizer, mllm.lm.get_decoder()
    steps, done = [token], token == tok.eos_token_id
    for step in range(1, max_new):
        if done.all():
            break
        mask = torch.cat([mask, mask.new_ones(len(token), 1)], 1)
        hidden = decoder(input_ids=token[:, None], attention_mask=mask, position_ids=last + step,
                         cache=cache, use_cache=True).last_hidden_state
        token = torch.where(done, tok.pad_token_id, mllm.lm_logits(hidden[:, -1]).argmax(-1))
        steps.append(token)
        done = done | (token == tok.eos_token_id)
    return torch.stack(steps, 1).tolist()


def check_generative_options(oad_background: str = "first_token", background_threshold: float | None = None,
                             oad_new_tokens: str = "in_all", snap_set: str = "actions", snap_ties: str = "index") -> None:
    """Raise ValueError for options that do not go together (also run before any data is loaded,
    by `gadlib.tools.run_config.validate_config`)."""
    for name, value, choices in (("oad_background", oad_background, OAD_BACKGROUND),
                                 ("oad_new_tokens", oad_new_tokens, OAD_NEW_TOKENS),
                                 ("snap_set", snap_set, SNAP_SETS), ("snap_ties", snap_ties, SNAP_TIES)):
        check_choice(name, value, choices)
    if background_threshold is not None:
        if oad_background != "first_token":
            raise ValueError("background_threshold needs oad_background='first_token'")
        if not 0 < background_threshold <= 1:
            raise ValueError(f"background_threshold must be in (0, 1] or None, got {background_threshold!r}")


def background_token(space: LabelSpace, label_set: str) -> int:
    """The first token of class 0's (background's) label, which must start no other label."""
    first = space.sequences[0][0]
    clash = [space.names[c] for c in range(1, len(space)) if space.sequences[c][0] == first]
    if clash:
        raise ValueError(f"label set {label_set!r}: the background label {space.texts[0]!r} starts with "
                         f"token {first}, as {len(clash)} other label(s) do ({clash[:3]}): its first "
                         "token cannot decide background. Use oad_background='snap'")
    return first


def first_token_scores(space: LabelSpace, found: FirstToken, tokenizer, snap_set: str = "actions") -> np.ndarray:
    """Greedy scores (minus the edit distance) under the first-token rule: a background frame gets
    the background label's own scores, an action frame snaps to an action, never to background
    (snap_set "all": to the nearest of every label, background included)."""
    scores = -np.stack([space.snap(space.sequences[0] if bg else g, tokenizer)
                        for bg, g in zip(found.background, found.decoded)])
    action = ~found.background
    scores[~action, 0] = 0  # the background label itself (whatever decoding its tokens gives)
    if snap_set == "actions":  # an action frame never snaps to background: its column below its best action
        scores[action, 0] = np.minimum(scores[action, 0], scores[action, 1:].max(1) - 1)
    return scores


def snap_prediction(scores: np.ndarray, texts: list[str], ties: str = "index") -> Prediction:
    """The best-scoring class per row; a tie goes to the lowest index, or ("alphabetical") to
    the label text that sorts first."""
    if ties == "index":
        return Prediction(scores=scores, pred=scores.argmax(1))
    order = np.array(sorted(range(len(texts)), key=lambda c: (texts[c], c)))
    return Prediction(scores=scores, pred=order[scores[:, order].argmax(1)])


OPTIONS = {"mapping": MAPPINGS, "decoding": DECODING, "extend_init": EXTEND_INITS, "oad_background": OAD_BACKGROUND,
           "oad_new_tokens": OAD_NEW_TOKENS, "snap_set": SNAP_SETS, "snap_ties": SNAP_TIES}


def decode_cap(oad_new_tokens: str, longest: int) -> int:
    """The most tokens first-token decoding generates per frame (`OAD_NEW_TOKENS`)."""
    return 1 + OAD_MAX_NEW_TOKENS if oad_new_tokens == "after_first" else min(OAD_MAX_NEW_TOKENS, longest)


class GenerativeClassifier(ActionClassifier):
    """Label text generated by the LM head, under one of the paper's four label mappings.

    decoding: "greedy" (KV cache + edit-distance snapping; scores are minus the edit distance) or
      "exact" (`gadlib.core.class_scoring`). label_eos: end every label with EOS (None: all
      mappings but the one-token `extend`). extend_init: `LabelSpace.add_tokens`'s init.
    oad_background: "first_token" (the paper's rule, `first_token_decode`) or "snap" (background
      decoded like any label); background_threshold: `first_token_decode`'s threshold;
      oad_new_tokens, snap_set, snap_ties: greedy decoding's cap and snapping (inference only).
    """

    OPTIONS = OPTIONS
    NAMED_BY = ("mapping",)

    def __init__(self, mllm, label_names, mapping: str = "text", seed: int = 0,
                 decoding: str = "greedy", label_eos: bool | None = None, extend_init: str = "linear",
                 oad_background: str = "first_token", background_threshold: float | None = None,
                 background_weight: float = 1.0, loss_norm: str = "weights", oad_new_tokens: str = "in_all",
                 snap_set: str = "actions", snap_ties: str = "index"):
        super().__init__(mllm, label_names, background_weight, loss_norm)
        if label_eos not in (None, True, False):
            raise ValueError(f"label_eos must be None, True or False, got {label_eos!r}")
        self.check_options(oad_background, background_threshold, oad_new_tokens, snap_set, snap_ties)
        self.label_spaces = {name: LabelSpace(names, mllm.tokenizer, mapping, seed=seed, prefix=name)
                             for name, names in label_names.items()}
        for space in self.label_spaces.values():
            space.add_tokens(mllm.tokenizer, mllm.lm, init=extend_init)  # extend only: one new token per class
        self.mapping, self.decoding = mapping, decoding
        self.label_eos = (mapping != "extend") if label_eos is None else label_eos
        self.oad_background, self.oad_new_tokens, self.snap_set, self.snap_ties = oad_background, oad_new_tokens, snap_set, snap_ties
        self.background_threshold = None if background_threshold is None else float(background_threshold)
        self.background_tokens = {name: background_token(space, name) for name, space in self.label_spaces.items()
                                  if self.first_token_rule(name)}
        self._label_trees: dict[tuple[str, bool], LabelPrefixTree] = {}

    check_options = staticmethod(check_generative_options)

    @property
    def reads_lm_head(self) -> bool:
        return True

    def unused_parameters(self) -> list[str]:
        return self.trainable_names([self.mllm.cls_query])  # labels are read through the LM head

    def first_token_rule(self, label_set: str) -> bool:
        """Whether greedy decoding of `label_set` decides background from the first token."""
        return label_set == "oad" and self.oad_background == "first_token"

    @property
    def new_token_ids(self) -> list[int]:
        """Vocabulary ids added for this model (`extend`: one per class); LoRA trains their rows."""
        tok = self.mllm.tokenizer
        return [i for space in self.label_spaces.values() for i in tok.convert_tokens_to_ids(space.new_tokens)]

    def label_tokens(self, label_set: str, target: int) -> list[int]:
        eos = [self.mllm.tokenizer.eos_token_id] if self.label_eos else []
        return self.label_spaces[label_set].sequences[target] + eos

    def loss(self, batch: Batch) -> torch.Tensor:
        """Next-token NLL of the label tokens, weighted by `sample_weights`: per sample, then over the
        batch (loss_norm "batch", the authors'), or over all label tokens ("weights")."""
        self.check_targets(batch)
        prefixes = self.mllm.prefix_embeds(batch.visual, batch.kinds)
        targets = [self.label_tokens(LABEL_SET_OF_KIND[k], t) for k, t in zip(batch.kinds, batch.targets.tolist())]
        nll = -self.mllm.teacher_forced(prefixes, targets).token_logprobs
        lengths = torch.tensor([len(t) for t in targets], device=nll.device)
        owner = torch.arange(len(targets), device=nll.device).repeat_interleave(lengths)
        if self.loss_norm == "weights":
            return self.weighted_loss(nll, self.sample_weights(batch)[owner], len(batch))
        per_sample = torch.zeros(len(targets), device=nll.device).index_add(0, owner, nll)
        return self.weighted_loss(per_sample / lengths, self.sample_weights(batch), len(batch))

    @torch.no_grad()
    def predict(self, batch: Batch, decoding: str | None = None) -> Prediction:
        return self.predict_prefixes(self.mllm.prefix_embeds(batch.visual, batch.kinds),
                                     self.predict_label_set(batch), decoding)

    @torch.no_grad()
    def predict_prefixes(self, prefixes: list[torch.Tensor], label_set: str,
                         decoding: str | None = None) -> Prediction:
        """`predict` of assembled input sequences (`MLLM.assemble`, no [CLS]) of `label_set`."""
        decoding = decoding or self.decoding
        check_choice("decoding", decoding, DECODING)
        space, tok = self.label_spaces[label_set], self.mllm.tokenizer
        if decoding == "exact":
            scores = class_log_likelihoods(self.mllm, self.label_tree(label_set), prefixes).cpu().numpy()
            return Prediction(scores=scores, pred=scores.argmax(1))
        if self.first_token_rule(label_set):
            scores = first_token_scores(space, self._first_token(prefixes, label_set), tok, self.snap_set)
        else:
            scores = -np.stack([space.snap(g, tok) for g in self._greedy(prefixes, label_set)])
        return snap_prediction(scores, space.texts, self.snap_ties)

    @torch.no_grad()
    def greedy_decode(self, batch: Batch, use_cache: bool = True, new_tokens: int | None = None) -> list[list[int]]:
        """Greedy decoding (no first-token rule); tokens up to, not incl., EOS. new_tokens: decode
        exactly this many steps (benchmarks/speed.py)."""
        return self._greedy(self.mllm.prefix_embeds(batch.visual, batch.kinds), self.predict_label_set(batch),
                            use_cache, new_tokens)

    def longest_label(self, label_set: str) -> int:
        """Tokens of `label_set`'s longest label, EOS included: what decoding needs at most."""
        return max(len(s) for s in self.label_spaces[label_set].sequences) + int(self.label_eos)

    def _greedy(self, prefixes: list[torch.Tensor], label_set: str, use_cache: bool = True,
                new_tokens: int | None = None) -> list[list[int]]:
        if new_tokens is not None and new_tokens < 1:
            raise ValueError(f"new_tokens must be >= 1, got {new_tokens}")
        max_new = new_tokens or self.longest_label(label_set)
        rows = self.mllm.generate_greedy(prefixes, max_new, new_tokens or 0, use_cache)
        if new_tokens is not None and len(rows[0]) != new_tokens:
            raise RuntimeError(f"forced decoding produced {len(rows[0])} tokens, expected {new_tokens}")
        return [until_eos(row, self.mllm.tokenizer.eos_token_id) for row in rows]

    @torch.no_grad()
    def first_token_decode(self, batch: Batch) -> FirstToken:
        """The paper's OAD decoding of a batch of label set "oad" (see `oad_background`)."""
        label_set = self.predict_label_set(batch)
        if label_set not in self.background_tokens:
            raise ValueError(f"first_token_decode: label set {label_set!r} has no first-token rule "
                             f"(label set 'oad' with oad_background='first_token')")
        return self._first_token(self.mllm.prefix_embeds(batch.visual, batch.kinds), label_set)

    def _first_token(self, prefixes: list[torch.Tensor], label_set: str) -> FirstToken:
        return first_token_decode(self.mllm, prefixes, self.background_tokens[label_set], self.background_threshold,
                                  decode_cap(self.oad_new_tokens, self.longest_label(label_set)))

    def label_tree(self, label_set: str) -> LabelPrefixTree:
        """The prefix tree of `label_set`'s label tokens (+ EOS), built once per label set."""
        key = (label_set, self.label_eos)  # label_eos may be switched after construction
        if key not in self._label_trees:
            n = len(self.label_names[label_set])
            self._label_trees[key] = LabelPrefixTree([self.label_tokens(label_set, c) for c in range(n)])
        return self._label_trees[key]

    @torch.no_grad()
    def class_log_likelihoods(self, batch: Batch, max_nodes: int = 256, budget: int = 2 ** 25) -> torch.Tensor:
        """[B, C] log p(label tokens (+ EOS) | video, prompt) for every class, exactly."""
        return class_log_likelihoods(self.mllm, self.label_tree(self.predict_label_set(batch)),
                                     self.mllm.prefix_embeds(batch.visual, batch.kinds), max_nodes, budget)
