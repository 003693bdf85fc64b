"""gadlib.data.features: decoding by timestamp, the paper's two token recipes, resumable atomic runs.

Videos are written here with PyAV (a red square moving 4 px per source frame, so the square's
column tells which source frame was sampled); encoders are tiny random-init SigLIP and DINOv2
models saved locally with their image processors.
"""
from __future__ import annotations

import fractions
import json

import av
import numpy as np
import pytest
import torch
from transformers import (BitImageProcessorPil, Dinov2Config, Dinov2Model, SiglipImageProcessorPil,
                          SiglipVisionConfig, SiglipVisionModel)

from gadlib.data import features as F
from gadlib.data.datasets import read_coin

W, H, STEP, SIDE = 96, 48, 4, 8


def _frame(index: int) -> np.ndarray:
    """Source frame `index`: a blue background, a red square at column STEP * index, a green bar."""
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 2] = 90
    x = STEP * index
    img[10:10 + SIDE, x:x + SIDE] = (255, 0, 0)
    img[40:44, : (index * 5) % W] = (0, 200, 0)
    return img


def _square_index(rgb: np.ndarray) -> int:
    """Which source frame this is, from the red square's column (robust to lossy coding)."""
    red = rgb[10:10 + SIDE, :, 0].astype(float) - rgb[10:10 + SIDE, :, 2]
    return int(round(np.argmax(red.mean(0) > 128) / STEP))


def write_video(path, times_ms: list[int], last_ms: int = 100) -> None:
    """A video with frame i (`_frame(i)`) shown from times_ms[i]; variable spacing = VFR."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=round(1000 / last_ms))
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.time_base = stream.codec_context.time_base = fractions.Fraction(1, 1000)
        stream.options = {"crf": "10"}
        for i, t in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(_frame(i), format="rgb24")
            frame.pts, frame.time_base = t, fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_audio_only(path) -> None:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            container.mux(packet)


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    """Tiny random-init SigLIP (48 px, 8 px patches: a 6 x 6 patch grid) and DINOv2 folders."""
    root = tmp_path_factory.mktemp("encoders")
    torch.manual_seed(0)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                 image_size=48, patch_size=8)
    SiglipVisionModel(SiglipVisionConfig(**small)).save_pretrained(root / "siglip")
    SiglipImageProcessorPil(size={"height": 48, "width": 48}).save_pretrained(root / "siglip")
    Dinov2Model(Dinov2Config(**small)).save_pretrained(root / "dinov2")
    BitImageProcessorPil(size={"shortest_edge": 48}, crop_size={"height": 48, "width": 48}
                         ).save_pretrained(root / "dinov2")
    return {"siglip": str(root / "siglip"), "dinov2": str(root / "dinov2")}


@pytest.fixture
def video_dir(tmp_path):
    """Two constant-rate videos (10 fps, 2.0 s and 1.5 s) and one variable-frame-rate video."""
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    write_video(folder / "cfr.mp4", list(range(0, 2000, 100)))
    write_video(folder / "sub" / "short.mkv", list(range(0, 1500, 100)))
    write_video(folder / "vfr.mkv", VFR_MS, last_ms=100)
    return folder


# Frame i is shown from VFR_MS[i] ms; the last one lasts 100 ms, so the video ends at 2.0 s.
VFR_MS = [0, 100, 150, 400, 1000, 1050, 1900]


def test_constant_rate_is_sampled_every_fps_th_second(video_dir):
    sampled = list(F.frames_at_fps(video_dir / "cfr.mp4", fps=2.0))
    assert [t for t, _ in sampled] == [0.0, 0.5, 1.0, 1.5]  # 2.0 s is the end, not a frame
    assert [_square_index(f) for _, f in sampled] == [0, 5, 10, 15]
    # Faster than the source: each source frame is repeated (frame at 0.1 s shown until 0.2 s).
    sampled = list(F.frames_at_fps(video_dir / "cfr.mp4", fps=25.0))
    assert len(sampled) == 50
    assert [_square_index(f) for _, f in sampled[:6]] == [0, 0, 0, 1, 1, 2]  # t = 0, .04, .08, .12, .16, .2


def test_variable_frame_rate_is_sampled_by_timestamp(video_dir):
    sampled = list(F.frames_at_fps(video_dir / "vfr.mkv", fps=2.0))
    assert [t for t, _ in sampled] == [0.0, 0.5, 1.0, 1.5]
    # On screen at 0.5 s: the frame from 0.4 s (index 3); at 1.0: index 4; at 1.5: the one from 1.05 s.
    assert [_square_index(f) for _, f in sampled] == [0, 3, 4, 5]
    sampled = list(F.frames_at_fps(video_dir / "vfr.mkv", fps=10.0))
    assert [_square_index(f) for _, f in sampled] == [0, 1, 2, 2, 3, 3, 3, 3, 3, 3,
                                                      4, 5, 5, 5, 5, 5, 5, 5, 5, 6]


def test_unreadable_files_name_the_file(tmp_path):
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    write_audio_only(tmp_path / "audio.mp4")
    with pytest.raises(F.VideoReadError, match=r"corrupt\.mp4: cannot open"):
        list(F.frames_at_fps(tmp_path / "corrupt.mp4", 2.0))
    with pytest.raises(F.VideoReadError, match=r"audio\.mp4: has no video stream"):
        list(F.frames_at_fps(tmp_path / "audio.mp4", 2.0))


def test_grid_pool_equals_a_hand_computation():
    patches = torch.randn(2, 8 * 8, 5)
    pooled = F.grid_pool(patches, 8, 8, grid=3)
    grid = patches.reshape(2, 8, 8, 5).numpy()
    bins = [(0, 3), (2, 6), (5, 8)]  # floor(i * 8 / 3) .. ceil((i + 1) * 8 / 3)
    expected = [[grid[n, r0:r1, c0:c1].mean((0, 1)) for r0, r1 in bins for c0, c1 in bins] for n in range(2)]
    np.testing.assert_allclose(pooled.numpy(), np.array(expected), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="64 patch tokens do not form a 7 x 8 grid"):
        F.grid_pool(patches, 7, 8)


def test_siglip_coin_tokens_are_pooled_plus_3x3_grid(encoders, video_dir, tmp_path):
    out = tmp_path / "COIN"
    settings = F.ExtractionSettings(encoders["siglip"], fps=2.0, layout="coin")
    report = F.extract_features(video_dir, out, settings, batch_size=3, progress=False)
    assert sorted(report.extracted) == ["cfr", "short", "vfr"] and not report.failed
    cfr = np.load(out / "features" / "cfr.npy")
    assert cfr.shape == (4, 10, 32) and cfr.dtype == np.float32
    assert np.load(out / "features" / "short.npy").shape == (3, 10, 32)

    # Recompute by hand: the model on the processed frames, pooled output + 2 x 2 patch means.
    model = SiglipVisionModel.from_pretrained(encoders["siglip"]).eval()
    processor = SiglipImageProcessorPil.from_pretrained(encoders["siglip"])
    frames = [f for _, f in F.frames_at_fps(video_dir / "cfr.mp4", 2.0)]
    with torch.no_grad():
        o = model(pixel_values=processor(images=frames, return_tensors="pt")["pixel_values"])
    patches = o.last_hidden_state.reshape(4, 3, 2, 3, 2, 32).mean((2, 4)).reshape(4, 9, 32)
    np.testing.assert_allclose(cfr[:, 0], o.pooler_output.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cfr[:, 1:], patches.numpy(), rtol=1e-4, atol=1e-5)

    manifest = json.loads((out / "features" / "manifest.json").read_text())
    assert manifest["settings"]["encoder"] == encoders["siglip"] and manifest["settings"]["tokens"] == "pooled_grid"
    assert manifest["videos"]["cfr"]["shape"] == [4, 10, 32] and manifest["videos"]["vfr"]["frames"] == 4

    # The folder is what read_coin reads: a segment 0.5-1.5 s is frames [1, 3) at 2 fps.
    database = {vid: {"subset": subset, "class": "make tea",
                      "annotation": [{"segment": [0.5, 1.5], "label": "boil water"}]}
                for vid, subset in (("cfr", "training"), ("vfr", "training"), ("short", "testing"))}
    (out / "COIN.json").write_text(json.dumps({"database": database}))
    coin = read_coin(out)
    video = next(v for v in coin.videos if v.video_id == "cfr")
    assert video.features.shape == (4, 10, 32) and (video.segments[0].start, video.segments[0].end) == (1, 3)


def test_dinov2_oad_is_the_cls_token_per_frame(encoders, video_dir, tmp_path):
    settings = F.ExtractionSettings(encoders["dinov2"], fps=1.0, layout="oad", feature_dir="dinov2")
    assert settings.tokens == "cls"
    F.extract_features(video_dir, tmp_path, settings, progress=False)
    vfr = np.load(tmp_path / "dinov2" / "vfr.npy")
    assert vfr.shape == (2, 32)  # [T, D] at 1 fps: t = 0 and 1 s
    model = Dinov2Model.from_pretrained(encoders["dinov2"]).eval()
    processor = BitImageProcessorPil.from_pretrained(encoders["dinov2"])
    frames = [f for _, f in F.frames_at_fps(video_dir / "vfr.mkv", 1.0)]
    with torch.no_grad():
        hidden = model(pixel_values=processor(images=frames, return_tensors="pt")["pixel_values"]).last_hidden_state
    np.testing.assert_allclose(vfr, hidden[:, 0].numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="one token per frame"):
        F.ExtractionSettings(encoders["dinov2"], fps=1.0, layout="oad", tokens="pooled_grid")


class _Counting:
    """Wraps an encoder; counts frames, and raises KeyboardInterrupt at the call `stop_at`."""

    def __init__(self, encoder, stop_at=None):
        self.encoder, self.stop_at, self.calls, self.frames = encoder, stop_at, 0, 0

    def __call__(self, frames):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        self.frames += len(frames)
        return self.encoder(frames)


def test_a_run_resumes_after_an_interruption(encoders, video_dir, tmp_path):
    settings = F.ExtractionSettings(encoders["dinov2"], fps=2.0, layout="coin", tokens="pooled", grid=3)
    encoder = F.FrameEncoder(encoders["dinov2"], tokens="pooled")
    reference = F.extract_features(video_dir, tmp_path / "ref", settings, progress=False, encoder=encoder)
    assert not reference.failed

    # One video per call (batch 4 >= its 4 frames): the second video is interrupted.
    interrupted = _Counting(encoder, stop_at=2)
    with pytest.raises(KeyboardInterrupt):
        F.extract_features(video_dir, tmp_path / "run", settings, batch_size=4, progress=False, encoder=interrupted)
    folder = tmp_path / "run" / "features"
    assert sorted(p.name for p in folder.iterdir()) == ["cfr.npy", "manifest.json"]  # no temporary file
    assert list(json.loads((folder / "manifest.json").read_text())["videos"]) == ["cfr"]

    resumed = _Counting(encoder)
    report = F.extract_features(video_dir, tmp_path / "run", settings, batch_size=4, progress=False, encoder=resumed)
    assert report.skipped == ["cfr"] and sorted(report.extracted) == ["short", "vfr"]
    assert resumed.frames == 3 + 4  # short (1.5 s) and vfr (2.0 s) at 2 fps; cfr not redone
    for vid in ("cfr", "short", "vfr"):
        reference_array = np.load(tmp_path / "ref" / "features" / f"{vid}.npy")
        np.testing.assert_array_equal(np.load(folder / f"{vid}.npy"), reference_array)
    assert sorted(json.loads((folder / "manifest.json").read_text())["videos"]) == ["cfr", "short", "vfr"]

    with pytest.raises(ValueError, match="extracted with settings .* not"):
        F.extract_features(video_dir, tmp_path / "run", F.ExtractionSettings(encoders["dinov2"], fps=1.0,
                           tokens="pooled"), progress=False, encoder=encoder)


def test_a_crash_while_saving_leaves_no_partial_file(encoders, video_dir, tmp_path, monkeypatch):
    settings = F.ExtractionSettings(encoders["dinov2"], fps=1.0, layout="oad")

    def broken_save(file, array):
        file.write(b"\x93NUMPY partial")
        raise OSError("disk full")
    monkeypatch.setattr(F.np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        F.extract_features(video_dir, tmp_path, settings, progress=False)
    # No video was extracted, so no manifest binds the folder to these settings either.
    assert [p.name for p in (tmp_path / "rgb_features").iterdir()] == []


def test_a_folder_without_videos_is_an_error_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "notes.txt").write_text("no video here")
    code = F.main([str(tmp_path / "videos"), str(tmp_path / "out"), "--encoder", "no/such-encoder",
                   "--fps", "4", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "videos: no video files" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()  # no manifest locking in the encoder name


def test_no_manifest_until_a_video_is_extracted(encoders, tmp_path, capsys):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "corrupt.mp4").write_bytes(b"not a video at all" * 100)
    code = F.main([str(tmp_path / "videos"), str(tmp_path / "out"), "--encoder", encoders["dinov2"],
                   "--fps", "1", "--layout", "oad", "--no-progress"])
    assert code == 1 and "FAILED corrupt:" in capsys.readouterr().err
    assert not (tmp_path / "out" / "rgb_features" / "manifest.json").exists()


def test_bad_files_are_listed_and_the_run_goes_on(encoders, video_dir, tmp_path, capsys):
    (video_dir / "corrupt.mp4").write_bytes(b"not a video at all" * 100)
    write_audio_only(video_dir / "sub" / "audio_only.mp4")
    code = F.main([str(video_dir), str(tmp_path), "--encoder", encoders["dinov2"], "--fps", "1",
                   "--layout", "oad", "--no-progress"])
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "rgb_features").glob("*.npy")) == ["cfr.npy", "short.npy", "vfr.npy"]
    manifest = json.loads((tmp_path / "rgb_features" / "manifest.json").read_text())
    assert sorted(manifest["failed"]) == ["audio_only", "corrupt"]
    assert "audio_only.mp4: has no video stream" in manifest["failed"]["audio_only"]
    err = capsys.readouterr().err
    assert "FAILED corrupt:" in err and "corrupt.mp4" in err and "FAILED audio_only:" in err


def test_an_image_text_checkpoint_uses_its_image_tower(tmp_path, video_dir):
    from transformers import SiglipConfig, SiglipModel

    torch.manual_seed(0)
    config = SiglipConfig(text_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, vocab_size=50),
                          vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                             num_attention_heads=2, image_size=48, patch_size=8))
    model = SiglipModel(config).eval()
    model.save_pretrained(tmp_path / "siglip_full")
    SiglipImageProcessorPil(size={"height": 48, "width": 48}).save_pretrained(tmp_path / "siglip_full")
    encoder = F.FrameEncoder(str(tmp_path / "siglip_full"), "pooled_grid")
    frames = [f for _, f in F.frames_at_fps(video_dir / "cfr.mp4", 1.0)]
    tokens = encoder(frames)
    assert tokens.shape == (2, 10, 32)
    pixels = SiglipImageProcessorPil.from_pretrained(tmp_path / "siglip_full")(images=frames, return_tensors="pt")
    with torch.no_grad():
        expected = model.vision_model(pixel_values=pixels["pixel_values"]).pooler_output
    np.testing.assert_allclose(tokens[:, 0], expected.numpy(), rtol=1e-4, atol=1e-5)
