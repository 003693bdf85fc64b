"""Run a comparison: the same backbone, data and budget for every method, over several seeds.

A notebook defines the settings once (`Setup`), then `run(method, seed, ...)` trains and
evaluates one model, and `summarize` turns the runs into the results-file schema
(METHOD -> METRIC -> mean, std, per-seed values).

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from gadlib.core.backbone import EMBEDDED, EMBEDDED_SCRATCH, BackboneConfig
from gadlib.data.datasets import VideoDataset
from gadlib.lms.build import build_classifier
from gadlib.evaluation.metrics import mean_std
from gadlib.data.samples import (MAX_FRAMES, FrameRule, Sample, label_names, step_forecasting_samples, step_recognition_samples,
                      task_recognition_samples)
from gadlib.core.training import History, TrainConfig, evaluate, train

OFFLINE_KINDS = ("step", "next", "task")


@dataclass
class Setup:
    """Everything that must be the same for the methods being compared."""
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    num_frames: int | str | None = 4  # frames sampled per step / per video; None or "all": every frame
    kinds: tuple = OFFLINE_KINDS  # trained jointly: one step head (recognition + forecasting), one task head
    max_frames: int = MAX_FRAMES  # the cap on every-frame samples (evenly subsampled beyond it)

    @property
    def backbone_name(self) -> str:
        names = {EMBEDDED_SCRATCH: "tiny Llama (random init, embedded)",
                 EMBEDDED: "tiny Llama (pretrained on the synthetic world, embedded)"}
        return names.get(self.backbone.name, self.backbone.name)


def offline_samples(dataset: VideoDataset, subset: str, num_frames: int | str | None, kinds=OFFLINE_KINDS,
                    rng: np.random.Generator | None = None, max_frames: int = MAX_FRAMES,
                    rule: FrameRule = FrameRule()) -> list[Sample]:
    """Joint samples of the three offline tasks (step recognition, forecasting, task recognition).
    num_frames None or "all": every frame of each span, at most max_frames (`FrameRule`)."""
    build = {"step": step_recognition_samples, "next": step_forecasting_samples, "task": task_recognition_samples}
    return [s for kind in kinds
            for s in build[kind](dataset, subset, num_frames, rng=rng, max_frames=max_frames, rule=rule)]


@dataclass
class Run:
    """One trained model: its method, seed, training history and test predictions per kind."""
    method: str
    seed: int
    history: History
    results: dict           # evaluate(): {kind: {"scores", "pred", "targets", "metrics"}}
    classifier: object = None

    def metric(self, kind: str, name: str) -> float:
        return self.results[kind]["metrics"][name]


def run(method: str, dataset: VideoDataset, seed: int, setup: Setup, test: list[Sample] | None = None,
        decodings: tuple[str, ...] = ("greedy",), keep_model: bool = False, name: str | None = None,
        validate_on: str | None = None, **method_kwargs) -> dict[str, Run]:
    """Train one `method` model with `seed` and evaluate it on the test split.

    Training samples are re-drawn every epoch with jittered frames (a seeded augmentation).
    A generative model is evaluated once per decoding ("greedy": the paper's protocol;
    "exact": class log-likelihood ranking); the runs are keyed `name` (default: the method) and
    `name + "_exact"`. validate_on: a subset ("val", `VideoDataset.with_validation`) whose top-1,
    averaged over the kinds, is measured during training: the run keeps the best epoch and stops
    after `setup.train.patience` epochs without a better one (`History.val_score`: the learning curve).
    """
    name = name or method
    names = {"steps": label_names(dataset, "steps")}
    if "task" in setup.kinds:
        names["tasks"] = label_names(dataset, "tasks")
    model = build_classifier(method, names, dataset.feature_dim, setup.backbone, seed=seed, **method_kwargs)
    epoch_samples = lambda epoch: offline_samples(dataset, "train", setup.num_frames, setup.kinds,
                                                  rng=np.random.default_rng([seed, epoch]),
                                                  max_frames=setup.max_frames)
    validate = None
    if validate_on is not None:
        val = offline_samples(dataset, validate_on, setup.num_frames, setup.kinds, max_frames=setup.max_frames)
        # top-1 from the predictions, which every process has (the metrics only the main one)
        validate = lambda m: float(np.mean([np.mean(r["pred"] == r["targets"]) for r in evaluate(m, val).values()]))  # noqa: E731
    history = train(model, epoch_samples, replace(setup.train, seed=seed), validate=validate)
    test = test if test is not None else offline_samples(dataset, "test", setup.num_frames, setup.kinds,
                                                         max_frames=setup.max_frames)
    if method != "generative":
        return {name: Run(name, seed, history, evaluate(model, test), model if keep_model else None)}
    out = {}
    for decoding in decodings:
        key = name if decoding == "greedy" else f"{name}_{decoding}"
        out[key] = Run(key, seed, history, evaluate(model, test, decoding=decoding), model if keep_model else None)
    return out


def summarize(runs: list[Run], kinds=OFFLINE_KINDS, metrics=("top1", "top5", "balanced_top1")) -> dict:
    """{method: {"<kind>_<metric>": {"mean", "std", "per_seed"}}} in seed order."""
    out = {}
    for method in dict.fromkeys(r.method for r in runs):
        mine = sorted((r for r in runs if r.method == method), key=lambda r: r.seed)
        out[method] = {f"{kind}_{m}": mean_std([r.metric(kind, m) for r in mine])
                       for kind in kinds if kind in mine[0].results for m in metrics}
    return out


def convergence(runs: list[Run]) -> dict:
    """{"<method> seed <seed>": {steps_run, best_step, converged, val_steps, val_score}}: each run's
    training to convergence as the results files store it (`gadlib.lessons.plots.plot_learning_curves`
    draws it). converged: patience stopped the run after it had scored above zero; a run that
    reached its epoch cap, or never left zero (collapsed), is not shown converged, and its
    comparisons are "not testable" (`gadlib.evaluation.intervals.judge`)."""
    return {f"{r.method} seed {r.seed}": {"steps_run": r.history.steps, "best_step": r.history.best_step,
                                          "converged": has_converged(r.history),
                                          "val_steps": list(r.history.val_steps), "val_score": list(r.history.val_score)}
            for r in runs}


def has_converged(history: History) -> bool:
    """Patience stopped the run, not its epoch cap, and it scored above zero on validation (a run
    whose every validation scored zero never started to learn: a collapsed model, not a result)."""
    return history.stopped_early and max(history.val_score, default=0.0) > 0


def converged(runs: list[Run], *methods: str) -> bool:
    """Did every run of `methods` (all runs when none is named) converge (`has_converged`)?"""
    return all(has_converged(r.history) for r in runs if not methods or r.method in methods)


def steps_to_reach(history: History, target: float) -> int | None:
    """The first validated optimizer step at which the validation score reached `target`."""
    return next((step for step, score in zip(history.val_steps, history.val_score) if score >= target), None)


def kept_score(history: History) -> float:
    """The validation score of the kept weights (at `best_step`); the best score when none is marked.
    The kept weights are the run's result, so a target taken from them is one the run reached."""
    scores = dict(zip(history.val_steps, history.val_score))
    return scores.get(history.best_step, max(history.val_score, default=0.0))


def learning_speed(runs: list[Run], a: str, b: str, share: float = 0.8) -> list[dict]:
    """"Learns faster", measured per seed: the target is `share` of the lower of the two runs' kept
    validation scores (`kept_score`), so each reached it by its kept step at the latest; the steps
    each needed to first reach it. Returns [{"seed", "target", "share", "kept": {a: score, b: score},
    a: steps, b: steps}] in seed order."""
    out = []
    for seed in sorted({r.seed for r in runs if r.method == a}):
        ra, rb = (next(r for r in runs if r.method == m and r.seed == seed) for m in (a, b))
        kept = {a: kept_score(ra.history), b: kept_score(rb.history)}
        target = share * min(kept.values())
        out.append({"seed": seed, "target": target, "share": share, "kept": kept,
                    a: steps_to_reach(ra.history, target), b: steps_to_reach(rb.history, target)})
    return out
