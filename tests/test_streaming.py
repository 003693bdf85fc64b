"""A live system's frame-by-frame detector (gadlib.streaming) against dense evaluation of the
recorded video: the same window at every frame, so the same predictions."""
import numpy as np
import pytest
import torch

from gadlib.benchmark import generate_benchmark, preset
from gadlib.methods import build_classifier
from gadlib.oad import OADConfig, predict_dense
from gadlib.samples import label_names
from gadlib.streaming import StreamingDetector

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    return generate_benchmark(preset("thumos_like", videos_per_task=2, num_tasks=2, num_classes=5,
                                     steps_per_task=(2, 3), feature_dim=16, step_frames=(3, 6),
                                     background_frames=(2, 4)))


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
