"""Figures and tables the notebooks show (matplotlib / seaborn / pandas).

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

KIND_TITLES = {"step": "step recognition", "next": "step forecasting", "task": "task recognition",
               "oad": "online action detection"}
# One colour per method in every notebook's figures (seaborn's colour-blind palette).
METHOD_COLORS = dict(zip(("generative", "discriminative", "gad"), sns.color_palette("colorblind", 3)))


def method_color(method: str):
    """The method's colour; a variant ("gen_rand", "gad_previous_action") takes its family's."""
    family = "generative" if method.startswith("gen") else method.split("_")[0]
    return METHOD_COLORS.get(family, "grey")


def label_bars(ax, fmt: str = "{:.1f}") -> None:
    """Write each bar's value at its end; a bar of exactly 0 reads "0 (collapsed)", so that a
    classifier that never predicts an action is not mistaken for a missing bar."""
    for container in ax.containers:
        if not hasattr(container, "orientation"):
            continue
        sizes = [b.get_width() if container.orientation == "horizontal" else b.get_height() for b in container]
        ax.bar_label(container, labels=["0 (collapsed)" if v == 0 else fmt.format(v) for v in sizes],
                     fontsize=7, padding=2)


def learning_curves(runs) -> pd.DataFrame:
    """Long table (method, seed, step, score, best) of every run's validation curve
    (`History.val_steps` / `val_score`, from `train(..., validate=...)`)."""
    return pd.DataFrame([{"method": r.method, "seed": r.seed, "step": step, "score": score,
                          "best": step == r.history.best_step}
                         for r in runs for step, score in zip(r.history.val_steps, r.history.val_score)])


def plot_learning_curves(runs, ax=None, metric: str = "validation score"):
    """Validation score against optimizer steps, one colour per method: the mean over seeds
    (each seed's curve interpolated onto the steps any seed validated at, between its own first
    and last validation) with the seeds' min-max band, and a dot where each seed's kept weights are.
    "Learns faster" reads off the x-axis, "ends higher" off the dots."""
    df = learning_curves(runs)
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    for method, mine in df.groupby("method", sort=False):
        color = method_color(method)
        grid = np.unique(mine["step"])
        curves = np.full((mine["seed"].nunique(), len(grid)), np.nan)
        for i, (_, seed) in enumerate(mine.groupby("seed")):
            inside = (grid >= seed["step"].min()) & (grid <= seed["step"].max())
            curves[i, inside] = np.interp(grid[inside], seed["step"], seed["score"])
        ax.plot(grid, np.nanmean(curves, axis=0), color=color, lw=1.5, label=method)
        ax.fill_between(grid, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0), color=color, alpha=0.2, lw=0)
        best = mine[mine["best"]]
        ax.scatter(best["step"], best["score"], color=color, s=14, zorder=3, edgecolor="k", lw=0.5)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def convergence_table(runs) -> pd.DataFrame:
    """Per method: the optimizer steps each seed ran and the step whose weights were kept."""
    rows = {}
    for r in sorted(runs, key=lambda r: r.seed):
        row = rows.setdefault(r.method, {"steps run": [], "best step": [], "best validation score": []})
        row["steps run"].append(r.history.steps)
        row["best step"].append(r.history.best_step)
        row["best validation score"].append(round(max(r.history.val_score), 3) if r.history.val_score else None)
    return pd.DataFrame(rows).T


def per_seed_table(summary: dict, metric: str = "top1") -> pd.DataFrame:
    """Long table (method, task, seed, value) from `experiment.summarize` output."""
    rows = []
    for method, metrics in summary.items():
        for key, stats in metrics.items():
            kind, name = key.split("_", 1)
            if name == metric:
                rows += [{"method": method, "task": KIND_TITLES.get(kind, kind), "seed": i, metric: v}
                         for i, v in enumerate(stats["per_seed"])]
    return pd.DataFrame(rows)


def plot_accuracy(summary: dict, metric: str = "top1", ax=None, chance: dict | None = None):
    """Grouped bars: mean over seeds with +/- 1 std error bars, one group per task."""
    df = per_seed_table(summary, metric)
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    sns.barplot(df, x="task", y=metric, hue="method", errorbar="sd", capsize=0.1, ax=ax,
                palette={m: method_color(m) for m in df["method"].unique()})
    label_bars(ax, "{:.2f}")
    # one black per method: a plain color= with hue is a deprecated gradient palette in seaborn 0.13
    sns.stripplot(df, x="task", y=metric, hue="method", dodge=True, palette=["k"] * df["method"].nunique(),
                  size=3, legend=False, ax=ax)
    if chance:
        for i, (task, c) in enumerate(chance.items()):
            ax.hlines(c, i - 0.45, i + 0.45, colors="grey", linestyles=":", label="chance" if i == 0 else None)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"{metric} accuracy")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))   # beside the bars, never over them
    return ax


def plot_latency(timing: dict, ax=None):
    """Per-sample inference latency at batch 1 and batched, per method."""
    df = pd.DataFrame([{"method": m, "batch": b, "ms per sample": t[k]}
                       for m, t in timing.items()
                       for b, k in (("batch 1", "ms_per_sample_b1"), ("batched", "ms_per_sample_batched"))])
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    sns.barplot(df, x="method", y="ms per sample", hue="batch", ax=ax)
    ax.set_yscale("log")
    return ax


def plot_losses(histories: dict, ax=None):
    """Training loss per optimizer step, one line per method (the losses are on different
    scales: generative = token cross-entropy, GAD = classification + generation)."""
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    for name, h in histories.items():
        ax.plot(h.loss, label=name, lw=1)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=8)
    return ax


def split_label(name: str) -> tuple[str, str]:
    """'pour olive oil' -> ('pour', 'olive oil'): verb and object of a verb-object label."""
    verb, _, obj = name.partition(" ")
    return verb, obj


def confused_pairs(pred, targets, names: list[str], top: int = 8) -> pd.DataFrame:
    """The most frequent (true -> predicted) errors, and whether the pair shares a verb or object."""
    counts = Counter((int(t), int(p)) for t, p in zip(targets, pred) if t != p)
    rows = []
    for (t, p), n in counts.most_common(top):
        (tv, to), (pv, po) = split_label(names[t]), split_label(names[p])
        rows.append({"true": names[t], "predicted": names[p], "count": n,
                     "same verb": tv == pv, "same object": to == po})
    return pd.DataFrame(rows)


def error_sharing(pred, targets, names: list[str]) -> dict:
    """Share of all errors whose predicted class shares the true class's verb / object."""
    errors = [(names[t], names[p]) for t, p in zip(targets, pred) if t != p]
    if not errors:
        return {"errors": 0, "same_verb": float("nan"), "same_object": float("nan")}
    same = np.array([[split_label(a)[0] == split_label(b)[0], split_label(a)[1] == split_label(b)[1]]
                     for a, b in errors])
    return {"errors": len(errors), "same_verb": float(same[:, 0].mean()), "same_object": float(same[:, 1].mean())}


def plot_timeline(video, step_names: list[str], ax=None, highlight: int | None = None):
    """One video's step segments on a time axis (frames); background is left blank."""
    ax = ax or plt.subplots(figsize=(9, 1.6))[1]
    colors = plt.cm.tab20(np.linspace(0, 1, 20))
    for i, seg in enumerate(video.segments):
        ax.barh(0, seg.end - seg.start, left=seg.start, color=colors[seg.label % 20],
                edgecolor="k" if i == highlight else "none", lw=2)
        ax.text((seg.start + seg.end) / 2, 0, step_names[seg.label], ha="center", va="center",
                fontsize=7, rotation=20)
    ax.set_xlim(0, len(video.features))
    ax.set_yticks([])
    ax.set_xlabel("frame")
    return ax
