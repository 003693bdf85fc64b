"""Figures that compare the methods with each other and with the paper (notebooks 03 and 04): error
entropy against its null baselines, confusion rate against shared tokens / visual similarity (and
its pooled table and lift), a group's confusion block, the paper's ablation numbers. Methods keep their colours; what else differs is hatched.
"""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gadlib.lessons.colors import method_color
from gadlib.lessons.plots import label_bars


def _hatched(ax, x, height, width, color, hatch, horizontal=False, **kw):
    """Bars in a method's colour with white hatching: the hatch tells what else differs (score, data set)."""
    draw = ax.barh if horizontal else ax.bar
    return draw(x, height, width, color=color, hatch=hatch or None, edgecolor="white", linewidth=0, **kw)


def _spread_bar(sd: float, seeds: int) -> dict:
    """The error bar of a bar over `seeds` seeds: ± sd, and none at all for one seed (a zero-length
    bar still draws its caps, which read as a spread that does not exist)."""
    return dict(yerr=sd, error_kw=dict(ecolor="0.2", lw=1, capsize=2)) if seeds > 1 else {}


_MARKERS, _DASHES = ("o", "s", "^", "D", "v"), ("-", "--", ":", "-.")
ENTROPY_SCORES = (("error_entropy", "plug-in", ""), ("error_entropy_mm", "Miller-Madow", "///"),
                  ("error_entropy_matched", "matched", "..."))


# the null baselines and chance rates: short ticks just beside a bar group, never over the bars. In the
# entropy figure each null sits on the side of the bars it belongs to: the plug-in nulls (uniform inner,
# prior outer, pointing right) left of the group, beside its plug-in bar; the matched null (hollow,
# pointing left) right of it, beside the matched bar; so both plug-in nulls stay visible where they coincide
_UNIFORM = dict(color="k", marker=">", ms=6, ls="", zorder=4)
_PRIOR = dict(color="0.55", marker=">", ms=6, ls="", zorder=4)
_MATCHED = dict(color="k", marker="<", ms=6, mfc="white", ls="", zorder=4)


def _tick(ax, x: float, y: float, style: dict, gap: float, ls: str = "-"):
    """A short horizontal tick centred on x with its marker (the null's value)."""
    ax.hlines(y, x - gap * 5 / 6, x + gap * 5 / 6, colors=style["color"], lw=1.5, linestyles=ls, zorder=4)
    ax.plot(x, y, **style)


def _nulls_beside(ax, left: float, right: float, uniform: float, prior: float | None = None,
                  matched: float | None = None, gap: float = 0.05):
    """The plug-in nulls left of [left, right] (uniform next to the bars, prior further out), the matched
    null right of it."""
    _tick(ax, left - gap, uniform, _UNIFORM, gap)
    if prior is not None:
        _tick(ax, left - 3 * gap, prior, _PRIOR, gap)
    if matched is not None and np.isfinite(matched):
        _tick(ax, right + gap, matched, _MATCHED, gap, ls=":")


def plot_error_entropy(div: pd.DataFrame, datasets, methods, paper: dict | None = None, scores=ENTROPY_SCORES):
    """Error entropy per data set (panels) and method (bar colour), one bar per score (hatching), mean
    +/- std over seeds; beside each method's bars, never over them, the null baseline of each bar that
    has one: left of the group the plug-in bar's nulls (uniform a black tick next to the bars, prior a
    grey tick further out; where they coincide both still show, and the panel title says so), right of
    the group the matched bar's null (uniform at the matched counts, a hollow tick), when div has
    null_uniform_matched. Miller-Madow has no null: it corrects upwards what the nulls leave biased (the
    legend says so). The paper's number as a white-edged star just right of the method's group (beside the
    matched null, before the next group's nulls), never inside a bar: the paper does not say which estimator it
    used; the legend beside the last panel. div: one row per
    (data, method, seed) with the score columns and null_uniform / null_prior (/ null_uniform_matched)."""
    datasets, methods = list(datasets), list(methods)
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.4 * len(datasets) + 2.6, 3.3), sharey=True, squeeze=False)
    axes = axes[0]
    group = 0.5   # leaves room between groups for the nulls and the paper's star
    width = group / len(scores)
    top = 0.0
    has_matched = "null_uniform_matched" in div.columns
    for ax, p in zip(axes, datasets):
        mine = div[div["data"] == p]
        same = True
        for i, m in enumerate(methods):
            rows = mine[mine["method"] == m]
            for k, (col, _, hatch) in enumerate(scores):
                x = i + (k - (len(scores) - 1) / 2) * width
                sd = rows[col].std() if len(rows) > 1 else 0.0
                sd = sd if np.isfinite(sd) else 0.0
                _hatched(ax, x, rows[col].mean(), width, method_color(m), hatch, zorder=2, **_spread_bar(sd, len(rows)))
                top = max(top, np.nan_to_num(rows[col].mean()) + (sd if np.isfinite(sd) else 0))
            uniform, prior = rows["null_uniform"].mean(), rows["null_prior"].mean()
            matched = rows["null_uniform_matched"].mean() if has_matched else None
            same &= bool(np.isclose(uniform, prior, atol=0.01))
            _nulls_beside(ax, i - group / 2, i + group / 2, uniform, prior, matched)
            top = max(top, *np.nan_to_num([uniform, prior, matched if has_matched else 0.0]))
            if paper and p in paper and m in paper[p]:
                ax.plot(i + group / 2 + 0.16, paper[p][m], "k*", ms=12, mec="white", mew=0.8, zorder=5)
                top = max(top, paper[p][m])
        ax.set_xticks(range(len(methods)), methods, fontsize=8)
        ax.set_title(p + ("\n(uniform and prior nulls coincide)" if same else ""), fontsize=9)
        ax.set_xlim(-0.52, len(methods) - 0.42)
    axes[0].set_ylabel("nats")
    axes[0].set_ylim(0, 1.08 * top)
    handles = [Patch(facecolor="0.45", edgecolor="white", hatch=h or None, label=name) for _, name, h in scores]
    handles += [Line2D([], [], **_UNIFORM, label="plug-in bar's null: uniform\n(left, next to the bars)"),
                Line2D([], [], **_PRIOR, label="plug-in bar's null: prior\n(left, further out)")]
    if has_matched:
        handles.append(Line2D([], [], **_MATCHED, label="matched bar's null: uniform\nat matched counts (right)"))
    handles.append(Line2D([], [], ls="", label="Miller-Madow: no null\n(it corrects upwards)"))
    if paper:
        handles.append(Line2D([], [], color="k", marker="*", ls="", ms=12, mec="white", mew=0.8,
                              label="paper (right of the bars;\nits estimator unpublished)"))
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
                _hatched(ax, x, v.mean(), width, method_color(m), hatch, zorder=2, **_spread_bar(sd, len(v)))
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
    # both tick directions: ▶ left of the verb bar, ◀ right of the object bar
    handles += [Line2D([], [], **_UNIFORM, label=f"uniform chance, {shares[0][1]}\n(tick left of its bar)"),
                Line2D([], [], **{**_UNIFORM, "marker": "<"}, label=f"uniform chance, {shares[-1][1]}\n(tick right of its bar)")]
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


def _group_label(bins: list[list], b: list) -> str:
    """A pooled token group's label: "2", "2-4", or "≥5" for the top one."""
    return str(b[0]) if len(b) == 1 else (f"≥{b[0]}" if b is bins[-1] else f"{b[0]}-{b[-1]}")


def pooled_token_groups(by_tokens: pd.DataFrame, datasets, methods, min_pairs: int = 20) -> pd.DataFrame:
    """The confusion-vs-shared-tokens table as `plot_confusion_vs` draws it: per data set, token groups
    with fewer than `min_pairs` class pairs (for any method) pooled with their neighbours ("2-4", "≥5"),
    each method's pooled mean rate (%) and standard error (%) over the group's pairs. Index (data,
    shared label tokens); columns: pairs (the fewest any method has), one rate column per method and
    "<method> s.e." beside it. by_tokens: `confusion_vs` rows with data / method / "shared label tokens"."""
    frames = {}
    for p in datasets:
        tok = by_tokens[by_tokens["data"] == p]
        fewest = tok.groupby("shared label tokens")["pairs"].min()
        bins = _pool_groups(list(fewest.index), list(fewest.to_numpy()), min_pairs)
        rows = {}
        for b in bins:
            stats = {m: _pooled(tok[(tok["method"] == m) & tok["shared label tokens"].isin(b)]) for m in methods}
            rows[_group_label(bins, b)] = {"pairs": min(s[2] for s in stats.values()),
                                           **{k: v for m, s in stats.items() for k, v in ((m, s[0]), (f"{m} s.e.", s[1]))}}
        frames[p] = pd.DataFrame(rows).T.rename_axis("shared label tokens")
    out = pd.concat(frames, names=["data"])
    out["pairs"] = out["pairs"].astype(int)
    return out


def token_lift(groups: pd.DataFrame, methods) -> pd.DataFrame:
    """How many times as often each method confuses a pair sharing more label tokens than the lowest
    group as a pair in it: the rate pooled over the higher groups (weighted by their pairs, so a sparse
    group does not dominate) over the lowest group's rate, with a delta-method standard error from the
    groups' standard errors (taken as independent). groups: one data set's `pooled_token_groups` rows.
    Index: methods; columns "lift", "s.e."; NaN where there is one group or the lowest rate is 0."""
    first, more = groups.iloc[0], groups.iloc[1:]
    w = (more["pairs"] / more["pairs"].sum()).to_numpy(float) if len(more) else np.zeros(0)
    out = {}
    for m in methods:
        pooled = float((w * more[m].to_numpy(float)).sum())
        pooled_se = float(np.sqrt((w ** 2 * np.nan_to_num(more[f"{m} s.e."].to_numpy(float)) ** 2).sum()))
        if not len(more) or not first[m] > 0:
            out[m] = {"lift": np.nan, "s.e.": np.nan}
            continue
        lift = pooled / first[m]
        rel = np.hypot(pooled_se / pooled if pooled > 0 else 0.0, np.nan_to_num(first[f"{m} s.e."]) / first[m])
        out[m] = {"lift": lift, "s.e.": lift * rel}
    return pd.DataFrame(out).T


def steepest(lift: pd.DataFrame) -> tuple[str, str, bool]:
    """(largest, next, resolved) of a `token_lift` table: resolved only when the largest lift exceeds
    the next by more than their combined standard error; otherwise the two are a tie."""
    ranked = lift["lift"].sort_values(ascending=False)
    top, nxt = ranked.index[:2]
    gap = lift.loc[top, "lift"] - lift.loc[nxt, "lift"]
    return top, nxt, bool(gap > np.hypot(lift.loc[top, "s.e."], lift.loc[nxt, "s.e."]))


def plot_confusion_vs(by_tokens: pd.DataFrame, by_look: pd.DataFrame, datasets, methods, min_pairs: int = 20):
    """Pair confusion rate (%) against shared label tokens (top row) and visual similarity quintile
    (bottom row), one panel per data set, one colour per method, mean +/- standard error over pairs,
    on a linear axis whose limits hold every point and error bar; each method its own marker and dash
    style, nudged sideways, and curves that coincide said so in their panel. Token groups with fewer than
    `min_pairs` class pairs (for any method) are pooled with their neighbours ("5-9", ">=5"), as in
    `pooled_token_groups` (the table to show beside it): a group of one pair is a single 0 or a single spike.
    by_tokens / by_look: `confusion_vs` tables with data / method columns and "shared label tokens" /
    "visual similarity quintile"."""
    datasets, methods = list(datasets), list(methods)
    pooled = pooled_token_groups(by_tokens, datasets, methods, min_pairs)
    fig, axes = plt.subplots(2, len(datasets), figsize=(3.4 * len(datasets) + 1.2, 5.6), squeeze=False)
    for col, p in enumerate(datasets):
        groups = pooled.loc[p]
        curves, reach = ({}, {}), ([0.0], [0.0])   # reach: every plotted value and error-bar end, per row
        for j, method in enumerate(methods):
            # each method its own marker and dash, nudged sideways: curves that coincide all stay visible
            # (thin error bars, so that overlapping ones still show the line and marker under them)
            dodge = (j - (len(methods) - 1) / 2) * 0.22
            style = dict(marker=_MARKERS[j % len(_MARKERS)], ls=_DASHES[j % len(_DASHES)], ms=4, capsize=1.5,
                         elinewidth=0.7, color=method_color(method), label=method)
            t = by_look[(by_look["data"] == p) & (by_look["method"] == method)]
            for row, (x, y, err) in enumerate(((np.arange(len(groups)), groups[method], groups[f"{method} s.e."]),
                                               (t["visual similarity quintile"], t["confusion rate (%)"],
                                                t["standard error (%)"]))):
                y, err = np.asarray(y, float), np.nan_to_num(np.asarray(err, float))
                axes[row, col].errorbar(np.asarray(x, float) + dodge, y, err, **style)
                reach[row].extend(v for v in (*(y - err), *(y + err)) if np.isfinite(v))
                curves[row][method] = list(x) + list(y) if row else list(y)
        for ax, drawn, title, values in zip(axes[:, col], curves, (p, ""), reach):
            same = [f"{a} = {b}" for a, b in itertools.combinations(methods, 2)
                    if len(drawn[a]) == len(drawn[b]) and np.allclose(drawn[a], drawn[b], atol=0.05, equal_nan=True)]
            # said in the title: the curves are nudged apart, their numbers are the same
            note = f"({', '.join(same)}: curves coincide, nudged apart)" if same else ""
            ax.set_title("\n".join(t for t in (title, note) if t), fontsize=9 if not note else 7.5)
            # a rate is >= 0, but a standard error bar may reach below it, and a point at 0 is a whole
            # marker: the axis holds every point and bar end with a margin
            lo, hi = min(values), max(values)
            pad = 0.05 * (hi - lo) if hi > lo else 1.0
            ax.set_ylim(lo - pad, hi + pad)
            ax.set_ylabel("pair confusion rate (%)", fontsize=8)
        axes[0, col].set_xticks(range(len(groups)), list(groups.index))
        axes[0, col].set_xlim(-0.5, len(groups) - 0.5)
        axes[0, col].set_xlabel(f"label tokens shared (groups of ≥{min_pairs} pairs)", fontsize=8)
        axes[1, col].set_xlabel("visual similarity quintile (1 = least alike)", fontsize=8)
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_group_confusions(shares: dict, labels: list[str], other: str = "other / background", cmap: str = "Reds"):
    """The confusion block of a group of classes, one panel per method: rows the true class, columns the
    predicted one (the group's classes, then `other`: anything outside the group), each row a share of
    the class's frames, every cell annotated. Only the within-group confusions (off the diagonal, inside
    the group) are shaded, on one scale for all panels with one colorbar, so that small confusions between
    the group's classes are readable; the diagonal (correct) and the `other` column, which would dominate
    the scale, are annotated on light grey, off the scale. shares: method -> [G, G + 1] array."""
    G = len(labels)
    inside = np.zeros((G, G + 1), dtype=bool)
    inside[:, :G] = ~np.eye(G, dtype=bool)
    peak = max((np.nanmax(np.where(inside, v, np.nan)) for v in shares.values()), default=0.0)
    vmax = peak if np.isfinite(peak) and peak > 0 else 1.0
    fig, axes = plt.subplots(1, len(shares), figsize=(4.3 * len(shares) + 0.8, 3.8), squeeze=False, layout="constrained")
    axes = axes[0]
    ticks = list(labels) + [other]
    for ax, (m, v) in zip(axes, shares.items()):
        # two layers: the grey one holds the cells off the scale, the coloured one the within-group confusions
        sns.heatmap(v, mask=inside, cmap=ListedColormap(["0.9"]), annot=True, fmt=".2f", cbar=False, ax=ax,
                    annot_kws={"fontsize": 8, "color": "0.15"}, xticklabels=ticks, yticklabels=labels)
        sns.heatmap(v, mask=~inside, cmap=cmap, vmin=0, vmax=vmax, annot=True, fmt=".2f", cbar=False, ax=ax,
                    annot_kws={"fontsize": 8}, xticklabels=ticks, yticklabels=labels if ax is axes[0] else False)
        ax.axvline(G, color="k", lw=1)   # the group ends here; the last column is everything else
        ax.set_title(m, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.tick_params(axis="y", labelrotation=0)
        ax.set_xlabel("predicted", fontsize=8)
    axes[0].set_ylabel("true class", fontsize=8)
    bar = fig.colorbar(ScalarMappable(Normalize(0, vmax), cmap), ax=list(axes), shrink=0.85)
    bar.set_label("share of the class's frames\n(within-group confusions;\ngrey cells: off this scale)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
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
