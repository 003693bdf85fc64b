"""A live system's frame-by-frame detectors (gadlib.evaluation.streaming, discriminative / GAD and generative)
against dense evaluation of the recorded video: the same window at every frame, so the same
predictions; and the streaming FPS that times them."""
import numpy as np
import pytest
import torch

from gadlib.lms.build import build_classifier
from gadlib.evaluation.oad import OADConfig, OADWindows, predict_dense
from gadlib.data.samples import label_names
from gadlib.evaluation.streaming import GenerativeStreamingDetector, StreamingDetector, live_fps, streaming_fps
from conftest import tiny_oad_stream

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    return tiny_oad_stream()


@pytest.mark.parametrize("method", ["discriminative", "gad"])
@pytest.mark.parametrize("cfg", [OADConfig(window=4), OADConfig(window=3, long_context=7, long_tokens=7),
                                 OADConfig(window=3, long_context=8, long_tokens=3),
                                 OADConfig(window=4, start="repeat"),
                                 OADConfig(window=3, long_context=7, start="repeat")])
def test_streaming_equals_dense_prediction(data, method, cfg):
    model = build_classifier(method, {"oad": label_names(data, "oad")}, data.feature_dim, seed=0).eval()
    videos = data.split("test")[:2]
    dense = predict_dense(model, videos, cfg, batch_size=8)
    live = StreamingDetector(model, cfg)
    for video, want in zip(videos, dense):
        live.reset()
        got = [live.push(frame) for frame in video.features]
        scores = np.concatenate([p.scores for p in got])
        np.testing.assert_array_equal(np.concatenate([p.pred for p in got]), want.pred)
        # the connector sees one frame instead of a batch of windows: the same numbers up to rounding
        np.testing.assert_allclose(scores, want.scores, rtol=0, atol=1e-5)
        # every frame fed: the window slides by one frame; subsampled: frames kept in a ring
        assert live.contiguous == (cfg.long_context == 0 or cfg.long_tokens == cfg.long_context)


def test_streaming_refuses_a_classifier_without_a_cls_head(data):
    names = {"oad": label_names(data, "oad")}
    with pytest.raises(ValueError, match="StreamingDetector"):
        StreamingDetector(build_classifier("generative", names, data.feature_dim), OADConfig(window=4))
    with pytest.raises(ValueError, match="StreamingDetector"):
        StreamingDetector(build_classifier("gad", names, data.feature_dim, readout="last_token"), OADConfig(window=4))
    with pytest.raises(ValueError, match="'oad'"):
        StreamingDetector(build_classifier("discriminative", {"steps": ["a", "b"]}, data.feature_dim),
                          OADConfig(window=4))


CONFIGS = [OADConfig(window=4), OADConfig(window=3, long_context=7, long_tokens=7),
           OADConfig(window=3, long_context=8, long_tokens=3), OADConfig(window=4, start="repeat")]


@pytest.mark.parametrize("rule", ["argmax", "threshold"])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_generative_streaming_equals_dense_prediction(data, cfg, rule):
    """Frame by frame at batch 1, the first-token decision included: the predictions of
    `predict_dense` (the threshold puts about half the frames on each side of the decision)."""
    model = build_classifier("generative", {"oad": label_names(data, "oad")}, data.feature_dim, seed=0).eval()
    videos = data.split("test")[:2]
    if rule == "threshold":
        windows = OADWindows(videos, [np.arange(len(v.features)) for v in videos], cfg)
        p = np.unique(model.first_token_decode(windows.batch(np.arange(len(windows)))).p_background)
        model.background_threshold = float(p[len(p) // 2 - 1:len(p) // 2 + 1].mean())  # between two frames
    dense = predict_dense(model, videos, cfg, batch_size=8)
    live = GenerativeStreamingDetector(model, cfg)
    for video, want in zip(videos, dense):
        live.reset()
        got = [live.push(frame) for frame in video.features]
        np.testing.assert_array_equal(np.concatenate([p.pred for p in got]), want.pred)
        np.testing.assert_array_equal(np.concatenate([p.scores for p in got]), want.scores)
    background = np.concatenate([d.pred for d in dense]) == 0
    assert (background.any() and not background.all()) if rule == "threshold" else not background.any()


def test_generative_streaming_refuses_other_classifiers(data):
    names = {"oad": label_names(data, "oad")}
    with pytest.raises(ValueError, match="needs a GenerativeClassifier"):
        GenerativeStreamingDetector(build_classifier("discriminative", names, data.feature_dim), OADConfig(window=4))
    with pytest.raises(ValueError, match="'oad'"):
        GenerativeStreamingDetector(build_classifier("generative", {"steps": ["a", "b"]}, data.feature_dim),
                                    OADConfig(window=4))


@pytest.mark.parametrize("method,decoding", [("discriminative", None), ("gad", None), ("generative", None),
                                             ("generative", "exact")])
def test_live_fps_of_every_classifier(data, method, decoding, monkeypatch):
    model = build_classifier(method, {"oad": label_names(data, "oad")}, data.feature_dim, seed=0).eval()
    videos = data.split("test")
    pushed = []
    detector_class = GenerativeStreamingDetector if method == "generative" else StreamingDetector
    push = detector_class.push
    monkeypatch.setattr(detector_class, "push", lambda self, frame: pushed.append(self.t + 1) or push(self, frame))
    fps = live_fps(model, videos, OADConfig(window=4), max_frames=len(videos[0].features) + 3, warmup=2,
                   decoding=decoding)
    assert fps > 0
    # 2 warm-up frames, then the first video whole and 3 frames of the second, each from its frame 0
    assert pushed == [0, 1] + list(range(len(videos[0].features))) + [0, 1, 2]
    with pytest.raises(ValueError, match="max_frames"):
        live_fps(model, videos, OADConfig(window=4), max_frames=0)
    with pytest.warns(DeprecationWarning, match="live_fps"):  # a sample of frames is not the paper's FPS
        assert streaming_fps(model, videos[:1], OADConfig(window=4), max_frames=3, decoding=decoding) > 0


@pytest.mark.parametrize("method", ["discriminative", "generative"])
def test_streaming_fps_predicts_every_test_frame_at_batch_1(data, method, monkeypatch):
    """The paper's protocol: one predict call of one window per frame of every video."""
    model = build_classifier(method, {"oad": label_names(data, "oad")}, data.feature_dim, seed=0).eval()
    videos = data.split("test")[:2]
    sizes, predict = [], type(model).predict
    monkeypatch.setattr(type(model), "predict", lambda self, batch, **kw: sizes.append(len(batch)) or
                        predict(self, batch, **kw))
    assert streaming_fps(model, videos, OADConfig(window=4)) > 0
    assert sizes == [1] * sum(len(v.features) for v in videos)
