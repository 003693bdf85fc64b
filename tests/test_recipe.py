"""The authors' recipe items (configs/README.md, the protocol table), each against a case
computed by hand: THUMOS'14's Ambiguous as a 22nd class, the authors' prompt layout, GAD's
per-sample generation loss, COIN's frame rule / spans / classes / long spans, the "last other
action" rule, generative snapping and its ties, dropped videos, and the config checks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gadlib.core.backbone import BackboneConfig, prompt_ids
from gadlib.core.classifier import collate, Sample
from gadlib.core.generative import FirstToken, first_token_scores, snap_prediction
from gadlib.core.label_spaces import LabelSpace
from gadlib.core.prompts import PROMPTS
from gadlib.data.annotation_formats import THUMOS_CLASSES
from gadlib.data.coin_layout import merge_key, read_coin
from gadlib.data.recipe import ambiguous_as_class, exclude_videos
from gadlib.data.samples import FrameRule, label_names, step_recognition_samples, task_recognition_samples
from gadlib.data.videos import OADInfo, Segment, Video, VideoDataset
from gadlib.evaluation.metrics import segment_f1
from gadlib.evaluation.metrics import scored_as_background
from gadlib.evaluation.oad import OADConfig, oad_context
from gadlib.lms.build import build_classifier
from gadlib.tools.cli import load_config
from gadlib.tools.run_config import validate_config

torch.set_num_threads(1)


def _video(vid, labels, subset="train", ignored=None, dim=4):
    labels = np.asarray(labels)
    feats = np.arange(len(labels) * dim, dtype=np.float32).reshape(len(labels), 1, dim)
    change = np.flatnonzero(np.diff(labels)) + 1
    starts, ends = np.r_[0, change], np.r_[change, len(labels)]
    segs = [Segment(int(s), int(e), int(labels[s]) - 1) for s, e in zip(starts, ends) if labels[s]]
    return Video(vid, feats, segs, None, subset, None if ignored is None else np.asarray(ignored, bool))


# --- 1. THUMOS'14's Ambiguous ---------------------------------------------------------------

def _thumos_like():
    names = ["Background", *THUMOS_CLASSES, "Ambiguous"]
    train = _video("tr", [0, 1, 1, 0, 0, 2], ignored=[0, 0, 0, 1, 1, 0])
    test = _video("te", [0, 1, 1, 0], subset="test", ignored=[0, 0, 0, 1])
    return VideoDataset("thumos", [train, test], list(THUMOS_CLASSES), [], fps=4.0,
                        oad_info=OADInfo(names, ignore_index=21))


def test_ambiguous_as_class_trains_a_22_way_head_and_targets_ambiguous_frames():
    data = ambiguous_as_class(_thumos_like())
    names = label_names(data, "oad")
    assert len(names) == 22 and names[21] == "Ambiguous"
    train, test = data.split("train")[0], data.split("test")[0]
    assert train.frame_labels().tolist() == [0, 1, 1, 21, 21, 2] and not train.ignored_mask().any()
    assert test.ignored_mask().tolist() == [False, False, False, True]  # still out of the F1s
    clf = build_classifier("discriminative", {"oad": names}, data.feature_dim, seed=0)
    assert clf.heads["oad"].out_features == 22
    # the default keeps today's 21-way head
    assert len(label_names(_thumos_like(), "oad")) == 21


def test_a_predicted_ambiguous_is_scored_as_background():
    data = ambiguous_as_class(_thumos_like())
    preds, kept, names = scored_as_background([np.array([21, 1, 1, 21])], [np.zeros((4, 22), np.float32)],
                                              label_names(data, "oad"), data.scored_as_background)
    assert preds[0].tolist() == [0, 1, 1, 0] and kept[0].shape == (4, 21) and len(names) == 21
    assert segment_f1(preds, [np.array([0, 1, 1, 0])], 0.1) == 1.0  # an Ambiguous prediction is no false positive


def test_ambiguous_as_class_needs_an_ignored_class():
    data = _thumos_like()
    data.oad_info = OADInfo(data.oad_info.class_names[:-1])
    with pytest.raises(ValueError, match="thumos_ambiguous"):
        ambiguous_as_class(data)


# --- 2. the authors' prompt layout ----------------------------------------------------------

def test_authors_oad_prompt_is_bos_question_video_cls_without_chat_header():
    clf = build_classifier("discriminative", {"oad": ["background", "a"]}, 4,
                           BackboneConfig(prompt="authors"), seed=0)
    tok, mllm = clf.mllm.tokenizer, clf.mllm
    question = tok(PROMPTS["oad"], add_special_tokens=False)["input_ids"]
    before, after = prompt_ids(tok, "oad", "authors")
    assert before == [tok.bos_token_id] * (tok.bos_token_id is not None) + question and after == []
    chat_before, _ = prompt_ids(tok, "oad", "chat")
    assert chat_before != before  # the chat layout wraps the question, the video first
    visual = torch.randn(3, 4)
    with torch.no_grad():
        seq = mllm.prefix_embeds([visual], ["oad"], cls=True)[0]
        n = len(before)
        assert len(seq) == n + 3 + 1
        assert torch.equal(seq[:n], mllm.embed_tokens(before))           # <bos> + question first
        assert torch.equal(seq[n:n + 3], mllm.connect([visual])[0])      # then the visual tokens
        assert torch.equal(seq[-1], mllm.cls_query)                      # then [CLS]


def test_authors_coin_prompt_puts_the_question_and_format_line_before_the_video():
    tok = build_classifier("discriminative", {"steps": ["a"]}, 4, seed=0).mllm.tokenizer
    before, after = (tok.decode(ids) for ids in prompt_ids(tok, "step", "authors"))
    assert PROMPTS["step"] in before and "Format your answer concisely. No extra text output." in before
    assert PROMPTS["step"] not in after


# --- 3. GAD's generation loss per sample ----------------------------------------------------

def test_gen_loss_norm_sample_is_the_mean_of_per_sample_means():
    labels = {"oad": ["background", "a", "b"]}
    rng = np.random.default_rng(0)
    samples = [Sample(rng.standard_normal((3, 4)).astype(np.float32), "oad", 1, "a", "v", 0),
               Sample(rng.standard_normal((3, 4)).astype(np.float32), "oad", 2, "b, a", "v", 1)]
    batch = collate(samples)
    out = {}
    for norm in ("token", "sample"):
        clf = build_classifier("gad", labels, 4, seed=0, gen_loss_norm=norm).eval()
        with torch.no_grad():
            _, out[norm] = clf.readout_and_generation_loss(batch)
    targets = clf.generation_targets(batch)
    assert len(targets[0]) != len(targets[1])  # so the two norms differ
    with torch.no_grad():
        stems = clf.mllm.prefix_embeds(batch.visual, batch.kinds, cls=True)
        lp = clf.mllm.teacher_forced(stems, targets).token_logprobs
    n0 = len(targets[0])
    by_hand = (-lp[:n0].mean() - lp[n0:].mean()) / 2
    assert torch.allclose(out["sample"], by_hand)
    assert torch.allclose(out["token"], -lp.mean())
    assert not torch.allclose(out["sample"], out["token"])


# --- 6. COIN: frames, spans, classes, long spans --------------------------------------------

def _coin_folder(tmp_path):
    database = {
        "v1": {"subset": "training", "class": "T", "start": 0.4, "end": 4.4,
               "annotation": [{"segment": [1.2, 3.1], "label": "Put on lid."}]},
        "v2": {"subset": "testing", "class": "T", "start": 0.0, "end": 2.0,
               "annotation": [{"segment": [0.5, 1.5], "label": "put  on LID"}]},
    }
    (tmp_path / "features").mkdir()
    for vid in database:
        np.save(tmp_path / "features" / f"{vid}.npy", np.arange(10, dtype=np.float32).reshape(10, 1, 1).repeat(2, 2))
    (tmp_path / "COIN.json").write_text(json.dumps({"database": database}))
    return tmp_path


def _frames(sample):
    return sample.visual[:, 0].astype(int).tolist()


def test_coin_ceil_frames_are_inclusive_of_the_end(tmp_path):
    root = _coin_folder(tmp_path)
    # [1.2 s, 3.1 s] at 2 fps: ceil(2.4) = 3 .. ceil(6.2) = 7, both included
    ceil = read_coin(root, fps=2.0, frame_rule="ceil")
    s = step_recognition_samples(ceil, "train", "all", rule=FrameRule(end_frame="inclusive"))[0]
    assert _frames(s) == [3, 4, 5, 6, 7]
    # gadlib's default: round(2.4) = 2 .. round(6.2) = 6, end excluded
    s = step_recognition_samples(read_coin(root, fps=2.0), "train", "all")[0]
    assert _frames(s) == [2, 3, 4, 5]


def test_coin_task_span_is_the_videos_start_to_end(tmp_path):
    data = read_coin(_coin_folder(tmp_path), fps=2.0, frame_rule="ceil", spans=True)
    rule = FrameRule(end_frame="inclusive", task_span="video")
    # start 0.4 s, end 4.4 s: ceil(0.8) = 1 .. ceil(8.8) = 9
    assert _frames(task_recognition_samples(data, "train", "all", rule=rule)[0]) == list(range(1, 10))
    assert _frames(task_recognition_samples(data, "train", "all")[0]) == [3, 4, 5, 6]  # first to last step


def test_coin_long_span_first_keeps_the_first_frames(tmp_path):
    data = read_coin(_coin_folder(tmp_path), fps=2.0, frame_rule="ceil")
    first = FrameRule(end_frame="inclusive", long_span="first")
    assert _frames(step_recognition_samples(data, "train", "all", max_frames=3, rule=first)[0]) == [3, 4, 5]
    even = FrameRule(end_frame="inclusive")
    assert _frames(step_recognition_samples(data, "train", "all", max_frames=3, rule=even)[0]) == [3, 5, 7]


def test_coin_merged_classes(tmp_path):
    root = _coin_folder(tmp_path)
    assert len(read_coin(root, fps=2.0).step_names) == 2
    merged = read_coin(root, fps=2.0, classes="merged")
    assert merged.step_names == ["put on lid"] and merge_key("Put on lid.") == merge_key("put  on LID")
    listed = tmp_path / "classes.txt"
    listed.write_text("put on lid\nopen box\n")
    assert read_coin(root, fps=2.0, classes=listed).step_names == ["put on lid", "open box"]
    listed.write_text("open box\n")
    with pytest.raises(ValueError, match="not in class list"):
        read_coin(root, fps=2.0, classes=listed)


# --- 7. "last other action", snapping, ties, decoding cap -----------------------------------

def test_last_other_action_dedupes_by_first_occurrence():
    labels = np.array([1, 2, 1, 3])  # window [A, B, A] before the current C
    none = np.zeros(4, bool)
    assert oad_context(labels, none, OADConfig(window=4, other="dedup_last"))[3].tolist() == [3, 2]  # -> B
    assert oad_context(labels, none, OADConfig(window=4))[3].tolist() == [3, 1]  # gadlib's: the most recent, A
    # the window limits what is seen: with 2 frames, [A, C] -> A
    assert oad_context(labels, none, OADConfig(window=2, other="dedup_last"))[3].tolist() == [3, 1]


def test_snap_ties_go_alphabetically():
    scores = np.array([[-1.0, -1.0, -2.0]])
    texts = ["zeta", "alpha", "beta"]
    assert snap_prediction(scores, texts, "index").pred.tolist() == [0]
    assert snap_prediction(scores, texts, "alphabetical").pred.tolist() == [1]


def test_an_action_frame_snaps_to_background_with_snap_set_all():
    tok = build_classifier("generative", {"oad": ["background", "a"]}, 4, seed=0).mllm.tokenizer
    space = LabelSpace(["background", "jump", "vault"], tok, "text")
    found = FirstToken(np.array([False]), np.array([0.1], np.float32), [space.sequences[0]])  # wrote "background"
    assert first_token_scores(space, found, tok, "all").argmax(1).tolist() == [0]
    assert first_token_scores(space, found, tok, "actions").argmax(1).tolist() != [0]


def test_decoding_cap_after_the_first_token(monkeypatch):
    import gadlib.core.generative as generative
    seen = []
    monkeypatch.setattr(generative, "first_token_decode", lambda *a: seen.append(a[-1]) or
                        FirstToken(np.array([True]), np.array([1.0], np.float32), [[]]))
    for cap in ("in_all", "after_first"):
        clf = build_classifier("generative", {"oad": ["background", "a"]}, 4, seed=0, oad_new_tokens=cap)
        clf._first_token([torch.zeros(2, clf.mllm.cls_query.numel())], "oad")
    assert seen == [min(8, clf.longest_label("oad")), 9]


# --- 5. dropped videos ----------------------------------------------------------------------

def test_exclude_videos_drops_the_listed_ids(tmp_path):
    data = VideoDataset("d", [_video("a", [0, 1]), _video("b", [0, 1]), _video("c", [0, 1], "test")], ["x"], [], 1.0)
    listed = tmp_path / "ids.txt"
    listed.write_text("b\nc\n")
    assert [v.video_id for v in exclude_videos(data, listed).videos] == ["a"]
    listed.write_text("b\nnot_there\n")
    with pytest.warns(UserWarning, match="not_there"):
        assert [v.video_id for v in exclude_videos(data, listed).videos] == ["a", "c"]
    listed.write_text("nope\n")
    with pytest.raises(ValueError, match="none of its 1 video ids"):
        exclude_videos(data, listed)


# --- the config keys ------------------------------------------------------------------------

@pytest.mark.parametrize("override,field", [
    (["--data.thumos_ambiguous", "drop"], "data.thumos_ambiguous"),
    (["--data.gen_loss_norm", "mean"], "data.gen_loss_norm"),
    (["--data.oad_other", "last"], "data.oad_other"),
    (["--data.coin_frames", "ceil"], "data.coin_frames"),
    (["--data.coin_task_span", "all"], "data.coin_task_span"),
    (["--data.long_span", "last"], "data.long_span"),
    (["--backbone.prompt", "plain"], "backbone.prompt"),
    (["--eval.snap_set", "some"], "eval.snap_set"),
    (["--eval.snap_ties", "random"], "eval.snap_ties"),
    (["--eval.oad_new_tokens", "9"], "eval.oad_new_tokens"),
    (["--data.exclude_videos", "/no/such/ids.txt"], "data.exclude_videos"),
    (["--data.coin_classes", "/no/such/classes.txt"], "data.coin_classes"),
])
def test_bad_recipe_keys_are_named(override, field):
    from pathlib import Path
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke.yaml", override)
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        validate_config(cfg)


def test_method_kwargs_cannot_set_run_level_options():
    from pathlib import Path
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke.yaml",
                      ["--method_kwargs", "{gen_loss_norm: sample}"])
    with pytest.raises(ValueError, match="set data.gen_loss_norm"):
        validate_config(cfg)
