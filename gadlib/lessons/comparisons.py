"""Figures that compare the methods with each other and with the paper (notebooks 03 and 04): error
entropy against its null baselines, confusion rate against shared tokens / visual similarity, the
paper's ablation numbers. Methods keep their colours; what else differs is hatched.
"""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gadlib.lessons.colors import method_color
from gadlib.lessons.plots import label_bars


def _hatched(ax, x, height, width, color, hatch, horizontal=False, **kw):
    """Bars in a method's colour with white hatching: the hatch tells what else differs (score, data set)."""
    draw = ax.barh if horizontal else ax.bar
    return draw(x, height, width, color=color, hatch=hatch or None, edgecolor="white", linewidth=0, **kw)


_MARKERS, _DASHES = ("o", "s", "^", "D", "v"), ("-", "--", ":", "-.")
ENTROPY_SCORES = (("error_entropy", "plug-in", ""), ("error_entropy_mm", "Miller-Madow", "///"),
                  ("error_entropy_matched", "matched", "..."))


# the null baselines and chance rates: short ticks just beside a bar group, never over the bars (the
# uniform one left, pointing right; the prior one right, pointing left), so that both stay visible
# where they coincide and no bar is hidden
_UNIFORM = dict(color="k", marker=">", ms=6, ls="", zorder=4)
_PRIOR = dict(color="0.55", marker="<", ms=6, ls="", zorder=4)


def _ticks_beside(ax, left: float, right: float, uniform: float, prior: float | None = None, gap: float = 0.05):
    """The uniform value as a black tick left of [left, right], the prior one as a grey tick right of it."""
    ax.hlines(uniform, left - 2 * gap, left - gap / 3, colors="k", lw=1.5, zorder=4)
    ax.plot(left - gap, uniform, **_UNIFORM)
    if prior is not None:
        ax.hlines(prior, right + gap / 3, right + 2 * gap, colors="0.55", lw=1.5, zorder=4)
        ax.plot(right + gap, prior, **_PRIOR)


def plot_error_entropy(div: pd.DataFrame, datasets, methods, paper: dict | None = None, scores=ENTROPY_SCORES):
    """Error entropy per data set (panels) and method (bar colour), one bar per score (hatching), mean
    +/- std over seeds; each method's two null baselines as ticks beside its bars, never over them: the
    uniform null a black tick on the left, the prior null a grey tick on the right (where they coincide
    both still show, and the panel title says so); the paper's number as a star. The legend sits beside
    the last panel. div: one row per (data, method, seed) with the score columns and null_uniform / null_prior."""
    datasets, methods = list(datasets), list(methods)
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.4 * len(datasets) + 1.8, 3.3), sharey=True, squeeze=False)
    axes = axes[0]
    group = 0.66
    width = group / len(scores)
    top = 0.0
    for ax, p in zip(axes, datasets):
        mine = div[div["data"] == p]
        same = True
        for i, m in enumerate(methods):
            rows = mine[mine["method"] == m]
            for k, (col, _, hatch) in enumerate(scores):
                x = i + (k - (len(scores) - 1) / 2) * width
                sd = rows[col].std() if len(rows) > 1 else 0.0
                _hatched(ax, x, rows[col].mean(), width, method_color(m), hatch, yerr=sd if np.isfinite(sd) else 0,
                         error_kw=dict(ecolor="0.2", lw=1, capsize=2), zorder=2)
                top = max(top, rows[col].mean() + (sd if np.isfinite(sd) else 0))
            uniform, prior = rows["null_uniform"].mean(), rows["null_prior"].mean()
            same &= bool(np.isclose(uniform, prior, atol=0.01))
            _ticks_beside(ax, i - group / 2, i + group / 2, uniform, prior)
            top = max(top, uniform, prior)
            if paper and p in paper and m in paper[p]:
                ax.plot(i, paper[p][m], "k*", ms=9, mec="white", mew=0.6, zorder=5)
                top = max(top, paper[p][m])
        ax.set_xticks(range(len(methods)), methods, fontsize=8)
        ax.set_title(p + ("\n(uniform and prior nulls coincide)" if same else ""), fontsize=9)
        ax.set_xlim(-0.5, len(methods) - 0.5)
    axes[0].set_ylabel("nats")
    axes[0].set_ylim(0, 1.08 * top)
    handles = [Patch(facecolor="0.45", edgecolor="white", hatch=h or None, label=name) for _, name, h in scores]
    handles += [Line2D([], [], **_UNIFORM, label="null: uniform (left tick)"),
                Line2D([], [], **_PRIOR, label="null: prior (right tick)")]
    if paper:
        handles.append(Line2D([], [], color="k", marker="*", ls="", ms=9, label="paper"))
    axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False,
                    title="bar colour: method", title_fontsize=8)
    fig.tight_layout()
    return fig


def plot_shares_vs_chance(anat: pd.DataFrame, datasets, methods, shares=(("same_verb", "keeps the verb", ""),
                                                                       ("same_object", "keeps the object", "///"))):
    """Share of errors (%) that keep the verb / the object, per data set (panels) and method (bar colour;
    verb plain, object hatched), mean +/- std over seeds; each bar's uniform chance rate (a random wrong
    class) as a black tick beside it (the verb's on the left, the object's on the right, so both show
    where they coincide; the title says so). anat: one row per (data, method, seed) with share_<key> and
    chance_<key> as fractions."""
    datasets, methods = list(datasets), list(methods)
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.4 * len(datasets) + 1.8, 3.2), sharey=True, squeeze=False)
    axes = axes[0]
    width, top = 0.3, 0.0
    for ax, p in zip(axes, datasets):
        mine, same = anat[anat["data"] == p], True
        for i, m in enumerate(methods):
            rows = mine[mine["method"] == m]
            chance = []
            for k, (key, _, hatch) in enumerate(shares):
                x = i + (k - (len(shares) - 1) / 2) * width
                v = 100 * rows[f"share_{key}"]
                sd = v.std() if len(v) > 1 and np.isfinite(v.std()) else 0.0
                _hatched(ax, x, v.mean(), width, method_color(m), hatch, yerr=sd, error_kw=dict(ecolor="0.2", lw=1, capsize=2),
                         zorder=2)
                chance.append(100 * rows[f"chance_{key}"].mean())
                top = max(top, np.nan_to_num(v.mean()) + sd, np.nan_to_num(chance[-1]))
            left, right = i - len(shares) * width / 2, i + len(shares) * width / 2
            ax.hlines(chance[0], left - 0.1, left - 0.02, colors="k", lw=1.5, zorder=4)
            ax.plot(left - 0.05, chance[0], **_UNIFORM)
            ax.hlines(chance[-1], right + 0.02, right + 0.1, colors="k", lw=1.5, zorder=4)
            ax.plot(right + 0.05, chance[-1], **{**_UNIFORM, "marker": "<"})
            same &= bool(np.isclose(chance[0], chance[-1], atol=0.5))
        ax.set_xticks(range(len(methods)), methods, fontsize=8)
        ax.set_xlim(-0.5, len(methods) - 0.5)
        ax.set_title(p + ("\n(verb and object chance coincide)" if same else ""), fontsize=9)
    axes[0].set_ylabel("share of errors (%)")
    axes[0].set_ylim(0, 1.1 * top if top > 0 else 1)
    handles = [Patch(facecolor="0.45", edgecolor="white", hatch=h or None, label=name) for _, name, h in shares]
    handles += [Line2D([], [], **_UNIFORM, label="uniform chance (tick\nbeside its bar)")]
    axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False,
                    title="bar colour: method", title_fontsize=8)
    fig.tight_layout()
    return fig


def _pool_groups(groups: list, pairs: list, min_pairs: int) -> list[list]:
    """Consecutive groups merged from the top down until each holds >= min_pairs pairs; a short
    remainder at the bottom joins the group above it."""
    bins, current, count = [], [], 0
    for g, n in sorted(zip(groups, pairs), reverse=True):
        current.insert(0, g)
        count += n
        if count >= min_pairs:
            bins.insert(0, current)
            current, count = [], 0
    if current:
        if bins:
            bins[0] = current + bins[0]
        else:
            bins = [current]
    return bins


def _pooled(rows: pd.DataFrame) -> tuple[float, float, int]:
    """Mean rate and its standard error over all pairs of several groups (from each group's pairs,
    mean and standard error)."""
    n = rows["pairs"].to_numpy(float)
    mean = rows["confusion rate (%)"].to_numpy(float)
    sem = np.nan_to_num(rows["standard error (%)"].to_numpy(float))
    total = n.sum()
    pooled = float((n * mean).sum() / total)
    ss = ((n - 1) * sem ** 2 * n).sum() + (n * (mean - pooled) ** 2).sum()
    return pooled, float(np.sqrt(ss / (total - 1) / total)) if total > 1 else np.nan, int(total)


def plot_confusion_vs(by_tokens: pd.DataFrame, by_look: pd.DataFrame, datasets, methods, min_pairs: int = 20):
    """Pair confusion rate (%) against shared label tokens (top row) and visual similarity quintile
    (bottom row), one panel per data set, one colour per method, mean +/- standard error over pairs,
    on a linear axis; each method its own marker and dash style, nudged sideways, and curves that coincide
    said so in their panel. Token groups with fewer than `min_pairs` class pairs (for any method) are pooled
    with their neighbours ("5-9", ">=5"): a group of one pair is a single 0 or a single spike.
    by_tokens / by_look: `confusion_vs` tables with data / method columns and "shared label tokens" /
    "visual similarity quintile"."""
    datasets, methods = list(datasets), list(methods)
    fig, axes = plt.subplots(2, len(datasets), figsize=(3.4 * len(datasets) + 1.2, 5.6), squeeze=False)
    for col, p in enumerate(datasets):
        tok = by_tokens[by_tokens["data"] == p]
        fewest = tok.groupby("shared label tokens")["pairs"].min()
        bins = _pool_groups(list(fewest.index), list(fewest.to_numpy()), min_pairs)
        ticks = [str(b[0]) if len(b) == 1 else (f"≥{b[0]}" if b is bins[-1] else f"{b[0]}-{b[-1]}") for b in bins]
        curves = ({}, {})
        for j, method in enumerate(methods):
            # each method its own marker and dash, nudged sideways: curves that coincide all stay visible
            dodge = (j - (len(methods) - 1) / 2) * 0.06
            style = dict(marker=_MARKERS[j % len(_MARKERS)], ls=_DASHES[j % len(_DASHES)], ms=4, capsize=2,
                         color=method_color(method), label=method)
            t = tok[tok["method"] == method]
            stats = [_pooled(t[t["shared label tokens"].isin(b)]) for b in bins]
            curves[0][method] = [s[0] for s in stats]
            axes[0, col].errorbar(np.arange(len(bins)) + dodge, curves[0][method], [s[1] for s in stats], **style)
            t = by_look[(by_look["data"] == p) & (by_look["method"] == method)]
            curves[1][method] = list(t["visual similarity quintile"]) + list(t["confusion rate (%)"])
            axes[1, col].errorbar(t["visual similarity quintile"] + dodge, t["confusion rate (%)"], t["standard error (%)"],
                                  **style)
        for ax, drawn, title in zip(axes[:, col], curves, (p, "")):
            same = [f"{a} = {b}" for a, b in itertools.combinations(methods, 2)
                    if len(drawn[a]) == len(drawn[b]) and np.allclose(drawn[a], drawn[b], atol=0.05, equal_nan=True)]
            # said in the title: the curves are nudged apart, their numbers are the same
            note = f"({', '.join(same)}: curves coincide, nudged apart)" if same else ""
            ax.set_title("\n".join(t for t in (title, note) if t), fontsize=9 if not note else 7.5)
        axes[0, col].set_xticks(range(len(bins)), ticks)
        axes[0, col].set_xlabel(f"label tokens shared (groups of ≥{min_pairs} pairs)", fontsize=8)
        axes[1, col].set_xlabel("visual similarity quintile (1 = least alike)", fontsize=8)
        for ax in axes[:, col]:
            ax.set_ylim(bottom=0)
            ax.set_ylabel("pair confusion rate (%)", fontsize=8)
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_paper_bars(paper: dict, order, columns=((0, "CrossTask"), (2, "EK100")), ax=None, fmt: str = "{:.1f}",
                    xlabel: str = "S-F1@0.1 (%)"):
    """The paper's numbers per method: one horizontal bar per (method, data set), in the method's colour,
    the data set told by hatching (first plain, then hatched), values at the bar ends, the legend below the
    axes. paper: {method: tuple of numbers}; columns: (index into the tuple, data set name)."""
    order = [m for m in order if m in paper]
    ax = ax or plt.subplots(figsize=(6, 0.45 * len(order) + 1.2))[1]
    width = 0.8 / len(columns)
    hatches = ["", "///", "...", "xx"]
    for k, (idx, _) in enumerate(columns):
        y = np.arange(len(order)) + (k - (len(columns) - 1) / 2) * width
        _hatched(ax, y, [paper[m][idx] for m in order], width, [method_color(m) for m in order], hatches[k], horizontal=True)
    ax.set_yticks(range(len(order)), order)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    label_bars(ax, fmt)
    ax.legend(handles=[Patch(facecolor="0.45", edgecolor="white", hatch=hatches[k] or None, label=name)
                       for k, (_, name) in enumerate(columns)],
              loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(columns), fontsize=8, frameon=False)
    return ax
