"""benchmarks/live_cost.py's profile: categories, attribution of a profiled call (hand-made event
trees), medians and differences, the scope wrappers, and its README tables (tiny functions, real
profiler)."""
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from gadlib.core import backbone
from gadlib.core.classifier import Prediction

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lc():
    spec = importlib.util.spec_from_file_location("live_cost", ROOT / "benchmarks" / "live_cost.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(name, self_us, children=(), seq=-1, start=0.0):
    return SimpleNamespace(name=name, self_cpu_time_total=self_us, cpu_children=list(children), sequence_nr=seq,
                           time_range=SimpleNamespace(start=start))


def test_category(lc):
    assert lc.category(()) == lc.REST
    assert lc.category(("last_states",)) == lc.READOUT
    assert lc.category(("last_states", "pad")) == lc.CATEGORIES["pad"]
    assert lc.category(("assemble", "embed_tokens")) == "prompt embeddings"
    assert lc.category(("teacher_forced", "embed_tokens")) == "target-token embeddings"
    assert lc.category(("embed_tokens",)) == lc.CATEGORIES["embed_tokens"]
    assert {s for _, _, s in lc.SCOPES} <= set(lc.CATEGORIES)


def test_attribute_call_forward_backward_optimizer(lc):
    S = lc.SCOPE
    call = event(lc.PATH + "gad", 3.0, [
        event(S + "connect", 2.0, [event("aten::linear", 1.0, [event("aten::addmm", 10.0, seq=6, start=2)],
                                         seq=5, start=1)], start=1),
        event("aten::add", 4.0, seq=8, start=3),  # issued by the call itself
        event(lc.ENGINE + ": AddmmBackward0", 0.5, [event("AddmmBackward0", 0.25, [event("aten::mm", 20.0)])],
              seq=6, start=4),
        # made inside an op (no forward op has its number): the latest op before it, addmm in connect
        event(lc.ENGINE + ": torch::autograd::CopySlices", 1.0, [event("aten::copy_", 5.0)], seq=7, start=5),
        event(lc.ENGINE + ": torch::autograd::AccumulateGrad", 0.5, [event("aten::detach", 0.5)], start=6),
        event("Optimizer.step#AdamW.step", 6.0, [event("aten::lerp_", 2.0)], start=7),
    ])
    out = lc.attribute_call(call)
    conn = lc.CATEGORIES["connect"]
    assert out[(lc.REST, lc.PYTHON, "forward")] == [3.0, 0]
    assert out[(lc.REST, "aten::add", "forward")] == [4.0, 1]
    assert out[(conn, lc.PYTHON, "forward")] == [2.0, 0]
    assert out[(conn, "aten::addmm", "forward")] == [10.0, 1]
    assert out[(conn, "aten::mm", "backward")] == [20.0, 1]
    assert out[(conn, "AddmmBackward0", "backward")] == [0.25, 0]
    assert out[(conn, lc.ENGINE, "backward")] == [1.5, 0]  # the two engine records
    assert out[(conn, "aten::copy_", "backward")] == [5.0, 1]
    assert out[(lc.ACCUMULATE, "aten::detach", "backward")] == [0.5, 1]
    assert out[(lc.OPTIMIZER, lc.PYTHON, "optimizer")] == [6.0, 0]
    assert out[(lc.OPTIMIZER, "aten::lerp_", "optimizer")] == [2.0, 1]
    total = sum(v[0] for v in out.values())
    assert total == pytest.approx(3 + 2 + 1 + 10 + 4 + 0.5 + 0.25 + 20 + 1 + 5 + 0.5 + 0.5 + 6 + 2)


def test_summarize_and_difference(lc):
    R, C = lc.REST, lc.CATEGORIES["connect"]
    base_calls = [{(R, "aten::mm", "forward"): [100.0, 2]}, {(R, "aten::mm", "forward"): [104.0, 2]},
                  {(R, "aten::mm", "forward"): [900.0, 2]}]  # a preempted call: the median ignores it
    path_calls = [{(R, "aten::mm", "forward"): [101.0, 2], (C, "aten::gelu", "forward"): [10.0, 1],
                   (C, lc.PYTHON, "forward"): [5.0, 0]},
                  {(R, "aten::mm", "forward"): [103.0, 2], (C, "aten::gelu", "forward"): [12.0, 1]},
                  {(R, "aten::mm", "forward"): [102.0, 2], (C, "aten::gelu", "forward"): [11.0, 1],
                   (C, lc.PYTHON, "forward"): [7.0, 0]}]
    base, path = lc.summarize(base_calls), lc.summarize(path_calls)
    assert base["us"] == 104.0 and base["aten_ops"] == 2
    assert path["by_category"][C] == {"us": 16.0, "ops": 1.0, "backward_us": 0.0, "python_us": 5.0}
    assert path["us"] == 102.0 + 16.0
    d = lc.difference(path, base)
    assert d["us"] == pytest.approx(14.0) and d["aten_ops"] == 1
    assert d["by_category"][R]["us"] == -2.0 and d["by_category"][C]["share"] == round(16 / 104, 4)
    assert list(d["top_ops"])[0] == "aten::gelu"
    top = lc._top({f"op{i}": {"us": float(i), "count": 1.0} for i in range(5)}, 2, key=lambda k: k)
    assert list(top) == ["op4", "op3", "(other ops)"] and top["(other ops)"] == {"us": 3.0, "count": 3.0}


def test_scoped_wraps_and_restores(lc):
    raw_pad, raw_from_logits = vars(backbone)["pad"], vars(Prediction)["from_logits"]
    clock = lc.ScopeClock()
    with lc.scoped(clock.wrap):
        assert vars(backbone)["pad"] is not raw_pad
        seconds = clock.call(lambda r: (backbone.pad([torch.ones(3, 2)]), Prediction.from_logits(torch.zeros(1, 4))), 0)
        backbone.pad([torch.ones(2, 2)])  # outside a clocked call: runs plainly
    assert vars(backbone)["pad"] is raw_pad and vars(Prediction)["from_logits"] is raw_from_logits
    assert set(seconds) == {lc.REST, lc.CATEGORIES["pad"], lc.CATEGORIES["from_logits"]}
    assert all(v >= 0 for v in seconds.values())


def test_profile_tables_from_real_profiles(lc):
    """profile_section on tiny functions that call scoped gadlib functions, then the README block."""
    x = torch.randn(1, 4)
    infer = {"backbone_forward": lambda r: x @ x.T,
             "discriminative_predict": lambda r: (x @ x.T, Prediction.from_logits(x)),
             "streaming_push": lambda r: (x @ x.T, backbone.pad([x[0, :, None]]))}
    w = torch.randn(4, 4, requires_grad=True)

    def step(extra):
        def run(r):
            y = (x @ w).sum()
            if extra:
                y = y + backbone.pad([(x @ w).T, (x @ w).T[:2]])[0].sum()
            y.backward()
        return run
    with torch.no_grad():
        inference = lc.profile_section(infer, "backbone_forward", 4, 0, warmup=1, chunk=2, clock=True)
    training = lc.profile_section({"discriminative": step(False), "gad": step(True)}, "discriminative", 3, 0,
                                  warmup=1, chunk=2, clock=False)
    training["updated_parameters"] = {"discriminative": 16, "gad": 16}
    pred = inference["extra"]["discriminative_predict"]
    assert lc.CATEGORIES["from_logits"] in pred["by_category"] and pred["clock"]["by_category"]
    pad = training["extra"]["gad"]["by_category"][lc.CATEGORIES["pad"]]
    assert pad["ops"] > 0 and pad["backward_us"] > 0  # the padding's backward found its forward scope
    result = json.loads((ROOT / "results" / "live_cost.json").read_text())
    result.pop("profile", None)  # the committed file's own profile: replaced by this one below
    plain = lc.readme_block(result)
    result["profile"] = json.loads(json.dumps({"settings": {"infer_reps": 4, "train_reps": 3, "train_batch": 16,
                                                            "threads": 1},
                                               "inference_b1": inference, "training_step": training}))
    block = lc.readme_block(result)
    assert block.startswith(plain) and "| extra over the bare forward (batch 1) |" in block
    assert f"| {lc.CATEGORIES['from_logits']} |" in block and "| extra of a GAD step" in block
    assert "| extra of a GAD step" in lc.report(result)
