"""The notebooks' figures (gadlib.lessons.plots): one colour per method, value labels clear of the error
bars, legends off the data, a distinct colour per class shown, timeline labels that never collide."""
import colorsys
import itertools

import matplotlib
import matplotlib.collections

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from gadlib.data.videos import Segment  # noqa: E402
from gadlib.lessons import comparisons as C  # noqa: E402
from gadlib.lessons import plots as P  # noqa: E402

# every method name the notebooks plot
NAMES = ["generative", "discriminative", "gad", "generative_exact", "gen_text", "gen_text_exact", "gen_rand",
         "gen_desync", "gen_extend", "gen_extend_exact", "gad_previous_action", "gad_gen_first", "gad_parallel",
         "gad_label", "gad_lam_0", "gad_lam_0.1", "gad_lam_0.3", "gad_lam_3", "gad_extra_head", "two_stage", "no_cls"]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _rgb(c):
    return np.asarray(to_rgb(c))


def test_every_method_has_its_own_colour_and_variants_stay_in_their_family():
    families = {f: _rgb(P.METHOD_COLORS[f]) for f in ("generative", "discriminative", "gad")}
    distinct = {}
    for name in NAMES:
        assert name in P.METHOD_COLORS, name
        assert _rgb(P.method_color(name)).tolist() == _rgb(P.METHOD_COLORS[name]).tolist()
        distinct.setdefault(P.ALIASES.get(name, name), _rgb(P.method_color(name)))
    for (a, ca), (b, cb) in itertools.combinations(distinct.items(), 2):
        assert np.linalg.norm(ca - cb) > 0.1, (a, b)   # two methods never share a colour
    hue = {f: colorsys.rgb_to_hls(*c)[0] for f, c in families.items()}
    for name in NAMES:
        family = P.method_family(name)
        if family is None or name in P.GAD_VARIANT_COLORS:
            # two_stage, and GAD's variants (too many for shades of one green): their own colours, far
            # from every family's and from each other
            assert min(np.linalg.norm(_rgb(P.method_color(name)) - c) for c in families.values()) > 0.3, name
            continue
        h = colorsys.rgb_to_hls(*_rgb(P.method_color(name)))[0]
        assert abs(h - hue[family]) < 0.01, name   # a shade of its family's hue, nobody else's
        assert all(abs(h - hue[f]) > 0.08 for f in hue if f != family), name
    assert P.method_color("gen_text") == P.method_color("generative")   # notebook 02's name, the same method
    assert P.method_family("gad_lam_10") == "gad" and P.method_color("gad_lam_10") == P.METHOD_COLORS["gad"]
    variants = [_rgb(c) for c in P.GAD_VARIANT_COLORS.values()] + [_rgb(P.METHOD_COLORS["two_stage"])]
    for ca, cb in itertools.combinations(variants, 2):
        assert np.linalg.norm(ca - cb) > 0.18   # told apart side by side in notebook 04's ablation figure
    assert all(P.method_family(m) == "gad" for m in P.GAD_VARIANT_COLORS)


def test_class_palette_is_distinct_and_never_a_method_colour_or_grey():
    for n in (3, 12, 39):
        colours = np.array([c[:3] for c in P.class_palette(n)])
        assert len(colours) == n
        assert min(np.linalg.norm(a - b) for a, b in itertools.combinations(colours, 2)) > 0.09
        assert (np.ptp(colours, axis=1) > 0.1).all()
        for f in ("generative", "discriminative", "gad", "two_stage"):
            assert np.linalg.norm(colours - _rgb(P.METHOD_COLORS[f]), axis=1).min() >= 0.2
    assert len({tuple(np.round(c, 4)) for c in P.class_palette(120)}) == 120
    # not even a shade of a method: every class hue is at least 20 degrees from each method's hue
    method_hues = [colorsys.rgb_to_hls(*P.METHOD_COLORS[f][:3])[0] for f in ("generative", "discriminative", "gad", "two_stage")]
    for c in P.class_palette(201):
        h = colorsys.rgb_to_hls(*c[:3])[0]
        assert min(min(abs(h - m), 1 - abs(h - m)) for m in method_hues) * 360 >= 20, c


def _labels_clear_of_bars(ax, texts, horizontal=False):
    """Every label's drawn box lies past the end of its bar's error bar and dots, and inside the axes."""
    fig = ax.figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    frame = ax.get_window_extent(r)
    assert texts
    for t in texts:
        box = t.get_window_extent(r)
        end = ax.transData.transform((t.bar_value_end, 0) if horizontal else (0, t.bar_value_end))
        if horizontal:
            assert box.x0 >= end[0] - 0.5, t.get_text()
        else:
            assert box.y0 >= end[1] - 0.5, t.get_text()
        assert frame.x0 - 0.5 <= box.x0 and box.x1 <= frame.x1 + 0.5 and frame.y0 - 0.5 <= box.y0 and box.y1 <= frame.y1 + 0.5


def _error_tops(ax):
    """Highest point of every vertical data line (seaborn's error bars and caps)."""
    tops = []
    for line in ax.lines:
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        if np.isfinite(y).any():
            tops.append((np.nanmin(x), np.nanmax(x), np.nanmax(y)))
    return tops


def test_accuracy_labels_sit_above_error_bars_and_dots_and_generative_exact_has_its_own_colour():
    rng = np.random.default_rng(0)
    summary = {m: {f"{k}_top1": {"mean": 0, "std": 0, "per_seed": list(rng.uniform(0.3, 0.7, 3))}
                   for k in ("step", "next", "task")} for m in ("discriminative", "generative", "generative_exact", "gad")}
    ax = P.plot_accuracy(summary, chance={"step recognition": 0.1, "step forecasting": 0.1, "task recognition": 0.2})
    texts = [t for t in ax.texts if hasattr(t, "bar_value_end")]
    assert len(texts) == 12
    _labels_clear_of_bars(ax, texts)
    for t in texts:   # the label clears the error bar drawn over its own bar
        x = t.xy[0]
        above = [top for lo, hi, top in _error_tops(ax) if lo - 1e-6 <= x <= hi + 1e-6]
        assert above and t.bar_value_end >= max(above) - 1e-9
    colours = {tuple(np.round(p.get_facecolor()[:3], 3)) for c in ax.containers for p in c}
    assert len(colours) == 4   # one per method
    ax.figure.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1 - 1   # beside the axes, not on the bars
    # chance levels of 1-2 % sit on the axis: the legend states them; the dots are edged in white
    # (visible on generative_exact's navy bars)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "chance:\nstep recognition 10.0 %\nstep forecasting 10.0 %\ntask recognition 20.0 %" in labels
    dots = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection) and len(c.get_offsets())]
    assert dots and all(np.allclose(c.get_edgecolor()[:, :3], 1.0) for c in dots)


def test_method_bars_labels_clear_error_bars_vertical_and_horizontal():
    rng = np.random.default_rng(1)
    ms = ["gen_text", "gen_text_exact", "gen_rand", "discriminative"]
    df = pd.DataFrame([{"method": m, "seed": s, "top-1": 0.4 + rng.normal(0, 0.05)} for m in ms for s in range(3)])
    ax = P.method_bars(df, "method", "top-1")
    _labels_clear_of_bars(ax, ax.texts)
    for t, m in zip(ax.texts, ms):
        assert t.bar_value_end >= df[df.method == m]["top-1"].max() - 1e-9   # above every seed's dot
        mine = df[df.method == m]["top-1"]
        assert t.bar_value_end >= mine.mean() + mine.std() - 1e-9            # and above the error bar
    bars = next(c for c in ax.containers if isinstance(c, BarContainer))
    assert [tuple(np.round(p.get_facecolor()[:3], 4)) for p in bars] == \
        [tuple(np.round(_rgb(P.method_color(m)), 4)) for m in ms]
    plt.close("all")
    order = ["generative", "gad", "gad_parallel", "two_stage"]
    df = pd.DataFrame([{"method": m, "seed": s, "S-F1": 30 + rng.normal(0, 4)} for m in order for s in range(2)])
    ax = P.method_bars(df, "method", "S-F1", order=order, horizontal=True, fmt="{:.1f}")
    _labels_clear_of_bars(ax, ax.texts, horizontal=True)


def test_label_bars_clears_seaborn_error_bars_as_the_notebooks_draw_them():
    rng = np.random.default_rng(2)
    df = pd.DataFrame([{"method": m, "seed": s, "v": rng.uniform(0.3, 0.5)} for m in ("gad", "discriminative") for s in range(3)])
    ax = sns.barplot(df, x="method", y="v", errorbar="sd", capsize=0.1, hue="method", legend=False,
                     palette={m: P.method_color(m) for m in df["method"].unique()})
    sns.stripplot(df, x="method", y="v", color="k", size=3, ax=ax)
    texts = P.label_bars(ax, "{:.2f}")
    _labels_clear_of_bars(ax, texts)
    for t in texts:
        above = [top for lo, hi, top in _error_tops(ax) if lo - 1e-6 <= t.xy[0] <= hi + 1e-6]
        assert t.bar_value_end >= max(above) - 1e-9


def test_latency_is_two_linear_panels_coloured_by_method():
    timing = {"discriminative": {"ms_per_sample_b1": 2.4, "ms_per_sample_batched": 0.27},
              "generative": {"ms_per_sample_b1": 13.0, "ms_per_sample_batched": 1.2},
              "generative_exact": {"ms_per_sample_b1": 11.5, "ms_per_sample_batched": 6.1},
              "gad": {"ms_per_sample_b1": 2.5, "ms_per_sample_batched": 0.25}}
    axes = P.plot_latency(timing)
    assert len(axes) == 2
    for ax, key in zip(axes, ("ms_per_sample_b1", "ms_per_sample_batched")):
        assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
        bars = list(next(c for c in ax.containers if isinstance(c, BarContainer)))
        assert [b.get_height() for b in bars] == [timing[m][key] for m in timing]
        assert [tuple(np.round(b.get_facecolor()[:3], 4)) for b in bars] == \
            [tuple(np.round(_rgb(P.method_color(m)), 4)) for m in timing]
        assert ax.get_legend() is None   # no batch-size colours
        _labels_clear_of_bars(ax, ax.texts)


def test_class_frequency_keeps_the_classes_without_a_segment():
    counts = np.r_[np.arange(30, 0, -1), np.zeros(8, int)]
    ax = P.plot_class_frequency(counts)
    assert ax.get_yscale() == "linear"
    assert len(ax.containers[0]) == len(counts)
    assert any(t.get_text().startswith("8 classes") for t in ax.texts)


def _video(frames, spans):
    return SimpleNamespace(features=np.zeros((frames, 1, 1)), segments=[Segment(a, b, i) for i, (a, b) in enumerate(spans)])


def test_timeline_labels_never_overlap_and_segments_are_one_neutral_grey():
    names = ["fill can", "hammer can", "boil black pepper", "fill fridge", "chop extension cord", "squeeze tyre",
             "pour shower head", "squeeze cup", "open brown sugar", "attach can", "drill sauce", "bake ginger",
             "open screwdriver"]
    spans = [(4, 11), (13, 20), (23, 30), (33, 39), (43, 49), (52, 56), (58, 66), (70, 79), (80, 87), (91, 94),
             (96, 106), (108, 116), (117, 123)]
    videos = {"epic_like": (_video(125, spans), names), "short": (_video(58, [(8, 13), (19, 23), (29, 38)]), names)}
    fig = P.plot_timelines(videos)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    for ax, (video, _) in zip(fig.axes, videos.values()):
        labels = [t for t in ax.texts if t.get_text() in names]
        assert len(labels) == len(video.segments)
        boxes = [t.get_window_extent(r) for t in labels]
        boxes = [t.get_bbox_patch().get_window_extent(r) if t.get_bbox_patch() else b for t, b in zip(labels, boxes)]
        for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
            assert not a.overlaps(b), (labels[i].get_text(), labels[j].get_text())
        title = ax.title.get_window_extent(r)
        frame = ax.get_window_extent(r)
        for t, b in zip(labels, boxes):
            assert not b.overlaps(title) and frame.y0 <= b.y0 and b.y1 <= frame.y1 + 1, t.get_text()
        # every segment labelled and the same grey: no colour that changes meaning from one video to the
        # next, none a method's
        colours = [tuple(np.round(p.get_facecolor()[:3], 4)) for p in ax.patches if p.get_width() > 0 and p.get_height() == 0.8]
        assert len(colours) == len(video.segments) and set(colours) == {(0.86, 0.86, 0.86)}


def test_oad_timeline_legend_lists_exactly_the_classes_shown_each_in_its_own_colour():
    from gadlib.evaluation.oad import DensePrediction
    from gadlib.lessons.widgets import oad_timeline_figure
    truth = np.repeat(np.arange(0, 14) % 13, 4)   # 12 actions and background in 56 frames
    pred = np.roll(truth, 3)
    preds = {"gad": [DensePrediction("v", np.zeros((len(truth), 40), np.float32), pred, truth, np.zeros(len(truth), bool))]}
    names = ["background"] + [f"class {i}" for i in range(1, 40)]
    fig = oad_timeline_figure(preds, names, start=8, length=30)
    ax = fig.axes[0]
    shown = sorted(set(truth[8:38]) | set(pred[8:38]) - {0})
    legend = ax.get_legend()
    assert sorted(t.get_text().split(" · ")[1] for t in legend.get_texts()) == sorted(names[c] for c in shown if c)
    handles = [tuple(np.round(_rgb(h.get_color()), 4)) for h in legend.legend_handles]
    assert len(set(handles)) == len(handles)
    image = ax.images[0].get_array().reshape(-1, 4)[:, :3]
    background = int(0 in set(truth[8:38]) | set(pred[8:38]))
    assert len({tuple(np.round(c, 4)) for c in image}) == len([c for c in shown if c]) + background
    fig.canvas.draw()
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1 - 1


def test_error_entropy_legend_beside_the_panels_and_coinciding_nulls_said():
    rows = []
    for p, prior in (("a_like", 2.0), ("b_like", 2.2)):
        for m in ("generative", "discriminative", "gad"):
            for s in (0, 1):
                rows.append({"data": p, "method": m, "seed": s, "error_entropy": 1.4, "error_entropy_mm": 1.7,
                             "error_entropy_matched": 1.3, "null_uniform": 2.2, "null_prior": prior})
    fig = C.plot_error_entropy(pd.DataFrame(rows), ["a_like", "b_like"], ["generative", "discriminative", "gad"],
                               {"a_like": {"generative": 0.7}})
    a, b = fig.axes
    assert "coincide" not in a.get_title() and "coincide" in b.get_title()
    fig.canvas.draw()
    legend = b.get_legend().get_window_extent()
    assert legend.x0 >= b.get_window_extent().x1 - 1 and not legend.overlaps(a.get_window_extent())
    # bars: method colours only (scores are hatching)
    colours = {tuple(np.round(p.get_facecolor()[:3], 4)) for p in a.patches}
    assert colours == {tuple(np.round(_rgb(P.method_color(m)), 4)) for m in ("generative", "discriminative", "gad")}


def test_confusion_vs_pools_sparse_token_groups_and_uses_a_linear_axis():
    rng = np.random.default_rng(3)
    rates = {k: rng.uniform(0, 2, n) for k, n in zip(range(8), (300, 120, 40, 12, 5, 2, 1, 1))}

    def table(method):
        return pd.DataFrame([{"data": "x", "method": method, "shared label tokens": k, "pairs": len(v),
                              "confusion rate (%)": v.mean(),
                              "standard error (%)": v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan}
                             for k, v in rates.items()])
    look = pd.DataFrame([{"data": "x", "method": m, "visual similarity quintile": q, "pairs": 50, "confusion rate (%)": q,
                          "standard error (%)": 0.1} for m in ("gad", "generative") for q in range(1, 6)])
    fig = C.plot_confusion_vs(pd.concat([table("gad"), table("generative")]), look, ["x"], ["gad", "generative"], min_pairs=20)
    top, bottom = fig.axes[:2]
    assert top.get_yscale() == bottom.get_yscale() == "linear"
    assert [t.get_text() for t in top.get_xticklabels()] == ["0", "1", "2", "≥3"]
    pooled = np.concatenate([rates[k] for k in range(3, 8)])
    line = top.get_lines()[0]
    assert line.get_ydata()[-1] == pytest.approx(pooled.mean())
    # the pooled standard error: as if computed from the pairs themselves
    err = [c for c in top.collections if hasattr(c, "get_segments")][0].get_segments()[-1]
    assert (err[1][1] - err[0][1]) / 2 == pytest.approx(pooled.std(ddof=1) / np.sqrt(len(pooled)))
    fig.canvas.draw()
    assert top.get_legend().get_window_extent().x0 >= top.get_window_extent().x1 - 1


def test_paper_bars_colour_by_method_hatch_by_data_set_legend_below():
    from gadlib.evaluation.paper import OAD_ABLATIONS
    order = ["generative", "discriminative", "gad", "gad_extra_head", "two_stage", "no_cls"]
    ax = C.plot_paper_bars(OAD_ABLATIONS, order)
    plain, hatched = [c for c in ax.containers if isinstance(c, BarContainer)][:2]
    for bars in (plain, hatched):
        assert [tuple(np.round(b.get_facecolor()[:3], 4)) for b in bars] == \
            [tuple(np.round(_rgb(P.method_color(m)), 4)) for m in order]
    assert not any(b.get_hatch() for b in plain) and all(b.get_hatch() for b in hatched)
    ax.figure.tight_layout()
    ax.figure.canvas.draw()
    assert ax.get_legend().get_window_extent().y1 <= ax.get_window_extent().y0 + 1
    _labels_clear_of_bars(ax, ax.texts, horizontal=True)


def test_generative_variants_are_clearly_distinct_shades_and_exact_decoding_is_hatched():
    gen = ["generative", "generative_exact", "gen_rand", "gen_desync", "gen_extend", "gen_extend_exact"]
    light = sorted(colorsys.rgb_to_hls(*_rgb(P.method_color(m)))[1] for m in gen)
    assert min(b - a for a, b in zip(light, light[1:])) >= 0.09   # notebook 02 shows all six side by side
    for a, b in itertools.combinations(gen, 2):
        assert np.linalg.norm(_rgb(P.method_color(a)) - _rgb(P.method_color(b))) > 0.2, (a, b)
    df = pd.DataFrame([{"method": m, "seed": s, "top-1": 0.3 + 0.01 * s} for m in ["gen_text", "gen_text_exact"] for s in (0, 1)])
    ax = P.method_bars(df, "method", "top-1")
    bars = [b for c in ax.containers if isinstance(c, BarContainer) for b in c]
    assert [bool(b.get_hatch()) for b in bars] == [False, True]


def test_method_bars_in_percent():
    df = pd.DataFrame([{"method": m, "seed": s, "top-1": v + 0.02 * s} for m, v in (("gen_text", 0.31), ("discriminative", 0.52))
                       for s in (0, 1)])
    ax = P.method_bars(df, "method", "top-1", percent=True)
    heights = [b.get_height() for c in ax.containers if isinstance(c, BarContainer) for b in c]
    assert np.allclose(heights, [32.0, 53.0])
    assert "%" in ax.get_ylabel()
    assert sorted(t.get_text() for t in ax.texts) == ["32.0", "53.0"]
    dots = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)]
    assert dots and dots[0].get_offsets()[:, 1].min() > 1   # the seeds' dots in % too


def test_grid_heatmaps_share_one_scale_per_quantity_and_differences_are_symmetric_about_0():
    rows = [{"compositionality": c, "overlap": o, "method": m, "top-1": v + 0.1 * c + 0.05 * o}
            for c in (0.0, 1.0) for o in (0.3, 0.9) for m, v in (("discriminative", 0.6), ("gen_text", 0.2), ("gen_desync", 0.5))]
    fig = P.plot_grid_heatmaps(pd.DataFrame(rows), ["discriminative", "gen_text", "gen_desync"],
                               [("discriminative", "gen_text"), ("gen_desync", "gen_text")])
    meshes = [ax.collections[0] for ax in fig.axes if ax.collections and ax.get_title()]
    absolute, diffs = meshes[:3], meshes[3:]
    assert len(diffs) == 2
    assert len({m.get_clim() for m in absolute}) == 1 and len({m.get_clim() for m in diffs}) == 1
    lo, hi = absolute[0].get_clim()
    assert lo == pytest.approx(20 + 1.5) and hi == pytest.approx(60 + 10 + 4.5)   # in %, all panels' range
    dlo, dhi = diffs[0].get_clim()
    assert dlo == pytest.approx(-dhi) and dhi == pytest.approx(40.0)
    cbars = [ax for ax in fig.axes if not ax.get_title() and ax.get_label() == "<colorbar>"]
    assert len(cbars) == 2   # one colorbar per quantity, not one per panel


def _entropy_rows(prior_b=2.2):
    rows = []
    for p, prior in (("a_like", 2.0), ("b_like", prior_b)):
        for m in ("generative", "discriminative", "gad"):
            for s in (0, 1):
                rows.append({"data": p, "method": m, "seed": s, "error_entropy": 1.4, "error_entropy_mm": 2.1,
                             "error_entropy_matched": 1.3, "null_uniform": 2.2, "null_prior": prior})
    return pd.DataFrame(rows)


def test_error_entropy_nulls_sit_beside_the_bars_never_over_them_and_coinciding_ones_both_show():
    fig = C.plot_error_entropy(_entropy_rows(), ["a_like", "b_like"], ["generative", "discriminative", "gad"])
    b = fig.axes[1]
    spans = [(p.get_x(), p.get_x() + p.get_width()) for p in b.patches]
    markers = [ln for ln in b.lines if ln.get_marker() in (">", "<")]
    assert len(markers) == 6
    for ln in markers:
        x = ln.get_xdata()[0]
        assert not any(lo <= x <= hi for lo, hi in spans)   # no null drawn over a bar
        assert ln.get_zorder() > max(p.get_zorder() for p in b.patches)
    for coll in b.collections:   # the ticks (hlines) too
        for seg in coll.get_segments():
            if len(seg) == 2 and seg[0][1] == seg[1][1] and seg[0][0] != seg[1][0]:
                assert not any(lo < seg[:, 0].max() and seg[:, 0].min() < hi for lo, hi in spans)
    # b_like: uniform = prior = 2.2, both markers at 2.2 at different x, and the title says they coincide
    at = sorted((ln.get_xdata()[0], ln.get_marker()) for ln in markers if np.isclose(ln.get_ydata()[0], 2.2))
    assert len(at) == 6 and len({x for x, _ in at}) == 6 and "coincide" in b.get_title()


def test_shares_vs_chance_in_percent_with_chance_visible_beside_the_bars():
    rows = [{"data": p, "method": m, "seed": s, "share_same_verb": 0.2, "share_same_object": 0.3,
             "chance_same_verb": 0.14, "chance_same_object": cobj}
            for p, cobj in (("a_like", 0.14), ("b_like", 0.5)) for m in ("generative", "gad") for s in (0, 1)]
    fig = C.plot_shares_vs_chance(pd.DataFrame(rows), ["a_like", "b_like"], ["generative", "gad"])
    a, b = fig.axes
    assert {round(p.get_height(), 6) for p in a.patches} == {20.0, 30.0}
    assert "coincide" in a.get_title() and "coincide" not in b.get_title()
    assert b.get_ylim()[1] >= 50   # the chance rate above every bar is inside the axes
    spans = [(p.get_x(), p.get_x() + p.get_width()) for p in b.patches]
    ticks = [ln for ln in b.lines if ln.get_marker() in (">", "<")]
    assert {round(ln.get_ydata()[0], 6) for ln in ticks} == {14.0, 50.0}
    assert all(not any(lo <= ln.get_xdata()[0] <= hi for lo, hi in spans) for ln in ticks)
    assert b.get_legend() is not None and any("chance" in t.get_text() for t in b.get_legend().get_texts())
    colours = {tuple(np.round(p.get_facecolor()[:3], 4)) for p in a.patches}
    assert colours == {tuple(np.round(_rgb(P.method_color(m)), 4)) for m in ("generative", "gad")}


def test_confusion_vs_coinciding_curves_are_nudged_apart_styled_apart_and_said():
    tok = pd.DataFrame([{"data": "x", "method": m, "shared label tokens": g, "pairs": 30, "confusion rate (%)": 10.0,
                         "standard error (%)": 1.0} for m in ("discriminative", "gad") for g in (0, 1)])
    look = pd.DataFrame([{"data": "x", "method": m, "visual similarity quintile": q, "pairs": 50,
                          "confusion rate (%)": float(q), "standard error (%)": 0.1} for m in ("discriminative", "gad")
                         for q in range(1, 6)])
    fig = C.plot_confusion_vs(tok, look, ["x"], ["discriminative", "gad"])
    for ax in fig.axes[:2]:
        lines = [ln for ln in ax.lines if ln.get_linestyle() != "None"]
        assert len(lines) == 2
        assert not np.allclose(np.asarray(lines[0].get_xdata(), float), np.asarray(lines[1].get_xdata(), float))
        assert lines[0].get_marker() != lines[1].get_marker() and lines[0].get_linestyle() != lines[1].get_linestyle()
        assert "coincide" in ax.get_title()


def test_error_entropy_matched_bars_get_their_own_null_beside_them_and_the_legend_says_whose_each_is():
    rows = _entropy_rows().assign(null_uniform_matched=1.9)
    fig = C.plot_error_entropy(rows, ["a_like", "b_like"], ["generative", "discriminative", "gad"])
    b = fig.axes[1]
    spans = [(p.get_x(), p.get_x() + p.get_width()) for p in b.patches]
    hollow = [ln for ln in b.lines if ln.get_marker() == "<" and ln.get_markerfacecolor() == "white"]
    assert len(hollow) == 3 and all(np.isclose(ln.get_ydata()[0], 1.9) for ln in hollow)
    for ln in hollow:   # right of its group, next to the matched (rightmost) bar, never over a bar
        x = ln.get_xdata()[0]
        assert not any(lo <= x <= hi for lo, hi in spans)
        right = max(hi for lo, hi in spans if hi < x + 0.5 and lo > x - 0.7)
        assert 0 < x - right < 0.1
    texts = [t.get_text() for t in b.get_legend().get_texts()]
    assert any("matched bar" in t for t in texts) and any("plug-in bar" in t for t in texts)
    assert any("Miller-Madow: no null" in t for t in texts)


def test_pooled_token_table_is_the_figures_top_row_and_y_limits_hold_every_error_bar():
    rng = np.random.default_rng(3)
    rates = {k: rng.uniform(0, 2, n) for k, n in zip(range(8), (300, 120, 40, 12, 5, 2, 1, 1))}
    tok = pd.DataFrame([{"data": "x", "method": m, "shared label tokens": k, "pairs": len(v),
                         "confusion rate (%)": v.mean(), "standard error (%)": v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan}
                        for m in ("gad", "generative") for k, v in rates.items()])
    look = pd.DataFrame([{"data": "x", "method": m, "visual similarity quintile": q, "pairs": 50,
                          "confusion rate (%)": [0.0, 0.1, 1, 2, 3][q - 1], "standard error (%)": [0, 0.5, 0.2, 0.2, 0.4][q - 1]}
                         # a point at 0, and an error bar reaching below 0
                         for m in ("gad", "generative") for q in range(1, 6)])
    table = C.pooled_token_groups(tok, ["x"], ["gad", "generative"], min_pairs=20)
    assert list(table.loc["x"].index) == ["0", "1", "2", "≥3"]
    assert list(table.loc["x", "pairs"]) == [300, 120, 40, 21]
    fig = C.plot_confusion_vs(tok, look, ["x"], ["gad", "generative"], min_pairs=20)
    top, bottom = fig.axes[:2]
    assert [t.get_text() for t in top.get_xticklabels()] == list(table.loc["x"].index)
    line = [ln for ln in top.get_lines() if ln.get_linestyle() != "None"][0]
    assert np.allclose(line.get_ydata(), table.loc["x", "gad"])
    for ax in (top, bottom):
        lo, hi = ax.get_ylim()
        for coll in ax.collections:
            for seg in coll.get_segments():
                assert lo < seg[:, 1].min() and seg[:, 1].max() < hi   # every error bar inside the axes
        for ln in ax.get_lines():
            y = np.asarray(ln.get_ydata(), float)
            assert (lo < y[np.isfinite(y)]).all() and (y[np.isfinite(y)] < hi).all()   # a point at 0 is not cut in half


def test_group_confusions_shade_only_within_group_confusions_on_one_shared_scale():
    g = np.array([[0.5, 0.06, 0.44], [0.0, 0.3, 0.7]])
    d = np.array([[0.9, 0.0, 0.1], [0.02, 0.2, 0.78]])
    fig = C.plot_group_confusions({"generative": g, "discriminative": d}, ["a", "b"])
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 2
    for ax, v in zip(panels, (g, d)):
        grey, shaded = ax.collections[:2]
        assert shaded.get_clim() == pytest.approx((0, 0.06))   # the largest within-group confusion of all panels
        assert len(shaded.get_array().compressed()) == 2   # only the two off-diagonal cells inside the group
        assert len([t for t in ax.texts]) == v.size   # every cell still annotated
    assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 1


def test_seed_means_never_show_a_silent_nan():
    frame = pd.DataFrame([{"data": p, "method": m, "seed": s, "h": (np.nan if (p, m, s) == ("a", "g", 1) else 1.0 + s),
                           "miss": np.nan if p == "b" else 0.2} for p in ("a", "b") for m in ("g", "d") for s in (0, 1)])
    table, notes = P.seed_means(frame, ["data", "method"], ["h", "miss"], why={"miss": "OAD only"})
    assert table.loc[("a", "g"), "h"] == "1.00 (1 of 2 seeds)" and table.loc[("a", "d"), "h"] == 1.5
    assert table.loc[("b", "g"), "miss"] == "n/a" and table.loc[("a", "g"), "miss"] == 0.2
    assert len(notes) == 2 and "a / g" in notes[0] and "b (all)" in notes[1] and "OAD only" in notes[1]
    clean, none = P.seed_means(frame[frame.data == "a"].fillna(0.0), ["data", "method"], ["h"])
    assert none == [] and clean.dtypes["h"] == float


def test_class_palette_first_colours_read_on_white():
    # the first two lightness rows (12 classes): WCAG contrast with white of at least 1.8, yellows included
    def luminance(c):
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c[:3]]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    for c in P.class_palette(12):
        assert 1.05 / (luminance(c) + 0.05) >= 1.8, c


def test_error_entropy_paper_star_beside_its_group_never_in_a_bar():
    fig = C.plot_error_entropy(_entropy_rows().assign(null_uniform_matched=1.9), ["a_like", "b_like"],
                               ["generative", "discriminative", "gad"], {"a_like": {"generative": 1.35, "gad": 1.3}})
    a = fig.axes[0]
    spans = [(p.get_x(), p.get_x() + p.get_width()) for p in a.patches]
    stars = [ln for ln in a.lines if ln.get_marker() == "*"]
    assert len(stars) == 2
    for ln, i in zip(stars, (0, 2)):
        x = ln.get_xdata()[0]
        assert not any(lo <= x <= hi for lo, hi in spans)
        assert i < x < i + 0.5 and x > max(hi for lo, hi in spans if lo < i + 0.5) + 0.1   # right of its group's bars
        assert ln.get_markeredgecolor() == "white"
    texts = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert any("unpublished" in t for t in texts)


def test_token_lift_pools_by_pairs_and_steepest_calls_ties():
    groups = pd.DataFrame({"pairs": [100, 30, 10], "a": [1.0, 3.0, 1.0], "a s.e.": [0.1, 0.2, 0.4],
                           "b": [1.0, 2.9, 1.2], "b s.e.": [0.1, 0.3, 0.5], "c": [1.0, 1.0, 1.0], "c s.e.": [0.05, 0.05, 0.05]},
                          index=["0", "1", "≥2"])
    lift = C.token_lift(groups, ["a", "b", "c"])
    assert lift.loc["a", "lift"] == pytest.approx((30 * 3.0 + 10 * 1.0) / 40 / 1.0)
    pooled_se = np.sqrt((0.75 * 0.2) ** 2 + (0.25 * 0.4) ** 2)
    assert lift.loc["a", "s.e."] == pytest.approx(lift.loc["a", "lift"] * np.hypot(pooled_se / 2.5, 0.1))
    assert C.steepest(lift) == ("a", "b", False)                  # a and b within their standard errors: a tie
    assert C.steepest(lift.drop(index="b")) == ("a", "c", True)   # a clearly above c
    zero = C.token_lift(groups.assign(c=[0.0, 1.0, 1.0]), ["c"])
    assert np.isnan(zero.loc["c", "lift"])


def test_method_bars_put_each_seed_at_the_same_offset_in_every_bar():
    # rows shuffled on purpose: the offset follows the seed, not the row order
    df = pd.DataFrame([{"method": m, "seed": s, "top-1": 0.3 + 0.01 * s} for m, s in
                       (("gen_text", 1), ("gen_text", 0), ("discriminative", 0), ("discriminative", 1))])
    ax = P.method_bars(df, "method", "top-1")
    dots = next(c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection))
    x, y = dots.get_offsets()[:, 0], dots.get_offsets()[:, 1]
    offsets = x - np.round(x)
    seed = np.round(100 * (y - 0.3)).astype(int)
    assert np.allclose(offsets[seed == 0], -0.12) and np.allclose(offsets[seed == 1], 0.12)
    key = [t.get_text() for t in ax.get_legend().get_texts()]
    assert key[0] == "dots: seeds\n(left to right: 0, 1)"
    plt.close("all")
