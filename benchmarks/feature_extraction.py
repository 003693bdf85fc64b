"""How long `gadlib.data.features` takes per minute of video: decoding + sampling, and the encoder.

    python benchmarks/feature_extraction.py                       # a written 640x360 30 fps clip, tiny encoder
    python benchmarks/feature_extraction.py --video my.mp4 --encoder google/siglip-large-patch16-384 --device cuda

Writes a clip with PyAV (moving shapes, libx264) unless --video is given, then times
`frames_at_fps` alone (decoding and sampling) and `extract_video` (decoding + encoder), each the
median of --repeats runs. Without --encoder the encoder is a tiny random-init SigLIP: its time says
nothing about a real encoder, only the decoding number is informative then.
"""
from __future__ import annotations

import argparse
import fractions
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def write_clip(path: Path, seconds: float, width: int = 640, height: int = 360, rate: int = 30) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(seconds * rate)):
            img = np.full((height, width, 3), 40, np.uint8)
            x, y = (7 * i) % (width - 60), (3 * i) % (height - 60)
            img[y:y + 60, x:x + 60] = (230, 60, 30)
            img[height - y - 40:height - y, width - x - 40:width - x] = (30, 200, 90)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, fractions.Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def tiny_siglip(folder: Path) -> str:
    import torch
    from transformers import SiglipImageProcessorPil, SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(0)
    config = SiglipVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                num_attention_heads=2, image_size=96, patch_size=16)
    SiglipVisionModel(config).save_pretrained(folder)
    SiglipImageProcessorPil(size={"height": 96, "width": 96}).save_pretrained(folder)
    return str(folder)


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", default=None)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the written clip")
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--encoder", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    from gadlib.data import features as F
    from gadlib.core.utils import quiet

    quiet()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(args.video) if args.video else Path(tmp) / "clip.mp4"
        if not args.video:
            write_clip(video, args.seconds)
        duration = F.video_duration(video)
        encoder = F.FrameEncoder(args.encoder or tiny_siglip(Path(tmp) / "siglip"), "pooled_grid",
                                 device=args.device)
        decode = median_seconds(lambda: sum(1 for _ in F.frames_at_fps(video, args.fps)), args.repeats)
        full = median_seconds(lambda: F.extract_video(encoder, video, args.fps, args.batch_size), args.repeats)
        frames = sum(1 for _ in F.frames_at_fps(video, args.fps))
    result = {"video_seconds": duration, "fps": args.fps, "sampled_frames": frames,
              "encoder": args.encoder or "tiny random-init SigLIP (96 px, 2 layers)",
              "device": str(encoder.device), "threads": args.threads,
              "decode_seconds": round(decode, 3), "decode_seconds_per_video_minute": round(decode / duration * 60, 3),
              "extract_seconds": round(full, 3), "extract_seconds_per_video_minute": round(full / duration * 60, 3)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
