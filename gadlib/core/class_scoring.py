"""Exact class scoring for the generative classifier (not in the paper): rank every class by the
log-likelihood of its label tokens under the model. Comparing it with greedy decoding separates
*decoding* error from *representation* error.

One prefill per sample, then the label tokens are read through the prefix tree of all labels
(`LabelPrefixTree`): every distinct label prefix is one position, computed once per sample, however
many classes share it (the label overlap the paper is about). Tree nodes are fed in chunks of up
to `max_nodes` positions as one packed sequence after the prefill's KV cache, under a tree
attention mask (a node sees the prompt and its own ancestors); the cache is cropped back to the
prompt after each chunk, so it is never copied. Log-softmax is taken only at tree nodes, at most
`budget` logits at a time; a class's score is the sum of the log-probs along its path.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from gadlib.core.backbone import MLLM, pad


def class_log_likelihoods(mllm: MLLM, tree: LabelPrefixTree, prefixes: list[torch.Tensor], max_nodes: int = 256,
                          budget: int = 2 ** 25) -> torch.Tensor:
    """[B, C] log p(label tokens | prefix) for every class of `tree`, exactly."""
    decoder = mllm.lm.get_decoder()
    embeds, mask, positions = pad(prefixes, left=True)
    n, prompt_len, dev = len(prefixes), embeds.shape[1], embeds.device
    out = decoder(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True)
    cache = out.cache
    # edge[:, v] = log p(token of node v | prompt, tokens of v's ancestors); node 0 is the root.
    edge = torch.zeros(n, tree.num_nodes, device=dev)
    score_children(mllm, edge, out.last_hidden_state[:, -1:], tree.root_children, budget)
    blocked = torch.finfo(embeds.dtype).min
    prompt_mask = mask[:, None, None, :].bool()
    for chunk in tree.chunks(max_nodes):
        size = len(chunk.context)
        sees = torch.cat([prompt_mask.expand(n, 1, size, prompt_len),
                          chunk.sees.to(dev)[None, None].expand(n, 1, -1, -1)], -1)
        attn = torch.zeros(sees.shape, dtype=embeds.dtype, device=dev).masked_fill_(~sees, blocked)
        hidden = decoder(input_ids=chunk.tokens.to(dev)[None].expand(n, -1), attention_mask=attn,
                         position_ids=positions[:, -1:] + chunk.depths.to(dev), cache=cache,
                         use_cache=True).last_hidden_state
        cache.crop(-size)  # back to the prompt alone for the next chunk
        score_children(mllm, edge, hidden, chunk.children, budget)
    return edge[:, tree.paths.to(dev)].sum(-1)


def score_children(mllm: MLLM, edge: torch.Tensor, hidden: torch.Tensor, children: TreeEdges, budget: int) -> None:
    """edge[:, child] = log p(child's token | its parent's position), for the parents whose
    last-layer states are hidden[:, row]; at most `budget` logits are held at a time."""
    n, vocab = hidden.shape[0], mllm.lm.get_output_embeddings().weight.shape[0]
    step, dev = max(1, budget // (n * vocab)), edge.device
    rows, nodes, tokens = (t.to(dev) for t in children)
    for r0 in range(0, hidden.shape[1], step):
        sel = (rows >= r0) & (rows < r0 + step)
        if not sel.any():
            continue
        logits = mllm.lm_logits(hidden[:, r0:r0 + step]).float()
        # log-softmax read at the child tokens only: no vocabulary-sized log-prob tensor
        at = rows[sel] - r0
        edge[:, nodes[sel]] = logits[:, at, tokens[sel]] - logits.logsumexp(-1)[:, at]


class TreeEdges(NamedTuple):
    """Edges to score from one forward: parent row in its hidden states -> child node, child token."""
    rows: torch.Tensor
    nodes: torch.Tensor
    tokens: torch.Tensor


class TreeChunk(NamedTuple):
    """One packed forward of tree nodes after the prompt: node ids, their tokens and depths, the
    [G, G] tree attention (i sees j iff j is i or an ancestor of i), and the edges it scores."""
    context: list[int]
    tokens: torch.Tensor
    depths: torch.Tensor
    sees: torch.Tensor
    children: TreeEdges


class LabelPrefixTree:
    """The prefix tree (trie) of a label set's token sequences: one node per distinct prefix.

    Node 0 is the root (the empty prefix); node v > 0 stands for the prefix ending in token
    `tokens[v]`, at depth `depths[v]` (1 = first label token), below `parents[v]`. Nodes are
    numbered in depth-first pre-order. Labels that share their first tokens share nodes, so the
    tree has far fewer nodes than the labels have tokens in all. A label may end at an inner
    node (a label that is a prefix of another one, without EOS); equal labels share a path.
    """

    def __init__(self, sequences: list[list[int]]):
        if not sequences or any(len(s) == 0 for s in sequences):
            raise ValueError("every label needs at least one token to build a prefix tree")
        trie: dict = {}
        for s in sequences:
            node = trie
            for t in s:
                node = node.setdefault(int(t), {})
        self.tokens, self.parents, self.depths, self.children = [-1], [-1], [0], [[]]
        ids: dict[tuple, int] = {(): 0}
        stack = [(sub, (t,), 0) for t, sub in reversed(trie.items())]
        while stack:  # iterative pre-order (labels may be long: no recursion limit)
            node, prefix, parent = stack.pop()
            v = ids[prefix] = len(self.tokens)
            self.tokens.append(prefix[-1])
            self.parents.append(parent)
            self.depths.append(len(prefix))
            self.children.append([])
            self.children[parent].append(v)
            stack += [(sub, prefix + (t,), v) for t, sub in reversed(node.items())]
        paths = [[ids[tuple(s[:k + 1])] for k in range(len(s))] for s in sequences]
        depth = max(len(p) for p in paths)
        # [C, D] node ids along each class's path, padded with the root (whose edge score is 0).
        self.paths = torch.tensor([p + [0] * (depth - len(p)) for p in paths])
        self.root_children = self._edges([0])
        self._chunks: dict[int, list[TreeChunk]] = {}

    @property
    def num_nodes(self) -> int:
        return len(self.tokens)

    @property
    def inner(self) -> list[int]:
        """Non-root nodes with children: the positions the LM must compute (leaves never are)."""
        return [v for v in range(1, self.num_nodes) if self.children[v]]

    def ancestors(self, v: int) -> list[int]:
        """Non-root ancestors of node v, from the top down (v excluded)."""
        out = []
        while self.parents[v] > 0:
            v = self.parents[v]
            out.append(v)
        return out[::-1]

    def _edges(self, parents: list[int], skip: int = 0) -> TreeEdges:
        """The edges below parents[skip:], with rows counted in `parents`."""
        at = [(i, c) for i, v in enumerate(parents) if i >= skip for c in self.children[v]]
        return TreeEdges(torch.tensor([i for i, _ in at], dtype=torch.long),
                         torch.tensor([c for _, c in at], dtype=torch.long),
                         torch.tensor([self.tokens[c] for _, c in at], dtype=torch.long))

    def chunks(self, max_nodes: int) -> list[TreeChunk]:
        """Packed forwards that together compute every inner node once (built once per size).

        Inner nodes are taken in pre-order, `max_nodes` at a time. A chunk starts with the
        ancestors of its first node (computed in earlier chunks; in pre-order they are the only
        ancestors a chunk misses), recomputed as context only: at most depth - 1 extra positions.
        """
        if max_nodes < 1:
            raise ValueError(f"max_nodes must be >= 1, got {max_nodes}")
        if max_nodes not in self._chunks:
            inner, chunks = self.inner, []
            for k in range(0, len(inner), max_nodes):
                lead = self.ancestors(inner[k])
                context = lead + inner[k:k + max_nodes]
                where = {v: j for j, v in enumerate(context)}
                sees = torch.zeros(len(context), len(context), dtype=torch.bool)
                for i, v in enumerate(context):
                    sees[i, [where[a] for a in self.ancestors(v) + [v]]] = True
                chunks.append(TreeChunk(context, torch.tensor([self.tokens[v] for v in context]),
                                        torch.tensor([self.depths[v] for v in context]), sees,
                                        self._edges(context, skip=len(lead))))
            self._chunks[max_nodes] = chunks
        return self._chunks[max_nodes]
