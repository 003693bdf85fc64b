"""`gadlib.evaluation.intervals.judge`: verdicts against the paper, equivalence, power, one seed and
convergence, on hand-computed cases."""
import math

import pytest

from gadlib.evaluation.intervals import (ONE_SEED, PairedInterval, judge, meaning, seeds_needed, takeaway,
                                        shared_test_variance)


def iv(lo, hi, per_seed=(1.0, 3.0), mean=None, why=None):
    return PairedInterval(mean if mean is not None else sum(per_seed) / len(per_seed), (lo, hi), list(per_seed), 100, why)


def test_direction_verdicts_and_paper_effect():
    d = judge(iv(-2.0, 4.0), +1, paper_effect=0.9)
    assert d["verdict"] == "unresolved" and d["claim"] == "direction"
    assert d["paper_inside"] is True and d["half_width"] == 3.0 and d["seeds"] == 2
    assert "consistent with the paper's +0.9" in d["meaning"] and "cannot resolve" in d["meaning"]
    assert judge(iv(0.5, 4.0), +1, paper_effect=6.5)["paper_inside"] is False
    assert judge(iv(0.5, 4.0), +1, paper_effect=6.5)["verdict"] == "holds"
    assert judge(iv(-4.0, -0.5), +1)["verdict"] == "opposite"
    assert judge(iv(-4.0, -0.5), -1)["verdict"] == "holds"
    d = judge(iv(-3.0, 3.0), +1, paper_effect=6.5)
    assert d["paper_inside"] is False and "lies outside" in d["meaning"]
    assert judge(iv(-3.0, 3.0), +1)["paper_effect"] is None and judge(iv(-3.0, 3.0), +1)["paper_inside"] is None


def test_seeds_needed_by_hand():
    # per-seed differences 1 and 3: s = sqrt(2); effect 1: n = (2.801585 * 1.41421 / 1)^2 = 15.70 -> 16
    assert seeds_needed([1.0, 3.0], 1.0) == 16
    assert seeds_needed([1.0, 3.0], -1.0) == 16
    # a large effect still needs two seeds
    assert seeds_needed([1.0, 3.0], 100.0) == 2
    # cannot be estimated: one seed, no spread, no effect
    assert seeds_needed([2.0], 1.0) is None
    assert seeds_needed([2.0, 2.0], 1.0) is None
    assert seeds_needed([1.0, 3.0], None) is None and seeds_needed([1.0, 3.0], 0.0) is None
    s = math.sqrt(((0 - 2) ** 2 + (2 - 2) ** 2 + (4 - 2) ** 2) / 2)  # 2.0
    assert seeds_needed([0.0, 2.0, 4.0], 2.0) == math.ceil((2.801585 * s / 2.0) ** 2)  # 7.85 -> 8
    # with the shared test set's variance v, n = s² / ((effect / 2.80)² - v): v = 0.0274 leaves
    # 0.127408 - 0.0274 = 0.100008, so 2 / 0.100008 -> 20 seeds; past (effect / 2.80)², none will do
    assert seeds_needed([1.0, 3.0], 1.0, test_variance=0.0274) == 20
    assert seeds_needed([1.0, 3.0], 1.0, test_variance=0.2) == math.inf
    # the test set's variance: (half-width / 1.96)² less s² / k = 2 / 2
    assert shared_test_variance([1.0, 3.0], 3.0) == pytest.approx((3.0 / 1.959964) ** 2 - 1.0)
    assert shared_test_variance([1.0, 3.0], 1.5) == 0.0 and shared_test_variance([2.0], 3.0) == 0.0
    # half-width 1.9 < 1.96 · s / √k = 1.96: all of it from the seeds, so 16 as above
    assert judge(iv(-1.9, 1.9, per_seed=(-1.0, 1.0)), +1, paper_effect=1.0)["seeds_needed"] == 16
    # half-width 3: v = 1.34 > (1 / 2.80)² = 0.127: no number of seeds would do on this test set
    d = judge(iv(-2.0, 4.0), +1, paper_effect=1.0)
    assert d["seeds_needed"] is None and d["seeds_limited_by"] == "the test set"
    assert d["meaning"].endswith("; no number of seeds would show an effect as large as the paper's on this test "
                                 "set: the part of the interval that comes from the test set (the same test "
                                 "samples or videos for every seed) is already too wide; a larger test set would")


def test_equality_claims_get_equivalence_verdicts_never_opposite():
    assert judge(iv(-1.0, 2.0), 0, margin=3.0)["verdict"] == "equivalent"
    assert judge(iv(-3.0, 3.0), 0, margin=3.0)["verdict"] == "equivalent"     # the bounds are inside
    assert judge(iv(0.5, 6.2), 0, margin=3.25)["verdict"] == "unresolved"     # excludes 0, not the margin
    assert judge(iv(3.5, 6.2), 0, margin=3.25)["verdict"] == "differs"
    assert judge(iv(-6.2, -3.5), 0, margin=3.25)["verdict"] == "differs"
    assert judge(iv(-4.2, -0.3), 0, margin=3.25)["verdict"] == "unresolved"
    d = judge(iv(-1.0, 2.0), 0, margin=3.0)
    assert d["claim"] == "equal" and d["margin"] == 3.0 and "within ±3 points" in d["meaning"]
    # seeds for an effect the size of the margin
    assert judge(iv(-1.0, 2.0, per_seed=(-1.0, 1.0)), 0, margin=1.0)["seeds_needed"] == 16
    for lo, hi in [(-9, -5), (-5, 5), (5, 9), (-1, 1)]:
        assert judge(iv(lo, hi), 0, margin=2.0)["verdict"] != "opposite"
    with pytest.raises(ValueError, match="margin"):
        judge(iv(-1.0, 2.0), 0)


def test_no_verdict_on_one_seed_or_without_convergence():
    d = judge(iv(1.0, 3.0, per_seed=(2.0,)), +1, paper_effect=1.0)
    assert d["verdict"] == ONE_SEED and d["seeds_needed"] is None and "more seeds" in d["meaning"]
    assert judge(iv(1.0, 3.0, per_seed=(2.0,)), 0, margin=5.0)["verdict"] == ONE_SEED
    d = judge(iv(1.0, 3.0), +1, converged=False)
    assert d["verdict"] == "not testable" and "epoch cap" in d["not_testable"]
    d = judge(iv(1.0, 3.0, why="collapsed: ['generative']"), +1)
    assert d["verdict"] == "not testable" and "collapsed" in d["meaning"]


def test_takeaway_table_rows():
    rows = [("discriminative > generative (+0.9 S-F1)", judge(iv(-2.0, 4.0), +1, paper_effect=0.9)),
            ("rand ≈ text", judge(iv(-1.0, 2.0), 0, margin=3.25)),
            ("entropy", judge(iv(0.01, 0.2), +1, unit="nats"))]
    table = takeaway(rows).splitlines()
    assert len(table) == 5 and table[0].startswith("| claim (the paper's number where it has one) |")
    assert "+2.0 [-2.0, +4.0] pt | 2 | **unresolved**" in table[2]
    assert "**equivalent**" in table[3] and "[+0.01, +0.20] nats" in table[4]
    assert meaning(judge(iv(0.5, 4.0), +1, paper_effect=2.0)).startswith("direction reproduced; the paper's +2.0 lies inside")


def test_enough_seeds_but_unresolved_says_the_runs_own_difference_is_smaller():
    # per-seed differences 0.1 and 0.3 (s = 0.141), half-width 0.3: v = (0.3 / 1.96)² - 0.01 = 0.0134;
    # the paper's 0.45: n = 0.02 / ((0.45 / 2.80)² - 0.0134) = 1.6 -> 2 seeds, which the run has, yet
    # the interval holds 0: this run's difference (0.2) is the smaller one
    d = judge(iv(-0.1, 0.5, per_seed=(0.1, 0.3)), +1, paper_effect=0.45)
    assert d["verdict"] == "unresolved" and d["seeds_needed"] == 2 and d["seeds_limited_by"] is None
    assert d["meaning"].endswith("; were the true difference the paper's, its seeds and test set would usually "
                                 "resolve it; this run's own difference (+0.20) is smaller")
    # an "≈" claim with enough seeds: the interval's end past the margin, one digit more than usual
    d = judge(iv(-0.155, 0.045, per_seed=(-0.06, -0.04), mean=-0.05), 0, margin=0.15, unit="nats")
    assert d["verdict"] == "unresolved" and d["seeds_needed"] == 2
    assert d["meaning"].endswith("; were the true gap 0, its seeds and test set would usually show the two equal "
                                 "within ±0.15; this run's mean (-0.050) puts the interval's end at -0.155, past the margin")
    # per-seed 1.0 and 1.2 with a half-width of 2: the test videos' part alone is too wide for 1.0
    d = judge(iv(-1.0, 3.0, per_seed=(1.0, 1.2)), +1, paper_effect=1.0)
    assert d["seeds_needed"] is None and "a larger test set would" in d["meaning"]


def test_one_seed_meaning_adds_to_the_verdict():
    # one seed, interval [+1, +3]: the paper's +1.0 is inside it, +6.5 outside
    d = judge(iv(1.0, 3.0, per_seed=(2.0,)), +1, paper_effect=1.0)
    assert d["verdict"] == ONE_SEED and not d["meaning"].startswith("one seed")
    assert "test units only, not seeds" in d["meaning"] and "more seeds" in d["meaning"]
    assert d["meaning"].endswith("the paper's +1.0 lies inside this one-seed interval")
    assert judge(iv(1.0, 3.0, per_seed=(2.0,)), +1, paper_effect=6.5)["meaning"].endswith("lies outside this one-seed interval")
    assert "paper" not in judge(iv(1.0, 3.0, per_seed=(2.0,)), +1)["meaning"]


def test_no_meaning_repeats_its_verdict():
    cases = [judge(iv(1.0, 3.0, per_seed=(2.0,)), +1), judge(iv(1.0, 3.0), +1, converged=False),
             judge(iv(-2.0, 4.0), +1), judge(iv(-2.0, 4.0), +1, paper_effect=0.9), judge(iv(-4.0, -0.5), +1),
             judge(iv(-1.0, 2.0), 0, margin=3.0), judge(iv(3.5, 6.2), 0, margin=3.25),
             judge(iv(0.5, 6.2), 0, margin=3.25)]
    for d in cases:
        assert not d["meaning"].lower().startswith(d["verdict"].lower()), d["meaning"]
    assert judge(iv(1.0, 3.0), +1, converged=False)["meaning"].startswith("a run stopped at its epoch cap")


def test_equivalent_is_reproduced_only_for_a_paper_claim():
    # interval [-1, +2] inside ±3: equivalent either way
    own = judge(iv(-1.0, 2.0), 0, margin=3.0)                      # no paper effect: the notebook's question
    assert own["verdict"] == "equivalent" and own["paper_claim"] is False
    assert own["meaning"] == "equal within ±3 points: the two agree at this scale"
    paper = judge(iv(-1.0, 2.0), 0, margin=3.0, paper_effect=0.1)   # e.g. rand ≈ text, the paper's +0.1
    assert paper["paper_claim"] is True and paper["meaning"] == "reproduced: the two agree within ±3 points"
    assert judge(iv(-1.0, 2.0), 0, margin=3.0, paper_claim=True)["meaning"].startswith("reproduced")
    assert judge(iv(-0.5, 0.6), 0, margin=1.0)["meaning"] == "equal within ±1 point: the two agree at this scale"
    assert "paper" not in judge(iv(3.5, 6.2), 0, margin=3.25)["meaning"]
    assert "the paper has the two about equal" in judge(iv(3.5, 6.2), 0, margin=3.25, paper_effect=0.2)["meaning"]
    # a direction claim is the paper's by default (01's claim 1 has no published number), unless told
    assert judge(iv(0.5, 4.0), +1)["meaning"] == "direction reproduced"
    assert judge(iv(0.5, 4.0), +1, paper_claim=False)["meaning"] == "the interval excludes 0 in the claimed direction"


def test_seeds_needed_says_what_it_would_resolve():
    # per-seed differences -1 and +1 (s = 1.41), half-width 1.9 (no test-set part): an effect of 1.0 needs 16 seeds
    d = judge(iv(-1.9, 1.9, per_seed=(-1.0, 1.0)), +1, paper_effect=1.0)
    assert d["meaning"].endswith("; about 16 seeds would resolve an effect as large as the paper's")
    # this run's mean (-0.4) points away from the paper's +1.0: said, not hidden behind "resolve it"
    d = judge(iv(-2.3, 1.5, per_seed=(-1.4, 0.6)), +1, paper_effect=1.0)
    assert d["meaning"].endswith("about 16 seeds would resolve an effect as large as the paper's; "
                                 "this run's mean has the opposite sign")
    # an equality claim, this run's mean (0) inside the margin: the seeds to show equality within it
    d = judge(iv(-1.9, 1.9, per_seed=(-1.0, 1.0)), 0, margin=1.0)
    assert d["seeds_needed_for"] == "equal"
    assert d["meaning"].endswith("; about 16 seeds would show the two equal within ±1, if they are")
    # the mean (+2) lies beyond the margin (1): sized to show "differs", from the distance 2 - 1 = 1
    d = judge(iv(0.1, 3.9), 0, margin=1.0)
    assert d["seeds_needed_for"] == "differs" and d["seeds_needed"] == 16
    assert d["meaning"].endswith("; about 16 seeds would show them differ by more than ±1, "
                                 "if this run's mean is right")
    # mean +4, margin 1: distance 3, n = (2.80 * 1.41 / 3)^2 = 1.7 -> 2, which the run has
    d = judge(iv(2.1, 5.9, per_seed=(3.0, 5.0)), 0, margin=1.0)
    assert d["seeds_needed"] == 2 and d["verdict"] == "differs"
    # the same mean with a half-width of 5: v = 5.5 > (3 / 2.80)²: the test set limits it
    d = judge(iv(-1.0, 9.0, per_seed=(3.0, 5.0)), 0, margin=1.0)
    assert d["seeds_limited_by"] == "the test set" and d["meaning"].endswith(
        "; no number of seeds would show them differ by more than ±1 on this test set: the part of the interval "
        "that comes from the test set (the same test samples or videos for every seed) is already too wide; a "
        "larger test set would")


def test_seeds_needed_past_the_cap_reads_out_of_reach():
    # mean 3.27 against a margin of 3.25: a hair past it, s = 1.41 -> about 39,000 seeds
    d = judge(iv(1.37, 5.17, per_seed=(2.27, 4.27)), 0, margin=3.25)
    assert d["seeds_needed_for"] == "differs" and d["seeds_needed"] > 1000
    assert d["meaning"].endswith("; more than 1,000 seeds would show them differ by more than ±3.25, if this "
                                 "run's mean is right: it lies almost on the margin")
    # a paper effect of 0.05 points with s = 1.41: out of reach
    d = judge(iv(-1.9, 1.9, per_seed=(-1.0, 1.0)), +1, paper_effect=0.05)
    assert d["meaning"].endswith("; more than 1,000 seeds would resolve an effect as large as the paper's: "
                                 "out of reach at this scale")
