"""Online action detection (OAD): per-frame classification that sees only the past.

Explained in notebooks/05_online_action_detection.ipynb.

- Training windows: for a frame t, the `window` frames ending at t plus `long_tokens` frames
  spread over the `long_context` frames before them; target = the label of frame t (0 =
  background); GAD's context = the previous action. Frames marked `Video.ignored_mask()` give
  no window and are never a previous action.
- `OADWindows` is a lazy `Sequence` of such samples: it keeps only (video, t, target, context)
  per window and gathers the visual tokens from the video's (possibly memory-mapped) feature
  array when a window is indexed, so a whole split is never copied window by window.
- Dense evaluation (`predict_dense`) scores every frame of every test video, the first frames
  with a context clamped to frame 0 (as in training), batching windows within and across videos;
  `predict_dense_reference` is the obvious one-frame-at-a-time loop it must agree with.
- `run_oad` trains and evaluates one method, like `gadlib.experiment.run` for the offline tasks.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from .classifier import ActionClassifier, Batch, collate
from .datasets import Video, VideoDataset
from .experiment import Run, Setup
from .methods import build_classifier
from .metrics import oad_metrics
from .samples import NO_PREVIOUS_ACTION, Sample, _previous_actions, label_names
from .sharding import is_main_process, predict_sharded
from .training import train


@dataclass
class OADConfig:
    """How OAD windows are built and how background is weighted in the loss.

    window: frames of the short window ending at the predicted frame t (the paper: 16-32).
    long_context: earlier frames before the window that the long context covers (paper: up to 128);
      0 = no long context.
    long_tokens: frames sampled uniformly from the long context (one visual token each for
      one-token-per-frame features).
    stride: distance between training windows (an epoch draws t = offset, offset + stride, ...).
    background_weight: loss weight of background windows (the paper: 0.2-1.0 per data set), the
      same for every classifier (`ActionClassifier.sample_weights`).
    """
    window: int = 8
    long_context: int = 0
    long_tokens: int = 8
    stride: int = 4
    background_weight: float = 1.0

    def __post_init__(self):
        for name, low in (("window", 1), ("stride", 1), ("long_context", 0), ("long_tokens", 0)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"OADConfig: {name} must be >= {low} (an integer), got {value!r}")
        if not self.background_weight > 0:
            raise ValueError(f"OADConfig: background_weight must be > 0, got {self.background_weight!r}")

    @property
    def frames_per_window(self) -> int:
        return len(window_offsets(self))


def window_offsets(cfg: OADConfig) -> np.ndarray:
    """int64 [L]: frame offsets (<= 0) relative to the predicted frame t, in time order.

    The long context's `long_tokens` frames are spread evenly over frames
    t - window - long_context + 1 .. t - window, then come the `window` frames t - window + 1 .. t.
    Offsets are relative to t, so every window has the same layout; frames before 0 are
    clamped to 0 by the caller (the first frames repeat frame 0). No offset is > 0: nothing
    after t is ever seen.
    """
    short = np.arange(-cfg.window + 1, 1)
    if cfg.long_context == 0 or cfg.long_tokens == 0:
        return short
    # floor(x + 0.5), not np.round: half-way cases round the same way for every t
    long = np.floor(np.linspace(-cfg.window - cfg.long_context + 1, -cfg.window, cfg.long_tokens) + 0.5)
    return np.concatenate([long.astype(np.int64), short])


class OADWindows(Sequence):
    """A lazy sequence of OAD `Sample`s: (video, t) pairs whose visual tokens are gathered on access.

    Memory: 24 bytes per window (video index, t, target, context code; 4.8 MB measured for 200k
    windows, benchmarks/README.md) plus the videos' features, which are only read, never copied
    (a memory-mapped array stays on disk). Indexing one window copies its L = cfg.frames_per_window
    frames (L x tokens_per_frame x D float32); `batch(indices)` copies one batch, B x L x D x 4
    bytes: e.g. 32 x (16 + 128) x 1024 x 4 B = 19 MB with a 16-frame window and 128 long-context
    frames, against N x L x D x 4 bytes for a list of all N windows of a split (every window copies
    its frames: L times the features themselves).

    videos: the videos; times: per video, the frames t to predict (int array); cfg: window layout;
    step_names: the data set's class names without background, for the previous-action context;
    None for inference windows (contexts are then "": GAD generates nothing at inference).
    Slicing returns another `OADWindows`.
    """

    def __init__(self, videos: list[Video], times: list[np.ndarray], cfg: OADConfig,
                 step_names: list[str] | None = None):
        if len(videos) != len(times):
            raise ValueError(f"OADWindows: {len(videos)} videos but {len(times)} arrays of times")
        self.videos, self.cfg, self.offsets = list(videos), cfg, window_offsets(cfg)
        # Context strings as codes: the same few names repeat over millions of frames.
        self.context_names = [NO_PREVIOUS_ACTION] + list(step_names) if step_names is not None else [""]
        code = {name: i for i, name in enumerate(self.context_names)}
        dataset = VideoDataset("windows", self.videos, list(step_names or []), [], fps=1.0)
        vid, ts, targets, contexts = [], [], [], []
        for i, (video, t) in enumerate(zip(self.videos, times)):
            t = np.asarray(t, dtype=np.int64)
            T = len(video.features)
            if video.features.ndim != 3 or video.features.shape[1:] != self.videos[0].features.shape[1:]:
                raise ValueError(f"OADWindows: video {video.video_id!r} has features of shape "
                                 f"{video.features.shape}, expected [T, tokens, D] = [T, "
                                 f"{', '.join(map(str, self.videos[0].features.shape[1:]))}] like the first video")
            if t.size and (t.min() < 0 or t.max() >= T):
                raise ValueError(f"OADWindows: video {video.video_id!r} has {T} frames, asked for frame "
                                 f"{int(t.min() if t.min() < 0 else t.max())}")
            if step_names is None:
                previous = np.zeros(T, dtype=np.int32)
            else:
                previous = np.array([code[name] for name in _previous_actions(dataset, video)], dtype=np.int32)
            vid.append(np.full(len(t), i, dtype=np.int32))
            ts.append(t)
            targets.append(video.frame_labels()[t])
            contexts.append(previous[t])
        self._video = np.concatenate(vid) if vid else np.zeros(0, np.int32)
        self._t = np.concatenate(ts) if ts else np.zeros(0, np.int64)
        self._target = np.concatenate(targets) if targets else np.zeros(0, np.int64)
        self._context = np.concatenate(contexts) if contexts else np.zeros(0, np.int32)

    def _take(self, idx: np.ndarray) -> OADWindows:
        out = object.__new__(OADWindows)
        out.videos, out.cfg, out.offsets, out.context_names = self.videos, self.cfg, self.offsets, self.context_names
        out._video, out._t, out._target, out._context = (a[idx] for a in (self._video, self._t, self._target,
                                                                            self._context))
        return out

    def __len__(self) -> int:
        return len(self._t)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._take(np.arange(len(self))[i])
        i = range(len(self))[i]  # negative indices; IndexError when out of range
        return self.__getitems__([i])[0]

    def frames(self, indices) -> np.ndarray:
        """int64 [n, L]: the frame indices each window reads (clamped at 0, never after t)."""
        return np.maximum(self._t[np.asarray(indices, dtype=np.int64)][:, None] + self.offsets, 0)

    def visual(self, indices) -> np.ndarray:
        """float32 [n, L * tokens_per_frame, D]: visual tokens of the windows, one gather per video."""
        idx = np.asarray(indices, dtype=np.int64)
        frames, owner = self.frames(idx), self._video[idx]
        first = self.videos[0].features
        out = np.empty((len(idx), frames.shape[1]) + first.shape[1:], dtype=np.float32)
        for v in np.unique(owner):
            rows = np.flatnonzero(owner == v)
            out[rows] = self.videos[v].features[frames[rows]]
        return out.reshape(len(idx), -1, first.shape[2])

    def batch(self, indices) -> Batch:
        """The `Batch` of these windows, built in one gather (what `collate` of the samples gives)."""
        idx = np.asarray(indices, dtype=np.int64)
        visual = self.visual(idx)
        if not np.isfinite(visual).all():
            bad = int(np.flatnonzero(~np.isfinite(visual).all(axis=(1, 2)))[0])
            raise ValueError(f"NaN or inf in the visual features of video "
                             f"{self.videos[self._video[idx[bad]]].video_id!r} window ending at frame "
                             f"{int(self._t[idx[bad]])}")
        return Batch(visual=list(torch.from_numpy(visual)), kinds=["oad"] * len(idx),
                     targets=torch.from_numpy(self._target[idx].astype(np.int64)),
                     contexts=[self.context_names[c] for c in self._context[idx]])

    def __getitems__(self, indices) -> list[Sample]:
        """What a DataLoader asks for: one batch of samples, gathered in one go."""
        idx = np.asarray(indices, dtype=np.int64)
        visual = self.visual(idx)
        return [Sample(v, "oad", int(self._target[i]), self.context_names[self._context[i]],
                       self.videos[self._video[i]].video_id, int(self._t[i])) for v, i in zip(visual, idx)]


def training_windows(dataset: VideoDataset, subset: str, cfg: OADConfig, offset: int = 0,
                     dense: bool = False) -> OADWindows:
    """Windows ending at t = offset, offset + stride, ... (every frame when dense) of every video
    of `subset`, except frames marked ignored (`Video.ignored_mask()`). Lazy: see `OADWindows`."""
    if not isinstance(offset, (int, np.integer)) or offset < 0:
        raise ValueError(f"training_windows: offset must be an integer >= 0, got {offset!r}")
    videos = dataset.split(subset)
    times = []
    for video in videos:
        t = np.arange(len(video.features)) if dense else np.arange(offset, len(video.features), cfg.stride)
        ignored = video.ignored_mask()
        if ignored.shape != (len(video.features),):
            raise ValueError(f"data set {dataset.name!r}, video {video.video_id!r}: ignored mask has shape "
                             f"{ignored.shape}, expected ({len(video.features)},)")
        times.append(t[~ignored[t]])
    windows = OADWindows(videos, times, cfg, dataset.step_names)
    if not len(windows):
        raise ValueError(f"data set {dataset.name!r}, subset {subset!r}: no 'oad' samples")
    return windows


def oad_samples(dataset: VideoDataset, subset: str, window: int = 8, long_context: int = 0,
                long_tokens: int = 8, stride: int = 4, offset: int = 0, dense: bool = False):
    """Online action detection: what is happening at frame t, seeing only frames <= t.

    Frames t = offset, offset + stride, ... (every frame when dense), except frames marked
    ignored (`Video.ignored_mask()`). Visual tokens, in time order: `long_tokens` frames spread
    uniformly over the `long_context` frames before the window (none when long_context == 0),
    then the `window` frames ending at t. Frame indices below 0 are clamped to 0, so early
    windows repeat the first frame. Target: the frame label at t (0 = background). Context: the
    previous action ("none" before the first).

    Returns a lazy sequence of `Sample`s (`OADWindows`, see `window_offsets`
    for the exact frames): windows are gathered when indexed, never for the whole split at once.
    """
    cfg = OADConfig(window=window, long_context=long_context, long_tokens=long_tokens, stride=stride)
    return training_windows(dataset, subset, cfg, offset=offset, dense=dense)


@dataclass
class DensePrediction:
    """One test video scored at every frame (`ignored` frames: out of mAP, background truth for F1)."""
    video_id: str
    scores: np.ndarray   # float32 [T, C]: higher is better
    pred: np.ndarray     # int64 [T]
    truth: np.ndarray    # int64 [T]: 0 = background
    ignored: np.ndarray  # bool [T]


def _dense_windows(videos: list[Video], cfg: OADConfig) -> OADWindows:
    if not videos:
        raise ValueError("predict_dense: no videos")
    return OADWindows(videos, [np.arange(len(v.features)) for v in videos], cfg)


def _split_by_video(videos: list[Video], scores: np.ndarray, preds: np.ndarray) -> list[DensePrediction]:
    out, start = [], 0
    for v in videos:
        end = start + len(v.features)
        out.append(DensePrediction(v.video_id, scores[start:end].astype(np.float32),
                                   preds[start:end].astype(np.int64), v.frame_labels(), v.ignored_mask()))
        start = end
    return out


@torch.no_grad()
def predict_dense(classifier: ActionClassifier, videos: list[Video], cfg: OADConfig, batch_size: int = 64,
                  progress: bool = False, **predict_kwargs) -> list[DensePrediction]:
    """A prediction for every frame of every video, `batch_size` windows per forward pass.

    Windows run through the model in video order, a batch spanning several videos when one ends,
    so short videos do not leave batches half empty; every window has the same length (the first
    frames' windows repeat frame 0), so a batch needs no padding. predict_kwargs go to
    `classifier.predict` (e.g. decoding="exact"). Memory: one batch of windows plus the output
    scores, T x C x 4 bytes over all videos (e.g. 100k frames x 3.8k classes = 1.5 GB: with
    thousands of classes, score a few videos per call).
    Under `accelerate launch` every process must call it: the batches are shared out among the
    processes and gathered (`gadlib.sharding`); every process returns all the predictions, equal
    to one process's.
    """
    if batch_size < 1:
        raise ValueError(f"predict_dense: batch_size must be >= 1, got {batch_size}")
    windows = _dense_windows(videos, cfg)
    classifier.eval()
    scores, preds = predict_sharded(lambda idx: classifier.predict(windows.batch(idx), **predict_kwargs),
                                    len(windows), batch_size, progress, desc="oad frames")
    return _split_by_video(videos, scores, preds)


@torch.no_grad()
def predict_dense_reference(classifier: ActionClassifier, videos: list[Video], cfg: OADConfig,
                            **predict_kwargs) -> list[DensePrediction]:
    """The same predictions as `predict_dense`, one frame at a time through `collate` (slow, obvious:
    the reference the batched path is tested against, and the per-frame baseline of the benchmark)."""
    windows = _dense_windows(videos, cfg)
    classifier.eval()
    scores, preds = [], []
    for i in range(len(windows)):
        p = classifier.predict(collate([windows[i]]), **predict_kwargs)
        scores.append(p.scores)
        preds.append(p.pred)
    return _split_by_video(videos, np.concatenate(scores), np.concatenate(preds))


def evaluate_oad(classifier: ActionClassifier, dataset: VideoDataset, subset: str, cfg: OADConfig,
                 batch_size: int = 64, **predict_kwargs) -> dict:
    """Dense predictions on `subset` and their OAD metrics.

    Returns {"videos": [DensePrediction], "metrics": gadlib.metrics.oad_metrics(...) (segment F1,
    point F1, mAP, ...), "fps": frames scored per second of wall time}. Scored as the authors'
    evaluation does: mAP on the multi-hot truth as shipped (`Video.multi_hot_truth`) without
    ignored frames and without the CliffDiving/Diving score switch; F1 with the truth background
    at ignored frames and the predictions kept there.
    Note the two rates: `dataset.fps` (video frames per second, for point F1 in seconds) and the
    returned "fps" (throughput, as the paper's FPS column).
    Under `accelerate launch` every process must call it (the prediction is shared out, see
    `predict_dense`); the metrics are computed once, on the main process ("metrics" holds only
    "fps" on the others).
    """
    videos = dataset.split(subset)
    t0 = time.perf_counter()
    dense = predict_dense(classifier, videos, cfg, batch_size=batch_size, **predict_kwargs)
    seconds = time.perf_counter() - t0
    metrics = {}
    if is_main_process():
        names = label_names(dataset, "oad")
        multi_hot = [v.multi_hot_truth(len(names)) for v in videos]
        metrics = oad_metrics([d.pred for d in dense], [d.truth for d in dense], [d.scores for d in dense],
                              dataset.fps, ignored=[d.ignored for d in dense], background=0, class_names=names,
                              multi_hot_truths=multi_hot if any(m is not None for m in multi_hot) else None)
    fps = sum(len(d.pred) for d in dense) / seconds
    # throughput also among the metrics, so `experiment.summarize` reports it per seed
    return {"videos": dense, "metrics": {**metrics, "fps": fps}, "fps": fps}


def run_oad(method: str, dataset: VideoDataset, seed: int, setup: Setup, cfg: OADConfig,
            decodings: tuple[str, ...] = ("greedy",), name: str | None = None, keep_model: bool = False,
            **method_kwargs) -> dict[str, Run]:
    """Train one `method` OAD model with `seed` and evaluate it densely on the test split.

    Like `gadlib.experiment.run`: `setup` gives the backbone and the optimiser (its num_frames
    and kinds are not used), each epoch trains on windows at a seeded random offset in
    [0, stride), so every frame can be a training target over the epochs. The background weight
    comes from `cfg`. A generative model is evaluated once per decoding, keyed `name` and
    `name + "_exact"`. `Run.results["oad"]` = `evaluate_oad(...)`, so
    `experiment.summarize(runs, kinds=("oad",), metrics=("seg_f1_0.1", ...))` works.
    """
    if "background_weight" in method_kwargs:
        raise ValueError("run_oad: set background_weight in the OADConfig, not as a method argument")
    name = name or method
    model = build_classifier(method, {"oad": label_names(dataset, "oad")}, dataset.feature_dim, setup.backbone,
                             seed=seed, background_weight=cfg.background_weight, **method_kwargs)

    def epoch_windows(epoch: int) -> OADWindows:
        offset = int(np.random.default_rng([seed, epoch]).integers(cfg.stride))
        return training_windows(dataset, "train", cfg, offset=offset)

    history = train(model, epoch_windows, replace(setup.train, seed=seed))
    kept = model if keep_model else None
    if method != "generative":
        return {name: Run(name, seed, history, {"oad": evaluate_oad(model, dataset, "test", cfg)}, kept)}
    out = {}
    for decoding in decodings:
        key = name if decoding == "greedy" else f"{name}_{decoding}"
        out[key] = Run(key, seed, history, {"oad": evaluate_oad(model, dataset, "test", cfg, decoding=decoding)},
                       kept)
    return out
