"""Config-driven runs outside notebooks: train and evaluate one method, write a checkpoint, a
results JSON, the test predictions and the training curves.

    python -m gadlib.train --config configs/smoke.yaml [--train.epochs 1] [--backbone PATH_OR_NAME]
    python -m gadlib.train --config configs/smoke.yaml --eval-only --checkpoint runs/smoke/gad/checkpoint
    accelerate launch --multi_gpu --num_processes 2 -m gadlib.train --config configs/coin_gpu.yaml

A config is a YAML file with the sections of `gadlib.tools.run_config.RunConfig` (configs/README.md,
`--help` lists every field); every field can be overridden as `--section.field value`. The whole
config is checked before any data is loaded; an error is one line and exit status 2.
Each run writes to `<output_dir>/<run key>/` (default `runs/<config name>/<run key>/`, the run
key being the method and its label mapping: `gad`, `generative_desync`): `results.json` (method
-> metric -> mean, std, per_seed, plus the loss curves' summary), `predictions.npz`
(`gadlib.evaluation.predictions`), `logs/seed<k>/curves.csv` and `checkpoint/`. An existing run is never
replaced without `--overwrite`. Compare runs with `python -m gadlib.compare`.

Explained in notebooks/01_generative_vs_discriminative.ipynb (the same training and evaluation).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from accelerate import PartialState
from accelerate.utils import parse_flag_from_env

from gadlib.core.backbone import EMBEDDED_NAMES, BackboneConfig
from gadlib.data.benchmark import preset
from gadlib.lms.build import load_classifier, build_classifier
from gadlib.data.datasets import VideoDataset, ensure_benchmark, read_coin, read_oad
from gadlib.evaluation.experiment import OFFLINE_KINDS, Run, Setup, offline_samples, summarize
from gadlib.evaluation.oad import EpochWindows, evaluate_oad
from gadlib.evaluation.streaming import streaming_fps
from gadlib.data.recipe import ambiguous_as_class, exclude_videos
from gadlib.evaluation.predictions import PREDICTIONS_FILE, save_predictions, table
from gadlib.core.prompts import LABEL_SET_OF_KIND
from gadlib.evaluation.results import _write_json
from gadlib.tools.run_config import (ALIASES, COIN_FRAMES, DATA_SET, DataConfig, EvalConfig, RunConfig,  # noqa: F401
                                    classifier_options, config_help, frame_rule, load_config, oad_config,
                                    parse_overrides, run_key, validate_config)
from gadlib.data.samples import Sample, label_names
from gadlib.core.sharding import end_process_group
from gadlib.core.tracking import CURVES_FILE, curve_summary
from gadlib.core.training import History, evaluate, resolve_mixed_precision, train
from gadlib.core.utils import quiet

PROG = "python -m gadlib.train"


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
            dataset, layout = read_coin(root, features=cfg.features or "features", fps=cfg.fps,
                                        missing_features=cfg.missing_features, clip_frames=cfg.clip_frames,
                                        frame_rule=COIN_FRAMES[cfg.coin_frames][0],
                                        spans=cfg.coin_task_span == "video", classes=cfg.coin_classes), "coin"
        elif (root / "data_info.json").is_file():
            # "rgb,flow": several feature folders, concatenated per frame (TeSTra's RGB + flow)
            folders = (cfg.features or "rgb_features").split(",")
            dataset = read_oad(root, feature_dir=folders if len(folders) > 1 else folders[0],
                               name=cfg.data_info_key, mmap=cfg.mmap)
            layout = "oad"
            if cfg.thumos_ambiguous == "class":
                dataset = ambiguous_as_class(dataset)
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
        # a preset without an ignored class has nothing to turn into one (a smoke run of paper_thumos)
        if cfg.thumos_ambiguous == "class" and dataset.oad_info and dataset.oad_info.ignored_column() is not None:
            dataset = ambiguous_as_class(dataset)
        if cfg.coin_task_span == "video" and layout == "coin":  # a synthetic video is its annotated span
            dataset = replace(dataset, videos=[replace(v, span=v.span or (0, len(v.features))) for v in dataset.videos])
    if cfg.exclude_videos is not None:
        dataset = exclude_videos(dataset, Path(cfg.exclude_videos).expanduser())
    dataset = _first_videos(_first_videos(dataset, "train", cfg.max_train_videos), "test", cfg.max_test_videos)
    return dataset, layout


def task_kinds(cfg: DataConfig, layout: str) -> tuple[str, ...]:
    """The sample kinds trained jointly: the config's, else the layout's tasks."""
    kinds = tuple(cfg.kinds) if cfg.kinds else (OFFLINE_KINDS if layout == "coin" else ("oad",))
    unknown = set(kinds) - set(LABEL_SET_OF_KIND)
    if unknown or ("oad" in kinds and len(kinds) > 1):
        raise ValueError(f"data.kinds must be some of {list(OFFLINE_KINDS)}, or [oad] alone; got {list(kinds)}")
    return kinds


# batched_frames_per_s: dense evaluation's throughput, never the paper's FPS; streaming_fps (with
# eval.streaming_fps) is the paper's protocol (gadlib.evaluation.streaming).
OAD_METRICS = ("seg_f1_0.1", "seg_f1_0.25", "seg_f1_0.5", "point_f1_1s", "point_f1_2s", "map", "cap",
               "frame_acc", "batched_frames_per_s")


def task_samples(dataset: VideoDataset, cfg: DataConfig, kinds: tuple[str, ...], subset: str,
                 seed: int = 0, epoch: int | None = None) -> list[Sample]:
    """The training samples of `subset`, drawn per (seed, epoch): jittered frames for step / task
    samples, OAD windows on a frame grid shifted by a seeded offset per video (`gadlib.evaluation.oad.EpochWindows`,
    as `gadlib.evaluation.oad.run_oad`)."""
    if kinds == ("oad",):
        return EpochWindows(dataset, subset, oad_config(cfg), seed)(epoch or 0)
    rng = np.random.default_rng([seed, epoch]) if epoch is not None else None
    return offline_samples(dataset, subset, cfg.num_frames, kinds, rng=rng, max_frames=cfg.max_frames,
                           rule=frame_rule(cfg))


def label_sets(dataset: VideoDataset, kinds: tuple[str, ...]) -> dict[str, list[str]]:
    """{label set: class names} of the heads the kinds need (steps shared by step and next)."""
    return {LABEL_SET_OF_KIND[k]: label_names(dataset, LABEL_SET_OF_KIND[k]) for k in kinds}


def backbone_for_precision(backbone: BackboneConfig, mixed_precision: str) -> BackboneConfig:
    """Load the frozen LM in the precision it computes in: float32 without mixed precision (CPU:
    a bf16 checkpoint would feed bf16 hidden states to the float32 heads), float16 on a GPU
    without bf16 (a T4), the checkpoint's own dtype (bf16 for Llama-3.2) otherwise."""
    if backbone.name in EMBEDDED_NAMES or backbone.dtype != "auto":
        return backbone
    dtype = {"no": "float32", "fp16": "float16", "bf16": "auto"}[resolve_mixed_precision(mixed_precision)]
    return replace(backbone, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

def run_folder(cfg: RunConfig, eval_only: bool = False) -> Path:
    """<output_dir or runs/<name>>/<run key>[_eval]/: one folder per method, so the methods of a
    config live side by side (`python -m gadlib.compare runs/<name>`)."""
    key = run_key(cfg.method, cfg.method_kwargs)
    return Path(cfg.output_dir or Path("runs") / cfg.name) / (f"{key}_eval" if eval_only else key)


def check_outputs(folder: Path, seeds: list[int], overwrite: bool, resume: bool) -> None:
    """Refuse to replace another run's outputs unless asked to (`--overwrite`); `--resume true`
    continues the run in `folder`. With `overwrite`, only the curves files are removed here (the
    training loop refuses to append to another run's curve); the rest is replaced atomically."""
    curves = [folder / "logs" / f"seed{s}" / CURVES_FILE for s in seeds]
    if overwrite and not resume:
        for path in curves:
            path.unlink(missing_ok=True)
    if overwrite or resume:
        return
    found = [p for p in [folder / "results.json", folder / PREDICTIONS_FILE, *curves,
                         *sorted(folder.glob("checkpoint*"))] if p.exists()]
    if found:
        raise FileExistsError(f"{found[0]} exists (an earlier run): pass --overwrite to replace it, "
                              "--resume true to continue it, or choose another --output-dir")


def checkpoint_spec(folder: str | Path, cfg: RunConfig) -> dict:
    """The spec.json of a checkpoint to evaluate, checked against the config before any data loads."""
    path = Path(folder) / "spec.json"
    if not path.is_file():
        raise FileNotFoundError(f"--checkpoint {folder}: no spec.json (a folder written by python -m gadlib.train)")
    spec = json.loads(path.read_text())
    # the spec also records the options the config sets outside method_kwargs (DATA_SET: loss
    # weighting, GAD's loss norm, decoding), which the config's own sections carry
    own = {k: v for k, v in spec["method_kwargs"].items() if k not in DATA_SET}
    if (spec["method"], own) != (cfg.method, cfg.method_kwargs):
        raise ValueError(f"--checkpoint {folder} holds method {spec['method']!r} with method_kwargs "
                         f"{spec['method_kwargs']}, the config {cfg.method!r} with {cfg.method_kwargs}: "
                         "pass the config it was trained with (or --method / --method_kwargs)")
    return spec


def prediction_tables(key: str, seed: int, results: dict, test: list[Sample] | None, save_scores: bool) -> dict:
    """{(key, seed, kind): table} of one evaluation, for predictions.npz."""
    if "oad" in results and test is None:
        dense = results["oad"]["videos"]
        return {(key, seed, "oad"): table(
            np.concatenate([[d.video_id] * len(d.pred) for d in dense]),
            np.concatenate([np.arange(len(d.pred)) for d in dense]),
            np.concatenate([d.truth for d in dense]), np.concatenate([d.pred for d in dense]),
            np.concatenate([d.scores for d in dense]) if save_scores else None,
            np.concatenate([d.ignored for d in dense]))}
    out = {}
    for kind, r in results.items():
        group = [s for s in test if s.kind == kind]  # evaluate() keeps each kind's samples in order
        out[(key, seed, kind)] = table([s.video_id for s in group], [s.frame for s in group], r["targets"],
                                       r["pred"], r["scores"] if save_scores else None)
    return out


def train_counts(dataset: VideoDataset, cfg: DataConfig, kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Training frames (OAD) or samples per class of each label set: the class prior."""
    names = label_sets(dataset, kinds)
    if kinds == ("oad",):
        labels = [np.asarray(v.frame_labels())[~v.ignored_mask()] for v in dataset.split("train")]
        return {"oad": np.bincount(np.concatenate(labels), minlength=len(names["oad"]))}
    out = {}
    for s in offline_samples(dataset, "train", 1, kinds):
        counts = out.setdefault(LABEL_SET_OF_KIND[s.kind], np.zeros(len(names[LABEL_SET_OF_KIND[s.kind]]), np.int64))
        counts[s.target] += 1
    return out


def run(cfg: RunConfig, overwrite: bool = False, checkpoint: str | Path | None = None) -> dict | None:
    """Train (or, with `checkpoint`, only evaluate) `cfg.method` for every seed; the main process
    writes results.json and predictions.npz to `run_folder(cfg)` and returns the results (other
    processes return None). Every check that needs no data runs first."""
    t0 = time.perf_counter()
    validate_config(cfg)
    spec = checkpoint_spec(checkpoint, cfg) if checkpoint is not None else None
    seeds = [spec["seed"]] if spec else list(cfg.seeds)
    out = run_folder(cfg, eval_only=spec is not None)
    check_outputs(out, seeds, overwrite, cfg.resume)
    key = run_key(cfg.method, cfg.method_kwargs)
    # ACCELERATE_USE_CPU (`accelerate launch --cpu`) must reach the process group, or CPU ranks
    # would each think they are alone.
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    with state.main_process_first():  # the main process generates a preset once, the others read it
        dataset, layout = load_data(cfg.data)
    kinds = task_kinds(cfg.data, layout)
    names = label_sets(dataset, kinds)
    if spec is not None and spec["label_names"] != names:
        raise ValueError(f"--checkpoint {checkpoint} was trained on other classes than this config's data "
                         f"({sorted(spec['label_names'])} vs {sorted(names)}, or their names differ)")
    is_oad = kinds == ("oad",)
    # OAD: every frame of every test video (dense, `evaluate_oad`); otherwise the test samples
    test = None if is_oad else offline_samples(dataset, "test", cfg.data.num_frames, kinds,
                                               max_frames=cfg.data.max_frames, rule=frame_rule(cfg.data))
    extra = classifier_options(cfg, is_oad)
    backbone = backbone_for_precision(cfg.backbone, cfg.train.mixed_precision)
    decodings = cfg.eval.decodings if cfg.method == "generative" else ["greedy"]
    runs, timing, curves, tables = [], {}, {}, {}
    for seed in seeds:
        if spec is not None:
            classifier, history = load_classifier(checkpoint), History()
            for option in ("oad_new_tokens", "snap_set", "snap_ties"):  # inference options: the config's
                if option in extra:
                    setattr(classifier, option, extra[option])
        else:
            folder = out / ("checkpoint" if len(seeds) == 1 else f"checkpoint-seed{seed}")
            classifier = build_classifier(cfg.method, names, dataset.feature_dim, backbone, seed=seed,
                                          **extra, **cfg.method_kwargs)
            resume = folder if cfg.resume and (folder / "training_state.pt").is_file() else None
            epochs = (EpochWindows(dataset, "train", oad_config(cfg.data), seed) if is_oad
                      else lambda epoch, seed=seed: task_samples(dataset, cfg.data, kinds, "train", seed, epoch))
            history = train(classifier, epochs,
                            replace(cfg.train, seed=seed, checkpoint_dir=str(folder),
                                    log_dir=str(out / "logs" / f"seed{seed}")), resume_from=resume)
        for decoding in decodings:  # every process evaluates its share (gadlib.core.sharding)
            name = key if decoding == "greedy" else f"{key}_{decoding}"
            kwargs = {"decoding": decoding} if cfg.method == "generative" else {}
            start = time.perf_counter()
            if is_oad:
                results = {"oad": evaluate_oad(classifier, dataset, "test", oad_config(cfg.data),
                                               cfg.eval.batch_size, **kwargs)}
                if cfg.eval.streaming_fps and state.is_main_process:  # the paper's FPS: one process, batch 1
                    results["oad"]["metrics"]["streaming_fps"] = streaming_fps(
                        classifier, dataset.split("test"), oad_config(cfg.data), **kwargs)
            else:
                results = evaluate(classifier, test, cfg.eval.batch_size,
                                   mixed_precision=cfg.train.mixed_precision, **kwargs)
            if not state.is_main_process:
                continue
            runs.append(Run(name, seed, history, results))
            tables.update(prediction_tables(name, seed, results, test, cfg.eval.save_scores))
            curves.setdefault(name, []).append({"seed": seed, **curve_summary(history.loss, history.epoch_loss,
                                                                              history.lr)})
            timing.setdefault(name, {"train_seconds": [], "train_ms_per_step": [], "eval_seconds": [],
                                     "peak_gpu_memory_gib": []})
            for metric, value in (("train_seconds", history.train_seconds),
                                  ("train_ms_per_step", history.ms_per_step),
                                  ("eval_seconds", time.perf_counter() - start),
                                  ("peak_gpu_memory_gib", history.peak_gpu_memory_gib)):
                timing[name][metric].append(value)
        state.wait_for_everyone()
    if not state.is_main_process:
        return None
    source = (f"{cfg.data.preset} ({cfg.data.size} size, synthetic)" if cfg.data.path is None
              else f"{dataset.name} ({layout} layout, {cfg.data.path})")
    out.mkdir(parents=True, exist_ok=True)
    save_predictions(out / PREDICTIONS_FILE, tables, names, train_counts(dataset, cfg.data, kinds))
    payload = {"config": cfg.name, "run": key, "method": cfg.method, "method_kwargs": cfg.method_kwargs,
               "profile": cfg.data.size if cfg.data.path is None else "custom",
               "backbone": Setup(backbone=cfg.backbone).backbone_name, "dataset": source,
               "seeds": seeds, "kinds": list(kinds), "num_processes": state.num_processes,
               "eval_only": str(checkpoint) if spec is not None else None,
               "settings": asdict(cfg), "paper": cfg.paper, "timing": timing, "curves": curves,
               "metrics": (summarize(runs, kinds, OAD_METRICS + ("streaming_fps",) * cfg.eval.streaming_fps)
                           if is_oad else summarize(runs, kinds)),
               "predictions": PREDICTIONS_FILE,
               "checkpoints": sorted(str(p) for p in out.glob("checkpoint*")),
               "seconds": time.perf_counter() - t0}
    _write_json(out / "results.json", payload)
    return payload


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=config_help() + "\n\nShort forms: " +
                                ", ".join(f"--{k} = --{v}" for k, v in ALIASES.items()))
    p.add_argument("--config", required=True, help="a YAML run config (see configs/README.md)")
    p.add_argument("--overwrite", action="store_true", help="replace the results of an earlier run in the same folder")
    p.add_argument("--eval-only", action="store_true", help="evaluate --checkpoint without training")
    p.add_argument("--checkpoint", help="a checkpoint folder (with --eval-only)")
    return p


def run_args(argv: list[str] | None = None) -> dict | None:
    """Parse the command line, run, print a summary; returns `run`'s results (None on other
    processes than the main one). Errors raise (see `main`)."""
    args, rest = parser().parse_known_args(argv)
    if args.eval_only != (args.checkpoint is not None):
        raise ValueError("--eval-only and --checkpoint DIR go together")
    quiet()
    cfg = load_config(args.config, rest)
    payload = run(cfg, overwrite=args.overwrite, checkpoint=args.checkpoint)
    if payload is not None:
        for method, metrics in payload["metrics"].items():
            if "oad_seg_f1_0.1" in metrics:  # OAD: the paper's two headline metrics
                line = (f"segment F1@0.1 {metrics['oad_seg_f1_0.1']['mean']:.3f}, "
                        f"point F1@1s {metrics['oad_point_f1_1s']['mean']:.3f}")
            else:
                line = "top-1 " + ", ".join(f"{k.removesuffix('_top1')} {v['mean']:.3f}" for k, v in metrics.items()
                                            if k.endswith("_top1") and not k.endswith("balanced_top1"))
            print(f"{method}: {line}")
        print(f"results: {run_folder(cfg, args.eval_only) / 'results.json'} "
              f"({payload['seconds']:.0f} s, {payload['num_processes']} process(es))")
    return payload


def main(argv: list[str] | None = None) -> int:
    """`python -m gadlib.train`: 0 on success; a bad config, data folder or checkpoint prints one
    line naming what is at fault and returns 2 (argparse's own errors exit with 2 too)."""
    try:
        run_args(argv)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    # Under `accelerate launch`: every process ends the process group before it exits, or one
    # can abort at exit (`gadlib.core.sharding.end_process_group`). Not after an error: another
    # process may never reach the barrier.
    end_process_group()
    return 0
