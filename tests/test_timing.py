"""gadlib.evaluation.timing: round-robin order, warm-up, medians and per-sample division, checked with a
fake clock (no timing thresholds: what is asserted is arithmetic and call order)."""
from __future__ import annotations

import pytest
import torch

import gadlib.evaluation.timing as timing
from gadlib.core.classifier import Batch


class FakeClock:
    """time.perf_counter stand-in that only moves when a timed function says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_round_robin_warms_up_interleaves_in_seeded_random_orders_and_takes_medians(clock):
    calls = []
    # fn "a" takes 1, 2, 3, ... s on its timed runs (median of 5 runs = 3 s); "b" takes 10 s, but
    # 100 s on its first, warm-up call (which must not count); "c" alternates 1 s and 7 s.
    cost = {"a": lambda r: r + 1, "b": lambda r: 10, "c": lambda r: 1 if r % 2 else 7}
    warm = {"b": [100]}

    def make(name):
        def fn(r):
            calls.append((name, r))
            extra = warm[name].pop() if warm.get(name) else cost[name](r)
            clock.now += extra
        return fn
    fns = {name: make(name) for name in "abc"}
    ms = timing.round_robin_ms(fns, repeats=5, warmup=1, seed=3)
    assert ms == {"a": 3000.0, "b": 10000.0, "c": 7000.0}  # c: 7, 1, 7, 1, 7 -> median 7
    assert calls[:3] == [("a", 0), ("b", 0), ("c", 0)]  # one warm-up call each, first
    rounds = [calls[3 + 3 * r: 6 + 3 * r] for r in range(5)]
    assert all(sorted(n for n, _ in rnd) == ["a", "b", "c"] for rnd in rounds)
    assert all({r for _, r in rnd} == {i} for i, rnd in enumerate(rounds))
    orders = [tuple(n for n, _ in rnd) for rnd in rounds]
    assert len(set(orders)) > 1  # the order changes between rounds ...
    calls.clear()
    warm["b"] = [100]
    timing.round_robin_ms(fns, repeats=5, warmup=1, seed=3)
    assert [tuple(n for n, _ in calls[3 + 3 * r: 6 + 3 * r]) for r in range(5)] == orders  # ... reproducibly


def test_compare_latency_is_per_sample_over_every_batch_and_uses_predict(clock, test_samples):
    batches = timing.batches_of(test_samples[:5], 2)
    assert [len(b) for b in batches] == [2, 2, 1] and all(isinstance(b, Batch) for b in batches)

    class Model:
        """A 'classifier': 3 s per sample in predict; must be put in eval mode."""
        def __init__(self):
            self.training, self.seen = True, []

        def eval(self):
            self.training = False

        def predict(self, batch):
            assert not torch.is_grad_enabled() and not self.training
            self.seen.append(len(batch))
            clock.now += 3 * len(batch)

    def fixed(batch):  # a plain fn: 4 s per call, whatever the batch size
        clock.now += 4
    model = Model()
    ms = timing.compare_latency({"model": model, "fixed": fixed}, batches, repeats=3, warmup=2)
    assert ms == {"model": 3000.0, "fixed": pytest.approx(3 * 4000 / 5)}
    assert model.seen == [2, 2, 1] * 5  # 2 warm-up runs + 3 timed, each over all batches


def test_ms_per_sample_of_a_real_classifier(names, visual_dim, test_samples):
    from gadlib.lms.build import build_classifier
    clf = build_classifier("discriminative", names, visual_dim)
    clf.train()
    assert timing.ms_per_sample(clf, test_samples[:3], batch_size=2, repeats=1) > 0
    assert not clf.training


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="at least one function"):
        timing.round_robin_ms({})
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        timing.round_robin_ms({"a": lambda r: None}, repeats=0)
    with pytest.raises(ValueError, match="at least one batch"):
        timing.compare_latency({"a": lambda b: None}, [])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        timing.batches_of([1, 2], 0)
    timing.sync("cpu")
    timing.sync(None)
