"""Sample builders: targets, frames taken, contexts, and no future frame in an OAD window."""

import numpy as np
import pytest

from gadlib.data.datasets import Segment, Video, VideoDataset
from gadlib.evaluation.oad import oad_samples
from gadlib.core.prompts import LABEL_SET_OF_KIND, PROMPTS
from gadlib.data.samples import label_names, step_forecasting_samples, step_recognition_samples, task_recognition_samples

STEPS = ["add salt", "pour water", "stir soup"]
TASKS = ["make soup", "clean up"]


def _indexed(T: int, tokens: int = 2, dim: int = 3) -> np.ndarray:
    """Features whose every value is its frame index, so a sample shows which frames it took."""
    return np.repeat(np.arange(T, dtype=np.float32), tokens * dim).reshape(T, tokens, dim)


def _dataset(tokens: int = 2, tasks: bool = True) -> VideoDataset:
    videos = [
        Video("a", _indexed(30, tokens), [Segment(2, 8, 0), Segment(10, 15, 2), Segment(15, 20, 1),
                                          Segment(25, 28, 0)], 1 if tasks else None, "train"),
        Video("b", _indexed(12, tokens), [Segment(0, 4, 1), Segment(6, 12, 2)], 0 if tasks else None, "test"),
        Video("c", _indexed(9, tokens), [Segment(3, 4, 1)], 0 if tasks else None, "train"),
    ]
    return VideoDataset("toy", videos, list(STEPS), list(TASKS) if tasks else [], fps=1.0)


def _frames(sample, tokens: int = 2) -> np.ndarray:
    """Frame index of each frame in a sample (every token of a frame holds that index)."""
    per_frame = sample.visual.reshape(-1, tokens, sample.visual.shape[1])
    assert (per_frame == per_frame[:, :1, :1]).all()  # tokens of one frame stay together
    return per_frame[:, 0, 0].astype(int)


def test_prompts_label_sets_and_label_names():
    assert set(PROMPTS) == set(LABEL_SET_OF_KIND) == {"step", "next", "task", "oad"}
    data = _dataset()
    assert label_names(data, "steps") == STEPS and label_names(data, "tasks") == TASKS
    assert label_names(data, "oad") == ["background"] + STEPS
    with pytest.raises(ValueError, match="no task_names"):
        label_names(_dataset(tasks=False), "tasks")
    with pytest.raises(ValueError, match="'verbs'"):
        label_names(data, "verbs")


def test_step_recognition():
    samples = step_recognition_samples(_dataset(), "train", num_frames=4)
    assert [(s.video_id, s.frame, s.target) for s in samples] == [
        ("a", 2, 0), ("a", 10, 2), ("a", 15, 1), ("a", 25, 0), ("c", 3, 1)]
    assert all(s.kind == "step" and s.visual.shape == (8, 3) and s.visual.dtype == np.float32 for s in samples)
    assert _frames(samples[0]).tolist() == [2, 4, 5, 7]  # evenly spread, first and last frame included
    assert _frames(samples[3]).tolist() == [25, 26, 26, 27]  # short segment: frames repeat
    assert _frames(samples[4]).tolist() == [3, 3, 3, 3]
    assert samples[1].context == "stir soup. clean up."
    assert step_recognition_samples(_dataset(tasks=False), "train")[0].context == "add salt."


def test_step_recognition_jitter_stays_inside_the_segment():
    data = _dataset()
    draws = [_frames(step_recognition_samples(data, "train", num_frames=3, rng=np.random.default_rng(seed))[0])
             for seed in range(20)]
    assert all(d.min() >= 2 and d.max() <= 7 and (np.diff(d) >= 0).all() for d in draws)
    assert len({tuple(d) for d in draws}) > 3  # it does jitter
    same = [_frames(step_recognition_samples(data, "train", rng=np.random.default_rng(7))[1]) for _ in range(2)]
    assert np.array_equal(*same)


def test_step_forecasting_targets_the_next_segment():
    samples = step_forecasting_samples(_dataset(), "train", num_frames=4)
    # Video c has a single segment: nothing to forecast.
    assert [(s.video_id, s.frame, s.target) for s in samples] == [("a", 2, 2), ("a", 10, 1), ("a", 15, 0)]
    assert all(s.kind == "next" for s in samples)
    assert _frames(samples[1]).min() >= 10 and _frames(samples[1]).max() < 15  # frames of the observed step
    assert samples[1].context == "pour water. clean up."  # the next step (the answer), then the task


def test_task_recognition():
    samples = task_recognition_samples(_dataset(), "train", num_frames=5)
    assert [(s.video_id, s.target, s.frame, s.kind) for s in samples] == [("a", 1, 2, "task"), ("c", 0, 3, "task")]
    assert _frames(samples[0]).tolist() == [2, 8, 14, 21, 27]  # the annotated span 2..27
    assert [s.context for s in samples] == ["clean up.", "make soup."]  # the task itself
    with pytest.raises(ValueError, match="no task_names"):
        task_recognition_samples(_dataset(tasks=False), "train")


def test_oad_targets_windows_and_no_future_frames():
    data = _dataset()
    samples = oad_samples(data, "train", window=4, dense=True, start="repeat")
    assert len(samples) == 30 + 9
    labels = data.videos[0].frame_labels()
    for s in samples[:30]:
        frames = _frames(s)
        assert s.kind == "oad" and s.target == labels[s.frame]
        assert len(frames) == 4 and frames[-1] == s.frame and frames.max() <= s.frame
    assert _frames(samples[0]).tolist() == [0, 0, 0, 0]  # early windows repeat frame 0
    assert _frames(samples[2]).tolist() == [0, 0, 1, 2]
    assert _frames(samples[12]).tolist() == [9, 10, 11, 12]
    short = oad_samples(data, "train", window=4, dense=True)  # the authors': no frame repeated
    assert [_frames(short[t]).tolist() for t in (0, 2, 12)] == [[0], [0, 1, 2], [9, 10, 11, 12]]


def test_oad_long_context_comes_before_the_window():
    samples = oad_samples(_dataset(tokens=1), "train", window=4, long_context=10, long_tokens=3, dense=True,
                          start="repeat")
    s = samples[20]
    assert _frames(s, tokens=1).tolist() == [7, 12, 16, 17, 18, 19, 20]  # frames 7..16 thinned to 3, then window
    for s in samples:
        frames = _frames(s, tokens=1)
        assert len(frames) == 7 and frames.max() <= s.frame and (np.diff(frames) >= 0).all()
        assert frames.min() >= max(0, s.frame - 13)
    assert _frames(samples[1], tokens=1).tolist() == [0, 0, 0, 0, 0, 0, 1]
    short = oad_samples(_dataset(tokens=1), "train", window=4, long_context=10, long_tokens=3, dense=True)
    assert _frames(short[1], tokens=1).tolist() == [0, 1] and _frames(short[10], tokens=1).tolist() == [2, 6, 7, 8,
                                                                                                        9, 10]


def test_oad_stride_offset_and_previous_action_context():
    data = _dataset()
    times = [s.frame for s in oad_samples(data, "train", stride=4, offset=1) if s.video_id == "a"]
    assert times == list(range(1, 30, 4))
    context = {s.frame: s.context for s in oad_samples(data, "train", dense=True, context="previous_action")
               if s.video_id == "a"}
    assert [context[t] for t in (0, 5, 7)] == ["none"] * 3  # inside the first action: nothing before it
    assert [context[t] for t in (8, 9, 10, 14)] == ["add salt"] * 4
    assert [context[t] for t in (15, 19)] == ["stir soup"] * 2
    assert [context[t] for t in (20, 24, 25, 27)] == ["pour water"] * 4
    assert [context[t] for t in (28, 29)] == ["add salt"] * 2


def test_builders_refuse_bad_arguments_and_empty_results():
    data = _dataset()
    data.videos[1].segments = []
    for build in (step_recognition_samples, step_forecasting_samples):
        with pytest.raises(ValueError, match="data set 'toy', subset 'test'"):
            build(data, "test")
    with pytest.raises(ValueError, match="no videos in subset 'val'"):
        oad_samples(data, "val")
    with pytest.raises(ValueError, match="window must be >= 1"):
        oad_samples(data, "train", window=0)
    with pytest.raises(ValueError, match="num_frames"):
        step_recognition_samples(data, "train", num_frames=0)
    # A video without segments still has a whole-video span for task recognition.
    assert _frames(task_recognition_samples(data, "test", num_frames=3)[0]).tolist() == [0, 6, 11]
