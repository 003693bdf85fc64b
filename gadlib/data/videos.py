"""The data model: videos with step segments, and the data sets that hold them.

Explained in notebooks/01_generative_vs_discriminative.ipynb (data) and used by every notebook.
Nothing here reads or writes files: the on-disk layouts live in `gadlib.data.datasets`, the synthetic
generator in `gadlib.data.benchmark`; both build these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

SUBSETS = ("train", "val", "test")


@dataclass
class Segment:
    """One annotated step: frames start .. end - 1."""

    start: int  # first frame index (inclusive)
    end: int  # last frame index (exclusive); end > start
    label: int  # index into VideoDataset.step_names


class ConcatenatedFeatures:
    """Per-frame features of one video kept in several on-disk arrays, concatenated on access.

    TeSTra-style data sets ship RGB and optical-flow features in separate folders. Reading
    EPIC-Kitchens-100 with both (1024 + 1024-d) into memory would take ~12 GB (the estimate is in
    data/README.md); this view holds only the (memory-mapped) parts and builds the rows that are
    asked for. It behaves like a read-only
    float32 array [T, 1, sum of D]: `len`, `.shape`, `.ndim`, `.dtype`, `view[frames]` (frames:
    int, slice or index array, optionally followed by token/feature indices) and `np.asarray`
    (which materialises this one video).
    """

    def __init__(self, parts: list[np.ndarray]):
        if not parts or any(p.ndim != 2 or len(p) != len(parts[0]) for p in parts):
            raise ValueError(f"ConcatenatedFeatures: parts should be [T, D_i] arrays with one T, got shapes "
                             f"{[p.shape for p in parts]}")
        self.parts = list(parts)

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.parts[0]), 1, sum(p.shape[1] for p in self.parts)

    ndim = 3
    dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self.parts[0])

    def __getitem__(self, key) -> np.ndarray:
        frames, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        rows = np.concatenate([np.asarray(p[frames], dtype=np.float32) for p in self.parts], axis=-1)
        rows = rows[..., None, :]  # the token axis: one token per frame
        if not rest:
            return rows
        return rows[(slice(None),) * (rows.ndim - 2) + tuple(rest)]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = self[:]
        return array if dtype is None else array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"ConcatenatedFeatures(shape={self.shape}, parts={[p.shape[1] for p in self.parts]})"


@dataclass
class Video:
    """One video: per-frame visual tokens plus its step segments."""

    video_id: str
    # float32 [T, tokens_per_frame, D]: an array, a read-only memory map, or a
    # ConcatenatedFeatures view (read_oad(..., mmap=True)); index it by frames
    features: np.ndarray | ConcatenatedFeatures
    segments: list[Segment]  # sorted by start, non-overlapping, inside [0, T)
    task: int | None  # index into VideoDataset.task_names; None when the data set has no tasks
    subset: str  # "train", "val" or "test"
    # bool [T] or None: frames of a data set's `ignore_index` class (e.g. THUMOS'14's "Ambiguous"):
    # never trained on, left out of mAP, background truth for F1 (see gadlib.evaluation.metrics.oad_metrics);
    # None = every frame counts
    ignored: np.ndarray | None = None
    # int64 [K, 2] or None: (frame, label) of the further classes a multi-hot target row sets beside
    # the one frame_labels() keeps (THUMOS'14 sets Diving on CliffDiving frames too); label as in
    # frame_labels(), 0 = background. Scored by per-frame mAP (the truth as shipped), never trained
    # on. Sparse: EK100-sized data sets have ~3800 columns. None = one class per frame.
    also_true: np.ndarray | None = None
    # (start, end) frames of the whole annotated video (COIN.json's start / end), or None:
    # only `read_coin(spans=True)` sets it, for task samples over the video's span.
    span: tuple[int, int] | None = None

    def ignored_mask(self) -> np.ndarray:
        """bool [T]: True where a frame must not be trained on, be a previous action or count in mAP."""
        if self.ignored is None:
            return np.zeros(len(self.features), dtype=bool)
        return np.asarray(self.ignored, dtype=bool)

    def multi_hot_truth(self, num_classes: int) -> np.ndarray | None:
        """bool [T, num_classes] (column = frame_labels()'s label, 0 = background): the target rows
        as the file had them (`also_true` added to `frame_labels()`), for per-frame mAP; None when
        every frame has one class (then frame_labels() is the whole truth). Ignored frames hold
        only background here (metrics remove them)."""
        if self.also_true is None:
            return None
        extra = np.asarray(self.also_true, dtype=np.int64).reshape(-1, 2)
        labels = self.frame_labels()
        top = max(labels.max(initial=0), extra[:, 1].max(initial=0))
        if top >= num_classes:
            raise ValueError(f"video {self.video_id!r}: multi_hot_truth({num_classes}) has no column for label {top}")
        truth = np.zeros((len(labels), num_classes), dtype=bool)
        truth[np.arange(len(labels)), labels] = True
        truth[extra[:, 0], extra[:, 1]] = True
        return truth

    def frame_labels(self) -> np.ndarray:
        """int64 [T]: 0 = background, step label + 1 inside a segment."""
        labels = np.zeros(len(self.features), dtype=np.int64)
        for s in self.segments:
            labels[s.start:s.end] = s.label + 1
        return labels


@dataclass
class OADInfo:
    """What an OAD data_info.json says beyond `VideoDataset`'s fields, kept for writing it back.

    `read_oad` fills it so that `write_oad` reproduces the file's class list (with the ignored
    class, e.g. THUMOS'14's "Ambiguous"), its `ignore_index` and its data-set key unchanged.
    """

    class_names: list[str]  # every target column, background first, ignored class included
    ignore_index: int | None = None  # as written in the file (21, -100, 0, ...); None: not written
    key: str | None = None  # the entry's name in a multi-data-set file ({"THUMOS": {...}}); None: flat
    extra: dict = field(default_factory=dict)  # other fields of the entry ("data_root", "metrics", ...)

    def ignored_column(self) -> int | None:
        """The target column whose frames are ignored, or None.

        Only an action column counts: -100 (PyTorch's "no class", TVSeries in TeSTra) means
        none, and 0 (EPIC-Kitchens-100 in TeSTra, whose loss skips background) points at the
        background column, which stays a class here (the paper trains on background frames,
        down-weighted, and its metrics already leave background out).
        """
        if self.ignore_index is not None and 1 <= self.ignore_index < len(self.class_names):
            return self.ignore_index
        return None

    def step_columns(self) -> list[int]:
        """Target column of each step (step i -> column step_columns()[i])."""
        return [c for c in range(1, len(self.class_names)) if c != self.ignored_column()]


@dataclass
class VideoDataset:
    """A data set: videos, class names without background, task names ([] for OAD data)."""

    name: str
    videos: list[Video]
    step_names: list[str]
    task_names: list[str]
    fps: float
    oad_info: OADInfo | None = None  # set by read_oad; write_oad writes it back
    # step names whose predictions OAD metrics count as background (THUMOS'14's Ambiguous when it
    # is trained as a class, `gadlib.data.recipe.ambiguous_as_class`)
    scored_as_background: list[str] = field(default_factory=list)

    def split(self, subset: str) -> list[Video]:
        """The videos of one subset ("train", "val" or "test")."""
        videos = [v for v in self.videos if v.subset == subset]
        if not videos:
            raise ValueError(f"data set {self.name!r} has no videos in subset {subset!r} "
                             f"(subsets present: {sorted({v.subset for v in self.videos})})")
        return videos

    def with_validation(self, share: float = 0.2, seed: int = 0) -> VideoDataset:
        """A copy whose "train" videos lose `share` of them (rounded per task, at least one of
        every task with two or more, never its last one; drawn with `seed`) to a "val" subset: the split that decides when training has converged
        (`gadlib.core.training.train(..., validate=...)`). Test videos are untouched; features are shared."""
        if not 0 < share < 1:
            raise ValueError(f"with_validation: share must be in (0, 1), got {share!r}")
        rng = np.random.default_rng(seed)
        train = [i for i, v in enumerate(self.videos) if v.subset == "train"]
        held = set()
        for task in sorted({self.videos[i].task for i in train}, key=lambda t: (t is None, t)):
            mine = [i for i in train if self.videos[i].task == task]
            size = min(len(mine) - 1, max(1, round(share * len(mine))))
            held |= set(rng.choice(mine, size=size, replace=False).tolist()) if size > 0 else set()
        if not held:
            raise ValueError(f"data set {self.name!r}: too few training videos ({len(train)}) to hold out "
                             f"a validation share of {share}")
        videos = [replace(v, subset="val") if i in held else v for i, v in enumerate(self.videos)]
        return replace(self, videos=videos)

    @property
    def feature_dim(self) -> int:
        return int(self.videos[0].features.shape[2])

    @property
    def tokens_per_frame(self) -> int:
        return int(self.videos[0].features.shape[1])
