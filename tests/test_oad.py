"""Online action detection: training windows (no future frame, ignored frames, previous action),
lazy windows, background weighting of every loss, and dense prediction (batched == per frame)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

import gadlib.evaluation.metrics
from gadlib.core.classifier import Batch, collate
from gadlib.data.datasets import Segment, Video, VideoDataset
from gadlib.evaluation.experiment import Setup, summarize
from gadlib.lms.build import build_classifier
from gadlib.evaluation.oad import (DensePrediction, EpochWindows, OADConfig, OADWindows, context_text, evaluate_oad,
                                   oad_context, oad_samples, predict_dense, predict_dense_reference, run_oad,
                                   training_windows, window_offsets)
from gadlib.data.samples import label_names
from gadlib.core.training import TrainConfig, epoch_loader, train
from conftest import tiny_oad_stream

torch.set_num_threads(1)
STEPS = ["add salt", "pour water", "stir soup"]


def _indexed(T: int, dim: int = 3) -> np.ndarray:
    """One token per frame whose every value is its frame index: a window shows which frames it took."""
    return np.repeat(np.arange(T, dtype=np.float32), dim).reshape(T, 1, dim)


def _toy(ignored: np.ndarray | None = None) -> VideoDataset:
    videos = [Video("a", _indexed(30), [Segment(2, 8, 0), Segment(10, 15, 2), Segment(15, 20, 1),
                                        Segment(25, 28, 0)], None, "train", ignored),
              Video("b", _indexed(12), [Segment(0, 4, 1), Segment(6, 12, 2)], None, "test")]
    return VideoDataset("toy", videos, list(STEPS), [], fps=1.0)


def _frames(sample) -> np.ndarray:
    return sample.visual[:, 0].astype(int)


@pytest.fixture(scope="module")
def data():
    """A tiny thumos-like data set: 5 classes + background, 16-d features, ~20 frames per video."""
    return tiny_oad_stream()


@pytest.fixture(scope="module")
def models(data):
    names = {"oad": label_names(data, "oad")}
    return {m: build_classifier(m, names, data.feature_dim, seed=0).eval()
            for m in ("generative", "discriminative", "gad")}


# ---------------------------------------------------------------------------------------------
# Training windows
# ---------------------------------------------------------------------------------------------

def test_window_offsets_hand_computed():
    assert window_offsets(OADConfig(window=4, long_context=0)).tolist() == [-3, -2, -1, 0]
    # long context frames t-13 .. t-4 thinned to 3: -13, -8.5 -> -8 (half-way rounds up), -4
    assert window_offsets(OADConfig(window=4, long_context=10, long_tokens=3)).tolist() == [-13, -8, -4, -3, -2,
                                                                                           -1, 0]
    assert window_offsets(OADConfig(window=2, long_context=5, long_tokens=0)).tolist() == [-1, 0]


@pytest.mark.parametrize("start", ["short", "repeat"])
@pytest.mark.parametrize("cfg", [OADConfig(window=4), OADConfig(window=3, long_context=7, long_tokens=4)])
def test_no_window_sees_a_future_frame(cfg, start):
    cfg = replace(cfg, start=start)
    data = _toy()
    windows = training_windows(data, "train", cfg, dense=True)
    labels = data.videos[0].frame_labels()
    assert len(windows) == 30
    for s in windows:
        frames = _frames(s)
        wanted = s.frame + window_offsets(cfg)
        # short: only the frames that exist (the authors'); repeat: frame 0 stands in for the others
        wanted = wanted[wanted >= 0] if start == "short" else np.maximum(wanted, 0)
        assert frames.tolist() == wanted.tolist() and frames[-1] == s.frame
        assert frames.max() <= s.frame and (np.diff(frames) >= 0).all() and frames.min() >= 0
        assert s.kind == "oad" and s.target == labels[s.frame]
    first = _frames(windows[0]).tolist()
    assert first == ([0] if start == "short" else [0] * cfg.frames_per_window)
    assert len(_frames(windows[1])) == (2 if start == "short" else cfg.frames_per_window)
    assert _frames(windows[20]).tolist() == (20 + window_offsets(cfg)).tolist()


def test_authors_defaults_stride_is_the_window_and_every_long_frame_is_fed():
    cfg = OADConfig(window=20, long_context=128)
    assert cfg.stride == 20 and cfg.long_tokens == 128 and cfg.frames_per_window == 148
    assert (cfg.start, cfg.context, cfg.loss_norm) == ("short", "current_and_other", "batch")
    assert window_offsets(cfg).tolist() == list(range(-147, 1))
    with pytest.raises(ValueError, match="start must be one of"):
        OADConfig(start="pad")
    with pytest.raises(ValueError, match="context must be one of"):
        OADConfig(context="next")


def test_each_epoch_draws_a_fresh_offset_per_video():
    videos = [Video(f"v{i}", _indexed(40), [Segment(5, 30, 0)], None, "train") for i in range(6)]
    data = VideoDataset("grid", videos, list(STEPS), [], fps=1.0)
    epochs = EpochWindows(data, "train", OADConfig(window=8), seed=0)
    offsets = {e: epochs.offsets(e) for e in range(4)}
    for e, off in offsets.items():
        assert off.shape == (6,) and off.min() >= 0 and off.max() < 8
        windows = epochs(e)
        assert len(windows) == epochs.num_windows(e)
        for i, o in enumerate(off):  # every video on its own grid of step = window
            assert [s.frame for s in windows if s.video_id == f"v{i}"] == list(range(o, 40, 8))
    assert len({tuple(o) for o in offsets.values()}) == 4  # fresh every epoch
    assert len(set(offsets[0].tolist())) > 1                 # and per video
    np.testing.assert_array_equal(EpochWindows(data, "train", OADConfig(window=8), seed=0).offsets(2), offsets[2])
    assert not np.array_equal(EpochWindows(data, "train", OADConfig(window=8), seed=1).offsets(2), offsets[2])


def test_the_schedule_is_sized_from_every_epochs_own_steps():
    videos = [Video(f"v{i}", _indexed(37), [Segment(5, 30, 0)], None, "train") for i in range(5)]
    data = VideoDataset("grid", videos, list(STEPS), [], fps=1.0)
    epochs = EpochWindows(data, "train", OADConfig(window=6), seed=4)
    counts = [epochs.num_windows(e) for e in range(3)]
    assert len(set(counts)) > 1  # offsets change how many windows fit
    clf = build_classifier("discriminative", {"oad": ["background"] + STEPS}, 3, seed=0)
    history = train(clf, epochs, TrainConfig(epochs=3, batch_size=4, warmup=0.0, progress=False))
    assert history.steps == sum(-(-n // 4) for n in counts)
    assert history.lr[-1] == pytest.approx(0.0, abs=1e-12)  # the cosine ends exactly at the last step


def test_stride_offset_and_bad_arguments():
    data = _toy()
    assert [s.frame for s in training_windows(data, "train", OADConfig(stride=4), offset=3)] == list(range(3, 30, 4))
    with pytest.raises(ValueError, match="offset must be an integer >= 0"):
        training_windows(data, "train", OADConfig(), offset=-1)
    for field in ("window", "stride"):
        with pytest.raises(ValueError, match=f"{field} must be >= 1"):
            OADConfig(**{field: 0})
    with pytest.raises(ValueError, match="background_weight must be > 0"):
        OADConfig(background_weight=0)
    odd = Video("odd", np.zeros((5, 1, 4), np.float32), [], None, "test")
    with pytest.raises(ValueError, match="video 'odd' has features of shape"):
        predict_dense(None, [data.videos[1], odd], OADConfig())


def test_ignored_frames_give_no_sample_and_no_previous_action():
    ignored = np.zeros(30, dtype=bool)
    ignored[15:20] = True  # the whole "pour water" segment (and the frames after it in it)
    ignored[3] = True      # one frame of "add salt": the segment still counts
    data = _toy(ignored)
    windows = training_windows(data, "train", OADConfig(window=2, context="previous_action"), dense=True)
    assert [s.frame for s in windows] == [t for t in range(30) if not ignored[t]]
    context = {s.frame: s.context for s in windows}
    assert [context[t] for t in (0, 2, 7)] == ["none"] * 3
    assert [context[t] for t in (8, 14)] == ["add salt"] * 2
    # Without the mask frames 20-27 would have "pour water" as their previous action.
    assert [context[t] for t in (20, 24, 27)] == ["stir soup"] * 3
    assert [context[t] for t in (28, 29)] == ["add salt"] * 2
    # Ignored frames are still seen as past input of later windows (they are video, not labels).
    assert _frames(windows[[s.frame for s in windows].index(21)]).tolist() == [20, 21]
    data.videos[0].ignored = np.zeros(29, dtype=bool)
    with pytest.raises(ValueError, match="video 'a': ignored mask has shape"):
        training_windows(data, "train", OADConfig())


def test_oad_samples_is_lazy_and_equals_indexing(tmp_path):
    data = _toy()
    np.save(tmp_path / "a.npy", data.videos[0].features)
    data.videos[0].features = np.load(tmp_path / "a.npy", mmap_mode="r")  # features stay on disk
    samples = oad_samples(data, "train", window=4, long_context=6, long_tokens=2, stride=3)
    assert isinstance(samples, OADWindows) and samples.videos[0].features is data.videos[0].features
    assert len(samples) == 10 and [s.frame for s in samples[2:5]] == [6, 9, 12]
    assert isinstance(samples[2:5], OADWindows) and samples[-1].frame == 27
    with pytest.raises(IndexError):
        samples[10]
    # A batch gathered at once equals collate() of the samples one by one.
    idx = [7, 0, 3, 3]
    one_by_one, at_once = collate([samples[i] for i in idx]), samples.batch(idx)
    for a, b in zip(one_by_one.visual, at_once.visual):
        assert torch.equal(a, b)
    assert torch.equal(one_by_one.targets, at_once.targets) and one_by_one.contexts == at_once.contexts
    assert [s.frame for s in samples.__getitems__(idx)] == [samples[i].frame for i in idx]


def test_lazy_windows_give_the_batches_and_training_of_a_list(data):
    windows = training_windows(data, "train", OADConfig(window=3, stride=2))
    listed = list(windows)
    config = TrainConfig(epochs=2, batch_size=4, seed=3, progress=False)
    for epoch in (0, 1):
        for a, b in zip(epoch_loader(windows, config, epoch), epoch_loader(listed, config, epoch), strict=True):
            assert all(torch.equal(x, y) for x, y in zip(a.visual, b.visual))
            assert torch.equal(a.targets, b.targets) and a.contexts == b.contexts
    names = {"oad": label_names(data, "oad")}
    losses = []
    for samples in (windows, listed):
        clf = build_classifier("gad", names, data.feature_dim, seed=0, background_weight=0.5)
        losses.append(train(clf, samples, TrainConfig(epochs=1, batch_size=4, seed=3, progress=False)).loss)
    assert losses[0] == losses[1]  # bit-identical


# ---------------------------------------------------------------------------------------------
# Background weighting, the same for every classifier
# ---------------------------------------------------------------------------------------------

def _oad_batch(dim: int, targets=(0, 1, 0, 2, 3)) -> Batch:
    g = torch.Generator().manual_seed(0)
    return Batch([torch.randn(3, dim, generator=g) for _ in targets], ["oad"] * len(targets),
                 torch.tensor(targets), ["none"] * len(targets))


def test_sample_weights_mark_only_oad_background(data, models):
    clf = models["discriminative"]
    batch = _oad_batch(data.feature_dim)
    clf.background_weight = 0.2
    try:
        assert clf.sample_weights(batch).tolist() == pytest.approx([0.2, 1, 0.2, 1, 1])
        steps = Batch(batch.visual[:2], ["step"] * 2, torch.tensor([0, 1]), ["x", "y"])
        assert clf.sample_weights(steps).tolist() == [1.0, 1.0]  # class 0 of steps is no background
    finally:
        clf.background_weight = 1.0


def test_generative_background_weight_matches_a_hand_recomputation(data, models):
    gen = models["generative"]
    batch = _oad_batch(data.feature_dim)
    tokens = [gen.label_tokens("oad", t) for t in batch.targets.tolist()]
    assert gen.label_spaces["oad"].names[0] == "background"
    with torch.no_grad():
        prefixes = gen.mllm.prefix_embeds(batch.visual, batch.kinds)
        lp = gen.mllm.teacher_forced(prefixes, tokens).token_logprobs
        nll = [-lp[sum(map(len, tokens[:i])):sum(map(len, tokens[:i + 1]))] for i in range(len(tokens))]
        try:
            losses = {}
            for w_bg in (1.0, 0.2):
                gen.background_weight = w_bg
                losses[w_bg] = gen.loss(batch)
                w = [w_bg if t == 0 else 1.0 for t in batch.targets.tolist()]
                hand = sum(wi * n.sum() for wi, n in zip(w, nll)) / sum(wi * len(n) for wi, n in zip(w, nll))
                torch.testing.assert_close(losses[w_bg], hand, atol=1e-6, rtol=0)
        finally:
            gen.background_weight = 1.0
    torch.testing.assert_close(losses[1.0], -lp.mean(), atol=1e-6, rtol=0)  # weight 1: the plain mean
    assert abs(losses[1.0] - losses[0.2]) > 1e-4


def test_gad_generates_the_previous_action_as_an_option(data):
    windows = training_windows(data, "train", OADConfig(window=2, context="previous_action"), dense=True)
    gad = build_classifier("gad", {"oad": label_names(data, "oad")}, data.feature_dim)
    tok = gad.mllm.tokenizer
    batch = windows.batch(np.arange(len(windows)))
    expected = []
    for video in data.split("train"):
        previous = "none"
        for t in range(len(video.features)):
            done = [s for s in video.segments if s.end <= t]
            previous = data.step_names[done[-1].label] if done else "none"
            expected.append(previous)
    assert batch.contexts == expected and set(expected) - {"none"}
    assert gad.generation_targets(batch)[5] == tok(expected[5], add_special_tokens=False)["input_ids"] + [
        tok.eos_token_id]


# ---------------------------------------------------------------------------------------------
# Dense prediction
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("start", ["short", "repeat"])
@pytest.mark.parametrize("method, kwargs", [("discriminative", {}), ("gad", {}),
                                            ("generative", {"decoding": "greedy"}),
                                            ("generative", {"decoding": "exact"})])
def test_batched_dense_prediction_equals_the_per_frame_reference(data, models, method, kwargs, start):
    cfg = OADConfig(window=3, long_context=4, long_tokens=2, start=start)
    videos = data.split("test")
    batched = predict_dense(models[method], videos, cfg, batch_size=7, **kwargs)  # batches span videos
    reference = predict_dense_reference(models[method], videos, cfg, **kwargs)
    C = len(label_names(data, "oad"))
    assert [d.video_id for d in batched] == [v.video_id for v in videos]
    for b, r, v in zip(batched, reference, videos):
        T = len(v.features)
        assert isinstance(b, DensePrediction) and b.scores.shape == (T, C) and b.scores.dtype == np.float32
        assert b.pred.shape == b.truth.shape == b.ignored.shape == (T,)
        assert b.pred.dtype == b.truth.dtype == np.int64 and b.ignored.dtype == bool
        assert (b.truth == v.frame_labels()).all() and not b.ignored.any()
        np.testing.assert_array_equal(b.pred, r.pred)
        np.testing.assert_allclose(b.scores, r.scores, atol=1e-4, rtol=0)
        np.testing.assert_array_equal(b.pred, b.scores.argmax(1))


@pytest.mark.parametrize("start", ["short", "repeat"])
def test_first_frames_get_the_prediction_of_their_training_window(data, models, start):
    """Frame 0 is predicted from the window a training window at frame 0 would be (one frame, or
    frame 0 repeated)."""
    clf, cfg = models["discriminative"], OADConfig(window=4, start=start)
    video = data.split("test")[0]
    dense = predict_dense(clf, [video], cfg)[0]
    first = training_windows(data, "test", cfg, dense=True)[0]
    assert len(first.visual) == (1 if start == "short" else 4)
    np.testing.assert_allclose(dense.scores[0], clf.predict(collate([first])).scores[0], atol=1e-5, rtol=0)
    ignored = np.zeros(len(video.features), dtype=bool)
    ignored[:3] = True
    masked = Video(video.video_id, video.features, video.segments, None, "test", ignored)
    out = predict_dense(clf, [masked], cfg)[0]
    assert len(out.pred) == len(video.features) and out.ignored.tolist() == ignored.tolist()  # still scored


def _stub_metrics(preds, truths, scores, fps, ignored=None, background=0, class_names=None):
    """Stands in for gadlib.evaluation.metrics.oad_metrics where it is missing: frame accuracy of kept frames."""
    keep = np.concatenate([~m for m in ignored])
    hit = np.concatenate([p == t for p, t in zip(preds, truths)])
    return {"frame_acc": float(hit[keep].mean()), "seg_f1_0.1": float(hit[keep].mean()),
            "n_classes": len(class_names), "fps": fps}


def test_run_oad_trains_evaluates_and_summarizes(data, monkeypatch):
    if not hasattr(gadlib.evaluation.metrics, "oad_metrics"):
        monkeypatch.setattr(gadlib.evaluation.metrics, "oad_metrics", _stub_metrics, raising=False)
    setup = Setup(train=TrainConfig(epochs=1, batch_size=8, progress=False))
    cfg = OADConfig(window=3, stride=3, background_weight=0.5)
    runs = run_oad("generative", data, 0, setup, cfg, decodings=("greedy", "exact"), keep_model=True)
    assert sorted(runs) == ["generative", "generative_exact"]
    result = runs["generative"].results["oad"]
    # batched throughput under its own name ("fps" repeats it for notebooks written before the rename)
    assert set(result) == {"videos", "metrics", "batched_frames_per_s", "fps"} and result["batched_frames_per_s"] > 0
    assert result["fps"] == result["batched_frames_per_s"] == result["metrics"]["batched_frames_per_s"]
    assert len(result["videos"]) == len(data.split("test"))
    assert runs["generative"].classifier.background_weight == 0.5
    table = summarize(list(runs.values()), kinds=("oad",), metrics=("seg_f1_0.1",))
    assert set(table) == {"generative", "generative_exact"} and "oad_seg_f1_0.1" in table["generative"]
    direct = evaluate_oad(runs["generative"].classifier, data, "test", cfg, batch_size=5)
    assert direct["metrics"]["seg_f1_0.1"] == result["metrics"]["seg_f1_0.1"]
    with pytest.raises(ValueError, match="background_weight in the OADConfig"):
        run_oad("discriminative", data, 0, setup, cfg, background_weight=0.2)


# ---------------------------------------------------------------------------------------------
# GAD's OAD target (the authors': "<current>, <most recent other action in the short window>")
# ---------------------------------------------------------------------------------------------

def test_gad_target_is_the_current_label_then_the_last_other_action_in_the_window():
    # video "a": 0 0 | add salt 2-7 | 0 0 | stir soup 10-14 | pour water 15-19 | 0 x5 | add salt 25-27 | 0 0
    data = _toy()
    windows = training_windows(data, "train", OADConfig(window=4), dense=True)
    context = {s.frame: s.context for s in windows}
    expected = {0: "background", 2: "add salt", 8: "background, add salt", 11: "stir soup", 13: "stir soup",
                15: "pour water, stir soup", 18: "pour water", 20: "background, pour water",
                23: "background", 26: "add salt", 28: "background, add salt"}
    assert {t: context[t] for t in expected} == expected
    # the other action must be inside the short window: with 2 frames, frame 9 no longer sees frame 7
    short = {s.frame: s.context for s in training_windows(data, "train", OADConfig(window=2), dense=True)}
    assert short[8] == "background, add salt" and short[9] == "background"
    # ignored frames are no action: with pour water's last frames ignored, frame 20 sees none
    ignored = np.zeros(30, dtype=bool)
    ignored[17:20] = True
    masked = {s.frame: s.context for s in training_windows(_toy(ignored), "train", OADConfig(window=4),
                                                           dense=True)}
    assert masked[20] == "background" and masked[21] == "background"


def test_thumos_target_is_the_current_label_alone():
    data = _toy()
    context = {s.frame: s.context for s in training_windows(data, "train", OADConfig(window=4, context="current"),
                                                            dense=True)}
    assert [context[t] for t in (0, 8, 15, 20, 26)] == ["background", "background", "pour water",
                                                        "background", "add salt"]


def test_oad_context_codes_and_text():
    labels = np.array([0, 2, 2, 0, 1, 1, 2])
    codes = oad_context(labels, np.zeros(7, bool), OADConfig(window=3))
    assert codes.tolist() == [[0, 0], [2, 0], [2, 0], [0, 2], [1, 2], [1, 0], [2, 1]]
    names = ["background", "a", "b"]
    assert [context_text(c, o, names) for c, o in codes] == [
        "background", "b", "b", "background, b", "a, b", "a", "b, a"]


def test_gad_generates_the_target_text_after_cls(data):
    windows = training_windows(data, "train", OADConfig(window=4))
    gad = build_classifier("gad", {"oad": label_names(data, "oad")}, data.feature_dim)
    batch = windows.batch(np.arange(len(windows)))
    assert any(", " in c for c in batch.contexts)
    tok = gad.mllm.tokenizer
    for text, ids in zip(batch.contexts, gad.generation_targets(batch)):
        assert ids == tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]


# ---------------------------------------------------------------------------------------------
# Loss normalisation: the authors' mean over the batch, or gadlib's earlier weighted mean
# ---------------------------------------------------------------------------------------------

def test_discriminative_loss_normalisation_on_a_hand_made_batch(data):
    batch = _oad_batch(data.feature_dim)
    weights = torch.tensor([0.2 if t == 0 else 1.0 for t in batch.targets.tolist()])
    losses = {}
    for norm in ("batch", "weights"):
        clf = build_classifier("discriminative", {"oad": label_names(data, "oad")}, data.feature_dim, seed=0,
                               background_weight=0.2, loss_norm=norm)
        with torch.no_grad():
            logits = clf.head_logits("oad", clf.readout_state(batch))
            per_sample = torch.nn.functional.cross_entropy(logits, batch.targets, reduction="none")
            losses[norm] = clf.loss(batch)
        hand = (weights * per_sample).sum() / (len(batch) if norm == "batch" else weights.sum())
        torch.testing.assert_close(losses[norm], hand, atol=1e-6, rtol=0)
    # 2 background windows of 5 at weight 0.2 (weights sum to 3.4): batch mean = weighted mean x 3.4 / 5
    torch.testing.assert_close(losses["batch"], losses["weights"] * 3.4 / 5, atol=1e-6, rtol=0)


def test_generative_batch_normalisation_averages_each_windows_tokens_first(data, models):
    gen = models["generative"]
    batch = _oad_batch(data.feature_dim)
    tokens = [gen.label_tokens("oad", t) for t in batch.targets.tolist()]
    with torch.no_grad():
        lp = gen.mllm.teacher_forced(gen.mllm.prefix_embeds(batch.visual, batch.kinds), tokens).token_logprobs
        ends = np.cumsum([0] + [len(t) for t in tokens])
        per_window = torch.stack([-lp[a:b].mean() for a, b in zip(ends[:-1], ends[1:])])
        w = torch.tensor([0.5 if t == 0 else 1.0 for t in batch.targets.tolist()])
        try:
            gen.background_weight, gen.loss_norm = 0.5, "batch"
            torch.testing.assert_close(gen.loss(batch), (w * per_window).sum() / len(batch), atol=1e-6, rtol=0)
        finally:
            gen.background_weight, gen.loss_norm = 1.0, "weights"
    with pytest.raises(ValueError, match="loss_norm must be one of"):
        build_classifier("discriminative", {"oad": ["background", "a"]}, 4, loss_norm="sum")


def test_run_oad_passes_the_configs_loss_normalisation(data):
    setup = Setup(train=TrainConfig(epochs=1, batch_size=8, progress=False))
    runs = run_oad("discriminative", data, 0, setup, OADConfig(window=3, background_weight=0.5), keep_model=True)
    clf = runs["discriminative"].classifier
    assert clf.loss_norm == "batch" and clf.spec["method_kwargs"]["loss_norm"] == "batch"
    with pytest.raises(ValueError, match="loss_norm in the OADConfig"):
        run_oad("discriminative", data, 0, setup, OADConfig(window=3), loss_norm="weights")


def test_generate_first_writes_only_the_other_action_before_cls():
    from gadlib.core.gad import context_before_answer
    assert context_before_answer("oad", "pour water, stir soup", "pour water") == "stir soup"
    assert context_before_answer("oad", "background, add salt", "background") == "add salt"
    assert context_before_answer("oad", "add salt", "add salt") == ""
    assert context_before_answer("oad", "stir soup", "add salt") == "stir soup"  # a previous action: kept


def test_run_oad_validates_every_epoch_on_the_held_out_videos():
    split = tiny_oad_stream(videos_per_task=4).with_validation(0.3, seed=0)
    setup = Setup(train=TrainConfig(epochs=3, batch_size=8, progress=False, patience=None))
    run = run_oad("discriminative", split, 0, setup, OADConfig(window=3), validate_on="val")["discriminative"]
    h = run.history
    assert len(h.val_score) == 3 and all(0 <= s <= 1 for s in h.val_score)
    assert h.best_step == h.val_steps[int(np.argmax(h.val_score))]
    # the two-stage ablation's second stage validates the same way
    from gadlib.evaluation.ablations import run_two_stage_oad
    gen = run_oad("generative", split, 0, setup, OADConfig(window=3), keep_model=True)["generative"]
    two = run_two_stage_oad(gen, split, setup, OADConfig(window=3), validate_on="val")
    assert len(two.history.val_score) == 3 and two.history.best_step is not None
