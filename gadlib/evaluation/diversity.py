"""Misclassification diversity: where the wrong predictions of each class go (the paper's claim 4).

Explained in notebooks/03_misclassification_diversity.ipynb.

The paper reports "an entropy score over the wrong predictions of each class" without its
formula. gadlib's definition (`error_entropy`):

    for every true class c with at least `min_errors` errors, H_c = - sum_j p_cj ln p_cj (nats),
    where p_cj is the share of c's errors predicted as class j (j != c);
    the score is the mean of H_c over those classes, and exp(score) is the effective number
    of classes the errors go to (`effective_confusers`): 1 = always the same confuser,
    k = spread evenly over k classes.

Read it with care: the plug-in entropy of n draws is biased low and grows with n, so a
classifier that errs more looks more "diverse" by sampling alone. Two controls:
`matched_error_entropy` subsamples every class's errors to the same number for the methods
compared (repeated draws), and the Miller-Madow estimator (`entropy(..., "miller_madow")`) adds
the first-order bias correction (K - 1) / (2 n). `null_error_entropy` gives the entropy of the
same numbers of errors sent to random wrong classes (uniformly or following the class prior),
so a score can be placed between "one confuser" (0) and "random".

Why the errors go where they go: `error_anatomy` (does the prediction share the verb, the
object, both or neither with the truth) against `anatomy_chance` (the same shares for a random
wrong class), and `confusion_vs` (confusion rate of class pairs grouped by a pair property:
shared label tokens, `shared_tokens`, or visual similarity, `class_similarity`).

Background (OAD class 0) is a class like any other for the metrics, but a frame of an action
predicted as background is a missed detection, not a confusion between actions: pass it in
`exclude` to keep it out of both the true classes and the destinations.

`diversity_table` builds notebook 03's table (the raw, Miller-Madow and matched scores, the null
baselines, error counts) from predictions; `python -m gadlib.diversity RUN_DIR...` prints it for
the predictions.npz of runs written by `python -m gadlib.train`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import torch
from sklearn.metrics import confusion_matrix

from gadlib.evaluation.predictions import PREDICTIONS_FILE, load_predictions
from gadlib.data.vocabulary import PHRASES

ESTIMATORS = ("plugin", "miller_madow")


def _check_labels(pred, truth, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = (np.asarray(x).ravel() for x in (pred, truth))
    if pred.shape != truth.shape:
        raise ValueError(f"pred has {pred.size} labels but truth has {truth.size}")
    for name, x in (("pred", pred), ("truth", truth)):
        if x.size and (not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() >= num_classes):
            raise ValueError(f"{name} must hold class indices in [0, {num_classes}), got values "
                             f"{x.min()}..{x.max()} of dtype {x.dtype}")
    return pred.astype(np.int64), truth.astype(np.int64)


def error_counts(pred, truth, num_classes: int, exclude=()) -> np.ndarray:
    """int64 [C, C]: E[i, j] = how often true class i was predicted as class j != i.

    The confusion matrix (scikit-learn) with its diagonal (the correct predictions) zeroed; rows
    and columns of the classes in `exclude` (e.g. OAD background, 0) are zeroed too, so only
    errors between the other classes remain.
    """
    pred, truth = _check_labels(pred, truth, num_classes)
    if not pred.size:   # no predictions, no errors (scikit-learn refuses an empty input)
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    counts = confusion_matrix(truth, pred, labels=np.arange(num_classes)).astype(np.int64)
    np.fill_diagonal(counts, 0)
    excluded = list(exclude)
    counts[excluded, :] = 0
    counts[:, excluded] = 0
    return counts


def entropy(counts, estimator: str = "plugin") -> float:
    """Entropy in nats of the distribution that `counts` (one class's errors per destination) samples.

    "plugin": -sum p ln p with p = counts / n (scipy.stats.entropy): biased low, by about
    (K - 1) / (2 n) for K occupied destinations and n draws.
    "miller_madow": plug-in + (K - 1) / (2 n), K = destinations with a count > 0 (Miller, 1955):
    the first-order correction of that bias. NaN when n = 0.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    counts = np.asarray(counts, dtype=float).ravel()
    if (counts < 0).any():
        raise ValueError("entropy: counts must be >= 0")
    n = counts.sum()
    if n == 0:
        return float("nan")
    h = float(scipy.stats.entropy(counts))
    if estimator == "miller_madow":
        h += (np.count_nonzero(counts) - 1) / (2 * n)
    return h


def per_class_error_entropy(errors: np.ndarray, min_errors: int = 5, estimator: str = "plugin") -> np.ndarray:
    """float [C]: H_c of each true class's errors (a row of `error_counts`); NaN for classes with
    fewer than `min_errors` errors (too few to say where they go)."""
    errors = _check_errors(errors)
    if min_errors < 1:
        raise ValueError(f"min_errors must be >= 1, got {min_errors}")
    n = errors.sum(1)
    out = np.full(len(errors), np.nan)
    scored = n >= min_errors
    out[scored] = _entropies(errors[scored].astype(float), estimator)  # vectorised: bootstraps call it per draw
    return out


def _check_errors(errors) -> np.ndarray:
    errors = np.asarray(errors)
    if errors.ndim != 2 or errors.shape[0] != errors.shape[1]:
        raise ValueError(f"errors must be a square [C, C] count matrix (error_counts), got shape {errors.shape}")
    if np.diag(errors).any():
        raise ValueError("errors has counts on its diagonal: pass error_counts(...), not a confusion matrix")
    return errors


def error_entropy(errors: np.ndarray, min_errors: int = 5, estimator: str = "plugin") -> float:
    """The misclassification-diversity score: mean over classes with >= `min_errors` errors of
    the entropy (nats) of where their errors go. NaN when no class has enough errors."""
    h = per_class_error_entropy(errors, min_errors, estimator)
    return float(np.nanmean(h)) if np.isfinite(h).any() else float("nan")


def effective_confusers(score: float) -> float:
    """exp(entropy score): the number of classes that, hit equally often, give that entropy
    (1 = one confuser; k = k equal confusers). Of the mean entropy, i.e. a geometric mean."""
    return float(np.exp(score))


def matched_counts(errors_by_method: dict, min_errors: int = 5) -> np.ndarray:
    """int [C]: per true class, the error count every method can be subsampled to (the smallest
    over the methods), 0 where some method has fewer than `min_errors` errors (class left out)."""
    if not errors_by_method:
        raise ValueError("matched_counts: no methods")
    n = np.min([_check_errors(e).sum(1) for e in errors_by_method.values()], axis=0)
    return np.where(n >= min_errors, n, 0)


def subsample_errors(errors: np.ndarray, n_per_class, rng: np.random.Generator) -> np.ndarray:
    """A random subset of each class's errors, `n_per_class[c]` of them, drawn without
    replacement (a multivariate hypergeometric draw per row); same shape as `errors`."""
    errors = _check_errors(errors)
    n_per_class = np.asarray(n_per_class, dtype=np.int64)
    have = errors.sum(1)
    if n_per_class.shape != have.shape or (n_per_class > have).any() or (n_per_class < 0).any():
        raise ValueError(f"subsample_errors: n_per_class must be [C] = [{len(have)}] counts between 0 and each "
                         f"class's errors; got shape {n_per_class.shape}")
    out = np.zeros_like(errors)
    for c in np.flatnonzero(n_per_class):
        out[c] = rng.multivariate_hypergeometric(errors[c], int(n_per_class[c]))
    return out


def matched_error_entropy(errors: np.ndarray, n_per_class, draws: int = 20, seed: int = 0,
                          estimator: str = "plugin") -> float:
    """The entropy score at equal error counts: each class's errors subsampled to
    `n_per_class[c]` (`matched_counts`; classes with 0 are left out), mean over `draws` draws.
    Methods scored with the same `n_per_class` carry the same sampling bias, so their scores
    compare what is left: how spread out the errors are."""
    n_per_class = np.asarray(n_per_class)
    if not (n_per_class > 0).any():
        return float("nan")
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(draws):
        sub = subsample_errors(errors, n_per_class, rng)
        scores.append(np.mean(_entropies(sub[n_per_class > 0], estimator)))
    return float(np.mean(scores))


def null_error_entropy(n_per_class, prior=None, allowed=None, draws: int = 20, seed: int = 0,
                       estimator: str = "plugin", min_errors: int = 1) -> float:
    """The entropy score if each class's `n_per_class[c]` errors went to random wrong classes.

    prior: [C] weights of the destinations (None: uniform; e.g. the training frequency of the
    classes: "follows the class prior"); a class never goes to itself, and only classes in
    `allowed` (bool [C]; None: all) are destinations. Mean over classes with >= `min_errors`
    errors and over `draws` draws: the same sampling bias as the measured plug-in score, so the
    measured score can be read against it directly.
    """
    n_per_class = np.asarray(n_per_class, dtype=np.int64)
    C = len(n_per_class)
    weights = np.ones(C) if prior is None else np.asarray(prior, dtype=float)
    allowed = np.ones(C, bool) if allowed is None else np.asarray(allowed, bool)
    if weights.shape != (C,) or allowed.shape != (C,) or (weights < 0).any():
        raise ValueError(f"null_error_entropy: prior and allowed must be [C] = [{C}] (prior >= 0), got "
                         f"{weights.shape} and {allowed.shape}")
    classes = np.flatnonzero(n_per_class >= min_errors)
    if not len(classes):
        return float("nan")
    p = np.tile(weights * allowed, (len(classes), 1))
    p[np.arange(len(classes)), classes] = 0  # a class never goes to itself
    if (p.sum(1) == 0).any():
        raise ValueError(f"null_error_entropy: class {classes[p.sum(1) == 0][0]} has no allowed destination "
                         f"with a prior > 0")
    p /= p.sum(1, keepdims=True)
    rng = np.random.default_rng(seed)
    # one multinomial draw per class and draw, all at once: [draws, classes, C]
    counts = rng.multinomial(n_per_class[classes], p, size=(draws, len(classes)))
    return float(np.mean(_entropies(counts, estimator)))


def _entropies(counts: np.ndarray, estimator: str) -> np.ndarray:
    """`entropy` of every row (last axis) of an array of counts, vectorised."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    n = counts.sum(-1, keepdims=True)
    p = counts / n
    h = -np.sum(p * np.log(np.where(p > 0, p, 1)), axis=-1)
    if estimator == "miller_madow":
        h = h + (np.count_nonzero(counts, axis=-1) - 1) / (2 * n[..., 0])
    return h


def verb_object_indices(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """int [C] verb index and int [C] object index of each class name (indices into the sorted
    distinct verbs / objects).

    A label is "verb object" ("pour olive oil": verb "pour", object "olive oil"), or in the
    descriptive style of the GoalStep-like preset "verb the object <phrase>" with a phrase from
    `gadlib.data.vocabulary.PHRASES` ("cut the onion with a sharp knife": object "onion"). Real data
    sets (EPIC-Kitchens' verb-noun pairs) can pass their own indices instead.
    """
    if not names:
        raise ValueError("verb_object_indices: no class names")
    verbs, objects = [], []
    for name in names:
        verb, _, rest = name.strip().partition(" ")
        if not rest:
            raise ValueError(f"verb_object_indices: label {name!r} has no object (expected 'verb object')")
        for phrase in PHRASES:
            if rest.startswith("the ") and rest.endswith(" " + phrase):
                rest = rest[len("the "):-len(phrase) - 1]
                break
        verbs.append(verb)
        objects.append(rest)
    return (np.unique(verbs, return_inverse=True)[1].astype(np.int64),
            np.unique(objects, return_inverse=True)[1].astype(np.int64))


ANATOMY = ("same_verb_only", "same_object_only", "both", "neither")


def _anatomy_masks(verb_of: np.ndarray, object_of: np.ndarray) -> dict[str, np.ndarray]:
    """bool [C, C] per anatomy part: which (true, predicted) class pairs it covers."""
    v = verb_of[:, None] == verb_of[None, :]
    o = object_of[:, None] == object_of[None, :]
    return {"same_verb_only": v & ~o, "same_object_only": o & ~v, "both": v & o, "neither": ~v & ~o}


def error_anatomy(errors: np.ndarray, verb_of, object_of) -> dict:
    """Shares of all errors (a `error_counts` matrix) whose prediction shares only the verb, only
    the object, both (possible when labels differ in more than verb and object) or neither with
    the truth; they sum to 1. Also "same_verb" (= verb only + both), "same_object", and "errors".
    """
    errors = _check_errors(errors)
    verb_of, object_of = _check_parts(verb_of, object_of, len(errors))
    total = errors.sum()
    shares = {k: (float(errors[m].sum() / total) if total else float("nan"))
              for k, m in _anatomy_masks(verb_of, object_of).items()}
    return _with_totals(shares, int(total))


def anatomy_chance(errors: np.ndarray, verb_of, object_of, prior=None, allowed=None) -> dict:
    """The `error_anatomy` shares expected if every error of class c went to a random wrong class:
    uniform over the `allowed` classes other than c, or following `prior` (weights [C]).
    Exact expectation (no sampling), weighted by each class's number of errors."""
    errors = _check_errors(errors)
    C = len(errors)
    verb_of, object_of = _check_parts(verb_of, object_of, C)
    weights = np.ones(C) if prior is None else np.asarray(prior, dtype=float)
    allowed = np.ones(C, bool) if allowed is None else np.asarray(allowed, bool)
    p = np.tile(weights * allowed, (C, 1))
    np.fill_diagonal(p, 0)
    rows = errors.sum(1)
    if (p[rows > 0].sum(1) == 0).any():
        raise ValueError("anatomy_chance: a class with errors has no allowed destination")
    p[rows > 0] /= p[rows > 0].sum(1, keepdims=True)
    total = rows.sum()
    shares = {k: (float((rows[:, None] * p * m).sum() / total) if total else float("nan"))
              for k, m in _anatomy_masks(verb_of, object_of).items()}
    return _with_totals(shares, int(total))


def _with_totals(shares: dict, total: int) -> dict:
    return {**shares, "same_verb": shares["same_verb_only"] + shares["both"],
            "same_object": shares["same_object_only"] + shares["both"], "errors": total}


def _check_parts(verb_of, object_of, C: int) -> tuple[np.ndarray, np.ndarray]:
    verb_of, object_of = np.asarray(verb_of), np.asarray(object_of)
    if verb_of.shape != (C,) or object_of.shape != (C,):
        raise ValueError(f"verb_of and object_of must have one entry per class ({C}), got shapes "
                         f"{verb_of.shape} and {object_of.shape}")
    return verb_of, object_of


def shared_tokens(sequences: list[list[int]]) -> np.ndarray:
    """int [C, C]: how many distinct tokens the label token sequences of two classes share (the
    overlap the paper blames: "add sugar" and "add salt" share "add")."""
    sets = [set(s) for s in sequences]
    return np.array([[len(a & b) for b in sets] for a in sets], dtype=np.int64)


def class_similarity(features, labels, num_classes: int) -> np.ndarray:
    """float [C, C]: cosine similarity of the classes' mean feature vectors (how alike two classes
    look in the data), from frame or sample `features` [N, D] and their class `labels` [N].
    NaN rows and columns for classes without any sample."""
    features = np.asarray(features, dtype=float)
    labels = np.asarray(labels)
    if features.ndim != 2 or labels.shape != (len(features),):
        raise ValueError(f"class_similarity: features must be [N, D] with labels [N], got {features.shape} "
                         f"and {labels.shape}")
    means = np.full((num_classes, features.shape[1]), np.nan)
    for c in np.unique(labels):
        means[c] = features[labels == c].mean(0)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    return means @ means.T


def confusion_vs(errors: np.ndarray, support, pair_property: np.ndarray, bins=None,
                 classes=None) -> pd.DataFrame:
    """Confusion rate of ordered class pairs (i, j != i), grouped by a pair property.

    rate(i -> j) = errors[i, j] / support[i] (the share of class i's frames or samples predicted
    as j). Pairs are grouped by `pair_property[i, j]` (e.g. `shared_tokens`, or
    `class_similarity` cut into `bins`); `classes` (indices, default: all) chooses the classes
    taking part, of which those with support 0 are left out. Returns one row per group: pairs,
    mean rate (%) and its standard error (%).
    """
    errors = _check_errors(errors)
    support, prop = np.asarray(support, dtype=float), np.asarray(pair_property)
    C = len(errors)
    if support.shape != (C,) or prop.shape != (C, C):
        raise ValueError(f"confusion_vs: support must be [{C}] and pair_property [{C}, {C}], got "
                         f"{support.shape} and {prop.shape}")
    classes = np.flatnonzero(support > 0) if classes is None else np.asarray(classes)
    classes = classes[support[classes] > 0]  # a class without frames has no rate
    i, j = np.meshgrid(classes, classes, indexing="ij")
    keep = i != j
    i, j = i[keep], j[keep]
    frame = pd.DataFrame({"group": prop[i, j] if bins is None else pd.cut(prop[i, j], bins),
                          "rate": 100 * errors[i, j] / support[i]})
    out = frame.groupby("group", observed=True)["rate"].agg(pairs="size", rate="mean", sem="sem")
    return out.rename(columns={"rate": "confusion rate (%)", "sem": "standard error (%)"})


@torch.no_grad()
def decision_states(classifier, batch) -> np.ndarray:
    """float32 [B, H]: the last-layer hidden state a classifier decides from.

    Discriminative and GAD: the state at the `[CLS]` query (what the linear head reads).
    Generative: the state at the last prompt position, just before the label (what the LM head
    reads to choose the label's first token).
    """
    classifier.eval()
    if hasattr(classifier, "readout_state"):
        return classifier.readout_state(batch).float().cpu().numpy()
    if not hasattr(classifier, "label_spaces"):
        raise TypeError(f"decision_states: no decision state known for {type(classifier).__name__}")
    # left padding: every prompt's last position is the last column
    embeds, mask, positions = classifier.mllm.pad(classifier.mllm.prefix_embeds(batch.visual, batch.kinds), left=True)
    return classifier.mllm.hidden_states(embeds, mask, positions)[:, -1].float().cpu().numpy()


# ---------------------------------------------------------------------------------------------
# Notebook 03's table, from any predictions (and the command line on runs' predictions.npz)
# ---------------------------------------------------------------------------------------------

TABLE_COLUMNS = ("error_entropy", "error_entropy_mm", "error_entropy_matched", "null_uniform_matched",
                 "effective_confusers", "null_uniform", "null_prior", "errors", "classes_scored", "classes_matched",
                 "missed_as_background")


def diversity_table(preds: dict, num_classes: dict, exclude: dict, prior: dict, min_errors: int = 5,
                    draws: int = 20) -> pd.DataFrame:
    """One row per (data, method, seed) of notebook 03's section 3.

    preds: {(data, method, seed): (pred, truth)}; num_classes / exclude (e.g. (0,) for OAD
    background, () otherwise) / prior (training counts per class) per data set. The matched
    score subsamples each class's errors to the smallest count the methods of the same data set
    and seed have.
    """
    errors = {k: error_counts(p, t, num_classes[k[0]], exclude=exclude[k[0]]) for k, (p, t) in preds.items()}
    rows = []
    for data, seed in dict.fromkeys((d, s) for d, _, s in preds):
        methods = [m for d, m, s in preds if (d, s) == (data, seed)]
        matched = matched_counts({m: errors[(data, m, seed)] for m in methods}, min_errors)
        allowed = ~np.isin(np.arange(num_classes[data]), exclude[data])
        for method in methods:
            e, (pred, truth) = errors[(data, method, seed)], preds[(data, method, seed)]
            action = ~np.isin(truth, exclude[data])
            h = error_entropy(e, min_errors)
            rows.append({"data": data, "method": method, "seed": seed, "error_entropy": h,
                         "error_entropy_mm": error_entropy(e, min_errors, "miller_madow"),
                         "error_entropy_matched": matched_error_entropy(e, matched, draws, seed=seed),
                         "effective_confusers": effective_confusers(h),
                         "null_uniform": null_error_entropy(e.sum(1), allowed=allowed, draws=draws, seed=seed,
                                                            min_errors=min_errors),
                         "null_prior": null_error_entropy(e.sum(1), prior[data], allowed, draws, seed=seed,
                                                          min_errors=min_errors),
                         "null_uniform_matched": null_error_entropy(matched, allowed=allowed, draws=draws, seed=seed),
                         "errors": int(e.sum()), "classes_scored": int((e.sum(1) >= min_errors).sum()),
                         "classes_matched": int((matched > 0).sum()), "accuracy": float(np.mean(pred == truth)),
                         # OAD: share of action frames called background (missed, not confused)
                         "missed_as_background": float(np.mean(pred[action] == 0)) if exclude[data] else float("nan")})
    return pd.DataFrame(rows)


def summarize_diversity(table: pd.DataFrame) -> pd.DataFrame:
    """The mean over seeds per data set and method, as notebook 03 shows it (entropies in nats)."""
    return table.groupby(["data", "method"], sort=False)[list(TABLE_COLUMNS)].mean().round(2)


def run_predictions(paths: list[str], kind: str | None = None) -> tuple[dict, dict, dict, dict]:
    """(preds, num_classes, exclude, prior) for `diversity_table` from run folders (one sub-folder
    per method, or a method folder) holding predictions.npz; data = the run folder's name.
    kind: the task to score (default "oad" when present, else "step")."""
    preds, num_classes, exclude, prior = {}, {}, {}, {}
    for path in map(Path, paths):
        files = [path / PREDICTIONS_FILE] if (path / PREDICTIONS_FILE).is_file() else sorted(path.glob(f"*/{PREDICTIONS_FILE}"))
        if not files:
            raise FileNotFoundError(f"{path}: no {PREDICTIONS_FILE} in it nor in its sub-folders")
        for file in files:
            data = file.parent.parent.name
            saved = load_predictions(file)
            kinds = {k for _, _, k in saved["tables"]}
            chosen = kind or ("oad" if "oad" in kinds else "step")
            if chosen not in kinds:
                raise ValueError(f"{file}: no {chosen!r} predictions; it has {sorted(kinds)}")
            label_set = {"oad": "oad", "task": "tasks"}.get(chosen, "steps")
            num_classes[data] = len(saved["class_names"][label_set])
            exclude[data] = (0,) if chosen == "oad" else ()
            prior[data] = saved["train_counts"][label_set]
            for (method, seed, k), t in saved["tables"].items():
                if k == chosen:
                    keep = ~t["ignored"] if "ignored" in t else np.ones(len(t["truth"]), bool)
                    # an eval-only folder (gad_eval) repeats its method's key: name it apart
                    label = method if method.startswith(file.parent.name) else f"{method} ({file.parent.name})"
                    preds[(data, label, seed)] = (t["pred"][keep], t["truth"][keep])
    return preds, num_classes, exclude, prior


def main(argv: list[str] | None = None) -> int:
    """`python -m gadlib.diversity RUN_DIR... [--kind step] [--min-errors 5] [--draws 20]`."""
    p = argparse.ArgumentParser(prog="python -m gadlib.diversity",
                                description="Misclassification diversity (notebook 03's table) of runs' predictions")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (runs/<name>/) or method folders")
    p.add_argument("--kind", choices=("oad", "step", "next", "task"), help="the task scored (default: oad, else step)")
    p.add_argument("--min-errors", type=int, default=5, help="a class is scored with at least this many errors")
    p.add_argument("--draws", type=int, default=20, help="draws of the matched score and the null baselines")
    args = p.parse_args(argv)
    try:
        preds, num_classes, exclude, prior = run_predictions(args.runs, args.kind)
        table = diversity_table(preds, num_classes, exclude, prior, args.min_errors, args.draws)
    except (ValueError, FileNotFoundError) as e:
        print(f"python -m gadlib.diversity: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    seeds = sorted(set(table["seed"]))
    print(f"mean over seeds {seeds}; entropies in nats")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(summarize_diversity(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
