"""Online action detection as a live system runs it: one frame arrives, one prediction.

Explained and measured in benchmarks/README.md (`live_cost.py`); notebooks/05_online_action_detection.ipynb
scores recorded videos densely instead (`gadlib.oad.predict_dense`), with the same predictions.

`predict_dense` scores a whole recorded video in batches; a live system sees one frame at a
time and must answer before the next. What it can reuse between frames: the connector maps each
visual token on its own, so a frame is connected once, when it arrives, and kept for every window
that contains it (16 + 128 windows at the paper's OAD proportions) instead of being connected
again in each of them. The LM cannot reuse its work the same way: every window starts at a new
frame, so every position's state changes, and the window runs through the LM once per frame.
`StreamingDetector` reads out with a discriminative or GAD classifier ([CLS] + head; GAD's
generation branch is dropped at inference); its predictions equal `predict_dense`'s.
"""
from __future__ import annotations

import numpy as np
import torch

from .classifier import Prediction
from .discriminative import DiscriminativeClassifier
from .oad import OADConfig, window_offsets


class StreamingDetector:
    """`push(frame)` -> the `Prediction` for that frame, seeing only the frames pushed so far.

    classifier: a `DiscriminativeClassifier` (or GAD with the [CLS] read-out) trained for "oad".
    cfg: the window layout it was trained with (`OADConfig`); the first windows are shorter
    (start="short") or repeat the first frame (start="repeat"), as in training. Memory: the connected tokens of the last `window + long_context` frames
    (the frames a later window can still see).
    """

    def __init__(self, classifier: DiscriminativeClassifier, cfg: OADConfig):
        if not isinstance(classifier, DiscriminativeClassifier) or getattr(classifier, "readout", "cls") != "cls" \
                or getattr(classifier, "order", "disc_first") == "gen_first":
            raise ValueError("StreamingDetector reads [CLS] with a head: a discriminative or GAD classifier "
                             f"(readout 'cls', any order but gen_first), got {type(classifier).__name__}")
        if "oad" not in classifier.label_names:
            raise ValueError(f"the classifier has no 'oad' label set (it has {sorted(classifier.label_names)})")
        self.classifier, self.cfg = classifier.eval(), cfg
        self.offsets = window_offsets(cfg)
        self.reset()

    def reset(self) -> None:
        """Start a new video."""
        self.t = -1
        self.span = int(-self.offsets.min()) + 1  # frames a window reaches back, itself included
        # Every frame fed (the paper's long context): the window is the last `span` frames, so
        # the next window is this one shifted by a frame. Else, frame f lives in row f % span.
        self.contiguous = np.array_equal(self.offsets, np.arange(1 - self.span, 1))
        self.connected: torch.Tensor | None = None  # [span, tokens, H]
        self.sequence: torch.Tensor | None = None   # contiguous: the last input, [L, H]

    @torch.no_grad()
    def push(self, frame: np.ndarray | torch.Tensor) -> Prediction:
        """frame: the new frame's visual tokens, [tokens_per_frame, D] (or [D] for one token)."""
        mllm = self.classifier.mllm
        tokens = torch.as_tensor(frame, dtype=torch.float32)
        tokens = tokens[None] if tokens.ndim == 1 else tokens
        self.t += 1
        new = mllm.connect([tokens])[0]
        # start="short": until the window is full, it holds only the frames pushed so far
        missing = int(np.searchsorted(self.offsets, -self.t)) if self.cfg.start == "short" else 0
        full_before = self.cfg.start == "repeat" or self.t - 1 >= self.span - 1
        if self.contiguous and self.sequence is not None and full_before:
            # One copy per frame: drop the oldest frame's tokens, add the new ones, before the
            # question (every other part of the sequence is where it was).
            start, n = len(mllm.prompt_embeds("oad")[0]), len(new)
            end = start + self.span * n
            seq = self.sequence
            self.sequence = torch.cat([seq[:start], seq[start + n:end], new.to(seq.dtype), seq[end:]])
        else:
            if self.connected is None:  # frames before 0 are frame 0 (start="repeat", as in training)
                self.connected = new[None].repeat(self.span, *([1] * new.ndim))
            self.connected[self.t % self.span] = new
            rows = torch.from_numpy(np.maximum(self.t + self.offsets[missing:], 0) % self.span)
            window = self.connected[rows].reshape(-1, new.shape[-1])
            self.sequence = mllm.assemble([window], ["oad"], cls=True)[0]
        head = self.classifier
        logits = head.head_logits("oad", head.cls_hidden_of([self.sequence])).log_softmax(-1)
        return Prediction(scores=logits.cpu().numpy(), pred=logits.argmax(-1).cpu().numpy())
