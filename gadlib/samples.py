"""Turn videos into training/evaluation samples for the four tasks of the paper.

Explained in notebooks/01_generative_vs_discriminative.ipynb (step recognition) and
notebooks on GAD and online action detection (the other builders).

A `Sample` is what one forward pass of the model sees: visual tokens, which question is asked
(`kind` -> `gadlib.prompts.PROMPTS`), the class to predict, and the `context` text that GAD learns to generate
after [CLS] during fine-tuning (the task goal for COIN steps, the previous action for OAD).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gadlib.data import Video, VideoDataset

NO_PREVIOUS_ACTION = "none"


@dataclass
class Sample:
    visual: np.ndarray  # float32 [N, D]: frames x tokens_per_frame flattened in time order
    kind: str  # "step" | "next" | "task" | "oad"
    target: int  # class index in the label space LABEL_SET[kind]
    context: str  # the text GAD generates after [CLS]
    video_id: str
    frame: int  # "oad": the frame predicted; otherwise the first frame of the segment/span


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


def _frame_indices(start: int, end: int, num_frames: int, rng: np.random.Generator | None) -> np.ndarray:
    """num_frames indices spread uniformly over frames start .. end - 1 (repeats if too few).

    Without rng: evenly spaced (evaluation). With rng: one random frame from each of num_frames
    equal bins, a cheap temporal augmentation for training.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
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
    """'<step>. <task>.' - GAD's target text for COIN steps (just '<step>.' without tasks)."""
    name = dataset.step_names[step]
    if video.task is None or not dataset.task_names:
        return f"{name}."
    return f"{name}. {dataset.task_names[video.task]}."


def context_before_answer(kind: str, context: str, label: str) -> str:
    """The part of a sample's context that does not state its answer `label`: what a
    generate-first GAD model writes *before* [CLS] (notebooks/04_gad_finetuning.ipynb).

    A step-recognition context "<step>. <task>." starts with the answer, so [CLS] after it
    would learn to copy it: only the task goal "<task>." is kept (nothing without tasks).
    Every other context already leaves the answer out: forecasting names the *current* step,
    task recognition the first steps, OAD the previous action.
    """
    if kind != "step":
        return context
    for head in (f"{label}. ", f"{label}."):
        if context.startswith(head):
            return context[len(head):]
    raise ValueError(f"the context {context!r} of a 'step' sample does not start with its label {label!r} "
                     "(expected '<step>. <task>.')")


def previous_action_classes(dataset: VideoDataset) -> list[str]:
    """Every OAD context (previous action): NO_PREVIOUS_ACTION, then the class names. The
    classes of GAD's extra context head in the ablation of notebooks/04_gad_finetuning.ipynb."""
    return [NO_PREVIOUS_ACTION] + list(dataset.step_names)


def _segment_samples(dataset: VideoDataset, subset: str, num_frames: int,
                     rng: np.random.Generator | None, kind: str) -> list[Sample]:
    """Step recognition (target: this segment) and forecasting (target: the next segment)."""
    samples = []
    for video in dataset.split(subset):
        # Forecasting needs a next segment, so the last one yields no sample.
        last = len(video.segments) - (1 if kind == "next" else 0)
        for i, seg in enumerate(video.segments[:last]):
            target = video.segments[i + 1].label if kind == "next" else seg.label
            frames = _frame_indices(seg.start, seg.end, num_frames, rng)
            samples.append(Sample(_tokens(video, frames), kind, target,
                                  _step_context(dataset, video, seg.label), video.video_id, seg.start))
    return _nonempty(samples, dataset, subset, f"{kind!r}")


def step_recognition_samples(dataset: VideoDataset, subset: str, num_frames: int = 8,
                             rng: np.random.Generator | None = None) -> list[Sample]:
    """One sample per segment: its frames -> its step. Pass rng to jitter frames (training)."""
    return _segment_samples(dataset, subset, num_frames, rng, "step")


def step_forecasting_samples(dataset: VideoDataset, subset: str, num_frames: int = 8,
                             rng: np.random.Generator | None = None) -> list[Sample]:
    """One sample per segment but the last: its frames -> the next segment's step."""
    return _segment_samples(dataset, subset, num_frames, rng, "next")


def task_recognition_samples(dataset: VideoDataset, subset: str, num_frames: int = 16,
                             rng: np.random.Generator | None = None, context_steps: int = 3) -> list[Sample]:
    """One sample per video: frames of the annotated span -> the video's task.

    The span runs from the first segment's start to the last segment's end (the whole video
    when it has no segments). Context: the video's first `context_steps` steps in order,
    "a, b, c." (short on purpose: GAD pays for every generated token during training).
    """
    label_names(dataset, "tasks")  # raises when the data set has no tasks
    samples = []
    for video in dataset.split(subset):
        if video.task is None:
            raise ValueError(f"data set {dataset.name!r}, video {video.video_id!r}: task is None")
        start = video.segments[0].start if video.segments else 0
        end = video.segments[-1].end if video.segments else len(video.features)
        frames = _frame_indices(start, end, num_frames, rng)
        context = ", ".join(dataset.step_names[s.label] for s in video.segments[:context_steps]) + "."
        samples.append(Sample(_tokens(video, frames), "task", video.task, context, video.video_id, start))
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

