"""Run configs of `python -m gadlib.train`: the sections, reading YAML and command-line
overrides against the dataclass field types, and every check that needs no data.

`load_config` turns a YAML file plus `--section.field value` overrides into a `RunConfig` (an
unknown section or field, or a value of the wrong type, is an error naming it);
`validate_config` then checks the values (method, its `method_kwargs` against the classifier's
constructor and its closed sets of options, decodings, mixed precision, data and OAD settings)
before a run loads any data. `run_key` names a run by its method and label mapping
(`generative_desync`); `config_help` lists every field with its default for `--help`.

Explained in configs/README.md.
"""
from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gadlib.core.backbone import PROMPT_LAYOUTS, BackboneConfig
from gadlib.core.gad import GEN_LOSS_NORMS
from gadlib.core.generative import OAD_NEW_TOKENS, SNAP_SETS, SNAP_TIES
from gadlib.data.benchmark import PRESETS
from gadlib.evaluation.experiment import OFFLINE_KINDS
from gadlib.core.generative import DECODING
from gadlib.core.methods import METHODS
from gadlib.evaluation.oad import OTHERS, OADConfig
from gadlib.core.prompts import LABEL_SET_OF_KIND
from gadlib.data.samples import LONG_SPANS, MAX_FRAMES, TASK_SPANS, FrameRule, frames_setting
from gadlib.core.training import MIXED_PRECISION, TrainConfig


@dataclass
class DataConfig:
    """Which videos, and which tasks are trained jointly.

    preset / size: a synthetic benchmark (`gadlib.data.benchmark.PRESETS`, "cpu" or "gpu" size), used
    when `path` is None. path: a folder in the COIN layout (`COIN.json`) or the OAD layout
    (`data_info.json`); features: its feature sub-folder (default "features" / "rgb_features"; OAD:
    "a,b" concatenates several folders frame by frame).
    kinds: None = step, next, task for COIN data and oad for OAD data. num_frames: frames per
    step / task sample, or `all` (or null): every frame of the span, evenly subsampled to at most
    max_frames (the paper's COIN protocol: every frame at 2 fps, at most 1200); window,
    long_context, long_tokens, stride, background_weight, start, loss_norm: OAD windows and loss
    (`gadlib.evaluation.oad.OADConfig`, whose defaults are the authors'; the test split is evaluated densely,
    every frame); oad_context: GAD's OAD target (`OADConfig.context`: "current_and_other",
    "current" for THUMOS'14, "previous_action").
    max_train_videos / max_test_videos: keep only the first N videos of a subset (quick checks).
    missing_features / clip_frames: COIN layout only, `read_coin`'s options for a real folder
    ("skip" videos without a feature file; clip segments ending at most N frames past the features).
    fps: COIN layout only, the features' frame rate when neither the features' manifest.json
    (written by `python -m gadlib.features`) nor meta.json gives it; where they do, it must agree
    (`read_coin` has no default rate: a wrong one would put every segment on the wrong frames).
    data_info_key / mmap: OAD layout only, `read_oad`'s `name` (the data set's key in a
    data_info.json holding several, e.g. TeSTra's "THUMOS", "EK100") and `mmap` (large data sets).
    The authors' recipe where gadlib's default differs (configs/README.md, the protocol table):
    thumos_ambiguous: "ignore" (gadlib's: Ambiguous frames are not trained on) or "class" (a 22nd
    output, `gadlib.data.recipe.ambiguous_as_class`); exclude_videos: a text file of video ids to
    drop (`gadlib.data.recipe.exclude_videos`); gen_loss_norm: GAD's generation loss, "token" or
    "sample" (`gadlib.core.gad.GEN_LOSS_NORMS`); oad_other: `gadlib.evaluation.oad.OTHERS`;
    coin_frames: "round" or "ceil_inclusive" (COIN segment seconds -> frames); coin_task_span:
    "steps" or "video"; coin_classes: null, "merged" or a class-list file (`read_coin`'s
    `classes`); long_span: "subsample" or "first" (`gadlib.data.samples.FrameRule`).
    """
    preset: str | None = "coin_like"
    size: str = "cpu"
    path: str | None = None
    features: str | None = None
    kinds: list[str] | None = None
    num_frames: int | str | None = 4
    max_frames: int = MAX_FRAMES
    window: int = 8
    long_context: int = 0
    long_tokens: int | None = None
    stride: int | None = None
    background_weight: float = 1.0
    start: str = "short"
    oad_context: str = "current_and_other"
    loss_norm: str = "batch"
    max_train_videos: int | None = None
    max_test_videos: int | None = None
    missing_features: str = "error"
    clip_frames: int = 0
    fps: float | None = None
    data_info_key: str | None = None
    mmap: bool = False
    thumos_ambiguous: str = "ignore"
    exclude_videos: str | None = None
    gen_loss_norm: str = "token"
    oad_other: str = "recent"
    coin_frames: str = "round"
    coin_task_span: str = "steps"
    coin_classes: str | None = None
    long_span: str = "subsample"


@dataclass
class EvalConfig:
    """batch_size: prediction batch (lower it on a 16 GB GPU); decodings: for the generative
    method, "greedy" (the paper's protocol) and / or "exact" (class log-likelihood ranking).
    save_scores: keep every test item's class scores in predictions.npz (float16, N x C: turn it
    off for thousands of classes over many frames; labels and predictions are kept anyway).
    oad_new_tokens / snap_set / snap_ties: the generative method's greedy decoding
    (`gadlib.core.generative`: cap, snapping set, tie order; gadlib's defaults, the authors' in the
    paper configs). streaming_fps: also measure the paper's streaming FPS on OAD runs (every test
    frame at batch 1, `gadlib.evaluation.streaming.streaming_fps`; slow)."""
    batch_size: int = 64
    decodings: list[str] = field(default_factory=lambda: ["greedy"])
    save_scores: bool = True
    oad_new_tokens: str = "in_all"
    snap_set: str = "actions"
    snap_ties: str = "index"
    streaming_fps: bool = False


@dataclass
class RunConfig:
    """One run: a method trained on one data set with one backbone, for each seed."""
    name: str = "run"
    method: str = "gad"
    method_kwargs: dict = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    output_dir: str | None = None  # the run's folder, one sub-folder per method; default runs/<name>/
    resume: bool = False           # continue from the method folder's checkpoint when it has a training state
    data: DataConfig = field(default_factory=DataConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    paper: dict = field(default_factory=dict)  # the paper's numbers (configs/paper_*.yaml), reference only


ALIASES = {"backbone": "backbone.name", "output-dir": "output_dir"}
# Set by the run itself, not by a config: the seed comes from `seeds`, the folders from output_dir.
RUN_SET = {"train": ("seed", "checkpoint_dir", "log_dir")}
DTYPES = ("auto", "float32", "float16", "bfloat16")
SIZES = ("cpu", "gpu")
MISSING_FEATURES = ("error", "skip")
# Classifier arguments a run takes from its config, never from method_kwargs: key -> section.
DATA_SET = {"background_weight": "data", "loss_norm": "data", "gen_loss_norm": "data",
            "oad_new_tokens": "eval", "snap_set": "eval", "snap_ties": "eval"}
AMBIGUOUS = ("ignore", "class")
COIN_FRAMES = {"round": ("round", "exclusive"), "ceil_inclusive": ("ceil", "inclusive")}  # -> read rule, end frame


def frame_rule(d: DataConfig) -> FrameRule:
    """The `FrameRule` of a run's data config (which frames a COIN sample takes)."""
    return FrameRule(long_span=d.long_span, end_frame=COIN_FRAMES[d.coin_frames][1], task_span=d.coin_task_span)


def classifier_options(cfg: RunConfig, oad: bool) -> dict:
    """The classifier arguments `cfg` sets outside method_kwargs (`DATA_SET`), for its method:
    OAD loss weighting, GAD's generation-loss norm, the generative method's decoding."""
    out = {"background_weight": cfg.data.background_weight, "loss_norm": cfg.data.loss_norm} if oad else {}
    if cfg.method == "gad":
        out["gen_loss_norm"] = cfg.data.gen_loss_norm
    if cfg.method == "generative":
        out.update({k: getattr(cfg.eval, k) for k in ("oad_new_tokens", "snap_set", "snap_ties")})
    return out


def oad_config(d: DataConfig) -> OADConfig:
    """The `OADConfig` of a run's data config (OAD window layout, GAD's target, loss weighting)."""
    return OADConfig(window=d.window, long_context=d.long_context, long_tokens=d.long_tokens, stride=d.stride,
                     background_weight=d.background_weight, start=d.start, context=d.oad_context,
                     loss_norm=d.loss_norm, other=d.oad_other)


def _coerce(value, hint, key: str, where: str):
    """`value` as the type `hint` asks for; command-line values arrive as strings."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        for option in inner[:-1]:  # several types (`int | str`): the first that fits, in order
            try:
                return _coerce(value, option, key, where)
            except ValueError:
                pass
        try:
            return _coerce(value, inner[-1], key, where)
        except ValueError:
            if len(inner) == 1:
                raise
            names = " or ".join(getattr(a, "__name__", str(a)) for a in inner)
            raise ValueError(f"{where}: {key} must be {names}, got {value!r}") from None
    base = typing.get_origin(hint) or hint
    if isinstance(value, str) and base is not str:
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ValueError(f"{where}: {key} = {value!r} is not a valid value ({e})") from None
    bad = ValueError(f"{where}: {key} must be {getattr(base, '__name__', base)}, got {value!r}")
    if base is bool:
        if not isinstance(value, bool):
            raise bad
    elif base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    elif base is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise bad from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        value = float(value)
    elif base is str:
        if not isinstance(value, str):
            raise bad
    elif base in (list, tuple):
        if isinstance(value, (str, int, float)):
            value = [value]  # `--seeds 0` and `--data.kinds step` are one-element lists
        if not isinstance(value, (list, tuple)):
            raise bad
        value = [_coerce(v, args[0], f"{key}[{i}]", where) for i, v in enumerate(value)] if args else list(value)
    elif base is dict:
        if not isinstance(value, dict):
            raise bad
    return value


def _build(cls, values: dict, where: str, prefix: str = ""):
    """An instance of dataclass `cls` from a (nested) mapping; unknown keys are errors."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: {prefix.rstrip('.') or 'the config'} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"{where}: unknown config key {prefix + str(key)!r}; "
                             f"known keys{' of ' + prefix.rstrip('.') if prefix else ''}: {sorted(known)}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, where, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, hint, prefix + key, where)
    return cls(**kwargs)


def parse_overrides(argv: list[str]) -> dict:
    """`--a.b value` / `--a.b=value` pairs -> nested {"a": {"b": "value"}} (values still strings)."""
    nested: dict = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise ValueError(f"command line: expected --key value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise ValueError(f"command line: --{key} needs a value")
            value, i = argv[i + 1], i + 1
        i += 1
        key = ALIASES.get(key, key)
        *sections, leaf = key.replace("-", "_").split(".")
        node = nested
        for s in sections:
            node = node.setdefault(s, {})
            if not isinstance(node, dict):
                raise ValueError(f"command line: {key!r} sets a field inside {s!r}, which is not a section")
        node[leaf] = value
    return nested


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    """Read a YAML run config and apply command-line overrides (`--section.field value`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no config file {path}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a config must be a mapping of sections, got {type(values).__name__}")
    values.setdefault("name", path.stem)
    config = _build(RunConfig, values, str(path))  # the file alone must be valid
    extra = parse_overrides(list(overrides))
    return _build(RunConfig, _merge(values, extra), "command line") if extra else config


# ---------------------------------------------------------------------------------------------
# Checks that need no data: everything a typo can break, before minutes of loading
# ---------------------------------------------------------------------------------------------

def _one_of(key: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{key} = {value!r} is not one of {list(allowed)}")


def _at_least(key: str, value, low) -> None:
    if value is not None and value < low:
        raise ValueError(f"{key} must be >= {low}, got {value!r}")


def method_arguments(method: str) -> dict[str, inspect.Parameter]:
    """The constructor arguments a config may set in `method_kwargs` (the model, label names and
    background weight come from the run)."""
    params = inspect.signature(METHODS[method].__init__).parameters
    return {k: p for k, p in params.items() if k not in ("self", "mllm", "label_names", *DATA_SET)}


def check_method_kwargs(method: str, kwargs: dict) -> dict:
    """`kwargs` against the classifier's constructor: names, types, closed sets of options, and
    the options that must go together (`check_options`, where the class has one). Returns them
    converted to the constructor's types (`--method_kwargs.lam 0.5` arrives as a string)."""
    _one_of("method", method, sorted(METHODS))
    cls, allowed = METHODS[method], method_arguments(method)
    hints = typing.get_type_hints(cls.__init__)
    for key, value in kwargs.items():
        if key in DATA_SET:
            raise ValueError(f"method_kwargs.{key}: set {DATA_SET[key]}.{key} instead")
        if key not in allowed:
            raise ValueError(f"method_kwargs {kwargs} do not fit method {method!r}: it takes no argument "
                             f"{key!r} (its arguments: {sorted(allowed)})")
        if key in hints:
            kwargs = {**kwargs, key: _coerce(value, hints[key], f"method_kwargs.{key}", f"method {method!r}")}
            value = kwargs[key]
        if key in cls.OPTIONS:
            _one_of(f"method_kwargs.{key} (method {method!r})", value, cls.OPTIONS[key])
    if hasattr(cls, "check_options"):
        check = inspect.signature(cls.check_options).parameters
        cls.check_options(**{k: v for k, v in kwargs.items() if k in check})
    return kwargs


def validate_config(cfg: RunConfig) -> RunConfig:
    """Raise ValueError naming the first field at fault; otherwise return `cfg`, its method_kwargs
    converted to the classifier's argument types (in place, so the run uses what was checked)."""
    if not cfg.name or "/" in cfg.name or cfg.name in (".", ".."):
        raise ValueError(f"name = {cfg.name!r} must be a folder name (no '/')")
    cfg.method_kwargs = check_method_kwargs(cfg.method, cfg.method_kwargs)
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        raise ValueError(f"seeds = {cfg.seeds} must be distinct and at least one")
    d = cfg.data
    if d.path is None:
        if d.preset is None:
            raise ValueError("data: set either preset (a synthetic benchmark) or path (a data folder)")
        _one_of("data.preset", d.preset, sorted(PRESETS))
        _one_of("data.size", d.size, SIZES)
    if d.kinds is not None:
        for kind in d.kinds:
            _one_of("data.kinds", kind, [*OFFLINE_KINDS, "oad"])
        if "oad" in d.kinds and len(d.kinds) > 1 or not d.kinds:
            raise ValueError(f"data.kinds must be some of {list(OFFLINE_KINDS)}, or [oad] alone; got {d.kinds}")
    _one_of("data.missing_features", d.missing_features, MISSING_FEATURES)
    check_recipe(cfg)
    try:
        frames_setting(d.num_frames, d.max_frames)
    except ValueError as e:
        raise ValueError(f"data.{e}") from None
    for key in ("max_train_videos", "max_test_videos"):
        _at_least(f"data.{key}", getattr(d, key), 1)
    _at_least("data.clip_frames", d.clip_frames, 0)
    if d.fps is not None and not d.fps > 0:
        raise ValueError(f"data.fps = {d.fps!r} must be > 0 (frames per second of the features)")
    try:
        oad_config(d)
    except ValueError as e:
        raise ValueError(f"data: {str(e).removeprefix('OADConfig: ')}") from None
    _one_of("backbone.dtype", cfg.backbone.dtype, DTYPES)
    t = cfg.train
    _one_of("train.mixed_precision", t.mixed_precision, MIXED_PRECISION)
    for key in ("epochs", "batch_size", "grad_accum"):
        _at_least(f"train.{key}", getattr(t, key), 1)
    _at_least("train.checkpoint_every", t.checkpoint_every, 0)
    if not 0 <= t.warmup < 1:
        raise ValueError(f"train.warmup must be a share of the steps in [0, 1), got {t.warmup!r}")
    if t.lr is not None and not t.lr > 0:
        raise ValueError(f"train.lr must be > 0 (or null: chosen from the backbone), got {t.lr!r}")
    for section, keys in RUN_SET.items():
        for key in keys:
            default = next(f.default for f in dataclasses.fields(t) if f.name == key)
            if getattr(t, key) != default:
                raise ValueError(f"{section}.{key} is set by the run (seeds, output_dir), not by a config")
    _at_least("eval.batch_size", cfg.eval.batch_size, 1)
    if not cfg.eval.decodings:
        raise ValueError("eval.decodings must name at least one decoding")
    for decoding in cfg.eval.decodings:
        _one_of("eval.decodings", decoding, DECODING)
    return cfg


def check_recipe(cfg: RunConfig) -> None:
    """The recipe keys of configs/README.md's protocol table: closed sets, and the files they name."""
    d, e = cfg.data, cfg.eval
    for key, value, allowed in (("data.thumos_ambiguous", d.thumos_ambiguous, AMBIGUOUS),
                                ("data.gen_loss_norm", d.gen_loss_norm, GEN_LOSS_NORMS),
                                ("data.oad_other", d.oad_other, OTHERS), ("data.coin_frames", d.coin_frames, COIN_FRAMES),
                                ("data.coin_task_span", d.coin_task_span, TASK_SPANS),
                                ("data.long_span", d.long_span, LONG_SPANS),
                                ("backbone.prompt", cfg.backbone.prompt, PROMPT_LAYOUTS),
                                ("eval.oad_new_tokens", e.oad_new_tokens, OAD_NEW_TOKENS),
                                ("eval.snap_set", e.snap_set, SNAP_SETS), ("eval.snap_ties", e.snap_ties, SNAP_TIES)):
        _one_of(key, value, allowed)
    for key in ("exclude_videos", "coin_classes"):
        value = getattr(d, key)
        is_file = value is None or (key == "coin_classes" and value == "merged") or Path(value).expanduser().is_file()
        if not is_file:
            raise ValueError(f"data.{key} = {value!r}: no such file"
                             + (" (or 'merged': the step names lower-cased and merged)" if key == "coin_classes" else ""))


def run_key(method: str, method_kwargs: dict) -> str:
    """The run's name in its folder and in results.json: the method, then every option of
    `NAMED_BY` set to a non-default value (`generative_desync`, `gad_gen_first`)."""
    args = method_arguments(method)
    parts = [str(method_kwargs[k]) for k in METHODS[method].NAMED_BY
             if k in method_kwargs and method_kwargs[k] != args[k].default]
    return "_".join([method, *parts])


def _type_name(hint) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def config_help() -> str:
    """Every section and field of `RunConfig` with its type and default, for `--help`."""
    lines, sections = ["config fields (--field value, or --section.field value):"], []
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        if dataclasses.is_dataclass(hints[f.name]):
            sections.append((f.name, hints[f.name]))
        else:
            lines.append(f"  --{f.name:<28} {_type_name(hints[f.name]):<16} default {_default(f)!r}")
    for name, cls in sections:
        lines.append(f"section {name} ({cls.__module__}.{cls.__name__}):")
        sub = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in RUN_SET.get(name, ()):
                continue  # set by the run itself
            lines.append(f"  --{name + '.' + f.name:<28} {_type_name(sub[f.name]):<16} default {_default(f)!r}")
    return "\n".join(lines)


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
