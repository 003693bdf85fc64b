"""Interactive explorers (core ipywidgets), kept here so the notebooks stay short.

Every explorer draws with a plain function too (`sample_figure`), so a static figure is always
available: in CI, on GitHub's notebook viewer, in a PDF.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import os
import textwrap

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from gadlib.lessons.colors import class_palette, method_color, method_family
from gadlib.lessons.plots import KIND_TITLES
from gadlib.lessons.timelines import _LANE_PT, fit_timeline, plot_timeline, timeline_lanes
from gadlib.core.prompts import LABEL_SET_OF_KIND
from gadlib.data.samples import label_names
from gadlib.evaluation.metrics import segments

# Headless runs (`pytest --nbmake`, the main job `gadlib.tools.run_notebooks`) set this variable: there an
# explorer shows a note instead of its widgets. nobody can move a slider there, the static figure
# above each explorer is drawn anyway, and nbclient can block for good on a cell whose Output
# widget captures a display (jupyter/nbclient#312; seen here twice in CI, after notebook 01's
# explorer).
STATIC_ENV = "GADLAB_STATIC_WIDGETS"


def _static_note(name: str) -> Markdown | None:
    """The note a headless run shows instead of explorer `name`; None in a live notebook."""
    if not os.environ.get(STATIC_ENV):
        return None
    return Markdown(f"*{name}: an interactive explorer. Run this cell in Jupyter to use it; the figure "
                    "above is its static view.*")


GREEDY_SCALE = "score: − edit distance"
# Printed under every table with a greedy top-5: greedy decoding outputs one text, so its "top-5" is a
# ranking of that text's neighbours by spelling, full of ties, not the model's own ranking.
GREEDY_TOPK_NOTE = ("Greedy decoding outputs one label. Its top-5 ranks every class by edit distance to that one "
                    "output (of the characters for text labels, of the tokens for the rand, desync and extend "
                    "mappings), ties going to the lowest class index: a ranking by spelling, not the model's own. "
                    "The model's own top-5 is exact scoring's (the label's log-probability for every class).")


def score_scale(method: str) -> str:
    """What a method's class scores are: minus the edit distance of the decoded text to the class name
    for greedy decoding, the label's log-probability (summed over its tokens) for exact scoring, the
    head's log-softmax for the discriminative and GAD classifiers."""
    if method_family(method) == "generative":
        return "score: log p(label)" if method.endswith("_exact") else GREEDY_SCALE
    return "score: log softmax"


def sample_figure(dataset, samples_by_kind: dict, results: dict, kind: str, index: int, k: int = 5):
    """One test sample: where it sits in its video, and each method's top-k classes.

    results: {method: evaluate() output}. Scores are on each method's own scale (`score_scale`,
    written under the method's name), so the figure shows ranks, with the score printed beside each
    class. The truth is boxed, not coloured: colours mean methods (`method_color`), and a method's name
    is written in its colour.
    """
    sample = samples_by_kind[kind][index]
    names = label_names(dataset, LABEL_SET_OF_KIND[kind])
    video = next(v for v in dataset.videos if v.video_id == sample.video_id)
    # 8 inches wide: JupyterLab shows it near full size in a 1024-px window, so 9-pt labels stay readable
    lanes = timeline_lanes(video, dataset.step_names, 0.775 * 8)
    top = 1.2 + lanes * _LANE_PT / 72 / 0.8   # the timeline's row grows with its rows of labels
    fig = plt.figure(figsize=(8, 0.8 * (top + len(results)) + 0.6))
    grid = fig.add_gridspec(1 + len(results), 1, height_ratios=[top] + [1] * len(results))
    seg = next((i for i, s in enumerate(video.segments) if s.start == sample.frame), None)
    plot_timeline(video, dataset.step_names, ax=fig.add_subplot(grid[0]), highlight=seg)
    fig.axes[0].set_title(f"{KIND_TITLES[kind]} sample {index} of video {video.video_id}: "
                          f"truth = {names[sample.target]!r}\n(its segment: the thick outline; boxed where a method "
                          "ranks it; the small label boxes only name short segments)", fontsize=10)
    column = 0.165   # each prediction's column, as a share of the axes' width
    rows = [fig.add_subplot(grid[row]) for row in range(1, 1 + len(results))]
    for ax in rows:
        ax.axis("off")
    fig.tight_layout()   # the final widths, before measuring what fits in a column
    renderer = fig.canvas.get_renderer()
    for ax, (method, res) in zip(rows, results.items()):
        scores = res[kind]["scores"][index]
        top_k = np.argsort(-scores, kind="stable")[:k]
        # the method name in its own left column, so it never sits on the first prediction
        ax.text(0, 0.5, method.replace("_", "\n", 1), fontsize=9, weight="bold", va="bottom", transform=ax.transAxes,
                color=method_color(method))
        ax.text(0, 0.42, score_scale(method).replace(": ", ":\n"), fontsize=7, va="top", transform=ax.transAxes,
                color="0.3")
        greedy = score_scale(method) == GREEDY_SCALE
        room = column * ax.get_window_extent(renderer).width - 6   # pixels
        for j, c in enumerate(top_k):
            bold = c == sample.target
            t = ax.text(0.19 + j * column, 0.5, "", fontsize=9, va="center", transform=ax.transAxes,
                        weight="bold" if bold else "normal",
                        bbox=dict(boxstyle="round,pad=0.25", fc="none", ec="k", lw=1.2) if bold else None)
            # + 0.0 turns a -0.0 (an edit distance of 0, negated) into 0
            score = f"{scores[c] + 0.0:.0f}" if greedy else f"{scores[c] + 0.0:.2f}"
            for width in (16, 14, 12, 10, 8):   # the widest wrap that fits the column (bold is wider)
                t.set_text(f"{textwrap.fill(names[c], width, max_lines=2, placeholder='…')}\n{score}")
                if t.get_window_extent(renderer).width <= room:
                    break
    fig.tight_layout()
    fit_timeline(fig.axes[0])
    return fig


def sample_explorer(dataset, samples_by_kind: dict, results: dict, k: int = 5):
    """Pick a prediction problem and a test sample; see the ground truth and each method's top-k.

    Exactly one redraw per change: switching the problem while the sample slider is past the new
    problem's last sample first shrinks the slider (which clamps its value) without drawing, then
    draws once.
    """
    if (note := _static_note("sample_explorer")) is not None:
        return note
    kind = w.Dropdown(options=[(KIND_TITLES[key], key) for key in samples_by_kind], description="problem")
    index = w.IntSlider(0, 0, len(samples_by_kind[kind.value]) - 1, description="sample",
                        continuous_update=False, layout=w.Layout(width="95%"))
    out = w.Output()
    changing = [False]

    def draw(*_):
        if changing[0]:
            return
        fig = sample_figure(dataset, samples_by_kind, results, kind.value, index.value, k)
        with out:
            out.clear_output(wait=True)
            display(fig)
        plt.close(fig)

    def on_kind(change):
        changing[0] = True
        try:
            index.max = len(samples_by_kind[change["new"]]) - 1  # may clamp index.value: no draw yet
        finally:
            changing[0] = False
        draw()

    kind.observe(on_kind, "value")
    index.observe(draw, "value")
    draw()
    return w.VBox([kind, index, out])


BACKGROUND_GREY = (0.88, 0.88, 0.88, 1.0)


def timeline_colours(rows) -> dict:
    """{class: RGBA} for the classes in `rows` (arrays of class ids): light grey for background (class 0),
    and for the actions distinct colours (`class_palette`), numbered in order of first appearance
    (truth first), so that no two classes shown together share a colour."""
    shown = [int(c) for c in dict.fromkeys(np.concatenate([np.asarray(r).ravel() for r in rows]).tolist()) if c != 0]
    colours = {0: BACKGROUND_GREY}
    colours.update({c: (*rgb[:3], 1.0) for c, rgb in zip(shown, class_palette(len(shown)))})
    return colours


def oad_timeline_figure(predictions: dict, class_names: list[str], video: int = 0, start: int = 0,
                        length: int | None = None, seed: int | None = None):
    """Truth and each method's per-frame prediction for one test video, as coloured strips.

    predictions: {method: [DensePrediction, ...]} (`gadlib.evaluation.oad.predict_dense` or `evaluate_oad`
    output), the same videos in the same order for every method. Frames `start .. start+length`.
    Every class shown gets its own colour and a number, in order of first appearance: the legend
    lists exactly those classes ("3 · name"), and every segment wide enough carries its number, since
    with a couple of dozen classes two colours can look alike. seed: the models' seed, for the title.
    Explained in notebooks/05_online_action_detection.ipynb.
    """
    first = next(iter(predictions.values()))[video]
    end = len(first.truth) if length is None else min(len(first.truth), start + length)
    rows = {"truth": np.asarray(first.truth[start:end])}
    rows.update({m: np.asarray(p[video].pred[start:end]) for m, p in predictions.items()})
    colours = timeline_colours(rows.values())
    shown = [c for c in colours if c != 0]
    ncol = 1 + (len(shown) - 1) // 12 if shown else 1
    fig, ax = plt.subplots(figsize=(11 + 1.6 * (ncol - 1), max(0.45 * len(rows) + 0.9, 0.17 * min(len(shown), 12) + 0.6)))
    ax.imshow(np.stack([[colours[int(c)] for c in r] for r in rows.values()]), aspect="auto", interpolation="nearest",
              extent=(start - 0.5, end - 0.5, len(rows) - 0.5, -0.5))
    ax.set_yticks(range(len(rows)), list(rows))
    ax.set_xlabel("frame")
    number = {c: i + 1 for i, c in enumerate(shown)}
    for c in shown:  # the legend: every class of this stretch, in order of first appearance
        ax.plot([], [], "s", color=colours[c], label=f"{number[c]} · {class_names[c]}")
    if shown:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, ncol=ncol)
    # the frames a number needs: two bold 7-pt digits (~0.11 in) on a strip about 8.8 in wide
    wide = max(1, int(np.ceil(0.11 / (8.8 / (end - start)))))
    for y, row in enumerate(rows.values()):
        for c, a, end_excl in segments(row):   # background runs dropped
            if end_excl - a >= wide:
                ink = "k" if sum(colours[c][:3]) > 1.6 else "w"   # dark numbers on light colours
                ax.text(start + (a + end_excl - 1) / 2, y, str(number[c]), ha="center", va="center", fontsize=7,
                        fontweight="bold", color=ink)
    which = f"test video {video} ({first.video_id})" + ("" if seed is None else f", seed {seed}")
    ax.set_title(f"{which}, frames {start}-{end - 1} (grey = background; numbers: the legend's classes)", fontsize=9)
    fig.tight_layout()
    return fig


def oad_timeline_explorer(predictions: dict, class_names: list[str], window: int = 120, seed: int | None = None):
    """Scrub through the test videos: pick a video and move a `window`-frame view along it."""
    if (note := _static_note("oad_timeline_explorer")) is not None:
        return note
    videos = next(iter(predictions.values()))
    video = w.IntSlider(0, 0, len(videos) - 1, description="video")
    start = w.IntSlider(0, 0, max(0, len(videos[0].truth) - 1), description="frame")
    video.observe(lambda change: setattr(start, "max", max(0, len(videos[change["new"]].truth) - 1)), "value")

    def draw(video, start):
        fig = oad_timeline_figure(predictions, class_names, video, start, window, seed=seed)
        display(fig)
        plt.close(fig)

    out = w.interactive_output(draw, {"video": video, "start": start})
    return w.VBox([w.HBox([video, start]), out])


def error_destinations_figure(errors_by_method: dict, class_names: list[str], cls: int, top: int = 6):
    """Where the errors of true class `cls` go, one panel per method: the `top` most frequent
    predicted classes, as shares of that class's errors (the count of errors beside each bar).

    errors_by_method: {method: [C, C] error counts} (`gadlib.evaluation.diversity.error_counts`, e.g. summed
    over seeds). Explained in notebooks/03_misclassification_diversity.ipynb.
    """
    fig, axes = plt.subplots(1, len(errors_by_method), figsize=(3.9 * len(errors_by_method), 0.3 * top + 1.3),
                             squeeze=False)
    truth_words = set(class_names[cls].split())
    right = 0.0
    for ax, (method, errors) in zip(axes[0], errors_by_method.items()):
        row = np.asarray(errors)[cls]
        total = int(row.sum())
        dest = [c for c in np.argsort(-row, kind="stable")[:top] if row[c] > 0]
        shares = [row[c] / total for c in dest]
        # red: the predicted label shares a word with the truth
        ax.barh(range(len(dest)), shares, color=["tab:red" if truth_words & set(class_names[c].split()) else "tab:grey"
                                                 for c in dest])
        ax.set_yticks(range(len(dest)), [class_names[c] for c in dest], fontsize=8)
        for y, c in enumerate(dest):
            ax.text(shares[y], y, f" {row[c]} errors", va="center", fontsize=7)   # the count; the bar is the share
        ax.invert_yaxis()
        right = max(right, min(1.15, 1.45 * max(shares, default=1.0) + 0.08))   # room for the counts
        ax.set_xlabel("share of this class's errors", fontsize=8)
        ax.set_title(f"{method}: {total} errors", fontsize=9)
    for ax in axes[0]:   # one x-scale for every panel: equal shares, equal bars
        ax.set_xlim(0, right)
    fig.suptitle(f"true class {class_names[cls]!r} (red: the prediction shares a word with it)", fontsize=9)
    fig.tight_layout()
    return fig


def error_destinations_explorer(errors_by_method: dict, class_names: list[str], top: int = 6):
    """Pick a true class (listed by its number of errors, all methods together) and see where
    each method's errors of it go (`error_destinations_figure`)."""
    if (note := _static_note("error_destinations_explorer")) is not None:
        return note
    total = sum(np.asarray(e).sum(1) for e in errors_by_method.values())
    order = [int(c) for c in np.argsort(-total, kind="stable") if total[c] > 0]
    pick = w.Dropdown(options=[(f"{class_names[c]} ({int(total[c])} errors)", c) for c in order],
                      description="class")

    def draw(cls):
        fig = error_destinations_figure(errors_by_method, class_names, cls, top)
        display(fig)
        plt.close(fig)

    out = w.interactive_output(draw, {"cls": pick})
    return w.VBox([pick, out])
