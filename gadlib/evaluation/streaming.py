"""Online action detection as a live system runs it: one frame arrives, one prediction.

Explained and measured in benchmarks/README.md (`live_cost.py`); notebooks/05_online_action_detection.ipynb
scores recorded videos densely instead (`gadlib.evaluation.oad.predict_dense`), with the same predictions.

`predict_dense` scores a whole recorded video in batches; a live system sees one frame at a
time and must answer before the next. What it can reuse between frames: the connector maps each
visual token on its own, so a frame is connected once, when it arrives, and kept for every window
that contains it (16 + 128 windows at the paper's OAD proportions) instead of being connected
again in each of them. The LM cannot reuse its work the same way: every window starts at a new
frame, so every position's state changes, and the window runs through the LM once per frame.
`StreamingDetector` reads out with a discriminative or GAD classifier ([CLS] + head; GAD's
generation branch is dropped at inference); its predictions equal `predict_dense`'s.
`GenerativeStreamingDetector` is its generative counterpart (the paper's first-token rule: a
background frame costs one prefill), with the predictions of `predict_dense` too.
Two rates, one name each. `streaming_fps` is the paper's FPS protocol: every frame of every test
video at batch 1, each frame's window rebuilt and run, the whole loop's wall time (overheads
included). `live_fps` times a warm `streaming_detector` over the first frames (each frame
connected once): a live system's rate, not the paper's protocol. Batched dense evaluation
(`gadlib.evaluation.oad.evaluate_oad`) gives "batched frames/s", never set beside the paper's FPS.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import torch

from gadlib.core.classifier import ActionClassifier, Prediction
from gadlib.data.videos import Video
from gadlib.core.discriminative import DiscriminativeClassifier
from gadlib.core.generative import GenerativeClassifier
from gadlib.evaluation.oad import OADConfig, OADWindows, window_offsets
from gadlib.evaluation.timing import sync


class FrameRing:
    """The connected tokens of the last `span` frames of a stream (frame f in row f % span), each
    frame connected once, when it arrives; `window()` is the training window ending at the newest
    frame (`gadlib.evaluation.oad.window_offsets`): shorter at the start with start="short", frames before 0
    repeating frame 0 with start="repeat"."""

    def __init__(self, cfg: OADConfig):
        self.cfg, self.offsets = cfg, window_offsets(cfg)
        self.span = int(-self.offsets.min()) + 1  # frames a window reaches back, itself included
        self.reset()

    def reset(self) -> None:
        self.t = -1
        self.connected: torch.Tensor | None = None  # [span, tokens, H]

    def push(self, new: torch.Tensor) -> None:
        """new: the arriving frame's connected tokens [tokens, H]."""
        self.t += 1
        if self.connected is None:
            self.connected = new[None].repeat(self.span, *([1] * new.ndim))
        self.connected[self.t % self.span] = new

    @property
    def full(self) -> bool:
        """Whether the newest window has all its frames (always with start="repeat")."""
        return self.cfg.start == "repeat" or self.t >= self.span - 1

    def window(self) -> torch.Tensor:
        """[L * tokens, H]: the connected tokens of the window ending at frame self.t."""
        missing = int(np.searchsorted(self.offsets, -self.t)) if self.cfg.start == "short" else 0
        rows = torch.from_numpy(np.maximum(self.t + self.offsets[missing:], 0) % self.span)
        return self.connected[rows].reshape(-1, self.connected.shape[-1])


def _frame_tokens(frame: np.ndarray | torch.Tensor) -> torch.Tensor:
    tokens = torch.as_tensor(frame, dtype=torch.float32)
    return tokens[None] if tokens.ndim == 1 else tokens


class _LiveDetector:
    """What both live detectors share: the frames seen so far (`ring`), `t` and `reset`."""
    ring: FrameRing

    @property
    def t(self) -> int:
        """The index of the last frame pushed (-1 before the first)."""
        return self.ring.t

    def reset(self) -> None:
        """Start a new video."""
        self.ring.reset()


class StreamingDetector(_LiveDetector):
    """`push(frame)` -> the `Prediction` for that frame, seeing only the frames pushed so far.

    classifier: a `DiscriminativeClassifier` (or GAD with the [CLS] read-out) trained for "oad".
    cfg: the window layout it was trained with (`OADConfig`); the first windows are shorter
    (start="short") or repeat the first frame (start="repeat"), as in training. Memory: the
    connected tokens of the last `window + long_context` frames (`FrameRing`).
    """

    def __init__(self, classifier: DiscriminativeClassifier, cfg: OADConfig):
        if not isinstance(classifier, DiscriminativeClassifier) or getattr(classifier, "readout", "cls") != "cls" \
                or getattr(classifier, "order", "disc_first") == "gen_first":
            raise ValueError("StreamingDetector reads [CLS] with a head: a discriminative or GAD classifier "
                             f"(readout 'cls', any order but gen_first), got {type(classifier).__name__}")
        if "oad" not in classifier.label_names:
            raise ValueError(f"the classifier has no 'oad' label set (it has {sorted(classifier.label_names)})")
        self.classifier, self.cfg = classifier.eval(), cfg
        self.ring = FrameRing(cfg)
        # Every frame fed (the paper's long context): a full window is the last `span` frames, so
        # the next one is this one shifted by a frame.
        self.contiguous = np.array_equal(self.ring.offsets, np.arange(1 - self.ring.span, 1))
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.sequence: torch.Tensor | None = None   # the last input, [L, H]

    @torch.no_grad()
    def push(self, frame: np.ndarray | torch.Tensor) -> Prediction:
        """frame: the new frame's visual tokens, [tokens_per_frame, D] (or [D] for one token)."""
        mllm = self.classifier.mllm
        new = mllm.connect([_frame_tokens(frame)])[0]
        was_full = self.sequence is not None and self.ring.full
        self.ring.push(new)
        if self.contiguous and was_full:
            # One copy per frame: drop the oldest frame's tokens, add the new ones, before the
            # question (every other part of the sequence is where it was).
            start, n = len(mllm.prompt_embeds("oad")[0]), len(new)
            end = start + self.ring.span * n
            seq = self.sequence
            self.sequence = torch.cat([seq[:start], seq[start + n:end], new.to(seq.dtype), seq[end:]])
        else:
            self.sequence = mllm.assemble([self.ring.window()], ["oad"], cls=True)[0]
        head = self.classifier
        return Prediction.from_logits(head.head_logits("oad", head.mllm.last_states([self.sequence])))


class GenerativeStreamingDetector(_LiveDetector):
    """`push(frame)` -> a `GenerativeClassifier`'s `Prediction` for that frame, at batch 1, seeing
    only the frames pushed so far; `reset()` starts a new video (as `StreamingDetector`).

    The window is the one of training and `predict_dense` (`FrameRing`), each frame connected
    once, when it arrives. The prediction is `classifier.predict_prefixes` of the window's input
    sequence: with the paper's rule (`oad_background="first_token"`, the default) a background
    frame costs one prefill, an action frame a prefill and at most 8 decoding steps. decoding:
    None (the classifier's), "greedy" or "exact".
    """

    def __init__(self, classifier: GenerativeClassifier, cfg: OADConfig, decoding: str | None = None):
        if not isinstance(classifier, GenerativeClassifier):
            raise ValueError(f"GenerativeStreamingDetector needs a GenerativeClassifier, got {type(classifier).__name__}"
                             " (StreamingDetector reads out a discriminative or GAD classifier)")
        if "oad" not in classifier.label_names:
            raise ValueError(f"the classifier has no 'oad' label set (it has {sorted(classifier.label_names)})")
        self.classifier, self.cfg, self.decoding = classifier.eval(), cfg, decoding
        self.ring = FrameRing(cfg)

    @torch.no_grad()
    def push(self, frame: np.ndarray | torch.Tensor) -> Prediction:
        """frame: the new frame's visual tokens, [tokens_per_frame, D] (or [D] for one token)."""
        mllm = self.classifier.mllm
        self.ring.push(mllm.connect([_frame_tokens(frame)])[0])
        sequence = mllm.assemble([self.ring.window()], ["oad"])[0]
        return self.classifier.predict_prefixes([sequence], "oad", self.decoding)


def streaming_detector(classifier: ActionClassifier, cfg: OADConfig, decoding: str | None = None):
    """The live detector of any of the three classifiers: `GenerativeStreamingDetector` for a
    generative one, `StreamingDetector` for a discriminative or GAD one (decoding must be None)."""
    if isinstance(classifier, GenerativeClassifier):
        return GenerativeStreamingDetector(classifier, cfg, decoding)
    if decoding is not None:
        raise ValueError(f"decoding={decoding!r} is for a generative classifier, not a {type(classifier).__name__}")
    return StreamingDetector(classifier, cfg)


@torch.no_grad()
def live_fps(classifier: ActionClassifier, videos: list[Video], cfg: OADConfig, max_frames: int | None = None,
                  warmup: int = 16, decoding: str | None = None) -> float:
    """Frames per second of a live system (not the paper's protocol: `streaming_fps`): every frame pushed on its own,
    one prediction at batch 1 (`streaming_detector`), frames of `videos` in order, the detector
    reset at each video's start, at most `max_frames` frames timed (None: all).

    First `warmup` frames of the first video are pushed untimed (allocations, lazy
    initialisation), then the timer (`time.perf_counter`, the device synchronised at each end)
    runs over the pushes alone: the frames are read into memory first (a memory-mapped video is
    not read inside the timer). Returns frames / seconds.
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"live_fps: max_frames must be >= 1 or None, got {max_frames}")
    if not videos:
        raise ValueError("live_fps: no videos")
    detector, device = streaming_detector(classifier, cfg, decoding), classifier.mllm.device
    for frame in np.asarray(videos[0].features[:warmup], dtype=np.float32):
        detector.push(frame)
    frames, seconds = 0, 0.0
    for video in videos:
        count = len(video.features) if max_frames is None else min(len(video.features), max_frames - frames)
        if count <= 0:
            break
        features = np.asarray(video.features[:count], dtype=np.float32)
        detector.reset()
        sync(device)
        start = time.perf_counter()
        for frame in features:
            detector.push(frame)
        sync(device)
        seconds += time.perf_counter() - start
        frames += count
    return frames / seconds


@torch.no_grad()
def streaming_fps(classifier: ActionClassifier, videos: list[Video], cfg: OADConfig, max_frames: int | None = None,
                  decoding: str | None = None, **live) -> float:
    """The paper's streaming FPS: every frame of `videos` (the whole test set) predicted on its
    own at batch 1, its window rebuilt from the features each time, frames / the wall time of the
    whole loop (window gathering and every other overhead included, nothing warmed up first).

    max_frames (or `live`'s warmup): a sample of frames is not this protocol; the call is passed
    to `live_fps` with a warning (notebooks written before the two were told apart)."""
    if max_frames is not None or live:
        warnings.warn("streaming_fps(max_frames=...) times a sample of frames: that is live_fps, not the "
                      "paper's streaming FPS; call live_fps", DeprecationWarning, stacklevel=2)
        return live_fps(classifier, videos, cfg, max_frames=max_frames, decoding=decoding, **live)
    if not videos:
        raise ValueError("streaming_fps: no videos")
    kwargs = {} if decoding is None else {"decoding": decoding}
    classifier.eval()
    device = classifier.mllm.device
    sync(device)
    start = time.perf_counter()
    windows = OADWindows(videos, [np.arange(len(v.features)) for v in videos], cfg)
    for i in range(len(windows)):
        classifier.predict(windows.batch([i]), **kwargs)
    sync(device)
    return len(windows) / (time.perf_counter() - start)
