"""Turn videos into training/evaluation samples for the four tasks of the paper.

Explained in notebooks/01_generative_vs_discriminative.ipynb (step recognition) and
notebooks on GAD and online action detection (the other builders).

A `Sample` is what one forward pass of the model sees: visual tokens, which question is asked
(`kind` -> `gadlib.core.prompts.PROMPTS`), the class to predict, and the `context` text that GAD learns to generate
after [CLS] during fine-tuning. The COIN contexts are the authors' (paper notes, issue 18): a step
sample "<step>. <task>.", a next-step (forecasting) sample "<next step>. <task>.", a task sample
"<task>."; an OAD window's context is the previous action.

COIN samples take `num_frames` frames spread over their span, or every frame of it
(`num_frames=None`, the paper's protocol: every frame at 2 fps, evenly subsampled to at most
`max_frames` = 1200 when the span is longer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gadlib.core.classifier import Sample  # noqa: F401 (the unit these builders make)
from gadlib.data.videos import Video, VideoDataset

NO_PREVIOUS_ACTION = "none"
ALL_FRAMES = "all"  # a config's `num_frames: all`: every frame of the span (same as None)
MAX_FRAMES = 1200   # the most frames one COIN sample takes with num_frames=None (the authors' cap)
LONG_SPANS = ("subsample", "first")
END_FRAMES = ("exclusive", "inclusive")
TASK_SPANS = ("steps", "video")


@dataclass(frozen=True)
class FrameRule:
    """Which frames a COIN sample takes, beyond `num_frames` (the defaults are gadlib's).

    long_span: a span longer than max_frames (num_frames "all") is evenly "subsample"d to
      max_frames (the authors' GAD script) or keeps its "first" max_frames frames (their
      discriminative script).
    end_frame: a segment's last frame is end - 1 ("exclusive") or end itself ("inclusive", the
      authors' ceil(start x fps) .. ceil(end x fps) with `read_coin(frame_rule="ceil")`), at
      most the video's last frame.
    task_span: a task sample spans the first step's start to the last step's end ("steps") or
      the video's start .. end in COIN.json ("video", the authors'; `read_coin(spans=True)`).
    """
    long_span: str = "subsample"
    end_frame: str = "exclusive"
    task_span: str = "steps"

    def __post_init__(self):
        for name, allowed in (("long_span", LONG_SPANS), ("end_frame", END_FRAMES), ("task_span", TASK_SPANS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"FrameRule: {name} must be one of {allowed}, got {getattr(self, name)!r}")

    def span(self, start: int, end: int, num_video_frames: int) -> tuple[int, int]:
        """The half-open frame range [start, end') a segment [start, end) gives under `end_frame`."""
        return start, min(end + 1, num_video_frames) if self.end_frame == "inclusive" else end


def label_names(dataset: VideoDataset, label_set: str) -> list[str]:
    """Class names of a label space: "steps", "tasks" or "oad" (background first)."""
    if label_set == "steps":
        return list(dataset.step_names)
    if label_set == "tasks":
        if not dataset.task_names:
            raise ValueError(f"data set {dataset.name!r} has no task_names")
        return list(dataset.task_names)
    if label_set == "oad":
        return ["background"] + list(dataset.step_names)
    raise ValueError(f'label_set should be "steps", "tasks" or "oad", got {label_set!r}')


def frames_setting(num_frames, max_frames: int = MAX_FRAMES) -> int | None:
    """`num_frames` as the sample builders use it: a positive int, or None (also written "all")
    for every frame of the span; a ValueError naming the allowed values otherwise. `max_frames`
    (the cap on every-frame samples) must be a positive int."""
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 1:
        raise ValueError(f"max_frames must be an int >= 1, got {max_frames!r}")
    if num_frames is None or num_frames == ALL_FRAMES:
        return None
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 1:
        raise ValueError(f"num_frames must be an int >= 1, or {ALL_FRAMES!r} / null (None): every frame of the "
                         f"span, at most max_frames; got {num_frames!r}")
    return int(num_frames)


def _frame_indices(start: int, end: int, num_frames: int | str | None, rng: np.random.Generator | None,
                   max_frames: int = MAX_FRAMES, long_span: str = "subsample") -> np.ndarray:
    """Indices of the frames a sample takes from frames start .. end - 1.

    num_frames an int: that many, spread uniformly (repeats if too few). Without rng: evenly
    spaced (evaluation). With rng: one random frame from each of num_frames equal bins, a cheap
    temporal augmentation for training.
    num_frames None (or "all"): every frame, in order; a span longer than `max_frames` is evenly
    subsampled to exactly `max_frames` distinct frames (first and last included), or keeps its
    first `max_frames` (long_span "first"). No jitter: rng is not used, so training and
    evaluation see the same frames.
    """
    num_frames = frames_setting(num_frames, max_frames)
    if end <= start:
        raise ValueError(f"empty span: frames {start} .. {end - 1}")
    if num_frames is None:
        if end - start <= max_frames or long_span == "first":
            return np.arange(start, min(end, start + max_frames), dtype=np.int64)
        # more than one frame apart on average, so the rounded positions are distinct
        return np.round(np.linspace(start, end - 1, max_frames)).astype(np.int64)
    if rng is None:
        return np.round(np.linspace(start, end - 1, num_frames)).astype(np.int64)
    edges = np.linspace(start, end, num_frames + 1)
    picks = edges[:-1] + rng.random(num_frames) * (edges[1:] - edges[:-1])
    return np.clip(np.floor(picks), start, end - 1).astype(np.int64)


def _tokens(video: Video, frames: np.ndarray) -> np.ndarray:
    """Visual tokens of the given frames, flattened to [frames * tokens_per_frame, D]."""
    return video.features[frames].reshape(-1, video.features.shape[2])


def _nonempty(samples: list[Sample], dataset: VideoDataset, subset: str, what: str) -> list[Sample]:
    if not samples:
        raise ValueError(f"data set {dataset.name!r}, subset {subset!r}: no {what} samples")
    return samples


def _step_context(dataset: VideoDataset, video: Video, step: int) -> str:
    """'<step>. <task>.' - GAD's target text for COIN step samples (step = the segment's step) and
    next-step samples (step = the *next* segment's step, the answer); just '<step>.' without tasks."""
    name = dataset.step_names[step]
    if video.task is None or not dataset.task_names:
        return f"{name}."
    return f"{name}. {dataset.task_names[video.task]}."


def _task_context(dataset: VideoDataset, video: Video) -> str:
    """'<task>.' - GAD's target text for a COIN task sample (the answer itself)."""
    return f"{dataset.task_names[video.task]}."


def previous_action_classes(dataset: VideoDataset) -> list[str]:
    """Every OAD context (previous action): NO_PREVIOUS_ACTION, then the class names. The
    classes of GAD's extra context head in the ablation of notebooks/04_gad_finetuning.ipynb."""
    return [NO_PREVIOUS_ACTION] + list(dataset.step_names)


def _segment_samples(dataset: VideoDataset, subset: str, num_frames: int | str | None,
                     rng: np.random.Generator | None, kind: str, max_frames: int = MAX_FRAMES,
                     rule: FrameRule = FrameRule()) -> list[Sample]:
    """Step recognition (target: this segment) and forecasting (target: the next segment); the
    context names the target step, then the task."""
    samples = []
    for video in dataset.split(subset):
        # Forecasting needs a next segment, so the last one yields no sample.
        last = len(video.segments) - (1 if kind == "next" else 0)
        for i, seg in enumerate(video.segments[:last]):
            target = video.segments[i + 1].label if kind == "next" else seg.label
            start, end = rule.span(seg.start, seg.end, len(video.features))
            frames = _frame_indices(start, end, num_frames, rng, max_frames, rule.long_span)
            samples.append(Sample(_tokens(video, frames), kind, target,
                                  _step_context(dataset, video, target), video.video_id, seg.start))
    return _nonempty(samples, dataset, subset, f"{kind!r}")


def step_recognition_samples(dataset: VideoDataset, subset: str, num_frames: int | str | None = 8,
                             rng: np.random.Generator | None = None, max_frames: int = MAX_FRAMES,
                             rule: FrameRule = FrameRule()) -> list[Sample]:
    """One sample per segment: its frames -> its step; context "<step>. <task>.".

    num_frames None (or "all"): every frame of the segment, at most `max_frames`. Pass rng to
    jitter frames (training; only with an int num_frames)."""
    return _segment_samples(dataset, subset, num_frames, rng, "step", max_frames, rule)


def step_forecasting_samples(dataset: VideoDataset, subset: str, num_frames: int | str | None = 8,
                             rng: np.random.Generator | None = None, max_frames: int = MAX_FRAMES,
                             rule: FrameRule = FrameRule()) -> list[Sample]:
    """One sample per segment but the last: its frames -> the next segment's step; context
    "<next step>. <task>." (the answer, then the task goal). Frames as `step_recognition_samples`."""
    return _segment_samples(dataset, subset, num_frames, rng, "next", max_frames, rule)


def task_recognition_samples(dataset: VideoDataset, subset: str, num_frames: int | str | None = 16,
                             rng: np.random.Generator | None = None, max_frames: int = MAX_FRAMES,
                             rule: FrameRule = FrameRule()) -> list[Sample]:
    """One sample per video: frames of the annotated span -> the video's task; context "<task>.".

    The span runs from the first segment's start to the last segment's end (the whole video
    when it has no segments), or COIN.json's start .. end (`rule.task_span` "video").
    num_frames None (or "all"): every frame of the span, at most `max_frames` (`rule.long_span`).
    """
    label_names(dataset, "tasks")  # raises when the data set has no tasks
    samples = []
    for video in dataset.split(subset):
        if video.task is None:
            raise ValueError(f"data set {dataset.name!r}, video {video.video_id!r}: task is None")
        if rule.task_span == "video":
            if video.span is None:
                raise ValueError(f"data set {dataset.name!r}, video {video.video_id!r}: task_span 'video' needs "
                                 "the video's start .. end from COIN.json (read_coin(spans=True))")
            start, end = rule.span(*video.span, len(video.features))
        else:
            start = video.segments[0].start if video.segments else 0
            end = video.segments[-1].end if video.segments else len(video.features)
        frames = _frame_indices(start, end, num_frames, rng, max_frames, rule.long_span)
        samples.append(Sample(_tokens(video, frames), "task", video.task, _task_context(dataset, video),
                              video.video_id, start))
    return _nonempty(samples, dataset, subset, "'task'")


def _previous_actions(dataset: VideoDataset, video: Video) -> list[str]:
    """Per frame t: name of the last segment with end <= t, i.e. the action before the one at
    t (or the last one, when t is background); NO_PREVIOUS_ACTION before the first.

    A segment whose frames are all ignored (`Video.ignored_mask()`) is never a previous action.
    """
    ignored = video.ignored_mask()
    names, previous = [], NO_PREVIOUS_ACTION
    ends = iter(s for s in video.segments if not ignored[s.start:s.end].all())
    seg = next(ends, None)
    for t in range(len(video.features)):
        while seg is not None and seg.end <= t:
            previous = dataset.step_names[seg.label]
            seg = next(ends, None)
        names.append(previous)
    return names

