"""Interactive explorers (core ipywidgets), kept here so the notebooks stay short.

Every explorer draws with a plain function too (`sample_figure`), so a static figure is always
available: in CI, on GitHub's notebook viewer, in a PDF.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .plots import KIND_TITLES, plot_timeline
from .samples import LABEL_SET, label_names


def sample_figure(dataset, samples_by_kind: dict, results: dict, kind: str, index: int, k: int = 5):
    """One test sample: where it sits in its video, and each method's top-k classes.

    results: {method: evaluate() output}. Scores are on each method's own scale (log-prob for
    the discriminative head and exact scoring, minus edit distance for greedy decoding), so the
    figure shows ranks, with the score printed beside each class.
    """
    sample = samples_by_kind[kind][index]
    names = label_names(dataset, LABEL_SET[kind])
    video = next(v for v in dataset.videos if v.video_id == sample.video_id)
    fig = plt.figure(figsize=(10, 1.8 + 0.75 * len(results)))
    grid = fig.add_gridspec(1 + len(results), 1, height_ratios=[1.2] + [1] * len(results))
    seg = next((i for i, s in enumerate(video.segments) if s.start == sample.frame), None)
    plot_timeline(video, dataset.step_names, ax=fig.add_subplot(grid[0]), highlight=seg)
    fig.axes[0].set_title(f"{KIND_TITLES[kind]} sample {index} of video {video.video_id}: "
                          f"truth = {names[sample.target]!r}", fontsize=9)
    for row, (method, res) in enumerate(results.items(), start=1):
        scores = res[kind]["scores"][index]
        top = np.argsort(-scores, kind="stable")[:k]
        ax = fig.add_subplot(grid[row])
        ax.axis("off")
        ax.text(0, 0.85, method, fontsize=9, weight="bold", transform=ax.transAxes)
        for j, c in enumerate(top):
            ax.text(0.02 + j * 0.196, 0.35, f"{names[c]}\n{scores[c]:.2f}", fontsize=8, transform=ax.transAxes,
                    color="green" if c == sample.target else "black",
                    weight="bold" if c == sample.target else "normal")
    fig.tight_layout()
    return fig


def sample_explorer(dataset, samples_by_kind: dict, results: dict, k: int = 5):
    """Pick a task and a test sample; see the ground truth and each method's top-k predictions."""
    import ipywidgets as w
    from IPython.display import display

    kind = w.Dropdown(options=list(samples_by_kind), description="task")
    index = w.IntSlider(0, 0, len(samples_by_kind[kind.value]) - 1, description="sample")
    kind.observe(lambda change: setattr(index, "max", len(samples_by_kind[change["new"]]) - 1), "value")

    def draw(kind, index):
        fig = sample_figure(dataset, samples_by_kind, results, kind, index, k)
        display(fig)
        plt.close(fig)

    out = w.interactive_output(draw, {"kind": kind, "index": index})
    return w.VBox([w.HBox([kind, index]), out])
