"""Shared small fixtures for the model-core tests: one tiny, easy synthetic data set and briefly
trained classifiers on the embedded tiny Llama (CPU, a second or so each)."""
from __future__ import annotations

import pytest
import torch

from gadlib.data.benchmark import generate_benchmark, preset
from gadlib.core.classifier import collate
from gadlib.lms.build import build_classifier
from gadlib.data.samples import label_names, step_forecasting_samples, step_recognition_samples
from gadlib.core.training import TrainConfig, train
from gadlib.lessons.widgets import STATIC_ENV

# One intra-op thread: these matrices are tiny, and when other processes share the 2 cores,
# torch's 2-thread OpenMP pool was measured 30-40x slower than 1 thread (spinning workers).
torch.set_num_threads(1)

# Low noise: a small model learns step recognition in a few epochs.
DATA_CONFIG = dict(num_classes=8, num_tasks=2, steps_per_task=(4, 6), videos_per_task=12,
                   test_fraction=0.25, noise=0.5)
QUICK_TRAIN = dict(batch_size=16, lr=2e-3, progress=False)


@pytest.fixture(autouse=True)
def live_widgets(monkeypatch):
    """Unit tests see the explorers as a live notebook does (the root conftest.py makes the
    notebooks' kernels headless: `gadlib.lessons.widgets.STATIC_ENV`)."""
    monkeypatch.delenv(STATIC_ENV, raising=False)


def tiny_oad_stream(videos_per_task: int = 2):
    """A tiny thumos-like OAD stream: 5 classes + background, 16-d features, ~20 frames per video."""
    return generate_benchmark(preset("thumos_like", videos_per_task=videos_per_task, num_tasks=2, num_classes=5,
                                     steps_per_task=(2, 3), feature_dim=16, step_frames=(3, 6),
                                     background_frames=(2, 4)))


@pytest.fixture(scope="session")
def dataset():
    return generate_benchmark(preset("coin_like", **DATA_CONFIG))


@pytest.fixture(scope="session")
def names(dataset):
    return {"steps": label_names(dataset, "steps")}


@pytest.fixture(scope="session")
def visual_dim(dataset):
    return dataset.videos[0].features.shape[2]


@pytest.fixture(scope="session")
def train_samples(dataset):
    return step_recognition_samples(dataset, "train", num_frames=2)


@pytest.fixture(scope="session")
def test_samples(dataset):
    return step_recognition_samples(dataset, "test", num_frames=2)


@pytest.fixture(scope="session")
def mixed_batch(dataset):
    """Samples of one label set ("steps") with different prefix lengths: step recognition with
    2 frames and forecasting with 3 frames (a longer prompt and more visual tokens)."""
    steps = step_recognition_samples(dataset, "test", num_frames=2)[:3]
    nexts = step_forecasting_samples(dataset, "test", num_frames=3)[:2]
    return collate([steps[0], nexts[0], steps[1], nexts[1], steps[2]])


@pytest.fixture(scope="session")
def trained(names, visual_dim, train_samples):
    """trained(method, **kwargs): a classifier trained for a few epochs (cached per recipe), in
    eval mode, with its training `history`. Callers must not train it further (it is shared)."""
    cache = {}

    def get(method: str, epochs: int = 4, **kwargs):
        key = (method, epochs, tuple(sorted(kwargs.items())))
        if key not in cache:
            clf = build_classifier(method, names, visual_dim, seed=0, **kwargs)
            history = train(clf, train_samples, TrainConfig(epochs=epochs, **QUICK_TRAIN))
            clf.eval()
            clf.history = history  # per-step losses, for tests of training itself
            cache[key] = clf
        return cache[key]

    return get


@pytest.fixture(autouse=True)
def fresh_predictions():
    """Each test is a fresh kernel for the "predict, then check" exercises: no prediction shown yet
    (gadlib.lessons.exercises.common remembers the ones shown beside their measurement)."""
    from gadlib.lessons.exercises.common import forget_predictions
    forget_predictions()
    yield
    forget_predictions()
