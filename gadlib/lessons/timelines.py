"""Video timelines: labelled step segments on a frame axis (one neutral grey), labels that never collide.

Explained in notebooks/01_generative_vs_discriminative.ipynb and 05_online_action_detection.ipynb.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties

_LANE_PT = 12.0      # one row of labels above a timeline (7-pt text in a padded box), in points
_TEXT_RENDERER = None


def _text_width_pt(text: str, fontsize: float) -> float:
    """Width of `text` in points (Agg's metrics at 72 dpi: the same in any figure)."""
    global _TEXT_RENDERER
    if _TEXT_RENDERER is None:
        _TEXT_RENDERER = RendererAgg(10, 10, 72)
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


SEGMENT_FILL, SEGMENT_EDGE = "0.86", "0.35"


def plot_timeline(video, step_names: list[str], ax=None, highlight: int | None = None, fontsize: float = 7):
    """One video's step segments on a time axis (frames); background is left blank.

    Every segment the same light grey with a dark edge: each is labelled, and colours by position in
    one video would give a class a different colour in the next figure (and could read as a method's
    colour). A label sits in its segment where it fits, else in a box in the lowest row above the bar
    where it overlaps no other label."""
    frames = len(video.features)
    labels = [step_names[s.label] for s in video.segments]
    if ax is None:
        width = 9.0
        lanes = timeline_lanes(video, step_names, 0.775 * width, fontsize)
        ax = plt.subplots(figsize=(width, 1.3 + lanes * _LANE_PT / 72))[1]
    fig = ax.figure
    layout = _timeline_layout(video.segments, labels, frames, ax.get_position().width * fig.get_figwidth() * 72, fontsize)
    for i, (seg, label, (lane, x)) in enumerate(zip(video.segments, labels, layout)):
        ax.barh(0, seg.end - seg.start, left=seg.start, height=0.8, color=SEGMENT_FILL,
                edgecolor="k" if i == highlight else SEGMENT_EDGE, lw=2 if i == highlight else 0.8)
        if lane == 0:
            ax.text((seg.start + seg.end) / 2, 0, label, ha="center", va="center", fontsize=fontsize)
        else:
            ax.annotate(label, (x, 0.4), xytext=(0, 3 + (lane - 1) * _LANE_PT), textcoords="offset points",
                        ha="center", va="bottom", fontsize=fontsize, annotation_clip=False,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec=SEGMENT_EDGE, lw=0.8))
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
