"""Latency: per-sample inference time of any classifier on the same inputs.

Explained in notebooks/01_generative_vs_discriminative.ipynb (and benchmarks/speed.py).
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .classifier import collate


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def ms_per_sample(classifier, samples, batch_size: int, repeats: int = 3, **predict_kwargs) -> float:
    """Median over `repeats` of the time to predict `samples` in batches, per sample (ms).

    One warm-up batch first (allocations, lazy init). The samples are collated outside the
    timed region: we time the model, not the data pipeline.
    """
    classifier.eval()
    batches = [collate(samples[i:i + batch_size]) for i in range(0, len(samples), batch_size)]
    classifier.predict(batches[0], **predict_kwargs)
    device = classifier.mllm.device
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        for b in batches:
            classifier.predict(b, **predict_kwargs)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times)) / len(samples)
