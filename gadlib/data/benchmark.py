"""A seeded synthetic benchmark of procedural videos, with knobs for label-word overlap.

Explained in notebooks/01_generative_vs_discriminative.ipynb (the knobs) and used by every
later notebook through `gadlib.data.datasets.ensure_benchmark`.

Why synthetic: the paper's claim is that a generative classifier (which decodes the label
text) loses to a discriminative one ([CLS] + linear head) when *label words overlap* across
classes ("add sugar", "add salt"). To test that claim we need data where we can move, with
one knob each, how much the label words overlap (`label_overlap`) and how much the visual
appearance follows the words (`compositionality`). No real data set lets us do that.

How a video is made:

1. Classes are verb-object phrases ("pour olive oil"). `label_overlap` decides how many
   distinct verbs and objects the classes are built from.
2. Every class gets an appearance vector in a small latent space: a mix of a verb factor, an
   object factor and a class-specific factor (`compositionality` sets the mix).
3. Tasks ("make tea") are ordered scripts of classes. A video of a task follows the script,
   skipping optional steps and swapping neighbours now and then, with background gaps.
4. Each frame's latent = per-frame scale * appearance of its class (or of background)
   + `task_signal` * a per-task scene factor. Each of the `tokens_per_frame` tokens is its own
   fixed random projection of that latent to `feature_dim`, plus Gaussian noise.

Everything is drawn from `numpy.random.default_rng([seed, stream])` with one stream per stage,
so the same config gives identical arrays, and changing e.g. only `noise` keeps labels,
scripts and timings identical.

Synthetic data only: the presets mimic the *structure* of THUMOS'14, CrossTask, EPIC-Kitchens,
Ego4D-GoalStep and COIN, never their content.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gadlib.data.videos import Segment, Video, VideoDataset
# Re-exported: callers import the word lists and the tokenizer corpus from here too.
from gadlib.data.vocabulary import OBJECTS, PHRASES, TASKS, VERBS, label_words, tokenizer_corpus  # noqa: F401

_STREAMS = {"labels": 0, "appearance": 1, "scripts": 2, "videos": 3, "features": 4}


@dataclass
class BenchmarkConfig:
    """All knobs of the synthetic benchmark. Same config (seed included) -> identical data."""

    name: str = "synthetic"
    """Data set name; also the prefix of the generated folder."""
    num_classes: int = 40
    """Number of step classes (without background). Tens to thousands (at most
    len(VERBS) * len(OBJECTS) verb-object pairs). Set from `class_names` when that is given."""
    class_names: list[str] | str | None = None
    """A user's own class vocabulary instead of the built-in verb x object lists ("how would a
    generative classifier fare on *my* label set?"): a list of names, or the path of a UTF-8 text
    file with one name per line (blank lines and lines starting with "#" skipped), read when the
    config is made so that the config (and the cache key of `ensure_benchmark`) holds the names.
    num_classes becomes their number and class i is the i-th name; `label_overlap` and
    `label_style` are unused: the overlap is the names' own. For `compositionality` the first word
    of a name (`label_words`) plays the verb and the other words the object (a one-word name is
    its own object)."""
    num_tasks: int = 10
    """Number of tasks (procedures); each is an ordered script of step classes."""
    steps_per_task: tuple[int, int] = (4, 7)
    """(min, max) script length. num_tasks * max must reach num_classes, since every class
    appears in at least one script."""
    optional_prob: float = 0.3
    """Share of script steps that are optional."""
    skip_prob: float = 0.5
    """Probability that a video skips an optional step."""
    swap_prob: float = 0.15
    """Probability that a video swaps a pair of neighbouring steps of its script."""
    tail: str = "balanced"
    """"balanced": every class is used by about the same number of scripts. "zipf": scripts
    reuse classes with probability ~ rank ** -zipf_exponent (see `_make_scripts`), so segment
    counts per class follow a long tail."""
    zipf_exponent: float = 1.0
    """Exponent of the Zipf tail (only with tail="zipf")."""
    label_overlap: float = 0.5
    """In [0, 1]. The classes are built from n_verbs = round(C ** (1 - 0.5 * overlap)) verbs
    and about as many objects (clamped to the vocabulary and so that n_verbs * n_objects >= C).
    0: as many verbs/objects as classes (no sharing while C <= len(VERBS));
    1: sqrt(C) verbs and sqrt(C) objects, every verb and object shared by ~sqrt(C) classes."""
    label_style: str = "short"
    """"short": "verb object" (2-4 words). "descriptive": "verb the object <phrase>" (5-8
    words); the phrase is words shared across classes that carry no visual signal."""
    compositionality: float = 0.5
    """In [0, 1]. Class appearance = normalise(sqrt(c) * (verb + object) / sqrt(2)
    + sqrt(1 - c) * class factor). 0: unrelated per-class appearance, 1: pure verb+object sum,
    so classes sharing a word also look alike."""
    noise: float = 1.0
    """Per-token Gaussian noise std, relative to the signal's per-dimension std (which is ~1)."""
    task_signal: float = 0.5
    """Norm of a per-task scene factor added to every frame of a task's videos (unit-norm
    appearance vectors, so 0.5 = half as strong as the step signal). Gives task recognition
    and forecasting a cue beyond the steps."""
    latent_dim: int = 32
    """Size of the latent space where verb, object, class and task factors live."""
    feature_dim: int = 64
    """D of the features: each token is a fixed random projection latent_dim -> feature_dim."""
    tokens_per_frame: int = 1
    """Visual tokens per frame (1 for OAD; several for COIN-like pooled tokens)."""
    step_frames: tuple[int, int] = (6, 12)
    """(min, max) duration of a step segment, in frames."""
    background_frames: tuple[int, int] = (1, 4)
    """(min, max) background gap before the first step and after every step, in frames."""
    videos_per_task: int = 30
    """Videos generated per task (ignored when num_videos is set)."""
    num_videos: int | None = None
    """Total number of videos, spread over the tasks in turn; overrides videos_per_task."""
    test_fraction: float = 0.2
    """Share of each task's videos in the test split (at least one when > 0)."""
    fps: float = 2.0
    """Frames per second, used to write segment times in seconds (COIN layout)."""
    layout: str = "coin"
    """On-disk layout `ensure_benchmark` writes: "coin" (tasks kept) or "oad" (no tasks)."""
    seed: int = 0
    """Seed of every random draw."""

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, message: str) -> None:
            if not ok:
                raise ValueError(f"BenchmarkConfig.{field}: {message} (got {getattr(self, field)!r})")

        if self.class_names is not None:
            self.class_names = _read_class_names(self.class_names)
            self.num_classes = len(self.class_names)
        for field in ("steps_per_task", "step_frames", "background_frames"):
            value = tuple(getattr(self, field))
            need(len(value) == 2 and 0 <= value[0] <= value[1], field, "expected (min, max), 0 <= min <= max")
            setattr(self, field, (int(value[0]), int(value[1])))
        need(self.num_classes >= 1, "num_classes", "must be >= 1")
        need(self.class_names is not None or self.num_classes <= len(VERBS) * len(OBJECTS), "num_classes",
             f"the vocabulary has only {len(VERBS) * len(OBJECTS)} verb-object pairs (or pass class_names)")
        need(self.num_tasks >= 1, "num_tasks", "must be >= 1")
        need(self.steps_per_task[0] >= 1, "steps_per_task", "min must be >= 1")
        need(self.num_tasks * self.steps_per_task[1] >= self.num_classes, "steps_per_task",
             f"num_tasks * max steps must be >= num_classes={self.num_classes} so every class is used")
        need(self.step_frames[0] >= 1, "step_frames", "min must be >= 1")
        for field in ("optional_prob", "skip_prob", "swap_prob", "label_overlap", "compositionality"):
            need(0.0 <= getattr(self, field) <= 1.0, field, "must be in [0, 1]")
        need(self.tail in ("balanced", "zipf"), "tail", 'must be "balanced" or "zipf"')
        need(self.zipf_exponent >= 0, "zipf_exponent", "must be >= 0")
        need(self.label_style in ("short", "descriptive"), "label_style", 'must be "short" or "descriptive"')
        need(self.noise >= 0, "noise", "must be >= 0")
        need(self.task_signal >= 0, "task_signal", "must be >= 0")
        for field in ("latent_dim", "feature_dim", "tokens_per_frame", "videos_per_task"):
            need(getattr(self, field) >= 1, field, "must be >= 1")
        need(self.num_videos is None or self.num_videos >= self.num_tasks, "num_videos",
             "must be None or >= num_tasks")
        need(0.0 <= self.test_fraction < 1.0, "test_fraction", "must be in [0, 1)")
        need(self.fps > 0, "fps", "must be > 0")
        need(self.layout in ("coin", "oad"), "layout", 'must be "coin" or "oad"')
        need(self.layout == "coin" or self.tokens_per_frame == 1, "tokens_per_frame",
             'the "oad" layout stores one token per frame')


def _read_class_names(value) -> list[str]:
    """class_names as a list of distinct, non-empty names (from a list or a text file)."""
    where = "BenchmarkConfig.class_names"
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise FileNotFoundError(f"{where}: file {path} not found")
        where = f"{path}"
        lines = path.read_text(encoding="utf-8").splitlines()
        value = [n.strip() for n in lines if n.strip() and not n.lstrip().startswith("#")]
    if not isinstance(value, (list, tuple)) or not all(isinstance(n, str) for n in value):
        raise ValueError(f"{where}: expected a list of strings or a file path, got {type(value).__name__}")
    names = [n.strip() for n in value]
    if not names:
        raise ValueError(f"{where}: no class names")
    wordless = [n for n in names if not label_words(n)]
    if wordless:
        raise ValueError(f"{where}: names without a letter or digit: {wordless[:5]}")
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        raise ValueError(f"{where}: duplicate class names {duplicates[:5]}")
    return names


# ---------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------

# Preset noise levels: a nearest-class-mean classifier on segment-averaged features gets
# ~0.9-1.0 step accuracy and ~0.3-0.5 single-frame accuracy (background included) at cpu size,
# so learned models sit between chance and saturation. Tune with preset(..., noise=...).
def _sized(size: str, cpu: dict, gpu: dict, **common) -> BenchmarkConfig:
    if size not in ("cpu", "gpu"):
        raise ValueError(f'size must be "cpu" or "gpu", got {size!r}')
    return BenchmarkConfig(**common, **(cpu if size == "cpu" else gpu))


def thumos_like(size: str = "cpu") -> BenchmarkConfig:
    """Synthetic, mimics the structure of THUMOS'14 OAD, not THUMOS'14: ~20 classes whose
    labels share almost no words, long background stretches, one token per frame."""
    return _sized(size,
                  dict(num_tasks=5, steps_per_task=(4, 6), videos_per_task=16),
                  dict(num_tasks=5, steps_per_task=(4, 6), videos_per_task=120, feature_dim=256),
                  name="thumos_like", noise=4.0, num_classes=20, label_overlap=0.0, compositionality=0.5,
                  step_frames=(6, 16), background_frames=(3, 12), fps=4.0, layout="oad")


def crosstask_like(size: str = "cpu") -> BenchmarkConfig:
    """Synthetic, mimics the structure of CrossTask OAD, not CrossTask: ~100 steps (60 at cpu
    size) of procedures whose steps often share verbs; one token per frame."""
    return _sized(size,
                  dict(num_classes=60, num_tasks=12, steps_per_task=(5, 8), videos_per_task=12),
                  dict(num_classes=105, num_tasks=18, steps_per_task=(6, 9), videos_per_task=50,
                       feature_dim=256),
                  name="crosstask_like", noise=3.0, label_overlap=0.6, compositionality=0.5,
                  step_frames=(4, 12), background_frames=(2, 8), fps=1.0, layout="oad")


def epic_like(size: str = "cpu") -> BenchmarkConfig:
    """Synthetic, mimics the structure of EPIC-Kitchens-100 OAD, not EPIC-Kitchens: hundreds
    of verb-noun classes crowded on few verbs and nouns, Zipf long tail, short steps."""
    return _sized(size,
                  dict(num_classes=200, num_tasks=25, steps_per_task=(14, 22), videos_per_task=5),
                  dict(num_classes=1000, num_tasks=60, steps_per_task=(25, 40), videos_per_task=12,
                       feature_dim=256),
                  name="epic_like", noise=3.0, label_overlap=0.9, tail="zipf", zipf_exponent=1.0,
                  compositionality=0.5, step_frames=(3, 10), background_frames=(1, 4), fps=4.0,
                  layout="oad")


def goalstep_like(size: str = "cpu") -> BenchmarkConfig:
    """Synthetic, mimics the structure of Ego4D-GoalStep OAD, not Ego4D-GoalStep: long
    descriptive labels of 5-8 words, long videos with many steps; one token per frame."""
    return _sized(size,
                  dict(num_classes=80, num_tasks=10, steps_per_task=(8, 12), videos_per_task=10),
                  dict(num_classes=500, num_tasks=40, steps_per_task=(14, 20), videos_per_task=25,
                       feature_dim=256),
                  name="goalstep_like", noise=3.0, label_style="descriptive", label_overlap=0.5,
                  compositionality=0.5, step_frames=(4, 14), background_frames=(2, 8), fps=1.0,
                  layout="oad")


def coin_like(size: str = "cpu") -> BenchmarkConfig:
    """Synthetic, mimics the structure of COIN, not COIN: tasks with step scripts for step
    recognition, step forecasting and task recognition; several tokens per frame; COIN layout."""
    return _sized(size,
                  dict(num_classes=60, num_tasks=12, steps_per_task=(4, 7), videos_per_task=40,
                       tokens_per_frame=2, feature_dim=64),
                  dict(num_classes=300, num_tasks=60, steps_per_task=(4, 7), videos_per_task=45,
                       tokens_per_frame=10, feature_dim=128),
                  name="coin_like", noise=4.0, label_overlap=0.6, compositionality=0.5,
                  step_frames=(6, 12), background_frames=(1, 4), fps=2.0, layout="coin")


PRESETS = {f.__name__: f for f in (thumos_like, crosstask_like, epic_like, goalstep_like, coin_like)}


def preset(name: str, size: str = "cpu", **overrides) -> BenchmarkConfig:
    """The config of a named preset at "cpu" or "gpu" size, with any field overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    config = PRESETS[name](size)
    fields = {f.name for f in dataclasses.fields(BenchmarkConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown BenchmarkConfig field(s) {unknown} for preset {name!r}")
    return dataclasses.replace(config, **overrides)


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------

def _rng(config: BenchmarkConfig, stream: str) -> np.random.Generator:
    return np.random.default_rng([config.seed, _STREAMS[stream]])


def _vocabulary_sizes(num_classes: int, overlap: float) -> tuple[int, int]:
    """How many distinct verbs and objects C classes are built from (see `label_overlap`)."""
    wanted = round(num_classes ** (1.0 - 0.5 * overlap))
    n_verbs = min(max(wanted, math.ceil(num_classes / len(OBJECTS)), 1), len(VERBS))
    n_objects = min(max(wanted, math.ceil(num_classes / n_verbs)), len(OBJECTS))
    return n_verbs, n_objects


def _user_classes(names: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A user's names, each one's verb index (its first word) and object index (its other words)."""
    verbs: dict[str, int] = {}
    objects: dict[str, int] = {}
    verb_of, object_of = [], []
    for name in names:
        words = label_words(name)
        verb_of.append(verbs.setdefault(words[0], len(verbs)))
        rest = " ".join(words[1:]) or f"<{name}>"  # a one-word name shares no object
        object_of.append(objects.setdefault(rest, len(objects)))
    return list(names), np.array(verb_of), np.array(object_of)


def _make_classes(config: BenchmarkConfig) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Class names, and each class's verb index and object index (into the chosen words)."""
    if config.class_names is not None:
        return _user_classes(config.class_names)
    rng = _rng(config, "labels")
    n_verbs, n_objects = _vocabulary_sizes(config.num_classes, config.label_overlap)
    verbs = [VERBS[i] for i in rng.choice(len(VERBS), n_verbs, replace=False)]
    objects = [OBJECTS[i] for i in rng.choice(len(OBJECTS), n_objects, replace=False)]
    k = np.arange(config.num_classes)
    # Walk the verb x object grid diagonally: with B the larger and S the smaller of the two
    # word lists, class k uses word k % B of B and word (k % B + k // B) % S of S. Pairs are
    # unique (B * S >= C), and every verb and every object is used about equally often.
    big, small = max(n_verbs, n_objects), min(n_verbs, n_objects)
    fast, slow = k % big, (k % big + k // big) % small
    verb_of, object_of = (fast, slow) if n_verbs >= n_objects else (slow, fast)
    order = rng.permutation(config.num_classes)  # class index carries no structure
    verb_of, object_of = verb_of[order], object_of[order]
    names = [f"{verbs[v]} {objects[o]}" for v, o in zip(verb_of, object_of)]
    if config.label_style == "descriptive":
        phrases = rng.choice(len(PHRASES), config.num_classes)
        names = [f"{verbs[v]} the {objects[o]} {PHRASES[p]}" for v, o, p in zip(verb_of, object_of, phrases)]
    return names, verb_of, object_of


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _make_appearance(config: BenchmarkConfig, verb_of: np.ndarray, object_of: np.ndarray):
    """Latent appearance of background + each class [C + 1, L], and each task's scene factor."""
    rng = _rng(config, "appearance")
    L, c = config.latent_dim, config.compositionality
    verb_f = _unit_rows(rng, int(verb_of.max()) + 1, L)
    object_f = _unit_rows(rng, int(object_of.max()) + 1, L)
    class_f = _unit_rows(rng, config.num_classes, L)
    background = _unit_rows(rng, 1, L)
    task_f = _unit_rows(rng, config.num_tasks, L)
    mix = math.sqrt(c) * (verb_f[verb_of] + object_f[object_of]) / math.sqrt(2) + math.sqrt(1 - c) * class_f
    mix /= np.linalg.norm(mix, axis=1, keepdims=True)
    # Row 0 is background so that appearance[frame_labels] works directly.
    return np.concatenate([background, mix]), task_f


def _make_scripts(config: BenchmarkConfig) -> tuple[list[list[int]], list[list[bool]]]:
    """Each task's ordered script of classes and which of its steps are optional.

    Every class is first put into one random script (so every class occurs). The remaining
    script slots are then filled with classes not yet in that script: "balanced" picks the
    least-used class (scripts are trimmed so that each class ends in the same number of
    scripts where the length range allows), "zipf" samples
    classes with probability ~ rank ** -zipf_exponent (random ranks), so popular classes are
    reused by many scripts - the same way "add salt" appears in many real recipes.
    """
    rng = _rng(config, "scripts")
    C, K = config.num_classes, config.num_tasks
    lo, hi = config.steps_per_task
    lengths = np.minimum(rng.integers(lo, hi + 1, size=K), C)  # a script never repeats a class
    while lengths.sum() < C:  # too few slots to use every class: lengthen the shortest scripts
        lengths[np.argmin(lengths)] += 1
    if config.tail == "balanced":
        # Trim the longest scripts until every class can be used by exactly k scripts.
        k = lengths.sum() // C
        while lengths.sum() > k * C and lengths.max() > lo:
            lengths[np.argmax(lengths)] -= 1
    owner = rng.permutation(np.repeat(np.arange(K), lengths))[:C]
    scripts: list[list[int]] = [[] for _ in range(K)]
    for cls, task in zip(rng.permutation(C), owner):
        scripts[task].append(int(cls))
    used = np.ones(C)
    weight = np.ones(C) if config.tail == "balanced" else (1.0 + rng.permutation(C)) ** -config.zipf_exponent
    for task in range(K):
        while len(scripts[task]) < lengths[task]:
            free = np.ones(C, dtype=bool)
            free[scripts[task]] = False
            if config.tail == "balanced":
                least = np.flatnonzero(free & (used == used[free].min()))
                cls = int(rng.choice(least))
            else:
                p = weight * free
                cls = int(rng.choice(C, p=p / p.sum()))
            scripts[task].append(cls)
            used[cls] += 1
        scripts[task] = [scripts[task][i] for i in rng.permutation(len(scripts[task]))]
    optional = [list(rng.random(len(s)) < config.optional_prob) for s in scripts]
    return scripts, optional


def _video_steps(rng: np.random.Generator, script: list[int], optional: list[bool],
                 config: BenchmarkConfig, full: bool) -> list[int]:
    """One performance of a script: optional steps skipped (unless `full`), neighbours swapped."""
    steps = [s for s, opt in zip(script, optional) if full or not (opt and rng.random() < config.skip_prob)]
    if not steps:
        steps = [script[0]]
    i = 0
    while i < len(steps) - 1:
        if rng.random() < config.swap_prob:
            steps[i], steps[i + 1] = steps[i + 1], steps[i]
            i += 1  # a step moves at most one place
        i += 1
    return steps


def generate_benchmark(config: BenchmarkConfig) -> VideoDataset:
    """Generate the whole data set in memory (deterministic given the config)."""
    names, verb_of, object_of = _make_classes(config)
    appearance, task_f = _make_appearance(config, verb_of, object_of)
    scripts, optional = _make_scripts(config)
    video_rng, feature_rng = _rng(config, "videos"), _rng(config, "features")
    projections = feature_rng.standard_normal((config.tokens_per_frame, config.latent_dim, config.feature_dim))

    n_videos = config.num_videos or config.videos_per_task * config.num_tasks
    tasks_of = np.arange(n_videos) % config.num_tasks
    is_test = np.zeros(n_videos, dtype=bool)
    for task in range(config.num_tasks):
        mine = video_rng.permutation(np.flatnonzero(tasks_of == task))
        n_test = max(1, round(len(mine) * config.test_fraction)) if config.test_fraction > 0 else 0
        is_test[mine[:n_test]] = True

    # The first training video of each task performs its whole script, so that every class
    # occurs in the training split however few videos there are.
    first_train = {int(tasks_of[i]): i for i in np.flatnonzero(~is_test)[::-1]}
    videos = []
    for i, task in enumerate(tasks_of):
        segments, t = [], 0
        for cls in _video_steps(video_rng, scripts[task], optional[task], config, first_train.get(task) == i):
            t += int(video_rng.integers(config.background_frames[0], config.background_frames[1] + 1))
            length = int(video_rng.integers(config.step_frames[0], config.step_frames[1] + 1))
            segments.append(Segment(t, t + length, cls))
            t += length
        T = t + int(video_rng.integers(config.background_frames[0], config.background_frames[1] + 1))
        labels = np.zeros(T, dtype=np.int64)
        for s in segments:
            labels[s.start:s.end] = s.label + 1
        # The per-frame scale keeps frames of one step from being identical.
        scale = feature_rng.uniform(0.75, 1.25, size=(T, 1))
        latent = scale * appearance[labels] + config.task_signal * task_f[task]
        tokens = np.einsum("tl,kld->tkd", latent, projections)
        tokens += config.noise * feature_rng.standard_normal(tokens.shape)
        videos.append(Video(video_id=f"v{i:05d}", features=tokens.astype(np.float32), segments=segments,
                            task=int(task), subset="test" if is_test[i] else "train"))
    return VideoDataset(name=config.name, videos=videos, step_names=names,
                        task_names=task_names(config.num_tasks), fps=float(config.fps))


def task_names(num_tasks: int) -> list[str]:
    """The built-in task names, then "task <i>" once they run out (large user vocabularies)."""
    return TASKS[:num_tasks] + [f"task {i}" for i in range(len(TASKS), num_tasks)]
