"""Config-driven runs outside notebooks: train and evaluate one method, write a checkpoint and a
results JSON.

    python -m gadlib.train --config configs/smoke.yaml [--train.epochs 1] [--backbone PATH_OR_NAME]
    accelerate launch --multi_gpu --num_processes 2 -m gadlib.train --config configs/coin_gpu.yaml

A config is a YAML file with the sections of `RunConfig` (see configs/README.md); every field can
be overridden from the command line as `--section.field value` (`--backbone X` is short for
`--backbone.name X`, `--output-dir` for `--output_dir`). Values are checked against the field
types, and an unknown key is an error naming it. Results and checkpoints go to `--output-dir`
(default `runs/<config name>/`): `results.json` in the notebooks' schema (method -> metric ->
mean, std, per_seed) and `checkpoint/` (loadable with `gadlib.checkpoint.load_classifier`).

Explained in notebooks/01_generative_vs_discriminative.ipynb (the same training and evaluation).
"""
from __future__ import annotations

import argparse
import dataclasses
import time
import types
import typing
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml
from accelerate import PartialState
from accelerate.utils import parse_flag_from_env

from .backbone import EMBEDDED, BackboneConfig
from .benchmark import preset
from .datasets import VideoDataset, ensure_benchmark, read_coin, read_oad
from .experiment import OFFLINE_KINDS, Run, Setup, offline_samples, summarize
from .methods import build_classifier
from .oad import OADConfig, evaluate_oad, training_windows
from .results import _write_json
from .prompts import LABEL_SET
from .samples import Sample, label_names
from .training import TrainConfig, evaluate, resolve_mixed_precision, train
from .utils import quiet


@dataclass
class DataConfig:
    """Which videos, and which tasks are trained jointly.

    preset / size: a synthetic benchmark (`gadlib.benchmark.PRESETS`, "cpu" or "gpu" size), used
    when `path` is None. path: a folder in the COIN layout (`COIN.json`) or the OAD layout
    (`data_info.json`); features: its feature sub-folder (default "features" / "rgb_features"; OAD:
    "a,b" concatenates several folders frame by frame).
    kinds: None = step, next, task for COIN data and oad for OAD data. num_frames: frames per
    step / task sample; window, long_context, long_tokens, stride, background_weight: OAD windows
    (`gadlib.oad.OADConfig`; the test split is evaluated densely, every frame).
    max_train_videos / max_test_videos: keep only the first N videos of a subset (quick checks).
    missing_features / clip_frames: COIN layout only, `read_coin`'s options for a real folder
    ("skip" videos without a feature file; clip segments ending at most N frames past the features).
    data_info_key / mmap: OAD layout only, `read_oad`'s `name` (the data set's key in a
    data_info.json holding several, e.g. TeSTra's "THUMOS", "EK100") and `mmap` (large data sets).
    """
    preset: str | None = "coin_like"
    size: str = "cpu"
    path: str | None = None
    features: str | None = None
    kinds: list[str] | None = None
    num_frames: int = 4
    window: int = 8
    long_context: int = 0
    long_tokens: int = 8
    stride: int = 4
    background_weight: float = 1.0
    max_train_videos: int | None = None
    max_test_videos: int | None = None
    missing_features: str = "error"
    clip_frames: int = 0
    data_info_key: str | None = None
    mmap: bool = False


@dataclass
class EvalConfig:
    """batch_size: prediction batch (lower it on a 16 GB GPU); decodings: for the generative
    method, "greedy" (the paper's protocol) and / or "exact" (class log-likelihood ranking)."""
    batch_size: int = 64
    decodings: list[str] = field(default_factory=lambda: ["greedy"])


@dataclass
class RunConfig:
    """One run: a method trained on one data set with one backbone, for each seed."""
    name: str = "run"
    method: str = "gad"
    method_kwargs: dict = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    output_dir: str | None = None  # default runs/<name>/
    resume: bool = False           # continue from output_dir's checkpoint when it has a training state
    data: DataConfig = field(default_factory=DataConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    paper: dict = field(default_factory=dict)  # the paper's numbers (configs/paper_*.yaml), reference only


# ---------------------------------------------------------------------------------------------
# Configs: YAML + command-line overrides, checked against the dataclass field types
# ---------------------------------------------------------------------------------------------

ALIASES = {"backbone": "backbone.name", "output-dir": "output_dir"}


def _coerce(value, hint, key: str, where: str):
    """`value` as the type `hint` asks for; command-line values arrive as strings."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key, where)
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
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a config must be a mapping of sections, got {type(values).__name__}")
    values.setdefault("name", path.stem)
    config = _build(RunConfig, values, str(path))  # the file alone must be valid
    extra = parse_overrides(list(overrides))
    return _build(RunConfig, _merge(values, extra), "command line") if extra else config


# ---------------------------------------------------------------------------------------------
# Data and tasks: one small function each, so other layouts / evaluations plug in here
# ---------------------------------------------------------------------------------------------

def _first_videos(dataset: VideoDataset, subset: str, limit: int | None) -> VideoDataset:
    if limit is None:
        return dataset
    keep = {v.video_id for v in dataset.split(subset)[:limit]}
    return replace(dataset, videos=[v for v in dataset.videos if v.subset != subset or v.video_id in keep])


def load_data(cfg: DataConfig) -> tuple[VideoDataset, str]:
    """(data set, layout "coin" | "oad"): a user's folder when `path` is set, else the preset."""
    if cfg.path is not None:
        root = Path(cfg.path).expanduser()
        if (root / "COIN.json").is_file():
            dataset, layout = read_coin(root, features=cfg.features or "features",
                                        missing_features=cfg.missing_features, clip_frames=cfg.clip_frames), "coin"
        elif (root / "data_info.json").is_file():
            # "rgb,flow": several feature folders, concatenated per frame (TeSTra's RGB + flow)
            folders = (cfg.features or "rgb_features").split(",")
            dataset = read_oad(root, feature_dir=folders if len(folders) > 1 else folders[0],
                               name=cfg.data_info_key, mmap=cfg.mmap)
            layout = "oad"
        elif not root.is_dir():
            raise FileNotFoundError(f"data.path {root} does not exist: set data.path in the config or "
                                    "pass --data.path FOLDER")
        else:
            raise ValueError(f"data.path {root} holds neither COIN.json (COIN layout) nor data_info.json "
                             "(OAD layout)")
    else:
        if cfg.preset is None:
            raise ValueError("data: set either preset (a synthetic benchmark) or path (a data folder)")
        layout = preset(cfg.preset, cfg.size).layout
        dataset = ensure_benchmark(cfg.preset, size=cfg.size)
    dataset = _first_videos(_first_videos(dataset, "train", cfg.max_train_videos), "test", cfg.max_test_videos)
    return dataset, layout


def task_kinds(cfg: DataConfig, layout: str) -> tuple[str, ...]:
    """The sample kinds trained jointly: the config's, else the layout's tasks."""
    kinds = tuple(cfg.kinds) if cfg.kinds else (OFFLINE_KINDS if layout == "coin" else ("oad",))
    unknown = set(kinds) - set(LABEL_SET)
    if unknown or ("oad" in kinds and len(kinds) > 1):
        raise ValueError(f"data.kinds must be some of {list(OFFLINE_KINDS)}, or [oad] alone; got {list(kinds)}")
    return kinds


OAD_METRICS = ("seg_f1_0.1", "seg_f1_0.25", "seg_f1_0.5", "point_f1_1s", "point_f1_2s", "map", "cap",
               "frame_acc", "fps")


def oad_config(cfg: DataConfig) -> OADConfig:
    return OADConfig(window=cfg.window, long_context=cfg.long_context, long_tokens=cfg.long_tokens,
                     stride=cfg.stride, background_weight=cfg.background_weight)


def task_samples(dataset: VideoDataset, cfg: DataConfig, kinds: tuple[str, ...], subset: str,
                 seed: int = 0, epoch: int | None = None) -> list[Sample]:
    """The training samples of `subset`, drawn per (seed, epoch): jittered frames for step / task
    samples, OAD windows on a frame grid shifted by a seeded offset (as `gadlib.oad.run_oad`)."""
    if kinds == ("oad",):
        offset = int(np.random.default_rng([seed, epoch or 0]).integers(cfg.stride))
        return training_windows(dataset, subset, oad_config(cfg), offset=offset)
    rng = np.random.default_rng([seed, epoch]) if epoch is not None else None
    return offline_samples(dataset, subset, cfg.num_frames, kinds, rng=rng)


def label_sets(dataset: VideoDataset, kinds: tuple[str, ...]) -> dict[str, list[str]]:
    """{label set: class names} of the heads the kinds need (steps shared by step and next)."""
    return {LABEL_SET[k]: label_names(dataset, LABEL_SET[k]) for k in kinds}


def backbone_for_precision(backbone: BackboneConfig, mixed_precision: str) -> BackboneConfig:
    """Load the frozen LM in the precision it computes in: float32 without mixed precision (CPU:
    a bf16 checkpoint would feed bf16 hidden states to the float32 heads), float16 on a GPU
    without bf16 (a T4), the checkpoint's own dtype (bf16 for Llama-3.2) otherwise."""
    if backbone.name == EMBEDDED or backbone.dtype != "auto":
        return backbone
    dtype = {"no": "float32", "fp16": "float16", "bf16": "auto"}[resolve_mixed_precision(mixed_precision)]
    return replace(backbone, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

def run(cfg: RunConfig) -> dict | None:
    """Train and evaluate `cfg.method` for every seed; the main process writes
    <output_dir>/results.json and returns its content (other processes return None)."""
    t0 = time.perf_counter()
    out = Path(cfg.output_dir or Path("runs") / cfg.name)
    # ACCELERATE_USE_CPU (`accelerate launch --cpu`) must reach the process group, or CPU ranks
    # would each think they are alone.
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    with state.main_process_first():  # the main process generates a preset once, the others read it
        dataset, layout = load_data(cfg.data)
    kinds = task_kinds(cfg.data, layout)
    names = label_sets(dataset, kinds)
    is_oad = kinds == ("oad",)
    # OAD: every frame of every test video (dense, `evaluate_oad`); otherwise the test samples
    test = None if is_oad else offline_samples(dataset, "test", cfg.data.num_frames, kinds)
    extra = {"background_weight": cfg.data.background_weight} if is_oad else {}
    backbone = backbone_for_precision(cfg.backbone, cfg.train.mixed_precision)
    decodings = cfg.eval.decodings if cfg.method == "generative" else ["greedy"]
    runs, timing = [], {}
    for seed in cfg.seeds:
        folder = out / ("checkpoint" if len(cfg.seeds) == 1 else f"checkpoint-seed{seed}")
        try:
            classifier = build_classifier(cfg.method, names, dataset.feature_dim, backbone, seed=seed,
                                          **extra, **cfg.method_kwargs)
        except TypeError as e:  # an argument the method's class does not take
            raise ValueError(f"method_kwargs {cfg.method_kwargs} do not fit method {cfg.method!r}: {e}") from None
        resume = folder if cfg.resume and (folder / "training_state.pt").is_file() else None
        history = train(classifier, lambda epoch: task_samples(dataset, cfg.data, kinds, "train", seed, epoch),
                        replace(cfg.train, seed=seed, checkpoint_dir=str(folder)), resume_from=resume)
        if state.is_main_process:  # evaluation is not sharded: one process, each sample once
            for decoding in decodings:
                key = cfg.method if decoding == "greedy" else f"{cfg.method}_{decoding}"
                kwargs = {"decoding": decoding} if cfg.method == "generative" else {}
                start = time.perf_counter()
                if is_oad:
                    results = {"oad": evaluate_oad(classifier, dataset, "test", oad_config(cfg.data),
                                                   cfg.eval.batch_size, **kwargs)}
                else:
                    results = evaluate(classifier, test, cfg.eval.batch_size,
                                       mixed_precision=cfg.train.mixed_precision, **kwargs)
                runs.append(Run(key, seed, history, results))
                timing.setdefault(key, {"train_seconds": [], "train_ms_per_step": [], "eval_seconds": [],
                                        "peak_gpu_memory_gib": []})
                for name, value in (("train_seconds", history.train_seconds),
                                    ("train_ms_per_step", history.ms_per_step),
                                    ("eval_seconds", time.perf_counter() - start),
                                    ("peak_gpu_memory_gib", history.peak_gpu_memory_gib)):
                    timing[key][name].append(value)
        state.wait_for_everyone()
    if not state.is_main_process:
        return None
    source = (f"{cfg.data.preset} ({cfg.data.size} size, synthetic)" if cfg.data.path is None
              else f"{dataset.name} ({layout} layout, {cfg.data.path})")
    payload = {"config": cfg.name, "method": cfg.method,
               "profile": cfg.data.size if cfg.data.path is None else "custom",
               "backbone": Setup(backbone=cfg.backbone).backbone_name, "dataset": source,
               "seeds": list(cfg.seeds), "kinds": list(kinds), "num_processes": state.num_processes,
               "settings": asdict(cfg), "timing": timing,
               "metrics": summarize(runs, kinds, OAD_METRICS) if is_oad else summarize(runs, kinds),
               "checkpoints": sorted(str(p) for p in out.glob("checkpoint*")),
               "seconds": time.perf_counter() - t0}
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "results.json", payload)
    return payload


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(prog="python -m gadlib.train", description=__doc__.split("\n\n")[0],
                                     epilog="Any other --section.field value overrides the config.")
    parser.add_argument("--config", required=True, help="a YAML run config (see configs/README.md)")
    args, rest = parser.parse_known_args(argv)
    quiet()
    cfg = load_config(args.config, rest)
    payload = run(cfg)
    if payload is not None:
        for method, metrics in payload["metrics"].items():
            if "oad_seg_f1_0.1" in metrics:  # OAD: the paper's two headline metrics
                line = (f"segment F1@0.1 {metrics['oad_seg_f1_0.1']['mean']:.3f}, "
                        f"point F1@1s {metrics['oad_point_f1_1s']['mean']:.3f}")
            else:
                line = "top-1 " + ", ".join(f"{k.removesuffix('_top1')} {v['mean']:.3f}" for k, v in metrics.items()
                                            if k.endswith("_top1") and not k.endswith("balanced_top1"))
            print(f"{method}: {line}")
        print(f"results: {Path(cfg.output_dir or Path('runs') / cfg.name) / 'results.json'} "
              f"({payload['seconds']:.0f} s, {payload['num_processes']} process(es))")
    return payload
