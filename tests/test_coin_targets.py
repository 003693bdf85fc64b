"""The authors' COIN protocol (issue 18): GAD's generation target per sample kind, what a
generate-first model writes before [CLS], every-frame sampling capped at max_frames, and the
paper's COIN configs (1B, 8B) with their GPU-memory ESTIMATE."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gadlib.core.classifier import collate
from gadlib.data.datasets import Segment, Video, VideoDataset
from gadlib.evaluation.experiment import offline_samples
from gadlib.lms.build import build_classifier
from gadlib.tools.run_config import DataConfig, load_config, validate_config
from gadlib.data.samples import MAX_FRAMES, frames_setting, label_names, step_forecasting_samples, step_recognition_samples, task_recognition_samples
from gadlib.core.gad import context_before_answer

from test_classifiers import full_logprobs, last_hidden

ROOT = Path(__file__).resolve().parents[1]
STEPS = ["crack egg", "whisk eggs", "heat pan", "pour batter"]
TASKS = ["make omelette", "make pancake"]
TOKENS, DIM = 2, 3


def _indexed(T: int) -> np.ndarray:
    """Features whose every value is its frame index, so a sample shows which frames it took."""
    return np.repeat(np.arange(T, dtype=np.float32), TOKENS * DIM).reshape(T, TOKENS, DIM)


def _coin() -> VideoDataset:
    videos = [
        Video("v1", _indexed(40), [Segment(2, 9, 0), Segment(10, 14, 1), Segment(15, 30, 2)], 0, "train"),
        Video("v2", _indexed(25), [Segment(1, 6, 2), Segment(8, 24, 3)], 1, "train"),
        Video("v3", _indexed(12), [Segment(0, 5, 0), Segment(5, 12, 3)], 1, "test"),
    ]
    return VideoDataset("tiny_coin", videos, list(STEPS), list(TASKS), fps=2.0)


def _frames(sample) -> np.ndarray:
    per_frame = sample.visual.reshape(-1, TOKENS, DIM)
    assert (per_frame == per_frame[:, :1, :1]).all()  # the tokens of a frame stay together
    return per_frame[:, 0, 0].astype(int)


# ---------------------------------------------------------------------------------------------
# GAD's targets per kind
# ---------------------------------------------------------------------------------------------

def test_step_target_is_step_then_task():
    samples = step_recognition_samples(_coin(), "train", num_frames=2)
    assert [s.context for s in samples] == ["crack egg. make omelette.", "whisk eggs. make omelette.",
                                            "heat pan. make omelette.", "heat pan. make pancake.",
                                            "pour batter. make pancake."]


def test_next_step_target_is_the_next_step_then_task():
    samples = step_forecasting_samples(_coin(), "train", num_frames=2)
    # the frames of step i, the answer and the target text name step i + 1
    assert [(s.video_id, STEPS[s.target], s.context) for s in samples] == [
        ("v1", "whisk eggs", "whisk eggs. make omelette."),
        ("v1", "heat pan", "heat pan. make omelette."),
        ("v2", "pour batter", "pour batter. make pancake.")]
    assert _frames(samples[0]).tolist() == [2, 8]  # ... of the observed step (2..8)


def test_task_target_is_the_task():
    samples = task_recognition_samples(_coin(), "train", num_frames=2)
    assert [(TASKS[s.target], s.context) for s in samples] == [("make omelette", "make omelette."),
                                                              ("make pancake", "make pancake.")]


def test_every_coin_target_starts_with_its_answer():
    data = _coin()
    for s in offline_samples(data, "train", 2):
        answer = label_names(data, "tasks" if s.kind == "task" else "steps")[s.target]
        assert s.context.startswith(answer + "."), (s.kind, s.context)


def test_context_before_answer_per_kind():
    assert context_before_answer("step", "heat pan. make omelette.", "heat pan") == "make omelette."
    assert context_before_answer("next", "whisk eggs. make omelette.", "whisk eggs") == "make omelette."
    assert context_before_answer("task", "make omelette.", "make omelette") == ""
    assert context_before_answer("next", "whisk eggs.", "whisk eggs") == ""  # a data set without tasks
    assert context_before_answer("oad", "heat pan", "heat pan") == ""  # the authors' "<current>" alone
    with pytest.raises(ValueError, match=r"'next' sample does not start with its label 'heat pan'.*<next step>"):
        context_before_answer("next", "whisk eggs. make omelette.", "heat pan")
    with pytest.raises(ValueError, match=r"'task' sample .*'<task>.'"):
        context_before_answer("task", "make pancake.", "make omelette")
    data = _coin()
    for s in offline_samples(data, "train", 2):
        answer = label_names(data, "tasks" if s.kind == "task" else "steps")[s.target]
        kept = context_before_answer(s.kind, s.context, answer)
        assert answer not in kept and kept == ("" if s.kind == "task" else f"{TASKS[1 if s.video_id == 'v2' else 0]}.")


def _gad(order: str):
    data = _coin()
    names = {"steps": label_names(data, "steps"), "tasks": label_names(data, "tasks")}
    return build_classifier("gad", names, DIM, order=order, seed=0), data


def test_generation_texts_per_order_and_kind():
    for order in ("disc_first", "parallel"):
        clf, data = _gad(order)
        batch = collate(offline_samples(data, "train", 2))
        assert clf.generation_texts(batch) == batch.contexts  # the whole target after [CLS]
    clf, data = _gad("gen_first")
    batch = collate(offline_samples(data, "train", 2))
    expected = {"step": lambda c: c.split(". ", 1)[1], "next": lambda c: c.split(". ", 1)[1], "task": lambda c: ""}
    assert clf.generation_texts(batch) == [expected[k](c) for k, c in zip(batch.kinds, batch.contexts)]


def test_gen_first_task_samples_write_eos_alone_then_classify():
    clf, data = _gad("gen_first")
    batch = collate(task_recognition_samples(data, "train", num_frames=3))
    eos = clf.mllm.tokenizer.eos_token_id
    assert clf.generation_targets(batch) == [[eos]] * len(batch)
    loss = clf.loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    assert clf.heads["tasks"].weight.grad.abs().sum() > 0 and clf.mllm.cls_query.grad.abs().sum() > 0
    # the loss: [prefix][EOS][CLS]: the LM learns EOS right after the prompt, [CLS] reads after it
    with torch.no_grad():
        mllm, h, nll = clf.mllm, [], []
        for p in mllm.prefix_embeds(batch.visual, batch.kinds):
            seq = torch.cat([p, mllm.embed_tokens([eos]), mllm.cls_query[None]])
            h.append(last_hidden(mllm, seq)[-1])
            nll.append(-full_logprobs(mllm, seq)[len(p) - 1, eos])
        ref = F.cross_entropy(clf.heads["tasks"](torch.stack(h)), batch.targets) + torch.stack(nll).mean()
        torch.testing.assert_close(clf.loss(batch), ref, atol=1e-5, rtol=0)
    clf.eval()
    written = clf.generate_context(batch)
    assert all(w[-1] == eos and len(w) <= clf.max_context_tokens for w in written)
    pred = clf.predict(batch)
    assert pred.scores.shape == (len(batch), len(TASKS)) and np.isfinite(pred.scores).all()


# ---------------------------------------------------------------------------------------------
# Every frame of the span, at most max_frames
# ---------------------------------------------------------------------------------------------

def test_all_frames_takes_every_frame_of_the_span():
    data = _coin()
    for num_frames in (None, "all"):
        steps = step_recognition_samples(data, "train", num_frames=num_frames)
        assert [_frames(s).tolist() for s in steps[:2]] == [list(range(2, 9)), list(range(10, 14))]
        assert [len(s.visual) for s in steps] == [TOKENS * (seg.end - seg.start)
                                                 for v in data.split("train") for seg in v.segments]
        nexts = step_forecasting_samples(data, "train", num_frames=num_frames)
        assert _frames(nexts[2]).tolist() == list(range(1, 6))  # v2's first step, forecasting its second
        tasks = task_recognition_samples(data, "train", num_frames=num_frames)
        assert [_frames(s).tolist() for s in tasks] == [list(range(2, 30)), list(range(1, 24))]


def test_all_frames_ignores_the_jitter():
    data = _coin()
    a = step_recognition_samples(data, "train", None, rng=np.random.default_rng(0))
    b = step_recognition_samples(data, "train", None)
    assert all(np.array_equal(x.visual, y.visual) for x, y in zip(a, b))


@pytest.mark.parametrize("cap", [1, 2, 5, 11, 27, 28])
def test_a_longer_span_is_evenly_subsampled_to_max_frames(cap):
    data = _coin()
    task = task_recognition_samples(data, "train", num_frames=None, max_frames=cap)[0]  # span 2..29: 28 frames
    frames = _frames(task)
    assert len(frames) == min(cap, 28)
    assert len(set(frames)) == len(frames) and (np.diff(frames) > 0).all()  # distinct, in order
    assert frames[0] == 2 and (cap == 1 or frames[-1] == 29)                 # first and last kept
    if 1 < cap < 28:  # evenly: gaps differ by at most one frame
        assert np.diff(frames).max() - np.diff(frames).min() <= 1
    np.testing.assert_array_equal(frames, np.round(np.linspace(2, 29, min(cap, 28))).astype(int))


def test_the_cap_is_1200_frames():
    assert MAX_FRAMES == 1200
    long = VideoDataset("long", [Video("x", _indexed(3000), [Segment(0, 2999, 0)], 0, "test")],
                        list(STEPS), list(TASKS), fps=2.0)
    (step,) = step_recognition_samples(long, "test", num_frames=None)
    frames = _frames(step)
    assert len(frames) == 1200 and len(set(frames)) == 1200 and frames[0] == 0 and frames[-1] == 2998
    (short,) = step_recognition_samples(VideoDataset("s", [Video("y", _indexed(1300), [Segment(100, 1300, 1)], 0, "test")],
                                                     list(STEPS), list(TASKS), fps=2.0), "test", num_frames="all")
    assert _frames(short).tolist() == list(range(100, 1300))  # exactly 1200 frames: all kept


def test_frames_setting_values():
    assert frames_setting(8) == 8 and frames_setting(None) is None and frames_setting("all") is None
    for bad in (0, -3, 2.5, True, "al", "8"):
        with pytest.raises(ValueError, match="num_frames must be an int >= 1, or 'all' / null"):
            frames_setting(bad)
    with pytest.raises(ValueError, match="max_frames must be an int >= 1"):
        frames_setting(None, max_frames=0)


def test_variable_length_samples_batch_like_single_samples():
    """All-frames samples differ in length: a padded batch predicts what each sample alone does."""
    clf, data = _gad("disc_first")
    clf.eval()
    samples = step_recognition_samples(data, "train", num_frames=None)
    assert len({len(s.visual) for s in samples}) > 1
    batch = collate(samples)
    loss = clf.loss(batch)
    assert torch.isfinite(loss)
    together = clf.predict(batch).scores
    alone = np.concatenate([clf.predict(collate([s])).scores for s in samples])
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)


def test_the_run_config_threads_num_frames_and_max_frames():
    from gadlib.tools.cli import task_samples

    data = _coin()
    every = task_samples(data, DataConfig(num_frames="all", max_frames=5), ("step", "task"), "train", epoch=0)
    assert max(len(s.visual) for s in every) == TOKENS * 5  # the 28-frame task span, capped at 5
    assert sorted(len(s.visual) // TOKENS for s in every if s.kind == "step") == [4, 5, 5, 5, 5]
    fixed = task_samples(data, DataConfig(num_frames=3), ("step",), "train", epoch=0)
    assert {len(s.visual) for s in fixed} == {TOKENS * 3}


@pytest.mark.parametrize("value,expected", [("all", "all"), ("null", None), ("6", 6)])
def test_num_frames_from_the_command_line(value, expected):
    cfg = validate_config(load_config(ROOT / "configs" / "smoke.yaml", ["--data.num_frames", value]))
    assert cfg.data.num_frames == expected


@pytest.mark.parametrize("argv,message", [
    (["--data.num_frames", "al"], r"data.num_frames must be an int >= 1, or 'all' / null .*got 'al'"),
    (["--data.num_frames", "0"], r"data.num_frames must be an int >= 1, or 'all' / null .*got 0"),
    (["--data.num_frames", "2.5"], r"data.num_frames must be .*got '2.5'"),
    (["--data.max_frames", "0"], r"data.max_frames must be an int >= 1"),
    (["--data.max_frames", "all"], r"data.max_frames must be int, got 'all'"),
])
def test_bad_frame_settings_are_refused_naming_the_field(argv, message):
    with pytest.raises(ValueError, match=message):
        validate_config(load_config(ROOT / "configs" / "smoke.yaml", argv))


# ---------------------------------------------------------------------------------------------
# The paper's COIN configs and the memory ESTIMATE
# ---------------------------------------------------------------------------------------------

def _memory_estimate():
    spec = importlib.util.spec_from_file_location("memory_estimate", ROOT / "benchmarks" / "memory_estimate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


@pytest.mark.parametrize("name", ["paper_coin_1b", "paper_coin_8b"])
def test_paper_coin_configs_load_validate_and_use_every_frame(name):
    cfg = validate_config(load_config(ROOT / "configs" / f"{name}.yaml"))
    assert cfg.data.num_frames == "all" and cfg.data.max_frames == 1200
    assert cfg.data.kinds == ["step", "next", "task"] and cfg.method == "gad" and cfg.method_kwargs == {}
    t = cfg.train
    assert (t.epochs, t.lr, t.warmup, t.gradient_checkpointing) == (5, 1e-4, 0.05, True)
    b = cfg.backbone
    assert (b.lora_r, b.lora_alpha, b.lora_dropout) == (128, 256, 0.05)
    processes = 2  # the authors' COIN recipes, 1B and 8B: 2 GPUs x micro-batch 1 x 8 accumulation
    assert (t.batch_size, t.grad_accum, t.weight_decay) == (1, 8, 0.0)
    assert t.batch_size * t.grad_accum * processes == 16  # the paper's effective batch
    assert "authors' training script" in (ROOT / "configs" / f"{name}.yaml").read_text()


def test_paper_coin_8b_is_the_authors_recipe():
    path = ROOT / "configs" / "paper_coin_8b.yaml"
    cfg = validate_config(load_config(path))
    assert cfg.backbone.name == "meta-llama/Meta-Llama-3-8B-Instruct"
    assert (cfg.train.batch_size, cfg.train.grad_accum, cfg.train.mixed_precision) == (1, 8, "bf16")
    assert cfg.paper["gad"] == {"step_top1": 0.673, "next_top1": 0.516, "task_top1": 0.945}
    assert ("accelerate launch --multi_gpu --num_processes 2 -m gadlib.train --config configs/paper_coin_8b.yaml "
            "--data.path /data/COIN") in path.read_text()


def test_parameter_counts_of_the_llamas():
    m = _memory_estimate()
    llama8b, llama1b = m.ARCHS["meta-llama/Meta-Llama-3-8B-Instruct"], m.ARCHS["meta-llama/Llama-3.2-1B-Instruct"]
    assert m.base_parameters(llama8b) == 8_030_261_248   # Meta-Llama-3-8B's published count
    assert m.base_parameters(llama1b) == 1_235_814_400   # Llama-3.2-1B's (tied embeddings)
    # LoRA r 128 on q/k/v/o/gate/up/down: r * (in + out) per layer, plus the LM head
    per_layer = 128 * ((4096 + 4096) * 2 + (4096 + 1024) * 2 + (4096 + 14336) * 3)
    assert m.lora_parameters(llama8b, 128) == 32 * per_layer + 128 * (4096 + 128256)


@pytest.mark.parametrize("name", ["paper_coin_1b", "paper_coin_8b"])
def test_the_quoted_memory_estimates_are_the_scripts(name):
    """The ESTIMATE lines in the config and configs/README.md are what the script prints now."""
    m = _memory_estimate()
    e = m.from_config(ROOT / "configs" / f"{name}.yaml")
    assert e.seq_len == 1200 * 10 + m.PROMPT_TOKENS + 1 + m.CONTEXT_TOKENS
    assert e.processes == 2
    line = m.summary(e)
    assert line.startswith(f"ESTIMATE {name}: ~") and "GiB per process" in line
    assert line in (ROOT / "configs" / f"{name}.yaml").read_text(), "rerun: python benchmarks/memory_estimate.py"
    assert line in (ROOT / "configs" / "README.md").read_text(), "rerun: python benchmarks/memory_estimate.py"
