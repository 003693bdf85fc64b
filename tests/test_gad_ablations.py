"""The GAD ablations of notebook 04 against plain references: what each option feeds the LM, the
loss it computes, what gen-first does at inference, two-stage freezing, checkpoint reload and
LoRA removal on a half-precision "pretrained" folder (written locally, no download)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from gadlib.evaluation.ablations import two_stage_classifier
from gadlib.core.checkpoint import remove_lora, save_checkpoint
from gadlib.lms.build import load_classifier, build_classifier
from gadlib.core.classifier import collate
from gadlib.evaluation.oad import OADConfig, oad_context_classes, oad_samples
from gadlib.core.gad import context_before_answer
from gadlib.core.training import TrainConfig, train

from test_classifiers import full_logprobs, last_hidden
from test_real_lm import _backbone, write_model_folder

FEW = TrainConfig(epochs=1, batch_size=8, lr=1e-2, warmup=0.0, progress=False)


def _contains(seq: list[int], sub: list[int]) -> bool:
    return any(seq[i:i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))


def _spy_teacher_forced(clf, monkeypatch) -> list[dict]:
    """Record every (stems, targets, suffix) the classifier hands to `MLLM.teacher_forced`."""
    calls, real = [], clf.mllm.teacher_forced

    def spy(stems, targets, suffix=None):
        calls.append({"targets": [list(t) for t in targets], "suffix": suffix})
        return real(stems, targets, suffix)
    monkeypatch.setattr(clf.mllm, "teacher_forced", spy)
    return calls


# ---------------------------------------------------------------------------------------------
# Generate-first: honest in training, generates its context at inference
# ---------------------------------------------------------------------------------------------

def test_gen_first_never_writes_the_gold_label_before_cls(names, visual_dim, mixed_batch, monkeypatch):
    tok = None
    seen = {}
    for order in ("disc_first", "gen_first"):
        clf = build_classifier("gad", names, visual_dim, order=order)
        tok = clf.mllm.tokenizer
        calls = _spy_teacher_forced(clf, monkeypatch)
        clf.loss(mixed_batch)
        assert len(calls) == 1
        seen[order] = calls[0]
    gen_first = seen["gen_first"]
    assert gen_first["suffix"] is not None  # [CLS] comes after the written tokens
    for i, (kind, target) in enumerate(zip(mixed_batch.kinds, mixed_batch.targets.tolist())):
        gold = tok(names["steps"][target], add_special_tokens=False)["input_ids"]
        before_cls = gen_first["targets"][i]
        # step "<step>. <task>." and forecasting "<next step>. <task>." both start with the answer
        assert not _contains(before_cls, gold), (i, kind, tok.decode(before_cls))
        # disc_first generates the answer, then the task, *after* [CLS]: the check above can fail
        assert seen["disc_first"]["targets"][i][:len(gold)] == gold
        assert tok.decode(before_cls[:-1]) == mixed_batch.contexts[i].removeprefix(names["steps"][target] + ". ")
        assert before_cls[-1] == tok.eos_token_id


def test_context_before_answer():
    assert context_before_answer("step", "add salt. make soup.", "add salt") == "make soup."
    assert context_before_answer("step", "add salt.", "add salt") == ""
    assert context_before_answer("next", "stir. make soup.", "stir") == "make soup."
    assert context_before_answer("task", "make soup.", "make soup") == ""
    assert context_before_answer("oad", "add salt, stir", "add salt") == "stir"  # the authors' "<current>, <other>"
    assert context_before_answer("oad", "stir", "add salt") == "stir"  # a previous action is kept
    with pytest.raises(ValueError, match="does not start with its label 'stir'"):
        context_before_answer("step", "add salt. make soup.", "stir")


def reference_gen_first_predict(clf, batch) -> np.ndarray:
    """No-cache greedy loop per sample (full forward each step), EOS appended when the budget runs
    out, then one forward over [prefix][written][CLS] and the head: log-softmax scores."""
    mllm, eos, budget = clf.mllm, clf.mllm.tokenizer.eos_token_id, clf.max_context_tokens
    scores = []
    for p in mllm.prefix_embeds(batch.visual, batch.kinds):
        written = []
        while len(written) < budget:
            nxt = int(full_logprobs(mllm, torch.cat([p, mllm.embed_tokens(written)]) if written else p)[-1].argmax())
            written.append(nxt)
            if nxt == eos:
                break
        if written[-1] != eos:
            written = written[:budget - 1] + [eos]
        h = last_hidden(mllm, torch.cat([p, mllm.embed_tokens(written), mllm.cls_query[None]]))[-1]
        scores.append(clf.heads[batch.label_set](h).log_softmax(-1))
    return torch.stack(scores).numpy()


@pytest.mark.parametrize("budget", [3, 32])
def test_gen_first_predicts_after_writing_its_context(names, visual_dim, train_samples, mixed_batch, budget):
    clf = build_classifier("gad", names, visual_dim, order="gen_first", max_context_tokens=budget)
    train(clf, train_samples[:32], FEW)  # a little training: some contexts end with EOS
    clf.eval()
    with torch.no_grad():
        written = clf.generate_context(mixed_batch)
        ref = reference_gen_first_predict(clf, mixed_batch)
    assert all(w[-1] == clf.mllm.tokenizer.eos_token_id and len(w) <= budget for w in written)
    np.testing.assert_allclose(clf.predict(mixed_batch).scores, ref, atol=1e-4, rtol=0)
    # ... and it is not the discriminative path: [CLS] after no context reads something else
    disc_path = clf.head_logits("steps", clf.readout_state(mixed_batch)).log_softmax(-1).detach().numpy()
    assert np.abs(disc_path - ref).max() > 1e-3


# ---------------------------------------------------------------------------------------------
# Losses of the options against full-logits references
# ---------------------------------------------------------------------------------------------

def test_no_cls_reads_the_last_prompt_token(names, visual_dim, mixed_batch):
    clf = build_classifier("gad", names, visual_dim, readout="last_token", lam=0.5)
    tok = clf.mllm.tokenizer
    h_ref, nll = [], []
    with torch.no_grad():
        for p, ctx in zip(clf.mllm.prefix_embeds(mixed_batch.visual, mixed_batch.kinds), mixed_batch.contexts):
            toks = tok(ctx, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            seq = torch.cat([p, clf.mllm.embed_tokens(toks)])  # no [CLS] anywhere
            h_ref.append(last_hidden(clf.mllm, seq)[len(p) - 1])
            lp = full_logprobs(clf.mllm, seq)  # logits at every position: the slow reference
            nll += [-lp[len(p) - 1 + j, t] for j, t in enumerate(toks)]
        h_ref = torch.stack(h_ref)
        torch.testing.assert_close(clf.readout_state(mixed_batch), h_ref, atol=1e-5, rtol=0)
        ref = F.cross_entropy(clf.heads["steps"](h_ref), mixed_batch.targets) + 0.5 * torch.stack(nll).mean()
        torch.testing.assert_close(clf.loss(mixed_batch), ref, atol=1e-4, rtol=0)
        assert clf.mllm.cls_query.grad is None


def test_generate_none_is_the_discriminative_loss(names, visual_dim, mixed_batch):
    disc = build_classifier("discriminative", names, visual_dim, seed=3)
    none = build_classifier("gad", names, visual_dim, seed=3, generate="none")
    with torch.no_grad():
        torch.testing.assert_close(none.loss(mixed_batch), disc.loss(mixed_batch), atol=0, rtol=0)
    np.testing.assert_array_equal(none.predict(mixed_batch).scores, disc.predict(mixed_batch).scores)


@pytest.fixture(scope="module")
def oad_batch(dataset):
    windows = oad_samples(dataset, "train", window=3, stride=2)
    batch = collate([windows[i] for i in range(0, len(windows), max(1, len(windows) // 12))][:12])
    assert len(set(batch.contexts)) > 1
    return batch


@pytest.mark.parametrize("context", ["current_and_other", "previous_action"])
def test_context_head_loss(dataset, visual_dim, context):
    windows = oad_samples(dataset, "train", window=3, stride=2, context=context)
    oad_batch = collate([windows[i] for i in range(0, len(windows), max(1, len(windows) // 12))][:12])
    names = {"oad": ["background"] + list(dataset.step_names)}
    classes = oad_context_classes(dataset, OADConfig(window=3, context=context))
    assert len(set(oad_batch.contexts)) > 1 and set(oad_batch.contexts) <= set(classes)
    assert len(set(classes)) == len(classes)
    clf = build_classifier("gad", names, visual_dim, generate="context_head", context_classes=classes, lam=0.3)
    with torch.no_grad():
        h = clf.readout_state(oad_batch)
        gold = torch.tensor([classes.index(c) for c in oad_batch.contexts])
        ref = clf.classification_loss(h, oad_batch) + 0.3 * F.cross_entropy(clf.context_head(h), gold)
        torch.testing.assert_close(clf.loss(oad_batch), ref, atol=1e-6, rtol=0)
        clf.lam = 0.0
        torch.testing.assert_close(clf.loss(oad_batch), clf.classification_loss(h, oad_batch), atol=1e-6, rtol=0)
    oad_batch.contexts[0] = "juggle torches"
    with pytest.raises(ValueError, match="juggle torches"):
        clf.loss(oad_batch)


def test_bad_options_are_refused(names, visual_dim):
    with pytest.raises(ValueError, match="answer before"):
        build_classifier("gad", names, visual_dim, order="gen_first", generate="label")
    with pytest.raises(ValueError, match="context_classes"):
        build_classifier("gad", names, visual_dim, generate="context_head")
    with pytest.raises(ValueError, match="readout"):
        build_classifier("gad", names, visual_dim, readout="mean")
    with pytest.raises(ValueError, match="needs readout='cls'"):
        build_classifier("gad", names, visual_dim, order="parallel", readout="last_token")
    with pytest.raises(ValueError, match="lam must be >= 0"):
        build_classifier("gad", names, visual_dim, lam=-1)


# ---------------------------------------------------------------------------------------------
# Two-stage
# ---------------------------------------------------------------------------------------------

def test_two_stage_trains_only_cls_and_head(names, visual_dim, train_samples, mixed_batch):
    gen = build_classifier("generative", names, visual_dim, seed=1)
    train(gen, train_samples[:32], FEW)
    frozen = {n: p.detach().clone() for n, p in gen.mllm.named_parameters() if n != "cls_query"}
    head = two_stage_classifier(gen)
    assert head.mllm is gen.mllm
    cls_before = head.mllm.cls_query.detach().clone()
    head_before = head.heads["steps"].weight.detach().clone()
    train(head, train_samples[:32], FEW)
    after = dict(head.mllm.named_parameters())
    for n, p in frozen.items():
        assert torch.equal(after[n], p), n
    assert not torch.equal(head.mllm.cls_query, cls_before)
    assert not torch.equal(head.heads["steps"].weight, head_before)
    assert {n for n, p in head.named_parameters() if p.requires_grad} == {"mllm.cls_query", "heads.steps.weight",
                                                                          "heads.steps.bias"}
    with pytest.raises(TypeError, match="GenerativeClassifier"):
        two_stage_classifier(head)


# ---------------------------------------------------------------------------------------------
# A "pretrained" half-precision LM with LoRA: reload and LoRA removal
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("llama3-bf16")
    write_model_folder("llama3-bf16-tied", path)
    return path


@pytest.mark.parametrize("kwargs", [dict(order="gen_first", max_context_tokens=4), dict(readout="last_token"),
                                    dict(generate="context_head")], ids=["gen_first", "no_cls", "context_head"])
def test_reload_gives_identical_predictions(llama_folder, names, visual_dim, train_samples, mixed_batch, tmp_path,
                                            kwargs):
    if kwargs.get("generate") == "context_head":
        kwargs = dict(kwargs, context_classes=sorted(set(s.context for s in train_samples)))
    clf = build_classifier("gad", names, visual_dim, backbone=_backbone(llama_folder), **kwargs)
    train(clf, train_samples[:16], FEW)
    loaded = load_classifier(save_checkpoint(tmp_path / "ckpt", clf))
    np.testing.assert_array_equal(loaded.predict(mixed_batch).scores, clf.predict(mixed_batch).scores)
    if "context_classes" in kwargs:
        assert torch.equal(loaded.context_head.weight, clf.context_head.weight)


def test_removing_lora_restores_the_base_lm(llama_folder, names, visual_dim, train_samples):
    base = AutoModelForCausalLM.from_pretrained(llama_folder, dtype="auto").eval()
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        want = base(input_ids=ids).logits
    clf = build_classifier("gad", names, visual_dim, backbone=_backbone(llama_folder))
    train(clf, train_samples[:16], FEW)
    with torch.no_grad():
        adapted = clf.mllm.lm(input_ids=ids).logits
    assert (adapted - want).abs().max() > 0  # LoRA training changed what the LM computes
    lm = remove_lora(clf).eval()
    with torch.no_grad():
        torch.testing.assert_close(lm(input_ids=ids).logits, want, atol=0, rtol=0)
    assert not any("lora" in n for n, _ in lm.named_parameters())
    with pytest.raises(ValueError, match="no adapter to remove"):
        remove_lora(clf)


def test_readme_block_of_notebook_04():
    from gadlib.tools.readme_table import BLOCKS, results_04

    stats = lambda *v: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)), "per_seed": list(v)}
    res = {"dataset": "d", "backbone": "b", "profile": "cpu", "seeds": [0, 1], "oad_preset": "x",
           "paper": {"gad": [50.3, 34.5, 24.1, 20.1]}, "conclusion": "1 of 2 claims reproduce.",
           "metrics": {"gad": {"x_seg_f1_0.1": stats(0.5, 0.7), "x_point_f1_1s": stats(0.1, 0.3),
                               "train_ms_per_step": stats(10, 20), "step_top1": stats(0.2, 0.4),
                               "next_top1": stats(0.1, 0.1), "task_top1": stats(0.9, 0.9)},
                       "two_stage": {"x_seg_f1_0.1": stats(0.0, 0.2), "x_point_f1_1s": stats(0.0, 0.0)}}}
    text = results_04(res)
    assert "| gad | 60.0 ± 14.1 | 20.0 ± 14.1 | 50.3 / 34.5 \\| 24.1 / 20.1 | 15 |" in text
    assert "| two_stage | 10.0 ± 14.1 | 0.0 ± 0.0 | – | – |" in text
    assert "gad 30.0 ± 14.1 / 10.0 ± 0.0 / 90.0 ± 0.0" in text and "1 of 2 claims reproduce." in text
    assert BLOCKS["results-04"]("", {"04_gad_finetuning": res}) == text
