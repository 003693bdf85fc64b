"""Paired differences between two methods with a 95 % interval from a hierarchical bootstrap.

Explained in notebooks/05_online_action_detection.ipynb (section 7) and used for every comparison
of notebooks 04 and 05.

Two sources of noise separate two methods' numbers: the seed (initialisation, sampling of
training windows) and the finite test set. A hierarchical bootstrap resamples both, in that
order: draw the seeds with replacement, then, inside each drawn seed, the test units (videos for
OAD, samples for offline top-1) with replacement; both methods get the same draws (they were
tested on the same units with the same seeds), so what they share cancels out. The statistic is
recomputed from the resampled units' *counts* (TP / FP / FN for segment and point F1, hits and
samples for accuracy), exactly as the metric pools them, so nothing is averaged that the metric
does not average.

Verdicts (`PairedInterval.verdict`): "holds" when the interval excludes 0 in the expected
direction, "opposite" when it excludes 0 the other way, "unresolved" when it contains 0, and
"not testable" when a side collapsed (`collapsed`: one class on >= 95 % of its predictions).
`judge` sets a comparison beside the paper: the paper's own effect and whether the interval holds
it, how many seeds this scale would need to resolve it, equivalence verdicts for the paper's
"≈" claims, and no verdict on one seed or on a run that did not converge; `takeaway` turns the
judged comparisons into the table that ends every notebook.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from gadlib.evaluation.diversity import error_counts, error_entropy, matched_counts, matched_error_entropy
from gadlib.evaluation.metrics import f1_from_counts, point_f1_counts, segment_f1_counts

COLLAPSE_SHARE = 0.95
VERDICTS = ("holds", "opposite", "unresolved", "not testable")
# Verdicts of an equality claim ("A ≈ B", `judge(..., margin=...)`), and of a comparison that
# cannot get one (one seed: the interval misses the seed-to-seed spread; a run that stopped at its
# epoch cap: not trained to convergence).
EQUALITY_VERDICTS = ("equivalent", "differs", "unresolved", "not testable")
ONE_SEED, NOT_CONVERGED = "one seed: no verdict", "not testable"
# seeds_needed: a two-sided 5 % test with 80 % power, z_0.975 + z_0.8.
Z_95 = 1.959964
POWER_Z = Z_95 + 0.841621


@dataclass(frozen=True)
class PairedInterval:
    """A − B in points (scale 100): the mean of the per-seed differences and its 95 % interval
    from `hierarchical_bootstrap`; `per_seed` differences in seed order; `units` test units per seed."""
    mean: float
    ci95: tuple[float, float]
    per_seed: list[float] = field(default_factory=list)
    units: int = 0
    not_testable: str | None = None  # why, when a side collapsed

    def verdict(self, expect: int = +1) -> str:
        """One of VERDICTS for the claim that A − B has the sign of `expect` (+1 or -1). For a claim
        of no difference (expect 0) an interval that excludes 0 is "opposite"; one that contains 0
        stays "unresolved" (it does not show the two are equal)."""
        if self.not_testable:
            return "not testable"
        lo, hi = self.ci95
        if lo > 0 or hi < 0:
            return "holds" if expect != 0 and (lo > 0) == (expect > 0) else "opposite"
        return "unresolved"

    @property
    def half_width(self) -> float:
        return (self.ci95[1] - self.ci95[0]) / 2

    def as_dict(self) -> dict:
        return {"mean": self.mean, "ci95": list(self.ci95), "per_seed": list(self.per_seed), "units": self.units,
                "not_testable": self.not_testable}

    def __str__(self) -> str:
        return f"{self.mean:+.1f} [{self.ci95[0]:+.1f}, {self.ci95[1]:+.1f}]"


def hierarchical_bootstrap(a: list[np.ndarray], b: list[np.ndarray], statistic, draws: int = 2000,
                           seed: int = 0, scale: float = 100.0) -> PairedInterval:
    """The paired difference statistic(A) − statistic(B) and its 95 % percentile interval.

    a, b: per seed (same order), the per-unit counts [n_units, k] of each method on the same units
    (row i of a[s] and b[s] is the same test unit). statistic: counts summed over units [..., k] ->
    the metric [...] (vectorised over leading axes), e.g. `f1_from_counts`. The point estimate is
    the mean over seeds of the per-seed differences on all units.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"hierarchical_bootstrap: {len(a)} and {len(b)} seeds; need the same seeds, at least one")
    for s, (x, y) in enumerate(zip(a, b)):
        if np.shape(x) != np.shape(y) or np.ndim(x) != 2 or len(x) == 0:
            raise ValueError(f"hierarchical_bootstrap: seed {s}: counts of shapes {np.shape(x)} and {np.shape(y)}; "
                             "need [n_units, k] of the same units for both methods")
    a = [np.asarray(x, dtype=float) for x in a]
    b = [np.asarray(y, dtype=float) for y in b]
    per_seed = [scale * float(statistic(x.sum(0)) - statistic(y.sum(0))) for x, y in zip(a, b)]
    total = np.zeros(draws)
    for rows, s, units in _resamples([len(x) for x in a], draws, seed):  # the same units for A and B
        total[rows] += statistic(a[s][units].sum(1)) - statistic(b[s][units].sum(1))
    return _interval(per_seed, scale * total / len(a), len(a[0]))


def resampled_difference(n_units: list[int], difference, draws: int = 1000, seed: int = 0, scale: float = 1.0,
                         per_seed: list[float] | None = None) -> PairedInterval:
    """`hierarchical_bootstrap` for a statistic that is not a sum of per-unit counts (e.g. an
    entropy of the pooled errors): difference(s, units) -> A − B on seed s's test units `units`
    (an index array, with repeats), called once per resampled seed of every draw. per_seed: the
    point estimates (in scale's units) when they are computed more carefully than one call
    (default: `difference(s, all units)`)."""
    if not n_units or min(n_units) < 1:
        raise ValueError(f"resampled_difference: need at least one seed and one unit per seed, got {n_units}")
    if per_seed is None:
        per_seed = [scale * float(difference(s, np.arange(n))) for s, n in enumerate(n_units)]
    total = np.zeros(draws)
    for rows, s, units in _resamples(list(n_units), draws, seed):
        total[rows] += [difference(s, u) for u in units]
    return _interval(per_seed, scale * total / len(n_units), n_units[0])


def _resamples(n_units: list[int], draws: int, seed: int):
    """The hierarchical bootstrap's draws, grouped for vectorised statistics: for each position j of
    a draw's seeds and each seed s, (the draws that picked s at j, their units resampled within s)."""
    rng = np.random.default_rng(seed)
    n_seeds = len(n_units)
    picks = rng.integers(n_seeds, size=(draws, n_seeds))  # the seeds of each draw
    for j in range(n_seeds):
        for s in range(n_seeds):
            rows = np.flatnonzero(picks[:, j] == s)
            if len(rows):
                yield rows, s, rng.integers(n_units[s], size=(len(rows), n_units[s]))


def _interval(per_seed: list[float], diffs: np.ndarray, units: int) -> PairedInterval:
    lo, hi = np.nanquantile(diffs, [0.025, 0.975]) if np.isfinite(diffs).any() else (np.nan, np.nan)
    return PairedInterval(float(np.mean(per_seed)), (float(lo), float(hi)), list(per_seed), units)


def collapsed(preds: np.ndarray, share: float = COLLAPSE_SHARE) -> bool:
    """True when one class (background included) is >= `share` of the predictions."""
    preds = np.asarray(preds).ravel()
    return len(preds) > 0 and np.bincount(preds - preds.min()).max() >= share * len(preds)


def oad_counts(videos, metric: str, fps: float) -> np.ndarray:
    """Per test video, the counts [V, 3] (TP, FP, FN) of an OAD F1 metric ("seg_f1_0.1", "seg_f1_0.5",
    "point_f1_1s", ...) of `gadlib.evaluation.oad.DensePrediction`s, ignored frames as `oad_metrics` treats them
    (their truth is background, the prediction keeps its label)."""
    preds = [d.pred for d in videos]
    truths = [np.where(d.ignored, 0, d.truth) for d in videos]
    kind, _, value = metric.rpartition("_")
    if kind == "seg_f1":
        return segment_f1_counts(preds, truths, float(value))
    if kind == "point_f1" and value.endswith("s"):
        return point_f1_counts(preds, truths, fps, float(value[:-1]))
    raise ValueError(f"oad_counts: {metric!r} is not a segment or point F1 (e.g. 'seg_f1_0.1', 'point_f1_1s')")


def paired_runs_interval(runs_a, runs_b, counts, preds, statistic, what: str, **bootstrap) -> PairedInterval:
    """A − B over the seeds both methods ran (`gadlib.evaluation.experiment.Run`s): counts(run) -> per-unit
    counts [n, k] for `hierarchical_bootstrap`, preds(run) -> its predictions, for the collapse
    check ("not testable" when either side collapsed in any seed); `what` names the units."""
    by_seed = [{r.seed: r for r in runs} for runs in (runs_a, runs_b)]
    seeds = sorted(set(by_seed[0]) & set(by_seed[1]))
    if not seeds:
        raise ValueError("paired_runs_interval: the two methods share no seed")
    out = hierarchical_bootstrap(*[[counts(side[s]) for s in seeds] for side in by_seed], statistic, **bootstrap)
    down = sorted({side[s].method for side in by_seed for s in seeds if collapsed(preds(side[s]))})
    if down:
        out = PairedInterval(out.mean, out.ci95, out.per_seed, out.units,
                             f"collapsed: {down} predict one class on >= {COLLAPSE_SHARE:.0%} of {what}")
    return out


def oad_interval(runs_a, runs_b, metric: str, fps: float, **bootstrap) -> PairedInterval:
    """A − B of an OAD F1 metric (runs with results["oad"]["videos"]), videos resampled within seeds."""
    return paired_runs_interval(runs_a, runs_b, lambda r: oad_counts(r.results["oad"]["videos"], metric, fps),
                                lambda r: np.concatenate([d.pred for d in r.results["oad"]["videos"]]),
                                f1_from_counts, "frames", **bootstrap)


def accuracy_interval(runs_a, runs_b, kind: str, **bootstrap) -> PairedInterval:
    """A − B of top-1 accuracy on `kind` ("step", "next", "task"), test samples resampled within seeds."""
    def hits(run) -> np.ndarray:
        result = run.results[kind]
        return np.stack([result["pred"] == result["targets"], np.ones(len(result["pred"]))], axis=1)

    return paired_runs_interval(runs_a, runs_b, hits, lambda r: r.results[kind]["pred"],
                                lambda c: c[..., 0] / c[..., 1], "samples", **bootstrap)


def unit_errors(units: dict, num_classes: int, exclude=()) -> dict:
    """For `entropy_gap_interval`: units[method][s] = per test unit (a video, or a sample) of seed
    s, its (pred, truth) arrays -> each unit's `error_counts`, kept sparse (flat indices, counts),
    computed once so that a bootstrap draw only adds up its units' entries."""
    return {m: [[_nonzero(error_counts(pred, truth, num_classes, exclude=exclude)) for pred, truth in unit_list]
                for unit_list in per_seed] for m, per_seed in units.items()}


def entropy_gap_interval(errors_of_units: dict, a: str, b: str, num_classes: int, score: str = "matched",
                         min_errors: int = 5, draws: int = 500, seed: int = 0,
                         per_seed: list[float] | None = None) -> PairedInterval:
    """A − B of the error-entropy score (nats) with a 95 % hierarchical-bootstrap interval
    (`resampled_difference`: seeds, then test units within a seed, the same units
    for every method). errors_of_units: `unit_errors(...)` of every method compared. score: "raw"
    (`error_entropy`), "miller_madow", or "matched" (`matched_error_entropy` at the
    `matched_counts` of all the methods on the resample, one subsampling draw per bootstrap draw).
    A resample where no class is scored gives NaN and is left out of the interval. per_seed: the
    point estimates when computed with more subsampling draws than one.

    Explained in notebooks/03_misclassification_diversity.ipynb (section 3)."""
    methods = list(errors_of_units)
    n_units = [len(u) for u in errors_of_units[a]]

    def errors(method, s, idx):
        cells = [errors_of_units[method][s][i] for i in idx]
        flat = np.bincount(np.concatenate([c[0] for c in cells]), weights=np.concatenate([c[1] for c in cells]),
                           minlength=num_classes * num_classes)
        return flat.astype(np.int64).reshape(num_classes, num_classes)

    calls = itertools.count()

    def difference(s, idx):
        if score == "matched":
            e = {m: errors(m, s, idx) for m in methods}
            n = matched_counts(e, min_errors)
            # a fresh subsampling draw per bootstrap draw (its noise belongs in the interval), the
            # same one for both methods (common random numbers), reproducible from `seed`
            draw = int(np.random.SeedSequence([seed, s, next(calls)]).generate_state(1)[0])
            return matched_error_entropy(e[a], n, 1, seed=draw) - matched_error_entropy(e[b], n, 1, seed=draw)
        estimator = "plugin" if score == "raw" else score
        return (error_entropy(errors(a, s, idx), min_errors, estimator)
                - error_entropy(errors(b, s, idx), min_errors, estimator))

    return resampled_difference(n_units, difference, draws=draws, seed=seed, per_seed=per_seed)


def _nonzero(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = errors.ravel()
    where = np.flatnonzero(flat)
    return where, flat[where]


SEEDS_NEEDED_CAP = 1000   # `meaning` says "more than this many seeds" past it, not the count


def shared_test_variance(per_seed: list[float], half_width: float) -> float:
    """The part of an interval's variance that more seeds cannot shrink: every seed is tested on the
    same test videos, so their sampling error is shared, and averaging seeds leaves it in place. From
    the hierarchical bootstrap's standard error (half_width / 1.96)², less the seeds' own share
    s² / k (s: the per-seed differences' standard deviation, k seeds); 0 when the seeds' share
    explains it all, or when it cannot be estimated."""
    if len(per_seed) < 2 or not np.isfinite(half_width):
        return 0.0
    s = float(np.std(per_seed, ddof=1))
    return max(0.0, (half_width / Z_95) ** 2 - s ** 2 / len(per_seed)) if np.isfinite(s) else 0.0


def seeds_needed(per_seed: list[float], effect: float | None, test_variance: float = 0.0) -> int | None:
    """About how many seeds this scale needs to resolve an effect of size `effect` (same units as
    `per_seed`), on the same test set. The mean over n seeds has a variance s² / n (s: the per-seed
    differences' standard deviation, ddof 1) plus `test_variance`, the shared test set's part
    (`shared_test_variance`), which no number of seeds shrinks; the interval clears 0 in about 80 % of
    runs when the true difference is `effect` once (z_0.975 + z_0.8) · √(s² / n + test_variance) ≤
    |effect|, so n = s² / ((|effect| / (z_0.975 + z_0.8))² − test_variance); with no test part,
    n = ((z_0.975 + z_0.8) · s / |effect|)². A rough guide (s from a few seeds is itself noisy).
    math.inf when the test set's part alone is too wide (more test videos, not seeds, would do);
    None when it cannot be estimated: no effect, fewer than 2 seeds, or s = 0."""
    if effect is None or effect == 0 or len(per_seed) < 2:
        return None
    s = float(np.std(per_seed, ddof=1))
    if not np.isfinite(s) or s == 0:
        return None
    room = (abs(effect) / POWER_Z) ** 2 - test_variance
    if room <= 0:
        return math.inf
    return max(2, math.ceil(s ** 2 / room))


def judge(iv: PairedInterval, expect: int = +1, paper_effect: float | None = None, margin: float | None = None,
          converged: bool = True, unit: str = "points", paper_claim: bool | None = None,
          pair: str | None = None) -> dict:
    """A comparison that mirrors a paper claim, as the results files store it: `iv.as_dict()` and

    - claim "direction" (expect +1 / -1, "A > B" / "A < B") with `PairedInterval.verdict`, or claim
      "equal" (expect 0, "A ≈ B") with a `margin` > 0: "equivalent" when the interval lies inside
      ±margin, "differs" when it lies wholly outside, "unresolved" otherwise (never "opposite");
    - `paper_effect` (the paper's A − B, or None) and `paper_inside` (is it inside ci95);
    - `half_width` and `seeds_needed`, with what they are sized for in `seeds_needed_for`: the
      paper's effect ("paper_effect") for a direction claim; for an equality claim the margin
      ("equal": the interval to fit inside ±margin, were the two truly equal) while this run's mean
      lies inside ±margin, else the mean's distance beyond it ("differs": the interval to clear the
      margin, were this run's mean the truth);
    - no verdict on one seed (ONE_SEED) or when a run did not converge (`converged` False);
    - `paper_claim`: does the comparison mirror a claim of the paper (only then can it be
      "reproduced")? By default every direction claim does (notebooks 01-05 test the paper's
      directions, some where the paper prints no number) and an equality claim does when the paper
      gives its effect (its "≈" claims: rand ≈ text, extend ≈ discriminative, desync ≈ extend, ...);
      an "≈" without one is the notebook's own question (01's exact ≈ greedy, 03's GAD ≈ discriminative);
    - `pair`: the comparison's "A − B" in words ("gad − no_cls"), stored and named in `meaning`, so
      the paper's difference is read in the same order and sign as this run's interval;
    - `meaning`: one plain sentence (`meaning`).
    """
    equal = expect == 0
    if equal and not (margin and margin > 0):
        raise ValueError(f"judge: an equality claim (expect=0) needs a margin > 0, got {margin!r}")
    lo, hi = iv.ci95
    out = {**iv.as_dict(), "expect": expect, "claim": "equal" if equal else "direction", "unit": unit}
    if not converged:
        out["not_testable"] = iv.not_testable or "a run stopped at its epoch cap (converged: false)"
    if len(iv.per_seed) < 2:
        verdict = ONE_SEED
    elif out["not_testable"]:
        verdict = "not testable"
    elif equal:
        verdict = ("equivalent" if -margin <= lo and hi <= margin else
                   "differs" if lo > margin or hi < -margin else "unresolved")
    else:
        verdict = iv.verdict(expect)
    if paper_claim is None:
        paper_claim = _mirrors_paper("equal" if equal else "direction", paper_effect)
    out.update(verdict=verdict, paper_effect=paper_effect, paper_claim=bool(paper_claim),
               paper_inside=None if paper_effect is None else bool(lo <= paper_effect <= hi),
               half_width=iv.half_width, seeds=len(iv.per_seed))
    test_var = shared_test_variance(iv.per_seed, iv.half_width)
    if equal:
        # size the seeds for the outcome this run points to: "equal" while the mean lies inside
        # ±margin, else "differs" (an interval wholly beyond the margin: its half-width must shrink
        # below the distance from the mean to the margin)
        beyond = abs(iv.mean) - margin
        out.update(margin=margin, seeds_needed_for="differs" if beyond > 0 else "equal")
        n = seeds_needed(iv.per_seed, beyond if beyond > 0 else margin, test_var)
    else:
        out["seeds_needed_for"] = "paper_effect"
        n = seeds_needed(iv.per_seed, paper_effect, test_var)
    # "the test set" when its shared part alone is too wide: no number of seeds would do (stored as
    # None, not infinity, which JSON has no word for)
    out.update(seeds_needed=None if n == math.inf else n, seeds_limited_by="the test set" if n == math.inf else None)
    if pair:
        out["pair"] = pair
    out["meaning"] = meaning(out)
    return out


def _mirrors_paper(claim: str, paper_effect: float | None) -> bool:
    """`judge`'s default `paper_claim` (also for dicts stored without one): every direction claim,
    and an equality claim where the paper gives its effect."""
    return claim != "equal" or paper_effect is not None


def meaning(judged: dict) -> str:
    """One plain sentence on what a `judge`d comparison says, beyond its verdict: about the paper's
    claim where it mirrors one (`paper_claim`), else about the two methods at this scale."""
    v, effect, unit = judged["verdict"], judged.get("paper_effect"), judged.get("unit", "points")
    paper_claim = judged.get("paper_claim", _mirrors_paper(judged["claim"], effect))
    # with the pair named, the paper's difference reads "A − B = +2.1": one order and sign with the run's
    pair = f"{judged['pair']} = " if judged.get("pair") else ""
    paper = None if effect is None else f"the paper's {pair}{effect:+.{2 if unit == 'nats' else 1}f}"
    need = ""
    what = {"differs": f"them differ by more than ±{judged.get('margin', 0):g}",
            "equal": f"the two equal within ±{judged.get('margin', 0):g}"}.get(
        judged.get("seeds_needed_for"), "an effect as large as the paper's")
    if judged.get("seeds_limited_by") == "the test set":
        need = (f"; no number of seeds would show {what} on this test set: the part of the interval that comes "
                "from the test set (the same test samples or videos for every seed) is already too wide; a larger "
                "test set would")
    elif n := judged.get("seeds_needed"):
        # past SEEDS_NEEDED_CAP the count says only "out of reach" (a tiny effect, or a mean a hair
        # past the margin, gives six-digit counts whose digits mean nothing)
        count = f"about {n}" if n <= SEEDS_NEEDED_CAP else f"more than {SEEDS_NEEDED_CAP:,}"
        far = ": out of reach at this scale" if n > SEEDS_NEEDED_CAP else ""
        if n <= judged["seeds"]:
            # this many seeds on this test set already give an interval narrow enough for what is
            # sized: what keeps the verdict open is this run's own mean, said with the interval's end
            # that crosses the margin (one digit more: "-0.15" hides a bound of -0.155)
            digits = 3 if unit == "nats" else 2
            lo, hi = judged["ci95"]
            end = lo if abs(lo) > abs(hi) else hi
            mean = f"{judged['mean']:+.{digits}f}"
            why = {"equal": f"were the true gap 0, its seeds and test set would usually show the two equal within "
                            f"±{judged.get('margin', 0):g}; this run's mean ({mean}) puts the interval's end at "
                            f"{end:+.{digits}f}, past the margin",
                   "differs": f"were this run's mean the truth, its seeds and test set would usually show them differ "
                              f"by more than ±{judged.get('margin', 0):g}; its mean ({mean}) lies too near the margin "
                              "for this one interval"}.get(
                judged.get("seeds_needed_for"),
                f"were the true difference the paper's, its seeds and test set would usually resolve it; this "
                f"run's own difference ({mean}) is smaller")
            need = f"; {why}"
        elif judged["claim"] == "equal" and judged.get("seeds_needed_for") == "differs":
            need = f"; {count} seeds would show {what}, if this run's mean is right{far and ': it lies almost on the margin'}"
        elif judged["claim"] == "equal":
            need = f"; {count} seeds would show {what}, if they are{far}"
        else:
            # say what "it" is: the paper's effect, which this run's mean may not even point towards
            against = "; this run's mean has the opposite sign" if effect and judged["mean"] * effect < 0 else ""
            need = f"; {count} seeds would resolve {what}{far}{against}"
    if v == ONE_SEED:
        where = "" if paper is None else (f"; {paper} lies {'inside' if judged['paper_inside'] else 'outside'} "
                                          "this one-seed interval")
        return ("the interval resamples test units only, not seeds, so it misses the seed-to-seed spread: "
                f"run more seeds for a verdict{where}")
    if v == "not testable":
        return f"{judged['not_testable']}: this run's numbers do not speak for the method"
    if judged["claim"] == "equal":
        m = f"±{judged['margin']:g} {unit.removesuffix('s') if judged['margin'] == 1 else unit}"
        if v == "equivalent":
            return f"reproduced: the two agree within {m}" if paper_claim else f"equal within {m}: the two agree at this scale"
        if v == "differs":
            return (f"the paper has the two about equal; here they differ by more than {m}" if paper_claim
                    else f"the two differ by more than {m} at this scale")
        lo, hi = judged["ci95"]
        if lo > 0 or hi < 0:   # a real difference, of a size not shown to exceed the margin
            return (f"a difference (the interval excludes 0), but not shown to exceed {m}: "
                    f"neither equal within {m} nor beyond it{need}")
        return f"neither shown equal (within {m}) nor different at this scale{need}"
    if v == "holds":
        if not paper_claim:
            return "the interval excludes 0 in the claimed direction"
        size = "" if paper is None else (f"; {paper} lies inside the interval" if judged["paper_inside"]
                                         else f"; {paper} lies outside the interval (a different size here)")
        # the paper's numbers are from other data (and often another metric): what reproduces is the direction
        return "direction reproduced" + size
    if v == "opposite":
        return ("the paper's direction is reversed here: the interval excludes 0 on the other side" if paper_claim
                else "the interval excludes 0 on the other side of the claim")
    if paper is None:
        return f"this run cannot tell the two apart{need}"
    if judged["paper_inside"]:
        return f"consistent with {paper}, but this scale cannot resolve it{need}"
    return f"{paper} lies outside the interval: no difference of that size at this scale, and none shown either way"


def takeaway(claims: list[tuple[str, dict]]) -> str:
    """The table that ends a notebook: per claim (the paper's, with its number where it has one, or
    the notebook's own question), this run's mean and 95 % interval, the verdict and what it means.
    claims: (statement, `judge` dict)."""
    rows = ["| claim (the paper's number where it has one) | this run: A − B [95 % interval] | seeds | verdict | what it means |",
            "|---|---|---|---|---|"]
    for statement, d in claims:
        unit = "nats" if d.get("unit") == "nats" else "pt"
        digits = 2 if unit == "nats" else 1
        rows.append(f"| {statement} | {d['mean']:+.{digits}f} [{d['ci95'][0]:+.{digits}f}, {d['ci95'][1]:+.{digits}f}] "
                    f"{unit} | {d['seeds']} | **{d['verdict']}** | {d['meaning']} |")
    return "\n".join(rows)
