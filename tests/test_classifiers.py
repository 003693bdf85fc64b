"""The three classifiers against plain, unbatched reference computations.

Every reference runs one sample at a time through the LM (`lm(inputs_embeds=...)`, no padding,
no cache, no attention mask), so padding sides, position ids, KV-cache reuse and index
arithmetic in gadlib are all checked against the obvious computation.
"""
from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gadlib.core.classifier import Batch, collate
from gadlib.core.discriminative import DiscriminativeClassifier
from gadlib.core.gad import ORDERS, GADClassifier
from gadlib.core.generative import GenerativeClassifier, LabelPrefixTree
from gadlib.core.methods import METHODS
from gadlib.lms.build import build_classifier
from gadlib.core.prompts import LABEL_SET_OF_KIND
from gadlib.data.samples import task_recognition_samples

ATOL = 1e-4  # float32 CPU; log-likelihoods are O(10)


# ---------------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------------

def full_logprobs(mllm, embeds: torch.Tensor) -> torch.Tensor:
    """[L, V] next-token log-probs of one unpadded sequence, one plain forward."""
    return mllm.lm(inputs_embeds=embeds[None]).logits[0].float().log_softmax(-1)


def last_hidden(mllm, embeds: torch.Tensor) -> torch.Tensor:
    """[L, H] last-layer (normed) hidden states of one unpadded sequence."""
    return mllm.lm.get_decoder()(inputs_embeds=embeds[None]).last_hidden_state[0]


def reference_log_likelihoods(clf: GenerativeClassifier, batch: Batch) -> torch.Tensor:
    """[B, C]: one full forward per (sample, class), summing log p at label + EOS positions."""
    mllm, label_set = clf.mllm, batch.label_set
    prefixes = mllm.prefix_embeds(batch.visual, batch.kinds)
    out = torch.zeros(len(batch), len(clf.label_names[label_set]))
    for i, p in enumerate(prefixes):
        for c in range(out.shape[1]):
            toks = clf.label_tokens(label_set, c)
            lp = full_logprobs(mllm, torch.cat([p, mllm.embed_tokens(toks)]))
            out[i, c] = sum(lp[len(p) - 1 + j, t] for j, t in enumerate(toks))
    return out


def per_chunk_log_likelihoods(clf: GenerativeClassifier, batch: Batch, budget: int = 2 ** 25) -> torch.Tensor:
    """[B, C]: gadlib's exact scoring before the prefix tree, kept verbatim as a second reference
    (and timed against the tree by benchmarks/speed.py): one prefill, then every class's label
    tokens fed after a deep copy of the prefill's KV cache, classes grouped by label length and
    chunked to `budget` logits, full-vocabulary log-softmax at every label position."""
    label_set, lm = batch.label_set, clf.mllm.lm
    seqs = [clf.label_tokens(label_set, c) for c in range(len(clf.label_names[label_set]))]
    embeds, mask, positions = clf.mllm.pad(clf.mllm.prefix_embeds(batch.visual, batch.kinds), left=True)
    out = lm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True,
             logits_to_keep=1)
    first = out.logits[:, -1].float().log_softmax(-1)
    scores = first[:, [s[0] for s in seqs]].clone()
    by_length = defaultdict(list)
    for c, s in enumerate(seqs):
        by_length[len(s)].append(c)
    n, dev = len(batch), embeds.device
    for length, classes in by_length.items():
        steps = length - 1
        if steps == 0:
            continue
        inputs = torch.tensor([seqs[c][:-1] for c in classes], device=dev)
        gold = torch.tensor([seqs[c][1:] for c in classes], device=dev)
        chunk = max(1, budget // (n * steps * len(clf.mllm.tokenizer)))
        for c0 in range(0, len(classes), chunk):
            k = len(classes[c0:c0 + chunk])
            cache = copy.deepcopy(out.cache)
            cache.batch_repeat_interleave(k)
            attn = torch.cat([mask.repeat_interleave(k, 0), mask.new_ones(n * k, steps)], 1)
            pos = positions[:, -1:].repeat_interleave(k, 0) + 1 + torch.arange(steps, device=dev)
            logits = lm(input_ids=inputs[c0:c0 + k].repeat(n, 1), attention_mask=attn, position_ids=pos,
                        cache=cache, use_cache=True).logits.float().log_softmax(-1)
            lp = logits.gather(-1, gold[c0:c0 + k].repeat(n, 1)[..., None])[..., 0].sum(-1)
            scores[:, classes[c0:c0 + k]] += lp.view(n, k)
    return scores


def reference_greedy(clf: GenerativeClassifier, batch: Batch) -> list[list[int]]:
    """No-cache greedy loop: full forward over prefix + generated tokens each step, argmax,
    stop at EOS (not returned) or after the longest label (+ 1 for its EOS)."""
    mllm, tok = clf.mllm, clf.mllm.tokenizer
    max_new = max(len(s) for s in clf.label_spaces[batch.label_set].sequences) + int(getattr(clf, "label_eos", True))
    out = []
    for p in mllm.prefix_embeds(batch.visual, batch.kinds):
        gen = []
        for _ in range(max_new):
            seq = torch.cat([p, mllm.embed_tokens(gen)]) if gen else p
            positions = torch.arange(len(seq))[None]
            logits = mllm.lm(inputs_embeds=seq[None], position_ids=positions).logits[0, -1]
            nxt = int(logits.argmax())
            if nxt == tok.eos_token_id:
                break
            gen.append(nxt)
        out.append(gen)
    return out


def reference_gad_loss(clf: GADClassifier, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(classification loss, generation loss) of GAD for its order, one sample at a time."""
    mllm = clf.mllm
    cls = mllm.cls_query[None]
    h_cls, token_nll = [], []
    for p, kind, target, ctx in zip(mllm.prefix_embeds(batch.visual, batch.kinds), batch.kinds,
                                    batch.targets.tolist(), batch.contexts):
        text = ctx if clf.generate == "context" else clf.label_names[LABEL_SET_OF_KIND[kind]][target]
        if clf.order == "gen_first" and kind != "oad":  # written before [CLS]: the answer cut off
            answer = clf.label_names[LABEL_SET_OF_KIND[kind]][target]  # step / next: "<task>." is left; task: ""
            text = "" if text == answer + "." else text.removeprefix(answer + ". ")
        toks = mllm.tokenizer(text, add_special_tokens=False)["input_ids"] + [mllm.tokenizer.eos_token_id]
        ctx_emb = mllm.embed_tokens(toks)
        if clf.order == "disc_first":    # [prefix][CLS][context]: CLS predicts the first token
            seq, first = torch.cat([p, cls, ctx_emb]), len(p)
            h = last_hidden(mllm, seq)[len(p)]
        elif clf.order == "gen_first":   # [prefix][context][CLS]
            seq, first = torch.cat([p, ctx_emb, cls]), len(p) - 1
            h = last_hidden(mllm, seq)[len(p) + len(toks)]
        else:                             # [prefix][CLS] and [prefix][context]
            seq, first = torch.cat([p, ctx_emb]), len(p) - 1
            h = last_hidden(mllm, torch.cat([p, cls]))[-1]
        lp = full_logprobs(mllm, seq)
        token_nll += [-lp[first + j, t] for j, t in enumerate(toks)]
        h_cls.append(h)
    logits = clf.heads[batch.label_set](torch.stack(h_cls))
    return F.cross_entropy(logits, batch.targets), torch.stack(token_nll).mean()


# ---------------------------------------------------------------------------------------------
# Generative: exact scoring and greedy decoding
# ---------------------------------------------------------------------------------------------

def test_mixed_batch_has_different_prefix_lengths(trained, mixed_batch):
    clf = trained("generative")
    lengths = [len(p) for p in clf.mllm.prefix_embeds(mixed_batch.visual, mixed_batch.kinds)]
    assert len(set(lengths)) > 1 and mixed_batch.label_set == "steps"


@pytest.mark.parametrize("mapping,kwargs", [("text", {}), ("extend", {}), ("extend", {"label_eos": True})])
def test_exact_scores_equal_teacher_forced_reference(trained, mixed_batch, mapping, kwargs):
    clf = trained("generative", mapping=mapping, **kwargs)
    with torch.no_grad():
        ref = reference_log_likelihoods(clf, mixed_batch)
        scores = clf.class_log_likelihoods(mixed_batch)
    assert scores.shape == ref.shape
    torch.testing.assert_close(scores, ref, atol=ATOL, rtol=0)
    # Not a degenerate check: the scores differ across classes and across samples.
    assert ref.std(1).min() > 0.1 and (ref - ref.mean(0)).abs().max() > 0.1
    pred = clf.predict(mixed_batch, decoding="exact")
    np.testing.assert_array_equal(pred.pred, ref.argmax(1).numpy())
    np.testing.assert_allclose(pred.scores, ref.numpy(), atol=ATOL, rtol=0)


@pytest.mark.parametrize("max_nodes,budget", [(1, 1), (2, 2 ** 25), (3, 10 ** 4), (10 ** 6, 2 ** 25)])
def test_exact_scores_do_not_depend_on_the_chunking(trained, mixed_batch, max_nodes, budget):
    """One node per forward (every chunk re-reads its ancestors), a few, or the whole tree at
    once; the LM head on one row at a time or many: the same scores as the old per-class method."""
    clf = trained("generative")
    assert len(clf.label_tree("steps").inner) > 3  # the small chunk sizes really split the tree
    with torch.no_grad():
        scores = clf.class_log_likelihoods(mixed_batch, max_nodes=max_nodes, budget=budget)
        old = per_chunk_log_likelihoods(clf, mixed_batch)
    torch.testing.assert_close(scores, old, atol=ATOL, rtol=0)
    torch.testing.assert_close(scores, reference_log_likelihoods(clf, mixed_batch).detach(), atol=ATOL, rtol=0)


def test_exact_scores_of_overlapping_labels_equal_the_per_class_method(names, visual_dim, mixed_batch):
    """A label set made of shared words (many classes per first token, labels that are prefixes
    of others without EOS): tree scores = old method = teacher forcing."""
    words = names["steps"][0].split() + names["steps"][1].split()
    overlap = [words[0], f"{words[0]} {words[1]}", f"{words[0]} {words[1]} {words[-1]}", f"{words[0]} {words[-1]}",
               f"{words[1]} {words[0]}", f"{words[1]}"]
    for label_eos in (True, False):
        clf = build_classifier("generative", {"steps": overlap}, visual_dim, seed=3, label_eos=label_eos).eval()
        tree = clf.label_tree("steps")
        n_tokens = sum(len(clf.label_tokens("steps", c)) for c in range(len(overlap)))
        assert tree.num_nodes - 1 < n_tokens  # shared prefixes are shared nodes
        with torch.no_grad():
            ref = reference_log_likelihoods(clf, mixed_batch)
            for max_nodes in (1, 2, 256):
                scores = clf.class_log_likelihoods(mixed_batch, max_nodes=max_nodes)
                torch.testing.assert_close(scores, ref, atol=ATOL, rtol=0)
            torch.testing.assert_close(per_chunk_log_likelihoods(clf, mixed_batch), ref, atol=ATOL, rtol=0)


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_tree_attention_mask_works_with_either_attention_kernel(names, visual_dim, mixed_batch, attention):
    """The packed tree chunks rely on a custom 4-D additive mask: both kernels must honour it."""
    clf = build_classifier("generative", names, visual_dim, seed=7).eval()
    clf.mllm.lm.set_attn_implementation(attention)
    assert clf.mllm.lm.config._attn_implementation == attention
    with torch.no_grad():
        torch.testing.assert_close(clf.class_log_likelihoods(mixed_batch, max_nodes=4),
                                   reference_log_likelihoods(clf, mixed_batch), atol=ATOL, rtol=0)


def test_label_prefix_tree_by_hand():
    #   root -> 5 -> 6 -> 9      labels: [5, 6, 9], [5, 6], [5, 7], [8]
    #             -> 7
    #        -> 8
    tree = LabelPrefixTree([[5, 6, 9], [5, 6], [5, 7], [8]])
    assert LabelPrefixTree([[5, 6], [5, 6]]).paths.tolist() == [[1, 2], [1, 2]]  # equal labels, one path
    assert tree.tokens == [-1, 5, 6, 9, 7, 8] and tree.parents == [-1, 0, 1, 2, 1, 0]
    assert tree.depths == [0, 1, 2, 3, 2, 1] and tree.children[0] == [1, 5] and tree.children[1] == [2, 4]
    assert tree.paths.tolist() == [[1, 2, 3], [1, 2, 0], [1, 4, 0], [5, 0, 0]]
    assert tree.inner == [1, 2] and tree.ancestors(3) == [1, 2]
    whole, = tree.chunks(10)
    assert whole.context == [1, 2] and whole.sees.tolist() == [[True, False], [True, True]]
    assert whole.children.nodes.tolist() == [2, 4, 3] and whole.children.rows.tolist() == [0, 0, 1]
    first, second = tree.chunks(1)  # node 2's chunk re-reads its ancestor 1 as context only
    assert second.context == [1, 2] and second.children.nodes.tolist() == [3] and second.children.rows.tolist() == [1]
    assert second.depths.tolist() == [1, 2] and second.tokens.tolist() == [5, 6]
    with pytest.raises(ValueError, match="at least one token"):
        LabelPrefixTree([[1], []])
    with pytest.raises(ValueError, match="max_nodes"):
        tree.chunks(0)


def test_generative_loss_is_the_mean_nll_of_the_target_labels(trained, mixed_batch):
    """Training (right padding, teacher forcing) and scoring (left padding, cache) agree."""
    clf = trained("generative")
    with torch.no_grad():
        loss = clf.loss(mixed_batch)
        ll = reference_log_likelihoods(clf, mixed_batch)
    targets = mixed_batch.targets
    n_tokens = sum(len(clf.label_tokens("steps", t)) for t in targets.tolist())
    expected = -ll[torch.arange(len(targets)), targets].sum() / n_tokens
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mapping", ["text", "extend"])
def test_greedy_decoding_equals_a_no_cache_reference_loop(trained, mixed_batch, mapping):
    clf = trained("generative", mapping=mapping)
    with torch.no_grad():
        ref = reference_greedy(clf, mixed_batch)
        assert clf.greedy_decode(mixed_batch) == ref
        assert clf.greedy_decode(mixed_batch, use_cache=False) == ref
    # A trained model: outputs are label-like and differ across samples.
    assert len({tuple(r) for r in ref}) > 1 and any(len(r) >= 1 for r in ref)
    pred = clf.predict(mixed_batch, decoding="greedy")
    space = clf.label_spaces["steps"]
    expected = -np.stack([space.snap(g, clf.mllm.tokenizer) for g in ref])
    np.testing.assert_array_equal(pred.scores, expected)
    np.testing.assert_array_equal(pred.pred, expected.argmax(1))


def test_forced_greedy_decoding_runs_exactly_new_tokens_steps(trained, mixed_batch):
    clf = trained("generative")
    with torch.no_grad():
        free = reference_greedy(clf, mixed_batch)
        forced = clf.greedy_decode(mixed_batch, new_tokens=9)
    assert all(len(f) == 9 for f in forced)  # past the label and its EOS: EOS is suppressed
    assert all(f[:len(g)] == g for f, g in zip(forced, free))  # the same greedy path until then
    with pytest.raises(ValueError, match="new_tokens must be >= 1"):
        clf.greedy_decode(mixed_batch, new_tokens=0)


def test_greedy_decoding_of_a_sample_does_not_depend_on_its_batch(trained, mixed_batch):
    clf = trained("generative")
    with torch.no_grad():
        together = clf.greedy_decode(mixed_batch)
        alone = [clf.greedy_decode(Batch([v], [k], t[None], [c]))[0]
                 for v, k, t, c in zip(mixed_batch.visual, mixed_batch.kinds, mixed_batch.targets,
                                       mixed_batch.contexts)]
    assert together == alone


def test_unknown_decoding_raises(trained, mixed_batch):
    with pytest.raises(ValueError, match="decoding must be one of"):
        trained("generative").predict(mixed_batch, decoding="beam")


# ---------------------------------------------------------------------------------------------
# Discriminative and GAD
# ---------------------------------------------------------------------------------------------

def test_discriminative_predict_equals_reference(trained, mixed_batch):
    clf = trained("discriminative")
    with torch.no_grad():
        prefixes = clf.mllm.prefix_embeds(mixed_batch.visual, mixed_batch.kinds)
        h = torch.stack([last_hidden(clf.mllm, torch.cat([p, clf.mllm.cls_query[None]]))[-1] for p in prefixes])
        ref = clf.heads["steps"](h).log_softmax(-1)
        pred = clf.predict(mixed_batch)
    np.testing.assert_allclose(pred.scores, ref.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(pred.pred, ref.argmax(1).numpy())
    ce = F.cross_entropy(clf.heads["steps"](h), mixed_batch.targets)
    torch.testing.assert_close(clf.loss(mixed_batch).detach(), ce, atol=1e-5, rtol=0)


def test_cls_hidden_is_padding_invariant(trained, mixed_batch):
    clf = trained("discriminative")
    lengths = [len(p) for p in clf.mllm.prefix_embeds(mixed_batch.visual, mixed_batch.kinds)]
    short = int(np.argmin(lengths))
    long = int(np.argmax(lengths))
    one = lambda i: Batch([mixed_batch.visual[i]], [mixed_batch.kinds[i]], mixed_batch.targets[i:i + 1],
                          [mixed_batch.contexts[i]])
    pair = Batch([mixed_batch.visual[short], mixed_batch.visual[long]],
                 [mixed_batch.kinds[short], mixed_batch.kinds[long]],
                 mixed_batch.targets[[short, long]], [mixed_batch.contexts[short]] * 2)
    with torch.no_grad():
        h_pair = clf.readout_state(pair)
        torch.testing.assert_close(h_pair[0], clf.readout_state(one(short))[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(h_pair[1], clf.readout_state(one(long))[0], atol=1e-5, rtol=0)
        # ... and the [CLS] state does depend on the video (not a constant).
        assert (h_pair[0] - h_pair[1]).abs().max() > 1e-2


@pytest.mark.parametrize("generate", ("context", "label"))
@pytest.mark.parametrize("order", ORDERS)
def test_gad_predicts_like_discriminative_and_adds_a_generation_loss(names, visual_dim, trained,
                                                                      mixed_batch, order, generate):
    if order == "gen_first" and generate == "label":
        pytest.skip("refused: it would write the answer before [CLS] (tests/test_gad_ablations.py)")
    disc = trained("discriminative")  # trained: weights differ from any fresh initialisation
    gad = build_classifier("gad", names, visual_dim, seed=0, order=order, generate=generate, lam=0.7)
    missing, unexpected = gad.load_state_dict(disc.state_dict(), strict=False)
    assert not missing and not unexpected
    gad.eval()
    if order != "gen_first":  # gen_first writes its context before [CLS] at inference too
        a, b = disc.predict(mixed_batch), gad.predict(mixed_batch)
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(a.pred, b.pred)

    with torch.no_grad():
        disc_loss, gad_loss = disc.loss(mixed_batch), gad.loss(mixed_batch)
        ref_cls, ref_gen = reference_gad_loss(gad, mixed_batch)
    torch.testing.assert_close(gad_loss, ref_cls + 0.7 * ref_gen, atol=1e-4, rtol=0)
    assert ref_gen > 0.5 and (gad_loss - disc_loss).abs() > 0.3  # the generation term is there
    if order != "gen_first":  # [CLS] sees exactly what it sees at test time
        torch.testing.assert_close(ref_cls, disc_loss, atol=1e-5, rtol=0)
    gad.lam = 0.0
    with torch.no_grad():
        torch.testing.assert_close(gad.loss(mixed_batch), ref_cls, atol=1e-5, rtol=0)


def test_gad_generation_targets(names, visual_dim, mixed_batch):
    for generate in ("context", "label"):
        gad = build_classifier("gad", names, visual_dim, generate=generate)
        tok = gad.mllm.tokenizer
        targets = gad.generation_targets(mixed_batch)
        texts = mixed_batch.contexts if generate == "context" else [names["steps"][t] for t in mixed_batch.targets]
        assert [tok.decode(t[:-1]) for t in targets] == texts
        assert all(t[-1] == tok.eos_token_id for t in targets)
    # COIN steps: GAD generates "<step>. <task>." (the step of the segment, then the task goal).
    assert mixed_batch.contexts[0].startswith(names["steps"][int(mixed_batch.targets[0])] + ". ")
    with pytest.raises(ValueError, match="order must be one of"):
        build_classifier("gad", names, visual_dim, order="gen_last")
    with pytest.raises(ValueError, match="generate must be one of"):
        build_classifier("gad", names, visual_dim, generate="everything")


def test_same_seed_same_initialisation_different_seed_different(names, visual_dim):
    a, b = (build_classifier("discriminative", names, visual_dim, seed=5) for _ in range(2))
    c = build_classifier("discriminative", names, visual_dim, seed=6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["mllm.cls_query"], sc["mllm.cls_query"])
    assert isinstance(a, DiscriminativeClassifier) and set(METHODS) == {"generative", "discriminative", "gad"}


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", sorted(METHODS))
def test_bad_input_raises_clear_value_errors(names, visual_dim, dataset, test_samples, method):
    clf = build_classifier(method, names, visual_dim)
    good = collate(test_samples[:2])

    wrong_dim = dataclasses.replace(good, visual=[torch.zeros(4, visual_dim + 3), good.visual[1]])
    with pytest.raises(ValueError, match=rf"\[N, {visual_dim}\], got \(4, {visual_dim + 3}\)"):
        clf.loss(wrong_dim)
    with pytest.raises(ValueError, match=rf"got \(4, {visual_dim + 3}\)"):
        clf.predict(wrong_dim)
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        clf.loss(dataclasses.replace(good, visual=[torch.zeros(4), good.visual[1]]))

    for bad in (len(names["steps"]), -1):
        with pytest.raises(ValueError, match="outside label set 'steps'"):
            clf.loss(dataclasses.replace(good, targets=torch.tensor([0, bad])))

    tasks = task_recognition_samples(dataset, "test", num_frames=2)
    with pytest.raises(ValueError, match="no label set 'tasks'"):
        clf.loss(collate(tasks[:2]))
    with pytest.raises(ValueError, match="'tasks'"):
        clf.predict(collate(tasks[:2]))
    mixed = collate([test_samples[0], tasks[0]])
    with pytest.raises(ValueError, match="one label set"):
        clf.predict(mixed)


def test_collate_rejects_empty_and_non_finite(test_samples):
    with pytest.raises(ValueError, match="empty batch"):
        collate([])
    for value in (np.nan, np.inf):
        s = dataclasses.replace(test_samples[0], visual=test_samples[0].visual.copy())
        s.visual[1, 2] = value
        with pytest.raises(ValueError, match=f"NaN or inf .* {s.video_id!r}"):
            collate([test_samples[1], s])
    batch = collate(test_samples[:3])
    assert batch.targets.dtype == torch.long and batch.targets.tolist() == [s.target for s in test_samples[:3]]
    assert all(v.dtype == torch.float32 for v in batch.visual) and len(batch) == 3


def test_unknown_method_or_mapping_raises(names, visual_dim):
    with pytest.raises(ValueError, match="unknown method 'generate'"):
        build_classifier("generate", names, visual_dim)
    with pytest.raises(ValueError, match="unknown label mapping"):
        build_classifier("generative", names, visual_dim, mapping="shuffled")


# ---------------------------------------------------------------------------------------------
# Joint training over several label sets, and OAD background weighting
# ---------------------------------------------------------------------------------------------

def test_losses_of_a_batch_mixing_label_sets_equal_per_sample_references(dataset, names, visual_dim, test_samples):
    """COIN trains step recognition and task recognition jointly: one head per label set."""
    joint = {"steps": names["steps"], "tasks": list(dataset.task_names)}
    tasks = task_recognition_samples(dataset, "test", num_frames=3)
    batch = collate([test_samples[0], tasks[0], test_samples[1], tasks[1]])
    disc = build_classifier("discriminative", joint, visual_dim, seed=2)
    gen = build_classifier("generative", joint, visual_dim, seed=2)
    with torch.no_grad():
        prefixes = disc.mllm.prefix_embeds(batch.visual, batch.kinds)
        ce = []
        for p, k, t in zip(prefixes, batch.kinds, batch.targets.tolist()):
            h = last_hidden(disc.mllm, torch.cat([p, disc.mllm.cls_query[None]]))[-1]
            ce.append(F.cross_entropy(disc.heads[LABEL_SET_OF_KIND[k]](h)[None], torch.tensor([t])))
        torch.testing.assert_close(disc.loss(batch), torch.stack(ce).mean(), atol=1e-5, rtol=0)

        nll, n = 0.0, 0
        for p, k, t in zip(gen.mllm.prefix_embeds(batch.visual, batch.kinds), batch.kinds, batch.targets.tolist()):
            toks = gen.label_tokens(LABEL_SET_OF_KIND[k], t)
            lp = full_logprobs(gen.mllm, torch.cat([p, gen.mllm.embed_tokens(toks)]))
            nll -= sum(lp[len(p) - 1 + j, tok] for j, tok in enumerate(toks))
            n += len(toks)
        torch.testing.assert_close(gen.loss(batch), nll / n, atol=1e-5, rtol=0)
    # Predictions use the batch's one label set, with that set's number of classes.
    assert disc.predict(collate(tasks[:3])).scores.shape == (3, len(joint["tasks"]))
    assert gen.predict(collate(tasks[:3]), decoding="exact").scores.shape == (3, len(joint["tasks"]))


def test_oad_background_samples_are_down_weighted(visual_dim):
    oad_names = {"oad": ["background", "add salt", "stir soup"]}
    clf = build_classifier("discriminative", oad_names, visual_dim, background_weight=0.2)
    g = torch.Generator().manual_seed(0)
    batch = Batch([torch.randn(3, visual_dim, generator=g) for _ in range(4)], ["oad"] * 4,
                  torch.tensor([0, 1, 0, 2]), ["none"] * 4)
    with torch.no_grad():
        h = clf.readout_state(batch)
        ce = F.cross_entropy(clf.heads["oad"](h), batch.targets, reduction="none")
        w = torch.tensor([0.2, 1.0, 0.2, 1.0])
        torch.testing.assert_close(clf.loss(batch), (ce * w).sum() / w.sum(), atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------------
# The prompt-embedding cache never serves stale embeddings nor cuts the training graph
# ---------------------------------------------------------------------------------------------

def _fresh_prompt(mllm, kind):
    return tuple(mllm.embed_tokens(ids) for ids in mllm.prompts.ids[kind])


def test_prompt_cache_follows_optimizer_steps_and_keeps_gradients(names, visual_dim, test_samples):
    """Embedded LM = full fine-tuning: the embedding matrix is trained, so a cached prompt must
    be refreshed after every step, and training must get gradients to the prompt tokens' rows."""
    clf = build_classifier("discriminative", names, visual_dim, seed=4)
    batch = collate(test_samples[:3])
    embedding = clf.mllm.lm.get_input_embeddings().weight
    optimizer = torch.optim.SGD([p for p in clf.parameters() if p.requires_grad], lr=1.0)
    prompt_rows = sorted({i for part in clf.mllm.prompts.ids["step"] for i in part})
    for _ in range(2):
        clf.eval()
        with torch.no_grad():
            before = clf.predict(batch).scores
            cached = clf.mllm.prompt_embeds("step")
            assert clf.mllm.prompt_embeds("step") is cached  # served from the cache
        clf.train()
        optimizer.zero_grad()
        clf.loss(batch).backward()  # after a cached eval call: the graph must reach the embedding
        assert embedding.grad[prompt_rows].abs().sum(1).min() > 0
        optimizer.step()
        clf.eval()
        with torch.no_grad():
            after = clf.mllm.prompt_embeds("step")
            for got, want in zip(after, _fresh_prompt(clf.mllm, "step")):
                torch.testing.assert_close(got, want, atol=0, rtol=0)
            assert (after[1] - cached[1]).abs().max() > 1e-3  # the step did change them
            assert np.abs(clf.predict(batch).scores - before).max() > 1e-4


def test_prompt_cache_follows_load_state_dict_and_frozen_embeddings(names, visual_dim, test_samples):
    a = build_classifier("generative", names, visual_dim, seed=5).eval()
    b = build_classifier("generative", names, visual_dim, seed=6).eval()
    with torch.no_grad():
        stale = a.mllm.prompt_embeds("next")
        a.load_state_dict(b.state_dict())
        for got, want in zip(a.mllm.prompt_embeds("next"), b.mllm.prompt_embeds("next")):
            torch.testing.assert_close(got, want, atol=0, rtol=0)
        assert (a.mllm.prompt_embeds("next")[0] - stale[0]).abs().max() > 1e-3
    # A frozen embedding (LoRA) is cached with gradients on too, and still follows in-place edits.
    a.mllm.lm.get_input_embeddings().weight.requires_grad_(False)
    first = a.mllm.prompt_embeds("step")
    assert a.mllm.prompt_embeds("step") is first and not first[0].requires_grad
    with torch.no_grad():
        a.mllm.lm.get_input_embeddings().weight.mul_(2)
    torch.testing.assert_close(a.mllm.prompt_embeds("step")[0], 2 * first[0])


# ---------------------------------------------------------------------------------------------
# extend's options: label_eos (None = no EOS for extend) and extend_init
# ---------------------------------------------------------------------------------------------

def test_label_eos_default_is_no_eos_for_extend_only(names, visual_dim):
    eos = None
    for mapping in ("text", "rand", "desync", "extend"):
        clf = build_classifier("generative", names, visual_dim, seed=0, mapping=mapping)
        eos = clf.mllm.tokenizer.eos_token_id
        assert clf.label_eos == (mapping != "extend"), mapping
        assert (clf.label_tokens("steps", 0)[-1] == eos) == (mapping != "extend"), mapping
    for label_eos in (True, False):  # an explicit choice wins for every mapping
        for mapping in ("text", "extend"):
            clf = build_classifier("generative", names, visual_dim, seed=0, mapping=mapping, label_eos=label_eos)
            assert clf.label_eos is label_eos
            assert (clf.label_tokens("steps", 0)[-1] == eos) is label_eos
    with pytest.raises(ValueError, match="label_eos must be None, True or False, got 'yes'"):
        build_classifier("generative", names, visual_dim, mapping="extend", label_eos="yes")
    with pytest.raises(ValueError, match="init must be one of"):
        build_classifier("generative", names, visual_dim, mapping="extend", extend_init="zeros")


def test_extend_without_eos_is_one_softmax_at_the_last_prompt_position(trained, mixed_batch):
    """Without EOS an extend label is one token: greedy decoding takes one step (the argmax over
    the whole vocabulary) and exact scoring is log p(class token) at the last prompt position,
    recomputed here with a plain unpadded forward per sample."""
    clf = trained("generative", mapping="extend")
    assert clf.label_eos is False
    ids = [s[0] for s in clf.label_spaces["steps"].sequences]
    eos = clf.mllm.tokenizer.eos_token_id
    with torch.no_grad():
        last = torch.stack([full_logprobs(clf.mllm, p)[-1]
                            for p in clf.mllm.prefix_embeds(mixed_batch.visual, mixed_batch.kinds)])
        decoded = clf.greedy_decode(mixed_batch)
        scores = clf.class_log_likelihoods(mixed_batch)
    assert decoded == [[] if t == eos else [t] for t in last.argmax(-1).tolist()]
    torch.testing.assert_close(scores, last[:, ids], atol=ATOL, rtol=0)
    assert (scores.argmax(1) == last[:, ids].argmax(1)).all() and scores.std(1).min() > 0.1
    # Trained without EOS, the class tokens hold far more than a uniform share of the mass there.
    assert last[:, ids].exp().sum(1).min() > 50 * len(ids) / last.shape[1]
    # With EOS the exact score adds log p(EOS | class): a different model and score.
    with_eos = trained("generative", mapping="extend", label_eos=True)
    assert with_eos.label_tree("steps").num_nodes > clf.label_tree("steps").num_nodes


@pytest.mark.parametrize("kwargs", [{}, {"label_eos": True, "extend_init": "normal"}])
def test_checkpoint_rebuilds_extends_options(names, visual_dim, train_samples, mixed_batch, tmp_path, kwargs):
    from gadlib.core.checkpoint import save_checkpoint
    from gadlib.lms.build import load_classifier
    from gadlib.core.training import TrainConfig, train

    clf = build_classifier("generative", names, visual_dim, seed=1, mapping="extend", **kwargs)
    train(clf, train_samples[:32], TrainConfig(epochs=1, batch_size=16, lr=2e-3, progress=False))
    clf.eval()
    loaded = load_classifier(save_checkpoint(tmp_path / "ckpt", clf))
    assert loaded.spec["method_kwargs"] == {"mapping": "extend", **kwargs}
    assert loaded.label_eos == clf.label_eos == kwargs.get("label_eos", False)
    with torch.no_grad():
        torch.testing.assert_close(loaded.class_log_likelihoods(mixed_batch), clf.class_log_likelihoods(mixed_batch),
                                   atol=0, rtol=0)
        assert loaded.greedy_decode(mixed_batch) == clf.greedy_decode(mixed_batch)


def test_lora_trainable_tokens_start_from_the_linear_init(names, visual_dim):
    """peft's trainable token rows copy the class rows when LoRA is applied: the LoRA model starts
    from the same head-like rows as the fully fine-tuned one (same seed)."""
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    from gadlib.core.backbone import BackboneConfig

    full = build_classifier("generative", names, visual_dim, seed=2, mapping="extend")
    lora = build_classifier("generative", names, visual_dim, backbone=BackboneConfig(lora=True, lora_r=4, lora_alpha=8),
                            seed=2, mapping="extend")
    ids = lora.new_token_ids
    assert ids == full.new_token_ids
    want = full.mllm.lm.get_output_embeddings().weight[ids]
    layers = [m for m in lora.mllm.lm.modules() if isinstance(m, TrainableTokensLayer)
              and not isinstance(m.base_layer, torch.nn.Embedding)]
    assert len(layers) == 1
    got = layers[0].get_merged_weights(layers[0].active_adapters)[ids]
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    bound = full.mllm.lm.config.hidden_size ** -0.5  # nn.Linear's kaiming-uniform bound
    assert want.abs().max() <= bound and want.std() > 2 * 0.02
