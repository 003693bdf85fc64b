"""Explanatory drawings of notebooks/00_the_paper_in_one_page.ipynb: the three classifiers side by
side, and per-frame label strips (a hand-made stream, its predictions, the window a prediction sees).

Drawings only: nothing here is measured.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

# Colours by role: what the model reads, what it generates, the [CLS] query, the head.
ROLE_COLORS = {"video": "#9ecae1", "prompt": "#d9d9d9", "generated": "#fdae6b", "cls": "#74c476",
               "head": "#c7e9c0", "output": "#ffffff", "train_only": "#fee6ce"}


def _box(ax, x: float, y: float, w: float, text: str, role: str, dashed: bool = False, h: float = 0.5) -> tuple[float, float]:
    """A labelled box with its lower-left corner at (x, y); returns its right edge and middle height."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                fc=ROLE_COLORS[role], ec="0.3", lw=1, ls="--" if dashed else "-"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8)
    return x + w, y + h / 2


def _arrow(ax, x0: float, y0: float, x1: float, y1: float, text: str = "", dashed: bool = False) -> None:
    ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", color="0.25", lw=1,
                                                       ls="--" if dashed else "-"))
    if text:
        ax.text((x0 + x1) / 2, max(y0, y1) + 0.12, text, ha="center", va="bottom", fontsize=7, color="0.25")


def _inputs(ax, y: float) -> float:
    """Video tokens and the prompt, as every classifier reads them; returns the right edge."""
    x = 0.0
    for i in range(3):
        x, _ = _box(ax, x + 0.05, y, 0.45, f"v{i + 1}", "video")
    x, _ = _box(ax, x + 0.1, y, 3.0, "What is the action in the video?", "prompt")
    return x


def plot_classifiers(ax=None, label: str = "add sugar", goal: str = "make tea"):
    """The generative, discriminative and GAD classifiers on one causal LM, one row each: what the
    LM reads (video tokens from the connector, the prompt), what it adds after, and where the class
    comes from. Dashed: used in training only."""
    ax = ax or plt.subplots(figsize=(12, 4.6))[1]
    words = label.split()
    rows = {"generative": 3.8, "discriminative": 2.55, "GAD": 0.45}
    for name, y in rows.items():
        ax.text(-0.15, y + 0.25, name, ha="right", va="center", fontsize=10, weight="bold")
        x = _inputs(ax, y)
        if name == "generative":
            for w in words + ["<eos>"]:
                x, mid = _box(ax, x + 0.1, y, 0.75, w, "generated")
            _arrow(ax, x + 0.05, mid, x + 1.35, mid, "snap to the nearest\nclass name")
            _box(ax, x + 1.4, y, 1.7, f"class “{label}”", "output")
            ax.text(x - 1.3, y - 0.1, "one forward pass for the input,\nthen one per generated token", ha="center", va="top",
                    fontsize=7, color="0.3")
            continue
        cx, mid = _box(ax, x + 0.1, y, 0.7, "[CLS]", "cls")
        c_mid = x + 0.45
        _arrow(ax, c_mid, y - 0.02, c_mid, y - 0.68)
        ax.text(c_mid - 0.08, y - 0.35, "last hidden state", ha="right", va="center", fontsize=7, color="0.25")
        hx, hmid = _box(ax, c_mid - 0.55, y - 1.2, 1.1, "linear head", "head")
        _arrow(ax, hx + 0.05, hmid, hx + 0.85, hmid, "argmax")
        _box(ax, hx + 0.9, y - 1.2, 1.7, f"class “{label}”", "output")
        # under the whole input, video tokens to [CLS]: the one pass reads all of it
        ax.annotate("", (0.05, y - 0.08), (cx, y - 0.08), arrowprops=dict(arrowstyle="|-|", color="0.5", lw=0.8,
                                                                          mutation_scale=3))
        ax.text((0.05 + cx) / 2 - 0.5, y - 0.12, "one forward pass over all of it", ha="center", va="top", fontsize=7, color="0.3")
        if name == "GAD":
            for w in f"{label}. {goal}.".split():
                cx, gmid = _box(ax, cx + 0.1, y, 0.75, w, "train_only", dashed=True)
            ax.text(cx + 0.15, gmid, "generated context: LM loss\nλ · L_gen, training only", ha="left", va="center",
                    fontsize=7, color="0.3")
    ax.set_xlim(-1.6, 11.2)
    ax.set_ylim(-0.85, 4.45)
    ax.axis("off")
    return ax


def plot_strips(rows: dict[str, np.ndarray], names: list[str], ax=None, fps: float | None = None,
                window: tuple[int, int] | None = None):
    """Per-frame label sequences, one strip each (background: a white box marked "·", keyed in a
    legend; a class's name on its run); `window` (first, last) frame outlines what one online
    prediction may see (frames `first`..`last`) and hatches the unseen future frames after `last`."""
    ax = ax or plt.subplots(figsize=(9, 0.55 * len(rows) + 0.6))[1]
    colors = plt.cm.tab10(np.arange(10))
    for r, (title, labels) in enumerate(rows.items()):
        y = len(rows) - 1 - r
        labels = np.asarray(labels)
        for t, c in enumerate(labels):
            ax.add_patch(plt.Rectangle((t, y + 0.1), 1, 0.8, fc=colors[c % 10] if c else "white", ec="0.6", lw=0.5))
            ax.text(t + 0.5, y + 0.5, names[c] if c else "·", ha="center", va="center", fontsize=7)
        ax.text(-0.2, y + 0.5, title, ha="right", va="center", fontsize=9)
    if window is not None:
        first, last = window
        n = max(len(v) for v in rows.values())
        ax.add_patch(plt.Rectangle((first, 0.02), last + 1 - first, len(rows) - 0.04, fill=False, ec="k", lw=2, zorder=3))
        # grey and hatched, not white: background frames are white already and must read as unseen too
        # translucent: the future frames' labels (and "·") stay legible under it
        ax.add_patch(plt.Rectangle((last + 1, 0), n - last - 1, len(rows), fc="0.85", ec="0.5", hatch="//",
                                   alpha=0.45, lw=0, zorder=3))
        # two labels: one over the window box, one over the hatched future frames
        ax.text((first + last + 1) / 2, len(rows) + 0.05, f"the window: recent frames seen at frame {last}",
                ha="center", va="bottom", fontsize=8)
        if last + 1 < n:
            ax.text((last + 1 + n) / 2, len(rows) + 0.05, "future: unseen", ha="center", va="bottom", fontsize=8)
    n = max(len(v) for v in rows.values())
    if any((np.asarray(v) == 0).any() for v in rows.values()):
        # background frames are white boxes marked "·": say so beside the strips
        key = plt.Rectangle((0, 0), 1, 1, fc="white", ec="0.6", lw=0.5)
        ax.legend([key], ["· = background"], loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
                  frameon=False, handlelength=1.2, handleheight=1.2)
    ax.set_xlim(0, n)
    ax.set_ylim(0, len(rows) + 0.4)
    ax.set_yticks([])
    ax.set_xticks(np.arange(n) + 0.5, [str(t) for t in range(n)])
    ax.set_xlabel("frame" + (f" ({fps:g} fps)" if fps else ""))
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return ax
