"""gadlib.evaluation.diversity on hand-computed cases (notebook 03): entropy score, its estimators, matching,
null baselines, error anatomy and its chance rates."""
import math

import numpy as np
import pytest
import torch

from gadlib.evaluation import diversity as dv


def _errors(rows: dict, C: int) -> np.ndarray:
    """[C, C] error counts from {true class: {predicted class: count}}."""
    e = np.zeros((C, C), dtype=np.int64)
    for t, dests in rows.items():
        for p, n in dests.items():
            e[t, p] = n
    return e


def test_error_counts_is_the_off_diagonal_confusion_matrix_without_excluded_classes():
    truth = np.array([1, 1, 1, 1, 2, 2, 3, 3, 1, 0])
    pred = np.array([1, 2, 2, 3, 2, 0, 1, 3, 0, 1])
    e = dv.error_counts(pred, truth, 4)
    expected = np.zeros((4, 4), int)
    expected[1, 2], expected[1, 3], expected[2, 0], expected[3, 1], expected[1, 0], expected[0, 1] = 2, 1, 1, 1, 1, 1
    np.testing.assert_array_equal(e, expected)
    e0 = dv.error_counts(pred, truth, 4, exclude=[0])
    expected[0, :] = expected[:, 0] = 0
    np.testing.assert_array_equal(e0, expected)


def test_error_counts_rejects_bad_labels():
    with pytest.raises(ValueError, match="truth must hold class indices"):
        dv.error_counts([0, 1], [0, 5], 4)
    with pytest.raises(ValueError, match="pred has 3 labels but truth has 2"):
        dv.error_counts([0, 1, 2], [0, 1], 4)


def test_one_confuser_gives_zero_and_k_equal_confusers_give_log_k():
    assert dv.entropy([0, 7, 0]) == 0.0
    for k in (2, 3, 5, 10):
        assert dv.entropy([4] * k + [0, 0]) == pytest.approx(math.log(k))
        # Miller-Madow adds (k - 1) / (2n), n = 4k
        assert dv.entropy([4] * k, "miller_madow") == pytest.approx(math.log(k) + (k - 1) / (8 * k))
    e = _errors({0: {1: 6}, 1: {0: 3, 2: 3, 3: 3}, 2: {0: 2}}, 4)
    h = dv.per_class_error_entropy(e, min_errors=5)
    assert h[0] == 0 and h[1] == pytest.approx(math.log(3)) and np.isnan(h[2]) and np.isnan(h[3])
    assert dv.error_entropy(e, min_errors=5) == pytest.approx(math.log(3) / 2)
    assert dv.effective_confusers(math.log(3)) == pytest.approx(3)


def test_miller_madow_on_a_worked_case():
    # counts 2, 1, 1: p = 1/2, 1/4, 1/4 -> H = 1/2 ln 2 + 2 * 1/4 ln 4 = 1.5 ln 2; K = 3, n = 4
    assert dv.entropy([2, 1, 1, 0]) == pytest.approx(1.5 * math.log(2))
    assert dv.entropy([2, 1, 1, 0], "miller_madow") == pytest.approx(1.5 * math.log(2) + 2 / 8)
    assert np.isnan(dv.entropy([0, 0]))
    with pytest.raises(ValueError, match="estimator"):
        dv.entropy([1, 2], "jackknife")


def test_vectorised_entropies_match_the_scalar_entropy():
    counts = np.array([[2, 1, 1, 0], [0, 7, 0, 0], [3, 3, 3, 3]])
    for est in dv.ESTIMATORS:
        np.testing.assert_allclose(dv._entropies(counts, est), [dv.entropy(c, est) for c in counts])


def test_miller_madow_reduces_the_plugin_bias_on_a_uniform_source():
    rng = np.random.default_rng(0)
    k, n = 10, 15
    draws = [np.bincount(rng.integers(k, size=n), minlength=k) for _ in range(2000)]
    plugin = np.mean([dv.entropy(d) for d in draws])
    mm = np.mean([dv.entropy(d, "miller_madow") for d in draws])
    assert plugin < mm < math.log(k) + 0.02
    assert abs(mm - math.log(k)) < abs(plugin - math.log(k)) / 2


def test_subsampling_keeps_each_rows_counts_within_the_original_and_sums_to_n():
    e = _errors({0: {1: 5, 2: 3}, 1: {0: 10}, 2: {0: 1, 1: 1, 3: 1}}, 4)
    rng = np.random.default_rng(1)
    for _ in range(50):
        sub = dv.subsample_errors(e, [4, 2, 3, 0], rng)
        np.testing.assert_array_equal(sub.sum(1), [4, 2, 3, 0])
        assert (sub <= e).all() and (sub >= 0).all()
    np.testing.assert_array_equal(dv.subsample_errors(e, e.sum(1), rng), e)  # taking all errors changes nothing
    with pytest.raises(ValueError, match="n_per_class"):
        dv.subsample_errors(e, [9, 0, 0, 0], rng)


def test_subsampling_to_fewer_errors_lowers_the_plugin_entropy_of_a_spread_class():
    # 30 errors spread evenly over 10 classes: plug-in entropy of 5 of them is far below log 10
    e = np.zeros((11, 11), int)
    e[0, 1:] = 3
    full = dv.error_entropy(e, min_errors=5)
    assert full == pytest.approx(math.log(10))
    n = np.zeros(11, int)
    n[0] = 5
    small = dv.matched_error_entropy(e, n, draws=200, seed=0)
    assert small < math.log(5) + 1e-9 < full
    # deterministic under a seed
    assert dv.matched_error_entropy(e, n, draws=20, seed=3) == dv.matched_error_entropy(e, n, draws=20, seed=3)


def test_matched_counts_take_the_smallest_count_and_drop_classes_below_min_errors():
    a = _errors({0: {1: 8}, 1: {0: 6}, 2: {0: 9}}, 3)
    b = _errors({0: {2: 5}, 1: {2: 2}, 2: {1: 20}}, 3)
    np.testing.assert_array_equal(dv.matched_counts({"a": a, "b": b}, min_errors=5), [5, 0, 9])


def test_matched_entropy_removes_the_error_count_advantage():
    # Two methods whose errors of each of 40 classes come from the same distribution (uniform over
    # 6 confusers); "a" just errs 10x more. Raw plug-in entropy favours "a"; matched, the gap goes.
    rng = np.random.default_rng(0)
    a, b = np.zeros((46, 46), int), np.zeros((46, 46), int)
    a[:40, 40:] = rng.multinomial(120, [1 / 6] * 6, size=40)
    b[:40, 40:] = rng.multinomial(12, [1 / 6] * 6, size=40)
    raw_gap = dv.error_entropy(a) - dv.error_entropy(b)
    n = dv.matched_counts({"a": a, "b": b})
    np.testing.assert_array_equal(n[:40], 12)
    gap = dv.matched_error_entropy(a, n, draws=50, seed=0) - dv.matched_error_entropy(b, n, draws=1, seed=0)
    assert raw_gap > 0.15
    assert abs(gap) < 0.05
    mm_gap = dv.error_entropy(a, estimator="miller_madow") - dv.error_entropy(b, estimator="miller_madow")
    assert abs(mm_gap) < raw_gap / 2  # the bias correction removes most of it too


def test_null_entropy_uniform_and_prior():
    n = np.array([0, 200, 200, 200])
    # 200 errors sent uniformly to the 2 other allowed classes: entropy close to ln 2
    allowed = np.array([False, True, True, True])
    assert dv.null_error_entropy(n, allowed=allowed, draws=5) == pytest.approx(math.log(2), abs=0.01)
    # a prior that puts (almost) all mass on class 3: classes 1, 2 send everything there
    prior = np.array([0, 1e-9, 1e-9, 1.0])
    h = dv.null_error_entropy(n, prior=prior, allowed=allowed, draws=5)
    # class 3 cannot go to itself, so it splits evenly between 1 and 2: mean = ln 2 / 3
    assert h == pytest.approx(math.log(2) / 3, abs=0.01)
    with pytest.raises(ValueError, match="no allowed destination"):
        dv.null_error_entropy(np.array([5, 0]), allowed=np.array([True, False]))


def test_verb_object_indices_parse_short_and_descriptive_labels():
    verb, obj = dv.verb_object_indices(["add sugar", "add brown sugar", "cut sugar",
                                        "cut the onion with a sharp knife", "cut the onion on the cutting board"])
    assert verb[0] == verb[1] != verb[2] == verb[3] == verb[4]
    assert obj[0] == obj[2] != obj[1]
    assert obj[3] == obj[4] != obj[0]
    with pytest.raises(ValueError, match="has no object"):
        dv.verb_object_indices(["add"])


# A tiny hand-built vocabulary: classes 0 "add salt", 1 "add sugar", 2 "cut salt", 3 "cut onion",
# 4 "wash pan" (verbs add/cut/wash, objects salt/sugar/onion/pan).
VERB = np.array([0, 0, 1, 1, 2])
OBJ = np.array([0, 1, 0, 2, 3])


def test_anatomy_chance_rates_on_a_tiny_vocabulary():
    # one error of class 0 ("add salt"): of the 4 other classes, 1 shares the verb, 1 the object
    e = _errors({0: {4: 1}}, 5)
    ch = dv.anatomy_chance(e, VERB, OBJ)
    assert ch["same_verb_only"] == pytest.approx(1 / 4) and ch["same_object_only"] == pytest.approx(1 / 4)
    assert ch["neither"] == pytest.approx(1 / 2) and ch["both"] == 0
    # class 3 ("cut onion"): 1 of 4 shares the verb, none the object; class 0 weighs 3 errors, class 3 one
    e = _errors({0: {1: 3}, 3: {2: 1}}, 5)
    ch = dv.anatomy_chance(e, VERB, OBJ)
    assert ch["same_verb"] == pytest.approx((3 * 1 / 4 + 1 * 1 / 4) / 4)
    assert ch["same_object"] == pytest.approx((3 * 1 / 4 + 0) / 4)
    # with a prior: class 1 weighted 3x -> class 0's chance of the same verb = 3 / (3 + 1 + 1 + 1)
    ch = dv.anatomy_chance(_errors({0: {4: 1}}, 5), VERB, OBJ, prior=[1, 3, 1, 1, 1])
    assert ch["same_verb_only"] == pytest.approx(3 / 6)
    # allowed: class 4 can't be a destination -> 1/3 same verb, 1/3 same object
    ch = dv.anatomy_chance(_errors({0: {1: 1}}, 5), VERB, OBJ, allowed=[True] * 4 + [False])
    assert ch["same_verb_only"] == pytest.approx(1 / 3) and ch["neither"] == pytest.approx(1 / 3)


def test_error_anatomy_shares_sum_to_one_and_count_the_right_pairs():
    e = _errors({0: {1: 4, 2: 3, 4: 1}, 3: {2: 2}}, 5)  # 4 same verb, 3 same object, 1 neither, 2 same verb
    a = dv.error_anatomy(e, VERB, OBJ)
    assert a["errors"] == 10
    assert a["same_verb_only"] == pytest.approx(0.6) and a["same_object_only"] == pytest.approx(0.3)
    assert a["neither"] == pytest.approx(0.1) and a["both"] == 0
    assert sum(a[k] for k in dv.ANATOMY) == pytest.approx(1)
    # labels that differ beyond verb and object can share both
    verb, obj = np.array([0, 0, 1]), np.array([0, 0, 1])
    a = dv.error_anatomy(_errors({0: {1: 1, 2: 1}}, 3), verb, obj)
    assert a["both"] == 0.5 and a["same_verb"] == 0.5 and a["same_object"] == 0.5
    assert sum(a[k] for k in dv.ANATOMY) == pytest.approx(1)
    with pytest.raises(ValueError, match="one entry per class"):
        dv.error_anatomy(e, VERB[:3], OBJ)
    with pytest.raises(ValueError, match="diagonal"):
        dv.error_anatomy(np.eye(5, dtype=int), VERB, OBJ)


def test_shared_tokens_and_confusion_vs_group_pairs_by_overlap():
    seqs = [[1, 2], [1, 3], [4, 5], [1, 2, 5]]
    s = dv.shared_tokens(seqs)
    assert s[0, 1] == 1 and s[0, 2] == 0 and s[0, 3] == 2 and s[2, 3] == 1 and s[1, 1] == 2
    e = _errors({0: {1: 2, 3: 4}, 1: {0: 1}}, 4)
    support = np.array([10, 10, 5, 5])
    table = dv.confusion_vs(e, support, s)
    # pairs with 1 shared token: 0->1 (20%), 1->0 (10%), 1->3 (0), 3->1 (0), 2->3 (0), 3->2 (0)
    assert table.loc[1, "pairs"] == 6
    assert table.loc[1, "confusion rate (%)"] == pytest.approx(30 / 6)
    assert table.loc[2, "confusion rate (%)"] == pytest.approx(20)  # 0->3: 4 of 10; 3->0: 0
    assert table["pairs"].sum() == 12
    # a class without frames takes no part (its rate would be 0 / 0)
    table = dv.confusion_vs(e, np.array([10, 10, 0, 5]), s, classes=[0, 1, 2, 3])
    assert table["pairs"].sum() == 6 and np.isfinite(table["confusion rate (%)"]).all()


def test_class_similarity_is_cosine_of_class_means():
    x = np.array([[1, 0], [3, 0], [0, 2], [1, 1]], float)
    sim = dv.class_similarity(x, np.array([0, 0, 1, 2]), 4)
    assert sim[0, 1] == pytest.approx(0) and sim[0, 2] == pytest.approx(1 / math.sqrt(2))
    assert sim[0, 0] == pytest.approx(1) and np.isnan(sim[3]).all()


def test_decision_states_read_the_cls_state_and_the_last_prompt_state(dataset, names, visual_dim, mixed_batch):
    from gadlib.lms.build import build_classifier

    disc = build_classifier("discriminative", names, visual_dim, seed=0)
    np.testing.assert_allclose(dv.decision_states(disc, mixed_batch), disc.readout_state(mixed_batch).detach().numpy())
    gen = build_classifier("generative", names, visual_dim, seed=0)
    states = dv.decision_states(gen, mixed_batch)  # prompts of different lengths: padding matters
    assert states.shape == (len(mixed_batch), gen.mllm.cls_query.numel())
    for i in range(len(mixed_batch)):  # reference: each sample alone, its last prompt position
        with torch.no_grad():
            prefix = gen.mllm.prefix_embeds(mixed_batch.visual[i:i + 1], mixed_batch.kinds[i:i + 1])
            ref = gen.mllm.hidden_states(*gen.mllm.pad(prefix))[0, -1]
        np.testing.assert_allclose(states[i], ref.numpy(), atol=1e-4)


def test_error_destinations_figure_draws_each_methods_shares_of_the_picked_class():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gadlib.lessons.widgets import error_destinations_explorer, error_destinations_figure

    names = ["add salt", "add sugar", "cut salt", "wash pan"]
    errors = {"generative": _errors({0: {1: 6, 2: 2}}, 4), "discriminative": _errors({0: {3: 1, 2: 3}}, 4)}
    fig = error_destinations_figure(errors, names, 0)
    gen, disc = fig.axes
    assert [t.get_text() for t in gen.get_yticklabels()] == ["add sugar", "cut salt"]
    np.testing.assert_allclose([b.get_width() for b in gen.patches], [0.75, 0.25])
    assert [t.get_text() for t in disc.get_yticklabels()] == ["cut salt", "wash pan"]
    np.testing.assert_allclose([b.get_width() for b in disc.patches], [0.75, 0.25])
    # a shared word ("salt" / "add") is drawn red, "wash pan" shares none
    assert disc.patches[1].get_facecolor() != disc.patches[0].get_facecolor()
    assert gen.get_title() == "generative: 8 errors"
    plt.close(fig)
    box = error_destinations_explorer(errors, names)
    assert box.children[0].options[0] == ("add salt (12 errors)", 0)
    plt.close("all")


def test_readme_block_of_notebook_03_shows_every_data_set_and_method_and_the_conclusion():
    from gadlib.tools.readme_table import BLOCKS, results_03

    def s(mean, std=0.0):
        return {"mean": mean, "std": std, "per_seed": [mean]}

    keys = ("error_entropy", "error_entropy_mm", "error_entropy_matched", "effective_confusers")
    metrics = {m: {**{f"{p}_{k}": s(0.5 + i) for p in ("a_like", "b_like") for k in keys},
                   **{f"{p}_share_{k}": s(0.1) for p in ("a_like", "b_like") for k in ("same_verb", "same_object")},
                   **{f"{p}_chance_{k}": s(0.04) for p in ("a_like", "b_like") for k in ("same_verb", "same_object")}}
               for i, m in enumerate(("generative", "discriminative", "gad"))}
    res = {"metrics": metrics, "presets": ["a_like"], "compare": "b_like", "dataset": "fake", "backbone": "tiny",
           "seeds": [0], "compare_seeds": [0], "settings": {"min_errors": 5}, "conclusion": "- line one\n- line two"}
    text = results_03(res)
    rows = [r for r in text.splitlines() if r.startswith("| a_like") or r.startswith("| b_like")]
    assert len(rows) == 6
    # one seed: the means alone (the header names the seeds), no "± 0.00"
    assert "| a_like | discriminative | 1.50 | 1.50 | 1.50 | 1.50 | 10.0 (4.0) |" in text
    assert text.endswith("- line one\n- line two")
    assert "results-03" in BLOCKS


def test_error_counts_of_no_predictions_is_all_zero():
    assert dv.error_counts([], [], 3).tolist() == [[0] * 3] * 3
    with pytest.raises(ValueError, match="pred has 1 labels but truth has 0"):
        dv.error_counts([1], [], 3)
