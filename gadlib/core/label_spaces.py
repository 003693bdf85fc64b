"""Label spaces: how class names become the token sequences a generative classifier decodes.

The paper's four tokenizations (claim 2):
- text:   the tokenizer's own sub-words ("add sugar" -> [add, _sugar]).
- rand:   every sub-word replaced by a random token, consistently: the same sub-word becomes the
          same random token in every label. Meaning is removed, overlap between classes is kept.
- desync: every (label, position) gets its own random token: no token is shared between classes.
- extend: one new vocabulary token per class (single-step generation); embeddings are resized.

A class's label text is its name made readable (`readable_label` below: THUMOS'14's
"BaseballPitch" -> "baseball pitch", as the paper writes labels); the names themselves stay the
data set's (files, metrics and reports keep them), only the text the LM reads and writes changes.

Explained in notebooks/02_tokenization_ablations.ipynb.
"""
from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import torch
from rapidfuzz.distance import Levenshtein


def camel_parts(token: str, digits: bool = True) -> list[str]:
    """"CliffDiving" -> [Cliff, Diving], "BBQGrill" -> [BBQ, Grill], "step2" -> [step, 2]
    ([step2] with digits=False) (str methods, so accented letters count as letters)."""
    cuts = [i for i in range(1, len(token))
            if (token[i - 1].islower() and token[i].isupper())
            or (token[i - 1].isupper() and token[i].isupper() and token[i + 1:i + 2].islower())
            or (digits and token[i - 1].isdigit() != token[i].isdigit())]
    return [token[a:b] for a, b in zip([0] + cuts, cuts + [len(token)])]


def readable_label(name: str) -> str:
    """A class name as the words a person would write, the label text the LM reads and writes
    (the paper's generative labels: THUMOS'14's "BaseballPitch" -> "baseball pitch").

    "_" and "-" become spaces; CamelCase is split where a lower-case letter meets an upper-case
    one ("PoleVault" -> "pole vault", "CleanAndJerk" -> "clean and jerk") and before the last
    capital of an acronym that starts a word ("BBQGrill" -> "bbq grill", "TVShow" -> "tv show"); a
    whole-word acronym stays one word ("GPS" -> "gps"); everything is lower-cased ("Ambiguous" ->
    "ambiguous"); runs of white space become one space, none at the ends. Digits stay with their
    word ("step2"), and every other character is kept ("take_wrap:plastic" -> "take wrap:plastic",
    "pour water (Make Tea)" -> "pour water (make tea)"). Lower-case names are unchanged
    ("pour olive oil"), and so is a result: readable_label(readable_label(n)) == readable_label(n).
    Mixed-case brand names split too ("iPhone" -> "i phone").
    """
    words = re.sub(r"[_\-]", " ", name).split()
    return " ".join(part.lower() for word in words for part in camel_parts(word, digits=False))


MAPPINGS = ("text", "rand", "desync", "extend")
# How `extend` initialises the output rows of its class tokens (LabelSpace.add_tokens).
EXTEND_INITS = ("linear", "normal")


def excluded_token_ids(tokenizer) -> set[int]:
    """Ids a random label token must never be: every special token and every *added* token.

    A Llama-3 tokenizer adds ~256 tokens (chat headers, end-of-text, reserved tokens that were
    never trained) and Qwen2 adds tool / fill-in-the-middle tokens that are not even marked
    special; `all_special_ids` misses most of them.
    """
    return set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)


class LabelSpace:
    """The target token sequence (without EOS) of every class of one label set under one mapping.

    names: the classes (identities, as the data set names them); texts: their label texts
    (`readable_label(name)`), tokenized as they are, without a leading space.

    For `extend`, call `add_tokens(tokenizer, lm)` once before training: it adds the class tokens,
    resizes the LM's embeddings and initialises the class tokens' output rows.
    """

    def __init__(self, names: list[str], tokenizer, mapping: str = "text", seed: int = 0,
                 prefix: str = "cls"):
        if mapping not in MAPPINGS:
            raise ValueError(f"unknown label mapping {mapping!r}; expected one of {MAPPINGS}")
        if len(set(names)) != len(names):
            dup = [n for n, c in Counter(names).items() if c > 1]
            raise ValueError(f"duplicate class names in label space: {dup[:5]}")
        if not names:
            raise ValueError("a label space needs at least one class name")
        self.names, self.mapping = list(names), mapping
        self.texts = [readable_label(n) for n in names]
        if len(set(self.texts)) != len(self.texts):
            seen: dict[str, str] = {}
            clash = [(seen[t], n) for n, t in zip(names, self.texts) if seen.setdefault(t, n) != n]
            raise ValueError(f"class names with the same label text (readable_label): {clash[:5]}")
        self.new_tokens = [f"<|{prefix}_{i}|>" for i in range(len(names))] if mapping == "extend" else []
        self.text_sequences = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in self.texts]
        rng = np.random.default_rng(seed)
        pool = np.setdiff1d(np.arange(len(tokenizer)), sorted(excluded_token_ids(tokenizer)))
        if mapping == "text":
            self.sequences = self.text_sequences
        elif mapping == "rand":
            used = sorted({t for seq in self.text_sequences for t in seq})
            renamed = dict(zip(used, rng.choice(pool, size=len(used), replace=False).tolist()))
            self.sequences = [[renamed[t] for t in seq] for seq in self.text_sequences]
        elif mapping == "desync":
            need = sum(len(s) for s in self.text_sequences)
            if need > len(pool):
                raise ValueError(f"desync needs {need} distinct tokens but the vocabulary has {len(pool)}")
            draws = iter(rng.choice(pool, size=need, replace=False).tolist())
            self.sequences = [[next(draws) for _ in seq] for seq in self.text_sequences]
        else:
            ids = tokenizer.convert_tokens_to_ids(self.new_tokens)
            if any(i is None or i == tokenizer.unk_token_id for i in ids):
                # not added yet: the ids add_tokens() will give them (appended after the vocabulary)
                ids = list(range(len(tokenizer), len(tokenizer) + len(names)))
            self.sequences = [[i] for i in ids]

    def add_tokens(self, tokenizer, lm, init: str = "linear") -> None:
        """extend: add one token per class, resize the LM's input and output embeddings and
        initialise the output rows of the tokens this call added.

        init="linear": those rows get `nn.Linear`'s weight init (kaiming-uniform, a=sqrt(5): std
        1/sqrt(3 * hidden)), the init of the discriminative head they stand in for. "normal": the
        rows `resize_token_embeddings(mean_resizing=False)` draws, N(0, initializer_range). In
        notebook 02's setting "normal" is 8-18 points worse (experiments/extend_puzzle.md): the
        rows start about 2.5x smaller than the head's. transformers' default mean_resizing=True is
        never used: it makes all class rows (nearly) identical and training collapses to one class.
        With tied embeddings the input rows are the same tensor, so they get the same init.
        Explained in notebooks/02_tokenization_ablations.ipynb.
        """
        if init not in EXTEND_INITS:
            raise ValueError(f"add_tokens: init must be one of {EXTEND_INITS}, got {init!r}")
        if self.mapping != "extend":
            return
        vocab = tokenizer.get_vocab()
        added = [t for t in self.new_tokens if t not in vocab]
        tokenizer.add_tokens(self.new_tokens, special_tokens=False)  # no-op for tokens already there
        # Real checkpoints often have more rows than tokens (Qwen2.5: 151936 for 151665): never
        # shrink, which would drop pretrained rows.
        rows = max(len(tokenizer), lm.get_input_embeddings().num_embeddings)
        lm.resize_token_embeddings(rows, mean_resizing=False)
        self.sequences = [[i] for i in tokenizer.convert_tokens_to_ids(self.new_tokens)]
        if init == "linear" and added:
            # Only rows this call added: tokens already in the tokenizer may carry trained rows.
            ids = torch.tensor(tokenizer.convert_tokens_to_ids(added))
            weight = lm.get_output_embeddings().weight
            fresh = torch.empty(len(ids), weight.shape[1], dtype=torch.float32)
            torch.nn.init.kaiming_uniform_(fresh, a=math.sqrt(5))  # what nn.Linear.reset_parameters does
            with torch.no_grad():
                weight[ids.to(weight.device)] = fresh.to(weight.device, weight.dtype)

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"label {name!r} is not in the label space ({len(self.names)} classes)") from None

    def snap(self, generated: list[int], tokenizer) -> np.ndarray:
        """Edit-distance of a generated sequence to every class (the paper's snapping step).

        text: distance between the decoded string and every label text (as in the paper); the
        random mappings have no readable text, so their token sequences are compared. Returns
        distances [C]; argmin wins.
        """
        if self.mapping == "text":
            text = tokenizer.decode(generated, skip_special_tokens=True).strip()
            return np.array([Levenshtein.distance(text, t) for t in self.texts], dtype=np.float32)
        return np.array([Levenshtein.distance(generated, s) for s in self.sequences], dtype=np.float32)

    def overlap_stats(self) -> dict:
        return token_overlap_stats(self.sequences)


def token_overlap_stats(sequences: list[list[int]]) -> dict:
    """How much the classes' token sequences overlap (what the paper blames for the generative gap)."""
    first = Counter(s[0] for s in sequences)
    token_classes = Counter(t for s in sequences for t in set(s))
    return {
        "num_classes": len(sequences),
        "tokens_per_label": float(np.mean([len(s) for s in sequences])),
        "max_tokens_per_label": int(max(len(s) for s in sequences)),
        "distinct_tokens": len(token_classes),
        "share_first_token_shared": float(np.mean([first[s[0]] > 1 for s in sequences])),
        "share_any_token_shared": float(np.mean([any(token_classes[t] > 1 for t in s) for s in sequences])),
    }
