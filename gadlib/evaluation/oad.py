"""Online action detection (OAD): per-frame classification that sees only the past.

Explained in notebooks/05_online_action_detection.ipynb.

- Training windows: for a frame t, the `window` frames ending at t plus the `long_context`
  frames before them (every frame, as the authors feed it, or `long_tokens` of them spread
  evenly); target = the label of frame t (0 = background). Windows at a video's start are
  shorter (`start="short"`, the authors'), or repeat frame 0 (`start="repeat"`, gadlib's
  earlier choice). Each epoch a video's windows sit on a grid of step `stride` (the window
  length by default, as in the authors' training script) at a fresh random offset per video.
  Frames marked `Video.ignored_mask()` give no window.
- GAD's generation target (`OADConfig.context`, `oad_context`): the authors' "<current>,
  <most recent other action in the short window>", the current label alone (their THUMOS'14
  setting), or gadlib's earlier "previous action at any distance" (an ablation of notebook 04).
- `OADWindows` is a lazy `Sequence` of such samples: it keeps only (video, t, target, context)
  per window and gathers the visual tokens from the video's (possibly memory-mapped) feature
  array when a window is indexed, so a whole split is never copied window by window.
- Dense evaluation (`predict_dense`) scores every frame of every test video with the training
  layout, batching windows within and across videos; `predict_dense_reference` is the obvious
  one-frame-at-a-time loop it must agree with.
- `run_oad` trains and evaluates one method, like `gadlib.evaluation.experiment.run` for the offline tasks.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from gadlib.core.classifier import LOSS_NORMS, ActionClassifier, Batch, collate
from gadlib.data.datasets import Video, VideoDataset
from gadlib.evaluation.experiment import Run, Setup
from gadlib.lms.build import build_classifier
from gadlib.evaluation.metrics import oad_metrics, scored_as_background, segment_f1
from gadlib.data.recipe import previous_same_label
from gadlib.data.samples import NO_PREVIOUS_ACTION, Sample, _previous_actions, label_names, previous_action_classes
from gadlib.core.sharding import is_main_process, predict_sharded
from gadlib.core.training import train


STARTS = ("short", "repeat")
CONTEXTS = ("current_and_other", "current", "previous_action")
# "current_and_other"'s other action: the most "recent" one in the window (gadlib's) or the authors' "dedup_last".
OTHERS = ("recent", "dedup_last")


@dataclass
class OADConfig:
    """How OAD windows are built, what GAD generates on them, and how background is weighted.

    Defaults are the authors' protocol (their training scripts); gadlib's earlier choices stay
    available as options, named for what they do.
    window: frames of the short window ending at the predicted frame t (authors: 32 THUMOS'14,
      20 CrossTask / EK100, 16 GoalStep).
    long_context: earlier frames before the window that the long context covers (authors: 128);
      0 = no long context.
    long_tokens: frames fed from the long context, spread evenly; None = every frame (authors';
      a CPU preset may feed fewer).
    stride: distance between training windows; None = `window` (authors'). Each epoch every
      video draws its own random offset in [0, stride) (`EpochWindows`).
    background_weight: loss weight of background windows (authors: 1.0 THUMOS'14, 0.2
      CrossTask, 0.5 EK100 / GoalStep), the same for every classifier.
    start: "short" (authors': windows at a video's start hold only the frames that exist) or
      "repeat" (earlier frames are frame 0 repeated: every window has the same length).
    context: GAD's generation target, see `oad_context`.
    loss_norm: "batch" (authors': the weighted per-window losses averaged over the batch) or
      "weights" (divided by the sum of the weights), see `gadlib.core.classifier.LOSS_NORMS`.
    other: which action "current_and_other" names, one of `OTHERS`.
    """
    window: int = 8
    long_context: int = 0
    long_tokens: int | None = None
    stride: int | None = None
    background_weight: float = 1.0
    start: str = "short"
    context: str = "current_and_other"
    loss_norm: str = "batch"
    other: str = "recent"

    def __post_init__(self):
        if self.long_tokens is None:
            self.long_tokens = self.long_context
        if self.stride is None:
            self.stride = self.window
        for name, low in (("window", 1), ("stride", 1), ("long_context", 0), ("long_tokens", 0)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"OADConfig: {name} must be >= {low} (an integer), got {value!r}")
        if not self.background_weight > 0:
            raise ValueError(f"OADConfig: background_weight must be > 0, got {self.background_weight!r}")
        for name, allowed in (("start", STARTS), ("context", CONTEXTS), ("loss_norm", LOSS_NORMS), ("other", OTHERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"OADConfig: {name} must be one of {allowed}, got {getattr(self, name)!r}")

    @property
    def frames_per_window(self) -> int:
        """Frames of a full window (a shorter one at a video's start with start="short")."""
        return len(window_offsets(self))


def window_offsets(cfg: OADConfig) -> np.ndarray:
    """int64 [L]: frame offsets (<= 0) relative to the predicted frame t, in time order.

    The long context's `long_tokens` frames are spread evenly over frames
    t - window - long_context + 1 .. t - window, then come the `window` frames t - window + 1 .. t.
    Offsets are relative to t and ascending, so every window has the same layout; frames before
    0 are dropped (start="short") or clamped to 0 (start="repeat") by the caller. No offset is
    > 0: nothing after t is ever seen.
    """
    short = np.arange(-cfg.window + 1, 1)
    if cfg.long_context == 0 or cfg.long_tokens == 0:
        return short
    # floor(x + 0.5), not np.round: half-way cases round the same way for every t
    long = np.floor(np.linspace(-cfg.window - cfg.long_context + 1, -cfg.window, cfg.long_tokens) + 0.5)
    return np.concatenate([long.astype(np.int64), short])


def oad_context(labels: np.ndarray, ignored: np.ndarray, cfg: OADConfig) -> np.ndarray:
    """int64 [T, 2]: per frame t, the (current class, other class) GAD generates with
    `cfg.context` = "current_and_other" or "current"; `context_text` writes them out.

    labels: OAD classes per frame (0 = background); ignored: frames that are no action.
    "current_and_other" (the authors' target): the current frame's class, then the most recent
    action inside the visible short window (frames t - window + 1 .. t) that differs from it
    ("background, <action>" on a background frame; cfg.other "dedup_last": the one first seen
    latest in the window); other = 0 when there is none. "current" (the authors' THUMOS'14
    target): the current class only, other = 0.
    """
    labels = np.asarray(labels, dtype=np.int64)
    actions = np.where(np.asarray(ignored, dtype=bool), 0, labels)
    other = np.zeros_like(labels)
    if cfg.context == "current_and_other":
        # dedup_last: a frame counts only where its action does not occur earlier in the window
        previous = previous_same_label(actions) if cfg.other == "dedup_last" else None
        found, first = np.zeros(len(labels), dtype=bool), np.arange(len(labels)) - cfg.window + 1
        for back in range(min(cfg.window, len(labels))):  # t, t - 1, ...: the most recent first
            seen = np.concatenate([np.zeros(back, np.int64), actions[:len(actions) - back]])
            hit = ~found & (seen != 0) & (seen != labels)
            if previous is not None:
                hit &= np.concatenate([np.full(back, -len(labels)), previous[:len(labels) - back]]) < first
            other[hit], found = seen[hit], found | hit
    return np.stack([labels, other], axis=1)


def context_text(current: int, other: int, names: list[str]) -> str:
    """"<current>" or "<current>, <other>" with `names` the OAD classes (background first)."""
    return names[current] if other == 0 else f"{names[current]}, {names[other]}"


def oad_context_classes(dataset: VideoDataset, cfg: OADConfig) -> list[str]:
    """Every text GAD's OAD target can be under `cfg.context`: the classes of the ablation's extra
    context head, which predicts the context instead of generating it (notebooks/04_gad_finetuning.ipynb)."""
    if cfg.context == "previous_action":
        return previous_action_classes(dataset)
    names = label_names(dataset, "oad")
    others = range(len(names)) if cfg.context == "current_and_other" else [0]
    return [context_text(c, o, names) for c in range(len(names)) for o in others if o != c or o == 0]


class OADWindows(Sequence):
    """A lazy sequence of OAD `Sample`s: (video, t) pairs whose visual tokens are gathered on access.

    Memory: 24 bytes per window (video index, t, target, context code; 4.8 MB measured for 200k
    windows, benchmarks/README.md) plus the videos' features, which are only read, never copied
    (a memory-mapped array stays on disk). Indexing one window copies its L <= cfg.frames_per_window
    frames (L x tokens_per_frame x D float32); `batch(indices)` copies one batch, B x L x D x 4
    bytes: e.g. 32 x (16 + 128) x 1024 x 4 B = 19 MB with a 16-frame window and 128 long-context
    frames, against N x L x D x 4 bytes for a list of all N windows of a split (every window copies
    its frames: L times the features themselves).

    videos: the videos; times: per video, the frames t to predict (int array); cfg: window layout
    and GAD's target (`cfg.context`); step_names: the data set's class names without background,
    for GAD's context; None for inference windows (contexts are then "": GAD generates nothing at
    inference). Slicing returns another `OADWindows`.
    """

    def __init__(self, videos: list[Video], times: list[np.ndarray], cfg: OADConfig,
                 step_names: list[str] | None = None):
        if len(videos) != len(times):
            raise ValueError(f"OADWindows: {len(videos)} videos but {len(times)} arrays of times")
        self.videos, self.cfg, self.offsets = list(videos), cfg, window_offsets(cfg)
        names = ["background"] + list(step_names or [])
        dataset = VideoDataset("windows", self.videos, list(step_names or []), [], fps=1.0)
        vid, ts, targets, codes = [], [], [], []
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
            labels = video.frame_labels()
            if step_names is None:
                code = np.zeros((len(t), 2), dtype=np.int64)
            elif cfg.context == "previous_action":  # gadlib's earlier target: code 0 = "none"
                index = {name: k for k, name in enumerate(names)}
                previous = np.array([index.get(n, 0) for n in _previous_actions(dataset, video)], dtype=np.int64)
                code = np.stack([previous[t], np.full(len(t), -1)], axis=1)
            else:
                code = oad_context(labels, video.ignored_mask(), cfg)[t]
            vid.append(np.full(len(t), i, dtype=np.int32))
            ts.append(t)
            targets.append(labels[t])
            codes.append(code)
        self._video = np.concatenate(vid) if vid else np.zeros(0, np.int32)
        self._t = np.concatenate(ts) if ts else np.zeros(0, np.int64)
        self._target = np.concatenate(targets) if targets else np.zeros(0, np.int64)
        # Context strings as codes: the same few strings repeat over millions of frames.
        pairs, self._context = np.unique(np.concatenate(codes) if codes else np.zeros((0, 2), np.int64),
                                         axis=0, return_inverse=True)
        self._context = self._context.reshape(-1).astype(np.int32)
        if step_names is None:
            self.context_names = [""]
        elif cfg.context == "previous_action":
            self.context_names = [NO_PREVIOUS_ACTION if c == 0 else names[c] for c, _ in pairs]
        else:
            self.context_names = [context_text(c, o, names) for c, o in pairs]

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
        """int64 [n, L]: the frame indices each window reads, clamped at 0 (never after t); with
        start="short" the first `missing(indices)` of each row are not part of the window."""
        return np.maximum(self._t[np.asarray(indices, dtype=np.int64)][:, None] + self.offsets, 0)

    def missing(self, indices) -> np.ndarray:
        """int64 [n]: frames a window lacks at a video's start (offsets before frame 0); 0 with
        start="repeat", whose windows repeat frame 0 instead."""
        t = self._t[np.asarray(indices, dtype=np.int64)]
        if self.cfg.start == "repeat":
            return np.zeros(len(t), dtype=np.int64)
        return np.searchsorted(self.offsets, -t, side="left").astype(np.int64)  # offsets are ascending

    def visual(self, indices) -> np.ndarray:
        """float32 [n, L * tokens_per_frame, D]: visual tokens of full-length windows (frames before
        0 repeat frame 0), one gather per video. `batch` cuts the short windows out of it."""
        idx = np.asarray(indices, dtype=np.int64)
        frames, owner = self.frames(idx), self._video[idx]
        first = self.videos[0].features
        out = np.empty((len(idx), frames.shape[1]) + first.shape[1:], dtype=np.float32)
        for v in np.unique(owner):
            rows = np.flatnonzero(owner == v)
            out[rows] = self.videos[v].features[frames[rows]]
        return out.reshape(len(idx), -1, first.shape[2])

    def window_tokens(self, indices) -> list[np.ndarray]:
        """Per window, float32 [frames * tokens_per_frame, D]: the tokens it sees, shorter at a
        video's start with start="short"."""
        idx = np.asarray(indices, dtype=np.int64)
        visual, per_frame = self.visual(idx), self.videos[0].features.shape[1]
        return [v[m * per_frame:] for v, m in zip(visual, self.missing(idx))]

    def batch(self, indices) -> Batch:
        """The `Batch` of these windows, built in one gather (what `collate` of the samples gives)."""
        idx = np.asarray(indices, dtype=np.int64)
        visual = self.window_tokens(idx)
        for k, v in enumerate(visual):
            if not np.isfinite(v).all():
                raise ValueError(f"NaN or inf in the visual features of video "
                                 f"{self.videos[self._video[idx[k]]].video_id!r} window ending at frame "
                                 f"{int(self._t[idx[k]])}")
        return Batch(visual=[torch.from_numpy(v) for v in visual], kinds=["oad"] * len(idx),
                     targets=torch.from_numpy(self._target[idx].astype(np.int64)),
                     contexts=[self.context_names[c] for c in self._context[idx]])

    def __getitems__(self, indices) -> list[Sample]:
        """What a DataLoader asks for: one batch of samples, gathered in one go."""
        idx = np.asarray(indices, dtype=np.int64)
        return [Sample(v, "oad", int(self._target[i]), self.context_names[self._context[i]],
                       self.videos[self._video[i]].video_id, int(self._t[i]))
                for v, i in zip(self.window_tokens(idx), idx)]


def _window_times(video: Video, offset: int, stride: int, dense: bool, where: str) -> np.ndarray:
    """Frames t = offset, offset + stride, ... (every frame when dense), except ignored ones."""
    t = np.arange(len(video.features)) if dense else np.arange(offset, len(video.features), stride)
    ignored = video.ignored_mask()
    if ignored.shape != (len(video.features),):
        raise ValueError(f"{where}, video {video.video_id!r}: ignored mask has shape "
                         f"{ignored.shape}, expected ({len(video.features)},)")
    return t[~ignored[t]]


def training_windows(dataset: VideoDataset, subset: str, cfg: OADConfig, offset: int | Sequence[int] = 0,
                     dense: bool = False) -> OADWindows:
    """Windows ending at t = offset, offset + stride, ... (every frame when dense) of every video
    of `subset`, except frames marked ignored (`Video.ignored_mask()`). offset: one for every
    video, or one per video (`EpochWindows` draws them). Lazy: see `OADWindows`."""
    videos = dataset.split(subset)
    offsets = [offset] * len(videos) if np.ndim(offset) == 0 else list(offset)
    if len(offsets) != len(videos):
        raise ValueError(f"training_windows: {len(offsets)} offsets for {len(videos)} videos of {subset!r}")
    for o in offsets:
        if not isinstance(o, (int, np.integer)) or o < 0:
            raise ValueError(f"training_windows: offset must be an integer >= 0, got {o!r}")
    times = [_window_times(v, int(o), cfg.stride, dense, f"data set {dataset.name!r}")
             for v, o in zip(videos, offsets)]
    windows = OADWindows(videos, times, cfg, dataset.step_names)
    if not len(windows):
        raise ValueError(f"data set {dataset.name!r}, subset {subset!r}: no 'oad' samples")
    return windows


class EpochWindows:
    """`epoch -> OADWindows`: the training windows of each epoch, as the authors draw them: every
    video's windows on a grid of step `cfg.stride` at its own random offset in [0, stride),
    fresh each epoch (seeded by (seed, epoch)), so over the epochs every frame is a target.

    `num_windows(epoch)` counts an epoch's windows without building them: `gadlib.core.training.train`
    sizes its learning-rate schedule from the real number of steps of every epoch.
    """

    def __init__(self, dataset: VideoDataset, subset: str, cfg: OADConfig, seed: int):
        self.dataset, self.subset, self.cfg, self.seed = dataset, subset, cfg, seed

    def offsets(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        return rng.integers(self.cfg.stride, size=len(self.dataset.split(self.subset)))

    def __call__(self, epoch: int) -> OADWindows:
        return training_windows(self.dataset, self.subset, self.cfg, offset=self.offsets(epoch))

    def num_windows(self, epoch: int) -> int:
        return sum(len(_window_times(v, int(o), self.cfg.stride, False, f"data set {self.dataset.name!r}"))
                   for v, o in zip(self.dataset.split(self.subset), self.offsets(epoch)))


def oad_samples(dataset: VideoDataset, subset: str, window: int = 8, long_context: int = 0,
                long_tokens: int | None = None, stride: int | None = None, offset: int = 0, dense: bool = False,
                **options):
    """Online action detection: what is happening at frame t, seeing only frames <= t.

    Frames t = offset, offset + stride, ... (every frame when dense), except frames marked
    ignored (`Video.ignored_mask()`). Visual tokens, in time order: the long context's frames
    before the window (every frame, or `long_tokens` spread evenly; none when long_context == 0),
    then the `window` frames ending at t; a window at the video's start holds only the frames
    that exist. Target: the frame label at t (0 = background). Context: GAD's target,
    "<current>, <most recent other action in the window>". options: the other `OADConfig`
    fields (start, context, ...).

    Returns a lazy sequence of `Sample`s (`OADWindows`, see `window_offsets`
    for the exact frames): windows are gathered when indexed, never for the whole split at once.
    """
    cfg = OADConfig(window=window, long_context=long_context, long_tokens=long_tokens, stride=stride, **options)
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
    so short videos do not leave batches half empty; windows have the training layout (shorter at
    a video's start with start="short", padded in their batch). predict_kwargs go to
    `classifier.predict` (e.g. decoding="exact"). Memory: one batch of windows plus the output
    scores, T x C x 4 bytes over all videos (e.g. 100k frames x 3.8k classes = 1.5 GB: with
    thousands of classes, score a few videos per call).
    Under `accelerate launch` every process must call it: the batches are shared out among the
    processes and gathered (`gadlib.core.sharding`); every process returns all the predictions, equal
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

    Returns {"videos": [DensePrediction], "metrics": `oad_metrics(...)` and the rate,
    "batched_frames_per_s": frames scored per second of wall time, batched}. F1: truth background
    at ignored frames, predictions kept there (as the authors' scripts score it); mAP (their
    released scripts compute none): the multi-hot truth as shipped, ignored frames out, no
    CliffDiving/Diving score switch; `scored_as_background` classes count as background. The
    rate is never the paper's FPS (`streaming.streaming_fps`); "fps" repeats it for older notebooks.
    Under `accelerate launch` every process calls it; the metrics are computed on the main process.
    """
    videos = dataset.split(subset)
    t0 = time.perf_counter()
    dense = predict_dense(classifier, videos, cfg, batch_size=batch_size, **predict_kwargs)
    rate = sum(len(d.pred) for d in dense) / (time.perf_counter() - t0)
    metrics = {}
    if is_main_process():
        preds, scores, names = scored_as_background([d.pred for d in dense], [d.scores for d in dense],
                                                    label_names(dataset, "oad"), dataset.scored_as_background)
        multi_hot = [v.multi_hot_truth(len(names)) for v in videos] if any(v.also_true is not None for v in videos) else None
        metrics = oad_metrics(preds, [d.truth for d in dense], scores, dataset.fps, ignored=[d.ignored for d in dense],
                              background=0, class_names=names, multi_hot_truths=multi_hot)
    rates = {"batched_frames_per_s": rate, "fps": rate}  # among the metrics too: summarize reports it per seed
    return {"videos": dense, "metrics": {**metrics, **rates}, **rates}


def oad_validator(dataset: VideoDataset, subset: str | None, cfg: OADConfig):
    """`model -> segment F1 at IoU 0.1` on the videos of `subset` (dense predictions, ignored frames
    as background), for `train(..., validate=...)`; None when subset is None."""
    if subset is None:
        return None
    videos = dataset.split(subset)
    truths = [np.where(v.ignored_mask(), 0, v.frame_labels()) for v in videos]
    return lambda model: segment_f1([d.pred for d in predict_dense(model, videos, cfg)], truths, 0.1)


def run_oad(method: str, dataset: VideoDataset, seed: int, setup: Setup, cfg: OADConfig,
            decodings: tuple[str, ...] = ("greedy",), name: str | None = None, keep_model: bool = False,
            validate_on: str | None = None, **method_kwargs) -> dict[str, Run]:
    """Train one `method` OAD model with `seed` and evaluate it densely on the test split.

    Like `gadlib.evaluation.experiment.run`: `setup` gives the backbone and the optimiser (its num_frames
    and kinds are not used); each epoch trains on `EpochWindows` (a fresh random offset per video).
    The background weight and the loss normalisation come from `cfg`. validate_on: a subset
    ("val", `VideoDataset.with_validation`) whose segment F1 at IoU 0.1 is measured after every
    epoch: training keeps the best epoch and stops after `setup.train.patience` epochs without a
    better one (`History.val_score`: the learning curve). A generative model is
    evaluated once per decoding, keyed `name` and `name + "_exact"`. `Run.results["oad"]` =
    `evaluate_oad(...)`, so `experiment.summarize(runs, kinds=("oad",), metrics=("seg_f1_0.1", ...))` works.
    """
    for key in ("background_weight", "loss_norm"):
        if key in method_kwargs:
            raise ValueError(f"run_oad: set {key} in the OADConfig, not as a method argument")
    name = name or method
    model = build_classifier(method, {"oad": label_names(dataset, "oad")}, dataset.feature_dim, setup.backbone,
                             seed=seed, background_weight=cfg.background_weight, loss_norm=cfg.loss_norm,
                             **method_kwargs)
    history = train(model, EpochWindows(dataset, "train", cfg, seed), replace(setup.train, seed=seed),
                    validate=oad_validator(dataset, validate_on, cfg))
    kept = model if keep_model else None
    if method != "generative":
        return {name: Run(name, seed, history, {"oad": evaluate_oad(model, dataset, "test", cfg)}, kept)}
    out = {}
    for decoding in decodings:
        key = name if decoding == "greedy" else f"{name}_{decoding}"
        out[key] = Run(key, seed, history, {"oad": evaluate_oad(model, dataset, "test", cfg, decoding=decoding)},
                       kept)
    return out
