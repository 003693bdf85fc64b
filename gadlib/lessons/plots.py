"""Figures and tables the notebooks show (matplotlib / seaborn / pandas).

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import colorsys
from collections import Counter

import matplotlib.collections as mcoll
import matplotlib.pyplot as plt
from matplotlib.container import BarContainer
import numpy as np
import pandas as pd
import seaborn as sns

KIND_TITLES = {"step": "step recognition", "next": "step forecasting", "task": "task recognition",
               "oad": "online action detection"}

# One colour per method in every notebook's figures: the three families take seaborn's colour-blind
# blue / orange / green, and each variant its own shade (HLS lightness) of its family's hue, so two
# methods never share a colour and no variant looks like another family. These colours mean methods
# and nothing else: batch sizes, scores, data sets and classes are told apart by hatching, panels or
# other palettes (`class_palette` avoids them).
_FAMILY = dict(zip(("generative", "discriminative", "gad"), sns.color_palette("colorblind", 3)))
_SHADES = {  # variant -> (family, lightness); the family colour itself has lightness ~0.35 / 0.45 / 0.31
    "generative_exact": ("generative", 0.20), "gen_rand": ("generative", 0.50), "gen_desync": ("generative", 0.62),
    "gen_extend": ("generative", 0.27), "gen_extend_exact": ("generative", 0.13),
    "gad_previous_action": ("gad", 0.20), "gad_gen_first": ("gad", 0.41), "gad_parallel": ("gad", 0.13),
    "gad_label": ("gad", 0.25), "gad_lam_0": ("gad", 0.78), "gad_lam_0.1": ("gad", 0.70), "gad_lam_0.3": ("gad", 0.62),
    "gad_lam_3": ("gad", 0.54), "gad_extra_head": ("gad", 0.47), "no_cls": ("gad", 0.36),
}
ALIASES = {"gen_text": "generative", "gen_text_exact": "generative_exact"}  # notebook 02's names of the same methods


def _shade(rgb, lightness: float) -> tuple:
    h, _, s = colorsys.rgb_to_hls(*rgb)
    return colorsys.hls_to_rgb(h, lightness, s * (0.9 if lightness > 0.6 else 1.0))


METHOD_COLORS = {**_FAMILY, **{m: _shade(_FAMILY[f], lit) for m, (f, lit) in _SHADES.items()},
                 # two-stage (a generative model, then a classifier on it): its own colour, no family's shade
                 "two_stage": sns.color_palette("colorblind", 5)[4]}
METHOD_COLORS.update({a: METHOD_COLORS[m] for a, m in ALIASES.items()})
UNKNOWN_METHOD_COLOR = (0.3, 0.3, 0.3)


def method_family(method: str) -> str | None:
    """'generative', 'discriminative' or 'gad' for a method or one of its variants; None if unknown."""
    if method in ALIASES:
        method = ALIASES[method]
    if method in _FAMILY:
        return method
    if method in _SHADES:
        return _SHADES[method][0]
    if method == "two_stage":
        return None
    for prefix, family in (("gen", "generative"), ("disc", "discriminative"), ("gad", "gad")):
        if method.startswith(prefix):
            return family
    return None


def method_color(method: str):
    """The method's colour (`METHOD_COLORS`); an unlisted variant ("gad_lam_10") takes its family's colour,
    an unknown method a dark grey."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    family = method_family(method)
    return _FAMILY[family] if family else UNKNOWN_METHOD_COLOR


def class_palette(n: int) -> list:
    """`n` distinct colours for classes: tab20 / tab20b / tab20c without the ones that look like a method's
    family colour or like grey (background, chance lines); husl hues beyond that."""
    method_rgb = np.array([c[:3] for c in (*_FAMILY.values(), METHOD_COLORS["two_stage"])])
    pool = []
    for cmap in ("tab20", "tab20b", "tab20c"):
        for c in plt.get_cmap(cmap).colors:
            c = np.asarray(c[:3])
            if np.ptp(c) < 0.12 or np.linalg.norm(method_rgb - c, axis=1).min() < 0.2:
                continue
            if all(np.linalg.norm(c - p) > 0.1 for p in pool):
                pool.append(c)
    if n <= len(pool):
        return [tuple(c) for c in pool[:n]]
    return [tuple(c) for c in sns.husl_palette(n, s=0.85, l=0.6)]


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
            if horizontal:
                t = ax.annotate(label, (end, centre), xytext=(3 * sign, 0), textcoords="offset points",
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
                fmt: str = "{:.2f}", color_of=None):
    """One bar per method (mean over seeds, +/- 1 std error bar), in the method's colour, the seeds as
    black dots, the value past the error bar's end. df: long table, one row per (method, seed)."""
    order = list(order) if order is not None else list(dict.fromkeys(df[category]))
    color_of = color_of or method_color
    ax = ax or plt.subplots(figsize=(max(4.0, 1.1 * len(order)), 3) if not horizontal else (6, 0.35 * len(order) + 1))[1]
    stats = df.groupby(category)[value].agg(["mean", "std", "count"]).reindex(order)
    pos = np.arange(len(order))
    err = stats["std"].where(stats["count"] > 1).fillna(0).to_numpy()
    colors = [color_of(m) for m in order]
    kw = dict(color=colors, capsize=3, error_kw=dict(ecolor="0.2", lw=1.2))
    if horizontal:
        ax.barh(pos, stats["mean"], xerr=err, **kw)
        ax.set_yticks(pos, order)
        ax.invert_yaxis()
        ax.set_xlabel(value)
    else:
        ax.bar(pos, stats["mean"], yerr=err, **kw)
        ax.set_xticks(pos, order, rotation=20 if len(order) > 4 else 0, ha="right" if len(order) > 4 else "center")
        ax.set_ylabel(value)
    where = {m: i for i, m in enumerate(order)}
    rows = df[df[category].isin(where)]
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(rows))
    p = rows[category].map(where).to_numpy() + jitter
    if horizontal:
        ax.scatter(rows[value], p, color="k", s=9, zorder=3)
    else:
        ax.scatter(p, rows[value], color="k", s=9, zorder=3)
    label_bars(ax, fmt)
    return ax


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
    """Grouped bars: mean over seeds with +/- 1 std error bars, one group per task, one colour per
    method (`method_color`); each value sits above its error bar and dots; the legend beside the axes."""
    df = per_seed_table(summary, metric)
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    sns.barplot(df, x="task", y=metric, hue="method", errorbar="sd", capsize=0.1, ax=ax,
                palette={m: method_color(m) for m in df["method"].unique()})
    # one black per method: a plain color= with hue is a deprecated gradient palette in seaborn 0.13
    sns.stripplot(df, x="task", y=metric, hue="method", dodge=True, palette=["k"] * df["method"].nunique(),
                  size=3, legend=False, ax=ax)
    if chance:
        for i, (task, c) in enumerate(chance.items()):
            ax.hlines(c, i - 0.45, i + 0.45, colors="grey", linestyles=":", label="chance" if i == 0 else None)
    ax.set_ylim(0, 1)
    label_bars(ax, "{:.2f}")   # after the error bars and dots it must clear; may raise the top past 1
    ax.set_ylabel(f"{metric} accuracy")
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
    ax.set_xlim(-0.5, len(counts) - 0.5)
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


_LANE_PT = 12.0      # one row of labels above a timeline (7-pt text in a padded box), in points
_TEXT_RENDERER = None


def _text_width_pt(text: str, fontsize: float) -> float:
    """Width of `text` in points (Agg's metrics at 72 dpi: the same in any figure)."""
    global _TEXT_RENDERER
    if _TEXT_RENDERER is None:
        from matplotlib.backends.backend_agg import RendererAgg
        _TEXT_RENDERER = RendererAgg(10, 10, 72)
    from matplotlib.font_manager import FontProperties
    return _TEXT_RENDERER.get_text_width_height_descent(text, FontProperties(size=fontsize), ismath=False)[0]


def _timeline_layout(segments, labels: list[str], frames: int, axes_width_pt: float, fontsize: float = 7):
    """Where each segment's label goes: (lane, x) with lane 0 = inside its bar (it fits there), lane k >= 1
    = the k-th row above the bar, the lowest row where it overlaps no other label (x: its centre, kept
    inside the axis)."""
    per_frame = axes_width_pt / max(frames, 1)
    rows: dict[int, list] = {}
    out = []
    for seg, label in zip(segments, labels):
        width = _text_width_pt(label, fontsize) + 4
        centre = (seg.start + seg.end) / 2
        if width <= (seg.end - seg.start) * per_frame - 2:
            out.append((0, centre))
            continue
        half = 0.55 * width / per_frame + 0.5   # 10% slack: a later layout may narrow the axes a little
        centre = min(max(centre, half), max(frames - half, half))
        lane = 1
        while any(lo < centre + half and centre - half < hi for lo, hi in rows.get(lane, [])):
            lane += 1
        rows.setdefault(lane, []).append((centre - half, centre + half))
        out.append((lane, centre))
    return out


def fit_timeline(ax) -> None:
    """Set a timeline's y-range so that its rows of labels fit above the bar at the axes' current height
    (call again after `tight_layout`, which changes it; `plot_timelines` and `sample_figure` do)."""
    lanes = getattr(ax, "timeline_lanes", 0)
    height_pt = ax.bbox.height * 72 / ax.figure.dpi
    r = min((5 + lanes * _LANE_PT) / max(height_pt, 1), 0.85) if lanes else 0.0
    ax.set_ylim(-0.6, max((0.4 + 0.6 * r) / (1 - r), 0.6))


def timeline_lanes(video, step_names: list[str], axes_width_in: float, fontsize: float = 7) -> int:
    """Rows of labels `plot_timeline` needs above this video's bar at this axes width."""
    layout = _timeline_layout(video.segments, [step_names[s.label] for s in video.segments],
                              len(video.features), axes_width_in * 72, fontsize)
    return max((lane for lane, _ in layout), default=0)


def plot_timeline(video, step_names: list[str], ax=None, highlight: int | None = None, fontsize: float = 7):
    """One video's step segments on a time axis (frames); background is left blank.

    Each class its own colour (`class_palette`, over the classes of this video). A label sits in its
    segment where it fits, else in a box of the segment's colour in the lowest row above the bar where
    it overlaps no other label."""
    frames = len(video.features)
    labels = [step_names[s.label] for s in video.segments]
    if ax is None:
        width = 9.0
        lanes = timeline_lanes(video, step_names, 0.775 * width, fontsize)
        ax = plt.subplots(figsize=(width, 1.3 + lanes * _LANE_PT / 72))[1]
    fig = ax.figure
    layout = _timeline_layout(video.segments, labels, frames, ax.get_position().width * fig.get_figwidth() * 72, fontsize)
    classes = list(dict.fromkeys(s.label for s in video.segments))
    colours = dict(zip(classes, class_palette(len(classes))))
    for i, (seg, label, (lane, x)) in enumerate(zip(video.segments, labels, layout)):
        colour = colours[seg.label]
        ax.barh(0, seg.end - seg.start, left=seg.start, height=0.8, color=colour,
                edgecolor="k" if i == highlight else "none", lw=2)
        if lane == 0:
            ax.text((seg.start + seg.end) / 2, 0, label, ha="center", va="center", fontsize=fontsize)
        else:
            pale = tuple(0.55 * np.asarray(colour[:3]) + 0.45)
            ax.annotate(label, (x, 0.4), xytext=(0, 3 + (lane - 1) * _LANE_PT), textcoords="offset points",
                        ha="center", va="bottom", fontsize=fontsize, annotation_clip=False,
                        bbox=dict(boxstyle="round,pad=0.15", fc=pale, ec=colour, lw=0.8))
    ax.timeline_lanes = max((lane for lane, _ in layout), default=0)
    ax.set_xlim(0, frames)
    fit_timeline(ax)
    ax.set_yticks([])
    ax.set_xlabel("frame")
    return ax


def plot_timelines(videos: dict, width: float = 11, fontsize: float = 7):
    """One timeline per entry of videos = {title: (video, step_names)}, each row as tall as its labels
    need. Returns the figure."""
    lanes = [timeline_lanes(v, names, 0.8 * width, fontsize) for v, names in videos.values()]
    heights = [0.5 + n * _LANE_PT / 72 + 0.75 for n in lanes]
    fig, axes = plt.subplots(len(videos), 1, figsize=(width, sum(heights)), squeeze=False,
                             gridspec_kw=dict(height_ratios=heights))
    for ax, (title, (video, names)) in zip(axes[:, 0], videos.items()):
        plot_timeline(video, names, ax=ax, fontsize=fontsize)
        ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    for ax in axes[:, 0]:
        fit_timeline(ax)
    return fig


def _hatched(ax, x, height, width, color, hatch, horizontal=False, **kw):
    """Bars in a method's colour with white hatching: the hatch tells what else differs (score, data set)."""
    draw = ax.barh if horizontal else ax.bar
    return draw(x, height, width, color=color, hatch=hatch or None, edgecolor="white", linewidth=0, **kw)


ENTROPY_SCORES = (("error_entropy", "plug-in", ""), ("error_entropy_mm", "Miller-Madow", "///"),
                  ("error_entropy_matched", "matched", "..."))


def plot_error_entropy(div: pd.DataFrame, datasets, methods, paper: dict | None = None, scores=ENTROPY_SCORES):
    """Error entropy per data set (panels) and method (bar colour), one bar per score (hatching), mean
    +/- std over seeds; each method's two null baselines over its bars: the prior null as a grey band,
    the uniform null as a black dotted line on it (where they coincide you see dots on the band, and the
    panel title says so); the paper's number as a star. The legend sits beside the last panel.
    div: one row per (data, method, seed) with the score columns and null_uniform / null_prior."""
    datasets, methods = list(datasets), list(methods)
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.2 * len(datasets) + 1.8, 3.3), sharey=True, squeeze=False)
    axes = axes[0]
    width = 0.8 / len(scores)
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
                         error_kw=dict(ecolor="0.2", lw=1, capsize=2))
                top = max(top, rows[col].mean() + (sd if np.isfinite(sd) else 0))
            uniform, prior = rows["null_uniform"].mean(), rows["null_prior"].mean()
            same &= bool(np.isclose(uniform, prior, atol=0.01))
            ax.hlines(prior, i - 0.45, i + 0.45, colors="0.6", lw=5, alpha=0.7, zorder=3)
            ax.hlines(uniform, i - 0.45, i + 0.45, colors="k", linestyles=":", lw=1.5, zorder=4)
            top = max(top, uniform, prior)
            if paper and p in paper and m in paper[p]:
                ax.plot(i, paper[p][m], "k*", ms=9, zorder=5)
                top = max(top, paper[p][m])
        ax.set_xticks(range(len(methods)), methods, fontsize=8)
        ax.set_title(p + ("\n(uniform and prior nulls coincide)" if same else ""), fontsize=9)
        ax.set_xlim(-0.55, len(methods) - 0.45)
    axes[0].set_ylabel("nats")
    axes[0].set_ylim(0, 1.08 * top)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Patch(facecolor="0.45", edgecolor="white", hatch=h or None, label=name) for _, name, h in scores]
    handles += [Line2D([], [], color="0.6", lw=5, alpha=0.7, label="null: prior"),
                Line2D([], [], color="k", ls=":", lw=1.5, label="null: uniform")]
    if paper:
        handles.append(Line2D([], [], color="k", marker="*", ls="", ms=9, label="paper"))
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
    on a linear axis. Token groups with fewer than `min_pairs` class pairs (for any method) are pooled
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
        for method in methods:
            t = tok[tok["method"] == method]
            stats = [_pooled(t[t["shared label tokens"].isin(b)]) for b in bins]
            axes[0, col].errorbar(range(len(bins)), [s[0] for s in stats], [s[1] for s in stats], marker="o", ms=3,
                                  capsize=2, color=method_color(method), label=method)
            t = by_look[(by_look["data"] == p) & (by_look["method"] == method)]
            axes[1, col].errorbar(t["visual similarity quintile"], t["confusion rate (%)"], t["standard error (%)"],
                                  marker="o", ms=3, capsize=2, color=method_color(method), label=method)
        axes[0, col].set_xticks(range(len(bins)), ticks)
        axes[0, col].set_title(p, fontsize=9)
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
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(facecolor="0.45", edgecolor="white", hatch=hatches[k] or None, label=name)
                       for k, (_, name) in enumerate(columns)],
              loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(columns), fontsize=8, frameon=False)
    return ax
