"""Figures and tables the notebooks show (matplotlib / seaborn / pandas).

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

from collections import Counter

import matplotlib.collections as mcoll
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.container import BarContainer
from matplotlib.lines import Line2D

# the colours and timelines live in their own modules; the notebooks import them from here too
from gadlib.lessons.colors import (ALIASES, GAD_VARIANT_COLORS, METHOD_COLORS, class_palette,  # noqa: F401
                                   method_color, method_family, method_hatch, method_line)
from gadlib.lessons.timelines import fit_timeline, plot_timeline, plot_timelines, timeline_lanes  # noqa: F401
from gadlib.evaluation.experiment import has_converged

KIND_TITLES = {"step": "step recognition", "next": "step forecasting", "task": "task recognition",
               "oad": "online action detection"}


def _data_extent(ax, bar, horizontal: bool) -> tuple[float, float]:
    """Lowest and highest value of the bar, its error bar and the dots drawn over it (data units)."""
    x0, x1 = (bar.get_y(), bar.get_y() + bar.get_height()) if horizontal else (bar.get_x(), bar.get_x() + bar.get_width())
    value = bar.get_width() if horizontal else bar.get_height()
    base = bar.get_x() if horizontal else bar.get_y()
    lo, hi = min(base, base + value), max(base, base + value)
    eps = 1e-9 * max(1.0, abs(x1 - x0))
    for line in ax.lines:   # seaborn's / matplotlib's error bars and caps: data-coordinate lines over the bar
        if line.get_transform() is not ax.transData:
            continue
        pos, val = (line.get_ydata(), line.get_xdata()) if horizontal else (line.get_xdata(), line.get_ydata())
        pos, val = np.asarray(pos, float), np.asarray(val, float)
        ok = np.isfinite(pos) & np.isfinite(val)   # seaborn joins an error bar and its caps with NaN gaps
        if ok.any() and (pos[ok] >= x0 - eps).all() and (pos[ok] <= x1 + eps).all():
            lo, hi = min(lo, val[ok].min()), max(hi, val[ok].max())
    for coll in ax.collections:  # the seeds' dots (scatter / stripplot), not hlines or error LineCollections
        if not isinstance(coll, mcoll.PathCollection) or coll.get_offset_transform() is not ax.transData:
            continue
        off = np.asarray(coll.get_offsets(), float).reshape(-1, 2)
        pos, val = (off[:, 1], off[:, 0]) if horizontal else (off[:, 0], off[:, 1])
        inside = (pos >= x0 - eps) & (pos <= x1 + eps) & np.isfinite(val)
        if inside.any():
            lo, hi = min(lo, val[inside].min()), max(hi, val[inside].max())
    for coll in ax.collections:  # matplotlib errorbar(): LineCollection segments along the bar's centre
        if not isinstance(coll, mcoll.LineCollection) or coll.get_transform() is not ax.transData:
            continue
        for seg in coll.get_segments():
            seg = np.asarray(seg, float)
            if len(seg) != 2:
                continue
            pos, val = (seg[:, 1], seg[:, 0]) if horizontal else (seg[:, 0], seg[:, 1])
            if (pos >= x0 - eps).all() and (pos <= x1 + eps).all() and abs(pos[0] - pos[1]) <= eps:
                lo, hi = min(lo, val.min()), max(hi, val.max())
    return lo, hi


def label_bars(ax, fmt: str = "{:.1f}", fontsize: float = 7) -> list:
    """Write each bar's value just past the far end of whatever is drawn over it: its error bar, its
    caps and the seeds' dots (call it after those are drawn), so no label is struck through. A bar of
    exactly 0 reads "0 (collapsed)", so that a classifier that never predicts an action is not mistaken
    for a missing bar. The value axis grows to keep every label inside the axes. Returns the labels."""
    texts = []
    for container in ax.containers:
        if not isinstance(container, BarContainer) or not hasattr(container, "orientation"):
            continue
        horizontal = container.orientation == "horizontal"
        for bar in container:
            value = bar.get_width() if horizontal else bar.get_height()
            if not np.isfinite(value):
                continue
            lo, hi = _data_extent(ax, bar, horizontal)
            negative = value < 0
            end = lo if negative else hi
            centre = bar.get_y() + bar.get_height() / 2 if horizontal else bar.get_x() + bar.get_width() / 2
            label = "0 (collapsed)" if value == 0 else fmt.format(value)
            sign = -1 if negative else 1
            # offsets from the far dot's centre: past its radius (`method_bars`' dots, about 1.7 points); above a
            # vertical bar the text box's own descent space adds the gap
            if horizontal:
                t = ax.annotate(label, (end, centre), xytext=(5 * sign, 0), textcoords="offset points",
                                ha="right" if negative else "left", va="center", fontsize=fontsize)
            else:
                t = ax.annotate(label, (centre, end), xytext=(0, 2 * sign), textcoords="offset points",
                                ha="center", va="top" if negative else "bottom", fontsize=fontsize)
            t.bar_value_end = end   # where the error bar / dots end (tests read it)
            texts.append(t)
    _keep_inside(ax, texts)
    return texts


def _keep_inside(ax, texts, margin: float = 0.02) -> None:
    """Widen the value axes so that every text lies inside the axes (the texts keep their offsets
    in points, so a wider axis only moves them inwards)."""
    if not texts:
        return
    fig = ax.figure
    for _ in range(3):
        renderer = fig.canvas.get_renderer()
        inv = ax.transData.inverted()
        boxes = [inv.transform(t.get_window_extent(renderer)) for t in texts]
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        lo = np.min([b.min(0) for b in boxes], axis=0)
        hi = np.max([b.max(0) for b in boxes], axis=0)
        changed = False
        if ax.get_xscale() == "linear" and (lo[0] < min(x0, x1) or hi[0] > max(x0, x1)):
            span = max(x1, hi[0]) - min(x0, lo[0])
            ax.set_xlim(lo[0] - margin * span if lo[0] < x0 else x0, hi[0] + margin * span if hi[0] > x1 else x1)
            changed = True
        if ax.get_yscale() == "linear" and not ax.yaxis_inverted() and (lo[1] < y0 or hi[1] > y1):
            span = max(y1, hi[1]) - min(y0, lo[1])
            ax.set_ylim(lo[1] - margin * span if lo[1] < y0 else y0, hi[1] + margin * span if hi[1] > y1 else y1)
            changed = True
        if not changed:
            return


def method_bars(df: pd.DataFrame, category: str, value: str, order=None, ax=None, horizontal: bool = False,
                fmt: str | None = None, color_of=None, percent: bool = False):
    """One bar per method (mean over seeds, +/- 1 std error bar), in the method's colour (exact decoding
    hatched, `method_hatch`), the seeds as black dots, the value past the error bar's and the dots' end,
    a key to the dots and the error bar off the axes (below horizontal bars, beside vertical ones). df: long
    table, one row per (method, seed). percent=True: the values are fractions, shown in % (axis "(%)",
    labels with one decimal), as the tables show them."""
    order = list(order) if order is not None else list(dict.fromkeys(df[category]))
    color_of = color_of or method_color
    fmt = fmt or ("{:.1f}" if percent else "{:.2f}")
    if percent:
        df = df.assign(**{value: 100 * df[value]})
    ax = ax or plt.subplots(figsize=(max(4.0, 1.1 * len(order)), 3) if not horizontal else (6, 0.35 * len(order) + 1))[1]
    stats = df.groupby(category)[value].agg(["mean", "std", "count"]).reindex(order)
    pos = np.arange(len(order))
    err = stats["std"].where(stats["count"] > 1).fillna(0).to_numpy()
    colors = [color_of(m) for m in order]
    kw = dict(color=colors, capsize=3, error_kw=dict(ecolor="0.2", lw=1.2), edgecolor="white", linewidth=0)
    bars = (ax.barh(pos, stats["mean"], xerr=err, **kw) if horizontal else ax.bar(pos, stats["mean"], yerr=err, **kw))
    for bar, m in zip(bars, order):
        bar.set_hatch(method_hatch(m) or None)
    label = f"{value} (%)" if percent else value
    if horizontal:
        ax.set_yticks(pos, order)
        ax.invert_yaxis()
        ax.set_xlabel(label)
    else:
        ax.set_xticks(pos, order, rotation=20 if len(order) > 4 else 0, ha="right" if len(order) > 4 else "center")
        ax.set_ylabel(label)
    where = {m: i for i, m in enumerate(order)}
    rows = df[df[category].isin(where)]
    # each seed at a fixed offset across its bar, the same in every bar (seed order, lowest first), so
    # a seed reads across bars; without a seed column, the rows' order within each bar
    rank = (rows["seed"].rank(method="dense").astype(int) - 1 if "seed" in rows
            else rows.groupby(category).cumcount())
    last = int(rank.max()) if len(rows) else 0
    offset = (rank.to_numpy() / last - 0.5) * 0.24 if last else np.zeros(len(rows))
    p = rows[category].map(where).to_numpy() + offset
    seeds = sorted(rows["seed"].unique()) if "seed" in rows else []
    # black dots edged in white: visible on the darkest (navy, hatched) bars as on the lightest
    dots = dict(color="k", s=16, zorder=3, edgecolor="w", linewidth=0.7)
    if horizontal:
        ax.scatter(rows[value], p, **dots)
    else:
        ax.scatter(p, rows[value], **dots)
    label_bars(ax, fmt)   # after the error bars and dots: each value sits past both
    # A key, since unexplained dots read as outliers or as the error bar's ends; off the axes, so it
    # covers no bar: below a horizontal chart (under the axis label), beside a vertical one (whose
    # rotated names fill the space below).
    order_of_dots = ("" if len(seeds) < 2 else
                     f"\n({'top to bottom' if horizontal else 'left to right'}: {', '.join(map(str, seeds))})")
    key = [Line2D([], [], ls="", marker="o", color="k", markeredgecolor="w", markersize=4.5,
                  label="dots: seeds" + order_of_dots),
           Line2D([], [], color="0.2", lw=1.2, marker="|" if horizontal else "_", markersize=6,
                  label="line: ± 1 std over seeds")]
    if horizontal:
        ax.legend(handles=key, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    else:
        ax.legend(handles=key, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    return ax


def _shared_heatmaps(fig, panels: dict, ncols: int, cmap: str, vmin: float, vmax: float, label: str) -> list:
    """One heatmap per panel, all on the same colour scale (vmin..vmax), one colorbar for the row."""
    axes = list(fig.subplots(1, ncols, squeeze=False)[0])
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    for ax, (title, values) in zip(axes, panels.items()):
        sns.heatmap(values, annot=True, fmt=".1f", cmap=cmap, vmin=vmin, vmax=vmax, cbar=False, ax=ax)
        ax.set_title(title, fontsize=9)
    used = axes[:len(panels)]
    fig.colorbar(used[0].collections[0], ax=used, label=label, shrink=0.9)
    return used


def plot_grid_heatmaps(grid: pd.DataFrame, methods, differences, value: str = "top-1", row: str = "compositionality",
                       col: str = "overlap", unit: str = "top-1 %"):
    """A sweep over two settings as heatmaps, in %: top row one panel per method, all on one shared scale
    (equal colours = equal numbers) with one colorbar; bottom row one panel per difference a − b (points),
    on one diverging scale symmetric about 0 (white = no difference). grid: long table, one row per
    (row, col, method) with `value` a fraction. Returns the figure."""
    def pct(m):
        return 100 * grid[grid["method"] == m].pivot(index=row, columns=col, values=value)
    table = {m: pct(m) for m in methods}
    diffs = {f"{a} − {b}": pct(a) - pct(b) for a, b in differences}
    n = max(len(table), len(diffs), 1)
    fig = plt.figure(figsize=(3.4 * n + 1.2, 6.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, hspace=0.06)
    values = np.concatenate([t.to_numpy(float).ravel() for t in table.values()] or [np.zeros(1)])
    lo, hi = (np.nanmin(values), np.nanmax(values)) if np.isfinite(values).any() else (0.0, 100.0)
    _shared_heatmaps(top, table, n, "viridis", lo, hi if hi > lo else lo + 1, unit)
    if diffs:
        gaps = np.concatenate([d.to_numpy(float).ravel() for d in diffs.values()])
        reach = float(np.nanmax(np.abs(gaps))) if np.isfinite(gaps).any() else 0.0
        reach = reach if reach > 0 else 1.0
        _shared_heatmaps(bottom, diffs, n, "RdBu_r", -reach, reach, f"difference ({unit.split()[0]} points)")
    return fig


def learning_curves(runs) -> pd.DataFrame:
    """Long table (method, seed, step, score, best) of every run's validation curve
    (`History.val_steps` / `val_score`, from `train(..., validate=...)`)."""
    return pd.DataFrame([{"method": r.method, "seed": r.seed, "step": step, "score": score,
                          "best": step == r.history.best_step}
                         for r in runs for step, score in zip(r.history.val_steps, r.history.val_score)])


def plot_learning_curves(runs, ax=None, metric: str = "validation score", percent: bool = True, legend: bool = True):
    """Validation score against optimizer steps, one colour per method: the mean over seeds
    (each seed's curve interpolated onto the steps any seed validated at, between its own first
    and last validation) with the seeds' min-max band, and a marker where each seed's kept weights are.
    "Learns faster" reads off the x-axis, "ends higher" off the markers. Each method also has its own
    line style and marker (`method_line`), so a curve that runs on top of another stays visible.
    percent: scores (fractions) drawn in %. legend: beside the axes (off for all but one panel of a row)."""
    df = learning_curves(runs)
    scale = 100 if percent else 1
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    for method, mine in df.groupby("method", sort=False):
        color = method_color(method)
        style, marker = method_line(method)
        grid = np.unique(mine["step"])
        curves = np.full((mine["seed"].nunique(), len(grid)), np.nan)
        for i, (_, seed) in enumerate(mine.groupby("seed")):
            inside = (grid >= seed["step"].min()) & (grid <= seed["step"].max())
            curves[i, inside] = scale * np.interp(grid[inside], seed["step"], seed["score"])
        ax.plot(grid, np.nanmean(curves, axis=0), color=color, lw=1.5, ls=style, label=method)
        ax.fill_between(grid, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0), color=color, alpha=0.15, lw=0)
        best = mine[mine["best"]]
        # hollow, in the method's colour: markers kept at nearby steps and scores overlap without
        # hiding one another; the discriminative square drawn larger, so a GAD triangle kept at the
        # same step and score sits inside it
        big = method_family(method) == "discriminative"
        ax.scatter(best["step"], scale * best["score"], facecolors="none", edgecolors=color, marker=marker,
                   s=70 if big else 40, zorder=3 if big else 4, lw=1.6)
    # the legend shows each method's line with its kept-weights marker
    handles = [Line2D([], [], color=method_color(m), ls=method_line(m)[0], marker=method_line(m)[1], ms=6,
                      markerfacecolor="none", markeredgewidth=1.4, label=m) for m in df["method"].unique()]
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(f"{metric} (%)" if percent else metric)
    # beside the axes: inside, the legend sat on the curves' early steps
    if legend:
        # two methods' seeds kept at one step draw one marker inside the other: say so, not leave a puzzle
        kept = df[df["best"]]
        shared = kept.groupby("step")["method"].nunique().gt(1).any()
        title = "markers: kept weights\n(one per seed)" + ("\na marker inside another:\nkept at the same step"
                                                             if shared else "")
        ax.legend(handles=handles, title=title, title_fontsize=7, fontsize=8,
                  loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def converged_means(train) -> str:
    """What a convergence table's "converged" column means, with the numbers of `train` (a
    `TrainConfig`): printed under every such table."""
    points = 100 * train.min_delta
    return (f"converged: \"yes\" when patience stopped the run (no gain of more than {points:g} point{'' if points == 1 else 's'} "
            f"of the validation score for {train.patience} epochs) before the epoch cap of {train.epochs} epochs, "
            "with a validation score above 0; \"NO\" when it reached the epoch cap or never scored (its comparisons "
            "are then not testable).")


def convergence_table(runs, score: str = "validation score") -> pd.DataFrame:
    """Per method, seed by seed: the optimizer steps run, the step whose weights were kept, their
    validation score (`score` names it in the header), and whether patience stopped the run ("yes")
    or it reached its epoch cap ("NO": not converged, its comparisons are not testable)."""
    kept_col = f"kept {score} (%)"
    rows = {}
    for r in sorted(runs, key=lambda r: r.seed):
        h = r.history
        # "optimizer steps": the lessons' other "step" is a procedure's step (step recognition)
        row = rows.setdefault(r.method, {"optimizer steps run": [], "kept weights' step": [], kept_col: [],
                                         "converged": []})
        row["optimizer steps run"].append(h.steps)
        row["kept weights' step"].append(h.best_step)
        kept = dict(zip(h.val_steps, h.val_score)).get(h.best_step)
        row[kept_col].append(None if kept is None else round(100 * kept, 1))   # in %, as the curves
        row["converged"].append("yes" if has_converged(h) else "NO")
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


def seed_means(frame: pd.DataFrame, by, columns, digits: int = 2, scale: float = 1.0,
               why: dict | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Mean over seeds of `columns` per `by` group, rounded, and never a silent NaN: a value undefined
    (NaN) for some seeds is the mean over the seeds where it is defined, shown as "0.42 (1 of 2 seeds)";
    one undefined for every seed is "n/a". Returns (table, notes): one note per column with such cells,
    saying where and why (`why`: column -> reason; default: undefined on those seeds). frame: one row
    per (group, seed)."""
    groups = frame.groupby(by, sort=False)
    means = (groups[list(columns)].mean() * scale).round(digits)   # pandas skips NaN: the finite seeds
    defined, total = groups[list(columns)].count(), groups.size()
    if (defined.to_numpy() == total.to_numpy()[:, None]).all():
        return means, []
    table, notes = means.astype(object), []
    for col in columns:
        short = defined[col] < total
        for key in defined.index[short]:
            k, n = int(defined.at[key, col]), int(total[key])
            table.at[key, col] = "n/a" if k == 0 else f"{means.at[key, col]:.{digits}f} ({k} of {n} seeds)"
        if short.any():
            none = bool((defined[col][short] == 0).all())
            notes.append(f"{col}: {(why or {}).get(col, 'undefined on some seeds')} ({_where(short)}); "
                         + ("shown as n/a" if none else "n/a where undefined on every seed, else the mean over the "
                                                        "seeds where it is defined, with their count"))
    return table, notes


def _where(short: pd.Series) -> str:
    """The rows flagged in `short`, a first index level named once when all its rows are flagged
    ("coin_like (all)") rather than row by row."""
    if short.index.nlevels == 1:
        return ", ".join(map(str, short.index[short]))
    parts = []
    for first, flags in short.groupby(level=0, sort=False):
        if flags.all():
            parts.append(f"{first} (all)")
        elif flags.any():
            parts += [" / ".join(map(str, key)) for key in flags.index[flags]]
    return ", ".join(parts)


def plot_accuracy(summary: dict, metric: str = "top1", ax=None, chance: dict | None = None, percent: bool = True):
    """Grouped bars: mean over seeds with +/- 1 std error bars, one group per prediction problem, one
    colour per method (`method_color`); each value sits above its error bar and dots; the legend beside
    the axes. percent: accuracies (fractions) drawn in %."""
    df = per_seed_table(summary, metric).rename(columns={"task": "problem"})
    scale = 100 if percent else 1
    df[metric] = scale * df[metric]
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    # error bars and dots in a mid grey edged in white: visible on the darkest (navy) and lightest bars
    sns.barplot(df, x="problem", y=metric, hue="method", errorbar="sd", capsize=0.1, ax=ax,
                err_kws={"color": "0.45", "linewidth": 1.6},
                palette={m: method_color(m) for m in df["method"].unique()})
    # one colour for every method's dots: a plain color= with hue is a deprecated gradient palette in seaborn 0.13
    sns.stripplot(df, x="problem", y=metric, hue="method", dodge=True, palette=["k"] * df["method"].nunique(),
                  size=4, linewidth=0.8, edgecolor="w", legend=False, ax=ax)
    if chance:
        for i, (problem, c) in enumerate(chance.items()):
            ax.hlines(scale * c, i - 0.45, i + 0.45, colors="grey", linestyles=":")
        # the levels in the legend: a chance of 1-2 % sits on the x-axis, where a dotted line is hard to see
        ax.plot([], [], color="grey", ls=":", label="chance:\n" + "\n".join(
            f"{p} {scale * c:.1f}{' %' if percent else ''}" for p, c in chance.items()))
    ax.scatter([], [], color="k", s=16, edgecolor="w", lw=0.8, label="one seed")
    ax.set_ylim(0, scale)
    label_bars(ax, "{:.1f}" if percent else "{:.2f}")   # after the error bars and dots it must clear
    ax.set_ylabel(f"{metric.replace('top1', 'top-1')} accuracy" + (" (%)" if percent else ""))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))   # beside the bars, never over them
    return ax


def plot_latency(timing: dict, axes=None, batched: int | None = 32):
    """Per-sample inference latency, one panel per batch size (batch 1 | batched), each on its own
    linear axis, one bar per method in the method's colour with its value written above it.
    timing: {method: {"ms_per_sample_b1", "ms_per_sample_batched"}}. Returns the two axes."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    methods = list(timing)
    for ax, key, title in zip(axes, ("ms_per_sample_b1", "ms_per_sample_batched"),
                              ("batch 1", f"batched ({batched} per batch)" if batched else "batched")):
        ax.bar(range(len(methods)), [timing[m][key] for m in methods], color=[method_color(m) for m in methods])
        ax.set_xticks(range(len(methods)), methods, rotation=15 if len(methods) > 3 else 0,
                      ha="right" if len(methods) > 3 else "center", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("ms per sample")
        label_bars(ax, "{:.2f}")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.1)   # headroom: the tallest bar's label clear of the frame
    axes[0].figure.suptitle("inference latency per sample (each panel its own scale)", fontsize=11)
    axes[0].figure.tight_layout()
    return axes


def plot_class_frequency(counts, ax=None, title: str = "class frequency (long tail)"):
    """Training segments per class, classes by rank, on a linear axis, so that classes without a
    single training segment show (shaded, with their number) instead of falling off a log axis."""
    counts = np.sort(np.asarray(counts))[::-1]
    ax = ax or plt.subplots(figsize=(7, 2.4))[1]
    ax.bar(range(len(counts)), counts, width=1.0, color="0.35")
    zero = int((counts == 0).sum())
    if zero:
        ax.axvspan(len(counts) - zero - 0.5, len(counts) - 0.5, color="0.5", alpha=0.25, hatch="//", lw=0)
        ax.annotate(f"{zero} classes with\nno training segment", (len(counts) - zero / 2 - 0.5, 0),
                    xytext=(len(counts) - zero - 0.03 * len(counts), 0.5), textcoords=("data", "axes fraction"),
                    ha="right", va="center", fontsize=8, arrowprops=dict(arrowstyle="->", lw=0.8, color="0.2"))
    ax.set_xlim(-1.5, len(counts) - 0.5)   # a margin: the tallest (first) bar must not merge with the axis line
    ax.set_xlabel("class rank")
    ax.set_ylabel("train segments")
    ax.set_title(title)
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
