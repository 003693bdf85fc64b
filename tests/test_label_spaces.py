"""Label spaces: the paper's four label -> token mappings (text / rand / desync / extend)."""
from itertools import product

import numpy as np
import pytest
import torch

from gadlib.data.benchmark import tokenizer_corpus
from gadlib.core.label_spaces import EXTEND_INITS, MAPPINGS, LabelSpace, excluded_token_ids, token_overlap_stats
from gadlib.lms.build import build_classifier
from gadlib.lms.tokenizer import train_embedded_tokenizer

# Labels with shared words (first word and later words), as in the paper's "add sugar / add salt".
NAMES = ["add sugar", "add salt", "add brown sugar", "pour olive oil", "pour water", "stir soup",
         "cut spring onion", "cut onion"]


@pytest.fixture(scope="module")
def tok():
    return train_embedded_tokenizer(tokenizer_corpus())


def _positions(seqs):
    return [(c, p) for c, s in enumerate(seqs) for p in range(len(s))]


def test_mappings_are_the_papers_four():
    assert MAPPINGS == ("text", "rand", "desync", "extend")


def test_text_is_the_tokenizers_own_subwords(tok):
    space = LabelSpace(NAMES, tok, "text")
    assert space.sequences == [tok(n, add_special_tokens=False)["input_ids"] for n in NAMES]
    assert [tok.decode(s) for s in space.sequences] == NAMES
    # The embedded tokenizer splits labels into several sub-words that overlap across classes:
    # the premise of the paper's claim 1.
    stats = space.overlap_stats()
    assert stats["tokens_per_label"] > 1.5
    assert stats["share_first_token_shared"] == 7 / 8  # every class but "stir soup" shares its verb


def test_rand_keeps_exactly_the_overlap_pattern_of_text(tok):
    text = LabelSpace(NAMES, tok, "text").sequences
    rand = LabelSpace(NAMES, tok, "rand", seed=3).sequences
    assert [len(s) for s in rand] == [len(s) for s in text]
    pos = _positions(text)
    for (c1, p1), (c2, p2) in product(pos, pos):
        assert (text[c1][p1] == text[c2][p2]) == (rand[c1][p1] == rand[c2][p2]), (c1, p1, c2, p2)
    # A bijection between the used text tokens and the used random tokens.
    pairs = {(text[c][p], rand[c][p]) for c, p in pos}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    # Meaning is removed: the random tokens are not the text tokens, and none is special.
    assert sum(a == b for a, b in pairs) <= 1
    assert not {b for _, b in pairs} & set(tok.all_special_ids)
    assert all(0 <= b < len(tok) for _, b in pairs)
    # Same overlap statistics as text, by construction.
    assert token_overlap_stats(rand) == token_overlap_stats(text)


def test_rand_and_desync_are_seeded(tok):
    for mapping in ("rand", "desync"):
        a, b = (LabelSpace(NAMES, tok, mapping, seed=s).sequences for s in (0, 0))
        c = LabelSpace(NAMES, tok, mapping, seed=1).sequences
        assert a == b and a != c


def test_desync_shares_no_token_between_classes(tok):
    text = LabelSpace(NAMES, tok, "text").sequences
    desync = LabelSpace(NAMES, tok, "desync", seed=0).sequences
    assert [len(s) for s in desync] == [len(s) for s in text]  # multi-token kept
    flat = [t for s in desync for t in s]
    assert len(set(flat)) == len(flat)  # no token repeats anywhere, across or within classes
    assert not set(flat) & set(tok.all_special_ids)
    assert all(0 <= t < len(tok) for t in flat)
    stats = token_overlap_stats(desync)
    assert stats["share_first_token_shared"] == 0.0 and stats["share_any_token_shared"] == 0.0


def test_desync_refuses_a_too_small_vocabulary(tok):
    long_names = [f"{'add ' * 400}x{i}" for i in range(20)]  # thousands of tokens in all
    with pytest.raises(ValueError, match="desync needs"):
        LabelSpace(long_names, tok, "desync")


def test_extend_adds_one_new_token_per_class(names, visual_dim):
    all_names = {"steps": names["steps"], "tasks": ["make tea", "make coffee", "fix bike"]}
    text = build_classifier("generative", all_names, visual_dim, seed=0, mapping="text")
    ext = build_classifier("generative", all_names, visual_dim, seed=0, mapping="extend")
    n_new = sum(len(v) for v in all_names.values())
    old_len = len(text.mllm.tokenizer)
    assert len(ext.mllm.tokenizer) == old_len + n_new
    for emb in (lambda m: m.get_input_embeddings(), lambda m: m.get_output_embeddings()):
        w_text, w_ext = emb(text.mllm.lm).weight, emb(ext.mllm.lm).weight
        assert w_ext.shape == (w_text.shape[0] + n_new, w_text.shape[1])
        assert torch.equal(w_ext[:old_len], w_text[:old_len])  # resizing keeps the old rows
    ids = []
    for label_set, space in ext.label_spaces.items():
        assert all(len(s) == 1 for s in space.sequences)
        ids += [s[0] for s in space.sequences]
        for name, tok_str, seq in zip(space.names, space.new_tokens, space.sequences):
            assert ext.mllm.tokenizer(tok_str, add_special_tokens=False)["input_ids"] == seq
        assert ext.label_tokens(label_set, 0) == space.sequences[0]  # one token, no EOS (label_eos=None)
    assert sorted(ids) == list(range(old_len, old_len + n_new))
    # The shared base tokenizer (cached training) is not touched by another model's extension.
    assert len(build_classifier("generative", all_names, visual_dim, seed=0).mllm.tokenizer) == old_len


def test_extend_label_space_reuses_tokens_already_added():
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = train_embedded_tokenizer(tokenizer_corpus())  # a fresh object: add_tokens mutates it
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    old_len = len(tok)
    space = LabelSpace(NAMES, tok, "extend", prefix="steps")
    planned = space.sequences  # the ids add_tokens() will give: appended after the vocabulary
    space.add_tokens(tok, lm)
    assert space.sequences == planned == [[old_len + i] for i in range(len(NAMES))]
    assert len(tok) == old_len + len(NAMES)
    assert lm.get_input_embeddings().weight.shape[0] == lm.get_output_embeddings().weight.shape[0] == len(tok)
    space.add_tokens(tok, lm)  # idempotent
    assert len(tok) == old_len + len(NAMES) and space.sequences == planned
    again = LabelSpace(NAMES, tok, "extend", prefix="steps")  # e.g. a reloaded tokenizer
    assert again.sequences == space.sequences
    assert token_overlap_stats(space.sequences)["share_any_token_shared"] == 0.0


def test_token_overlap_stats_by_hand():
    # class 0 and 1 share their first token; class 3 repeats a token only within itself.
    stats = token_overlap_stats([[1, 2], [1, 3], [4, 5, 6], [8, 8]])
    assert stats == {"num_classes": 4, "tokens_per_label": 2.25, "max_tokens_per_label": 3,
                     "distinct_tokens": 7, "share_first_token_shared": 0.5,
                     "share_any_token_shared": 0.5}
    # Shared later token only: no first token shared, two of three classes share something.
    stats = token_overlap_stats([[1, 2], [3, 2], [4]])
    assert stats["share_first_token_shared"] == 0.0
    assert stats["share_any_token_shared"] == pytest.approx(2 / 3)
    assert stats["distinct_tokens"] == 4 and stats["tokens_per_label"] == pytest.approx(5 / 3)


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_snap_finds_the_class_of_its_own_sequence(mapping):
    tok = train_embedded_tokenizer(tokenizer_corpus())
    space = LabelSpace(NAMES, tok, mapping)
    if mapping == "extend":
        from transformers import LlamaConfig, LlamaForCausalLM
        space.add_tokens(tok, LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16,
                                                           intermediate_size=32, num_hidden_layers=1,
                                                           num_attention_heads=2, num_key_value_heads=2)))
    for c, seq in enumerate(space.sequences):
        d = space.snap(seq, tok)
        assert d.shape == (len(NAMES),) and d[c] == 0 and np.argmin(d) == c
    # text snaps by edit distance on the decoded string (the paper's protocol).
    if mapping == "text":
        d = space.snap(tok("add sugr", add_special_tokens=False)["input_ids"], tok)
        assert np.argmin(d) == 0 and d[0] == 1


def test_bad_label_spaces_raise(tok):
    with pytest.raises(ValueError, match="unknown label mapping"):
        LabelSpace(NAMES, tok, "random")
    with pytest.raises(ValueError, match="duplicate"):
        LabelSpace(["add salt", "stir", "add salt"], tok)
    with pytest.raises(ValueError, match="at least one"):
        LabelSpace([], tok)
    with pytest.raises(ValueError, match="not in the label space"):
        LabelSpace(NAMES, tok).index("juggle")
    assert LabelSpace(NAMES, tok).index("pour water") == 4


@pytest.mark.parametrize("kind", ["llama3", "qwen2"])
def test_random_mappings_never_draw_an_added_token(kind):
    """A Llama-3 tokenizer adds 256 tokens (headers, end-of-text, reserved ones that were never
    trained); Qwen2 adds tool / fill-in-the-middle tokens not even marked special. None of them
    may stand in for a label word; `all_special_ids` alone lists only a few."""
    from test_real_lm import LLAMA3_SPECIAL, QWEN2_ADDED, QWEN2_SPECIAL, llama3_tokenizer, qwen2_tokenizer

    tok = llama3_tokenizer() if kind == "llama3" else qwen2_tokenizer()
    added = set(tok.convert_tokens_to_ids(LLAMA3_SPECIAL if kind == "llama3" else QWEN2_SPECIAL + QWEN2_ADDED))
    assert excluded_token_ids(tok) == added | set(tok.all_special_ids)
    assert len(added - set(tok.all_special_ids)) >= 5  # the case the old pool missed
    drawn = set()
    for seed, mapping in product(range(20), ("rand", "desync")):
        drawn |= {t for s in LabelSpace(NAMES, tok, mapping, seed=seed).sequences for t in s}
    assert not drawn & added
    assert len(drawn) > 100  # enough draws that an unfiltered pool would have hit added tokens


def test_extend_never_shrinks_a_padded_vocabulary():
    """Real checkpoints have more embedding rows than tokens (Qwen2.5: 151936 for 151665):
    adding fewer class tokens than spare rows must keep every pretrained row."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = train_embedded_tokenizer(tokenizer_corpus())  # a fresh object: add_tokens mutates it
    old_len, rows = len(tok), len(tok) + 50
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=rows, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=False))
    before = [m.weight.detach().clone() for m in (lm.get_input_embeddings(), lm.get_output_embeddings())]
    space = LabelSpace(NAMES, tok, "extend")
    space.add_tokens(tok, lm)
    assert space.sequences == [[old_len + i] for i in range(len(NAMES))]
    (w_in, w_out), new = before, [s[0] for s in space.sequences]
    assert torch.equal(lm.get_input_embeddings().weight, w_in)  # same shape, same rows
    w = lm.get_output_embeddings().weight
    assert w.shape == w_out.shape and torch.equal(w[:old_len], w_out[:old_len])
    # The spare rows now hold the classes: their output rows get the head-like init (init="linear").
    assert not torch.equal(w[new], w_out[new])


def _tiny_lm(tok, tied: bool, hidden: int = 64):
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=32,
                                        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                        tie_word_embeddings=tied))


def _extend(init: str, tied: bool, seed: int = 0):
    """A fresh tokenizer + tiny LM extended with NAMES' class tokens under `init`, from `seed`."""
    tok = train_embedded_tokenizer(tokenizer_corpus())  # a fresh object: add_tokens mutates it
    torch.manual_seed(seed)
    lm = _tiny_lm(tok, tied)
    space = LabelSpace(NAMES, tok, "extend")
    old_len = len(tok)
    before = [m.weight.detach().clone() for m in (lm.get_input_embeddings(), lm.get_output_embeddings())]
    space.add_tokens(tok, lm, init=init)
    return tok, lm, space, old_len, before


@pytest.mark.parametrize("tied", [False, True])
def test_extend_linear_init_is_nn_linears_init_of_the_new_output_rows(tied):
    """init="linear" = resize's N(0, 0.02) rows, then the class rows redrawn exactly as
    nn.Linear(hidden, classes) draws its weight: recomputed here from the same RNG state."""
    _, lm_n, space_n, old_len, before = _extend("normal", tied)
    after_normal = torch.get_rng_state()  # where "linear" starts its own draw
    _, lm_l, space_l, _, _ = _extend("linear", tied)
    assert space_l.sequences == space_n.sequences == [[old_len + i] for i in range(len(NAMES))]
    torch.set_rng_state(after_normal)
    reference = torch.nn.Linear(lm_l.config.hidden_size, len(NAMES), bias=False).weight
    out_l, out_n = lm_l.get_output_embeddings().weight, lm_n.get_output_embeddings().weight
    torch.testing.assert_close(out_l[old_len:], reference, rtol=0, atol=0)
    assert torch.equal(out_l[:old_len], before[1][:old_len]) and torch.equal(out_l[:old_len], out_n[:old_len])
    # The scales the puzzle measured: resize's rows ~ N(0, 0.02); nn.Linear's bound 1/sqrt(hidden).
    bound = lm_l.config.hidden_size ** -0.5
    assert out_l[old_len:].abs().max() <= bound and out_l[old_len:].std() > 1.5 * out_n[old_len:].std()
    in_l = lm_l.get_input_embeddings().weight
    if tied:  # one matrix: the input rows of the class tokens are the new output rows
        assert in_l is out_l
    else:  # the input rows keep resize's draw
        assert torch.equal(in_l, lm_n.get_input_embeddings().weight)


def test_extend_init_is_drawn_once_and_named_when_wrong():
    tok, lm, space, old_len, _ = _extend("linear", tied=False)
    drawn = lm.get_output_embeddings().weight.detach().clone()
    space.add_tokens(tok, lm)  # tokens already there (e.g. trained rows): nothing is redrawn
    assert torch.equal(lm.get_output_embeddings().weight, drawn)
    assert EXTEND_INITS == ("linear", "normal")
    with pytest.raises(ValueError, match=r"init must be one of .*'uniform'"):
        space.add_tokens(tok, lm, init="uniform")
    with pytest.raises(ValueError, match="init must be one of"):  # named even for mappings without new tokens
        LabelSpace(NAMES, tok, "text").add_tokens(tok, lm, init="mean")
