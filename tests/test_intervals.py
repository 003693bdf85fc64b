"""Paired differences with a hierarchical-bootstrap 95 % interval (gadlib.evaluation.intervals), against an
exact enumeration of every resample on a tiny case, and the counts they resample against the metrics."""
import itertools

import numpy as np
import pytest

from gadlib.evaluation.experiment import Run
from gadlib.evaluation.intervals import (PairedInterval, accuracy_interval, collapsed, hierarchical_bootstrap, oad_counts,
                              oad_interval)
from gadlib.evaluation.metrics import f1_from_counts, oad_metrics, point_f1, segment_f1, segment_f1_counts
from gadlib.evaluation.oad import DensePrediction


def _accuracy(c):
    return c[..., 0] / c[..., 1]


def _hits(correct):
    return np.stack([np.asarray(correct, float), np.ones(len(correct))], axis=1)


def test_interval_matches_the_exact_distribution_of_every_resample():
    # 2 seeds x 3 units: every hierarchical resample enumerated (4 seed draws x 27 x 27 unit draws)
    a = [_hits([1, 1, 0]), _hits([1, 0, 0])]
    b = [_hits([0, 1, 0]), _hits([1, 0, 1])]
    exact = []
    for picks in itertools.product(range(2), repeat=2):
        for units in itertools.product(itertools.product(range(3), repeat=3), repeat=2):
            d = [_accuracy(a[s][list(u)].sum(0)) - _accuracy(b[s][list(u)].sum(0)) for s, u in zip(picks, units)]
            exact.append(100 * np.mean(d))
    exact = np.sort(exact)
    got = hierarchical_bootstrap(a, b, _accuracy, draws=40_000, seed=1)
    assert got.mean == pytest.approx(0.0, abs=1e-12)  # seed 0: 2/3 - 1/3, seed 1: 1/3 - 2/3
    assert got.per_seed == pytest.approx([100 / 3, -100 / 3])
    want = np.quantile(exact, [0.025, 0.975])
    # a percentile of the Monte-Carlo draws vs the exact one: within one step of the discrete grid
    assert got.ci95[0] == pytest.approx(want[0], abs=100 / 6 + 1e-9)
    assert got.ci95[1] == pytest.approx(want[1], abs=100 / 6 + 1e-9)
    assert got.units == 3


def test_swapping_the_methods_negates_the_interval_and_equal_methods_give_zero():
    rng = np.random.default_rng(0)
    a = [_hits(rng.random(400) < 0.7) for _ in range(3)]
    b = [_hits(rng.random(400) < 0.5) for _ in range(3)]
    ab, ba = hierarchical_bootstrap(a, b, _accuracy, seed=3), hierarchical_bootstrap(b, a, _accuracy, seed=3)
    assert ab.mean == pytest.approx(-ba.mean) and ab.ci95 == pytest.approx((-ba.ci95[1], -ba.ci95[0]))
    assert ab.verdict(+1) == "holds" and ba.verdict(+1) == "opposite" and ba.verdict(-1) == "holds"
    same = hierarchical_bootstrap(a, a, _accuracy)
    assert same.mean == 0 and same.ci95 == (0.0, 0.0) and same.verdict() == "unresolved"


def test_more_test_units_narrow_the_interval_and_seed_spread_widens_it():
    rng = np.random.default_rng(1)

    def width(n, seed_shift):
        a = [_hits(rng.random(n) < 0.6 + seed_shift * (s - 1)) for s in range(3)]
        b = [_hits(rng.random(n) < 0.5) for _ in range(3)]
        return hierarchical_bootstrap(a, b, _accuracy, seed=0).half_width

    assert width(2000, 0.0) < width(50, 0.0) / 3
    assert width(2000, 0.2) > 2 * width(2000, 0.0)


def test_verdicts_and_bad_input():
    assert PairedInterval(2.0, (0.5, 3.5)).verdict(+1) == "holds"
    assert PairedInterval(-2.0, (-3.5, -0.5)).verdict(+1) == "opposite"
    assert PairedInterval(1.0, (-0.5, 2.5)).verdict(+1) == "unresolved"
    assert PairedInterval(5.0, (4.0, 6.0), not_testable="collapsed").verdict(+1) == "not testable"
    with pytest.raises(ValueError, match="same seeds"):
        hierarchical_bootstrap([_hits([1])], [], _accuracy)
    with pytest.raises(ValueError, match="seed 0"):
        hierarchical_bootstrap([_hits([1, 0])], [_hits([1])], _accuracy)


def test_f1_counts_per_video_sum_to_the_metrics():
    rng = np.random.default_rng(2)
    truths = [np.repeat(rng.integers(0, 4, 12), rng.integers(1, 6, 12)) for _ in range(5)]
    preds = [np.where(rng.random(len(t)) < 0.15, rng.integers(0, 4, len(t)), t) for t in truths]
    for iou in (0.1, 0.5):
        counts = segment_f1_counts(preds, truths, iou)
        assert counts.shape == (5, 3) and float(f1_from_counts(counts.sum(0))) == segment_f1(preds, truths, iou)
    ignored = [rng.random(len(t)) < 0.1 for t in truths]
    videos = [DensePrediction(f"v{i}", np.zeros((len(t), 4), np.float32), p, t, m)
              for i, (p, t, m) in enumerate(zip(preds, truths, ignored))]
    want = oad_metrics(preds, truths, [v.scores for v in videos], 4.0, ignored=ignored)
    for metric in ("seg_f1_0.1", "seg_f1_0.5", "point_f1_1s", "point_f1_2s"):
        assert float(f1_from_counts(oad_counts(videos, metric, 4.0).sum(0))) == pytest.approx(want[metric], abs=1e-12)
    assert float(f1_from_counts(np.array([0, 3, 2]))) == 0.0 == point_f1([np.zeros(3, int)], [np.zeros(3, int)], 1.0)
    with pytest.raises(ValueError, match="not a segment or point F1"):
        oad_counts(videos, "map", 4.0)


def _oad_run(method, seed, preds, truths):
    videos = [DensePrediction(f"v{i}", np.zeros((len(t), 3), np.float32), p, t, np.zeros(len(t), bool))
              for i, (p, t) in enumerate(zip(preds, truths))]
    return Run(method, seed, None, {"oad": {"videos": videos}})


def test_oad_and_accuracy_intervals_from_runs_and_collapse():
    truths = [np.array([0, 1, 1, 1, 0, 2, 2, 0] * 3) for _ in range(6)]
    good = [_oad_run("gad", s, truths, truths) for s in range(3)]
    silent = [_oad_run("generative", s, [np.zeros_like(t) for t in truths], truths) for s in range(3)]
    out = oad_interval(good, silent, "seg_f1_0.1", fps=1.0)
    assert out.mean == 100.0 and out.verdict() == "not testable" and "generative" in out.not_testable
    assert collapsed(np.array([0] * 95 + [1] * 5)) and not collapsed(np.array([0] * 94 + [1] * 6))
    acc = [Run(m, s, None, {"step": {"pred": np.array(p), "targets": np.array([0, 1, 2, 3] * 5)}})
           for m, p in (("a", [0, 1, 2, 3] * 5), ("b", [0, 1, 2, 0] * 5)) for s in (0, 1)]
    iv = accuracy_interval(acc[:2], acc[2:], "step")
    assert iv.mean == pytest.approx(25.0) and iv.verdict() == "holds" and iv.as_dict()["units"] == 20


def test_a_claim_of_no_difference_is_never_shown_to_hold():
    assert PairedInterval(0.5, (-1.0, 2.0)).verdict(0) == "unresolved"
    assert PairedInterval(3.0, (1.0, 5.0)).verdict(0) == "opposite"


def test_resampled_difference_draws_exactly_what_the_vectorised_bootstrap_draws():
    from gadlib.evaluation.intervals import resampled_difference
    rng = np.random.default_rng(0)
    a = [_hits(rng.random(7) < 0.6), _hits(rng.random(7) < 0.5)]
    b = [_hits(rng.random(7) < 0.4), _hits(rng.random(7) < 0.5)]
    want = hierarchical_bootstrap(a, b, _accuracy, draws=300, seed=4)
    got = resampled_difference([7, 7], lambda s, u: _accuracy(a[s][u].sum(0)) - _accuracy(b[s][u].sum(0)),
                               draws=300, seed=4, scale=100.0)
    assert got.ci95 == pytest.approx(want.ci95) and got.per_seed == pytest.approx(want.per_seed)
    assert resampled_difference([7, 7], lambda s, u: 0.0, per_seed=[1.5, 2.5]).mean == 2.0
    with pytest.raises(ValueError, match="at least one seed"):
        resampled_difference([], lambda s, u: 0.0)


def test_entropy_gap_interval_pools_the_resampled_units_errors():
    from gadlib.evaluation import intervals as dv
    truth = np.array([1] * 6 + [2] * 6)
    spread = np.array([2, 3, 4, 2, 3, 4] + [1, 3, 4, 1, 3, 4])   # every error elsewhere, 3 destinations
    focused = np.array([2] * 6 + [1] * 6)                          # one destination per class
    units = dv.unit_errors({"gen": [[(spread[:6], truth[:6]), (spread[6:], truth[6:])]],
                            "disc": [[(focused[:6], truth[:6]), (focused[6:], truth[6:])]]}, num_classes=5)
    iv = dv.entropy_gap_interval(units, "gen", "disc", num_classes=5, score="raw", min_errors=3, draws=200)
    assert iv.per_seed == pytest.approx([np.log(3) - 0.0])   # the pooled errors: ln 3 vs 0 nats
    assert iv.units == 2
    # resampling two videos of one class each: the class with 6 errors keeps ln 3 or 0
    assert iv.ci95[0] == pytest.approx(np.log(3)) and iv.ci95[1] == pytest.approx(np.log(3))
    same = dv.entropy_gap_interval({"gen": units["gen"], "disc": units["gen"]}, "gen", "disc", 5, "matched",
                                   min_errors=3, draws=50)
    assert same.verdict() == "unresolved" and same.mean == 0.0
