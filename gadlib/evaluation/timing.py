"""Latency: per-sample inference time of classifiers on the same inputs, measured fairly.

Timing one method after another lets a slow spell of the machine, or a first call's lazy
initialisation, land on one of them only (an executed notebook once showed GAD at 1.0 ms and the
discriminative classifier at 2.5 ms per sample, although both run the same code). So methods are
warmed up, then timed round-robin in a fresh seeded random order every round, and the median
over rounds is reported.

Explained in notebooks/01_generative_vs_discriminative.ipynb (and benchmarks/speed.py).
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np
import torch

from gadlib.core.classifier import Batch, collate


def sync(device: torch.device | str | None) -> None:
    """Wait for queued GPU work, so a timer measures it (no-op on CPU)."""
    device = torch.device(device) if device is not None else None
    if device is None or device.type == "cpu":
        return
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def round_robin_ms(fns: dict[str, Callable[[int], Any]], repeats: int = 10, warmup: int = 3, seed: int = 0,
                   device: torch.device | str | None = None) -> dict[str, float]:
    """Median milliseconds of each `fn(run_index)`, timed round-robin.

    Every fn first runs `warmup` untimed times. Then each of `repeats` rounds times every fn once,
    in a fresh random order drawn from `seed`, so a slow spell of the machine hits all of them
    alike and no fn always runs right after the same neighbour. `device` is synchronised around
    every timed call.
    """
    if not fns:
        raise ValueError("round_robin_ms needs at least one function to time")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    names = list(fns)
    for name in names:
        for i in range(warmup):
            fns[name](i)
    sync(device)
    times: dict[str, list[float]] = {name: [] for name in names}
    order = np.random.default_rng(seed)
    for r in range(repeats):
        for name in order.permutation(names).tolist():
            sync(device)
            t0 = time.perf_counter()
            fns[name](r)
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def batches_of(samples: list, batch_size: int) -> list[Batch]:
    """Samples collated into consecutive batches (outside any timed region)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return [collate(samples[i:i + batch_size]) for i in range(0, len(samples), batch_size)]


def compare_latency(predictors: dict[str, Callable[[Batch], Any]], batches: list[Batch], repeats: int = 10,
                    warmup: int = 3, seed: int = 0, device: torch.device | str | None = None) -> dict[str, float]:
    """Median milliseconds per sample of each predictor over the same `batches`, under no_grad.

    A predictor is a classifier (its `predict` is timed, in eval mode) or any fn(batch). One
    timed run calls it on every batch in turn; runs are interleaved by `round_robin_ms`.
    """
    if not batches:
        raise ValueError("compare_latency needs at least one batch")
    n = sum(len(b) for b in batches)
    fns = {}
    for name, p in predictors.items():
        if hasattr(p, "predict"):
            p.eval()
            p = p.predict

        def over_batches(_, fn=p):
            for b in batches:
                fn(b)
        fns[name] = over_batches
    with torch.no_grad():
        ms = round_robin_ms(fns, repeats=repeats, warmup=warmup, seed=seed, device=device)
    return {name: v / n for name, v in ms.items()}


def ms_per_sample(classifier, samples, batch_size: int, repeats: int = 3, **predict_kwargs) -> float:
    """Median over `repeats` of one classifier's time to predict `samples` in batches, per sample
    (ms), after one warm-up run. To compare several classifiers, use `compare_latency`."""
    def predict(batch):
        return classifier.predict(batch, **predict_kwargs)
    classifier.eval()
    return compare_latency({"it": predict}, batches_of(samples, batch_size), repeats=repeats, warmup=1,
                           device=classifier.mllm.device)["it"]
