"""Feature extraction: video files -> per-frame visual tokens of a frozen image encoder, written in
the layouts gadlib reads (`read_coin`, `read_oad`).

    python -m gadlib.features VIDEO_DIR OUT_DIR --encoder google/siglip-large-patch16-384 --fps 2 --layout coin
    python -m gadlib.features VIDEO_DIR OUT_DIR --encoder facebook/dinov2-giant --fps 1 --layout oad \\
        --feature-dir dinov2_vitg14

The paper's two recipes (docs/reproduce.md):
- COIN: SigLIP-L/16-384 at 2 fps, per frame the pooled embedding + a 3x3 average-pooled grid of
  patch embeddings = 10 tokens -> `<OUT_DIR>/features/<video>.npy` [T, 10, D] (`tokens="pooled_grid"`).
- CrossTask / Ego4D-GoalStep: DINOv2 at 1 fps, the CLS embedding ->
  `<OUT_DIR>/<feature_dir>/<video>.npy` [T, D] (`tokens="cls"`).
Any other `AutoModel` vision encoder (or the vision tower of a CLIP / SigLIP checkpoint) works by
hub name or local path.

Frames are sampled by timestamp, not by frame index: sample k is the frame on screen at k / fps
seconds after the first video frame, so variable-frame-rate files and files whose rate is not a
multiple of fps give frame k = second k / fps, which is how `read_coin` turns segment seconds into
frames. A file that cannot be read (corrupt, audio only) is reported by name, the run goes on
with the other files and lists the failures at the end. Every .npy is written atomically, and a
run can be interrupted and started again: finished videos are skipped. `<feature_dir>/manifest.json`,
written from the first video extracted on, records the encoder, the settings (the readers take the
frame rate from settings.fps) and every video extracted. A folder without videos is an error
(exit status 2, as for any bad argument).

Explained in docs/reproduce.md (no notebook extracts features: the notebooks use synthetic ones).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoImageProcessor, AutoModel

from gadlib.core.utils import quiet

TOKENS = ("pooled_grid", "cls", "pooled")
LAYOUTS = {"coin": "features", "oad": "rgb_features"}  # layout -> default feature folder (as the readers')
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp")
MANIFEST = "manifest.json"


class VideoReadError(RuntimeError):
    """A video file that cannot be decoded; the message names the file."""


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------

def frames_at_fps(path: str | Path, fps: float) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, RGB uint8 frame [H, W, 3]) for t = 0, 1/fps, 2/fps, ... while t is before
    the end of the last frame; times count from the first video frame.

    The frame at time t is the last decoded frame whose presentation time is <= t (the frame a
    player shows at t), so a variable frame rate or a rate that is not a multiple of fps needs no
    special case; a frame may be repeated (source slower than fps) or skipped (faster).
    """
    import av  # optional (pip install av): only feature extraction decodes video

    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise VideoReadError(f"{path}: cannot open as a video file ({e})") from None
    with container:
        if not container.streams.video:
            raise VideoReadError(f"{path}: has no video stream (audio only?)")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        k, t0, previous, previous_end = 0, None, None, None
        try:
            for frame in container.decode(stream):
                if frame.time is None:  # no timestamp: cannot be placed in time
                    continue
                if t0 is None:
                    t0 = frame.time
                t = frame.time - t0
                if previous is not None and t <= previous[0]:
                    continue  # a duplicate or out-of-order timestamp: keep the frame already shown
                while previous is not None and k / fps < t:
                    yield k / fps, previous[1]()
                    k += 1
                duration = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else (
                    1.0 / rate if rate else 0.0)
                previous, previous_end = (t, _cached_rgb(frame)), t + max(duration, 1e-6)
        except av.FFmpegError as e:
            raise VideoReadError(f"{path}: decoding failed after {k} sampled frames ({e})") from None
        if previous is None:
            raise VideoReadError(f"{path}: no decodable video frame")
        while k / fps < previous_end:
            yield k / fps, previous[1]()
            k += 1


def _cached_rgb(frame):
    """A function returning the frame as RGB, converted at most once (a frame may be sampled twice,
    and frames that are never sampled are never converted)."""
    cache = []

    def rgb() -> np.ndarray:
        if not cache:
            cache.append(frame.to_ndarray(format="rgb24"))
        return cache[0]
    return rgb


def video_duration(path: str | Path) -> float | None:
    """The container's duration in seconds (for progress bars), None when unknown or unreadable."""
    import av  # optional (pip install av): only feature extraction decodes video

    try:
        with av.open(str(path)) as container:
            return container.duration / 1e6 if container.duration else None
    except (av.FFmpegError, OSError):
        return None


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------

def grid_pool(patches: torch.Tensor, height: int, width: int, grid: int = 3) -> torch.Tensor:
    """Average-pool patch embeddings [N, height * width, D] (row-major) to a grid x grid grid,
    [N, grid * grid, D] (row-major cells). Cells split the patches as
    `adaptive_avg_pool2d` does: cell i spans rows floor(i * h / g) to ceil((i + 1) * h / g)."""
    n, count, dim = patches.shape
    if count != height * width:
        raise ValueError(f"grid_pool: {count} patch tokens do not form a {height} x {width} grid")
    maps = patches.float().transpose(1, 2).reshape(n, dim, height, width)
    return torch.nn.functional.adaptive_avg_pool2d(maps, grid).flatten(2).transpose(1, 2)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """"auto": bf16 on CUDA (as the paper extracts), float32 elsewhere."""
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if precision not in dtypes:
        raise ValueError(f"precision must be auto or one of {sorted(dtypes)}, got {precision!r}")
    return dtypes[precision]


class FrameEncoder:
    """A frozen image encoder turning RGB frames into `tokens` per frame.

    tokens: "pooled_grid" = the model's pooled embedding + a grid x grid average pool of the patch
    embeddings (1 + grid**2 tokens; the paper's COIN features); "cls" = the CLS embedding (the
    paper's DINOv2 OAD features); "pooled" = the pooled embedding alone (the mean of the patch
    embeddings for a model without a pooler).
    """

    def __init__(self, name: str, tokens: str = "pooled_grid", grid: int = 3, device: str | None = None,
                 precision: str = "auto", trust_remote_code: bool = False):
        if tokens not in TOKENS:
            raise ValueError(f"tokens must be one of {TOKENS}, got {tokens!r}")
        if grid < 1:
            raise ValueError(f"grid must be >= 1, got {grid}")
        self.name, self.tokens, self.grid = name, tokens, grid
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = resolve_precision(precision, self.device)
        model = AutoModel.from_pretrained(name, dtype=self.dtype, trust_remote_code=trust_remote_code)
        # A CLIP / SigLIP checkpoint loads as image + text model: keep the image tower only.
        self.model = getattr(model, "vision_model", model).to(self.device).eval().requires_grad_(False)
        config = getattr(self.model, "config", None) or getattr(model.config, "vision_config", model.config)
        self.patch_size = getattr(config, "patch_size", None)
        if self.patch_size is None:
            raise ValueError(f"{name}: its config has no patch_size; gadlib.data.features needs a ViT-style encoder")
        self.model_type = getattr(model.config, "model_type", type(model).__name__)
        self.processor = AutoImageProcessor.from_pretrained(name, trust_remote_code=trust_remote_code)

    @property
    def num_tokens(self) -> int:
        return 1 + self.grid ** 2 if self.tokens == "pooled_grid" else 1

    @torch.inference_mode()
    def __call__(self, frames: list[np.ndarray]) -> np.ndarray:
        """RGB uint8 frames [H, W, 3] -> float32 [N, num_tokens, D]."""
        pixels = self.processor(images=list(frames), return_tensors="pt")["pixel_values"]
        pixels = pixels.to(self.device, self.dtype)
        out = self.model(pixel_values=pixels)
        hidden = out.last_hidden_state
        height, width = pixels.shape[-2] // self.patch_size, pixels.shape[-1] // self.patch_size
        prefix = hidden.shape[1] - height * width  # CLS and register tokens come before the patches
        if prefix < 0:
            raise ValueError(f"{self.name}: {hidden.shape[1]} output tokens, fewer than the "
                             f"{height} x {width} patches of a {tuple(pixels.shape[-2:])} input")
        patches = hidden[:, prefix:]
        if self.tokens == "cls":
            if prefix == 0:
                raise ValueError(f"{self.name} has no CLS token (all {hidden.shape[1]} outputs are patches); "
                                 f"use tokens 'pooled'")
            result = hidden[:, :1]
        else:
            pooled = getattr(out, "pooler_output", None)
            pooled = patches.float().mean(1) if pooled is None else pooled
            result = pooled[:, None].float()
            if self.tokens == "pooled_grid":
                result = torch.cat([result, grid_pool(patches, height, width, self.grid)], dim=1)
        return result.float().cpu().numpy()


# ---------------------------------------------------------------------------------------------
# A run over a folder
# ---------------------------------------------------------------------------------------------

@dataclass
class ExtractionSettings:
    """What a feature folder was extracted with (stored in its manifest; a resumed run must match)."""
    encoder: str
    fps: float
    layout: str = "coin"
    tokens: str | None = None      # None: pooled_grid for coin, cls for oad
    grid: int = 3
    feature_dir: str | None = None  # None: the reader's default for the layout
    precision: str = "auto"
    save_dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {self.layout!r}")
        self.tokens = self.tokens or ("pooled_grid" if self.layout == "coin" else "cls")
        self.feature_dir = self.feature_dir or LAYOUTS[self.layout]
        if self.tokens not in TOKENS:
            raise ValueError(f"tokens must be one of {TOKENS}, got {self.tokens!r}")
        if self.layout == "oad" and self.tokens == "pooled_grid":
            raise ValueError("the oad layout stores one token per frame: use tokens 'cls' or 'pooled'")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if self.save_dtype not in ("float32", "float16"):
            raise ValueError(f"save_dtype must be float32 or float16, got {self.save_dtype!r}")


@dataclass
class ExtractionReport:
    """What one run did: videos extracted, skipped as already done, and failed (id -> message)."""
    extracted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def find_videos(video_dir: str | Path, extensions=VIDEO_EXTENSIONS) -> dict[str, Path]:
    """{video id (file name without extension): path} of the video files under `video_dir`
    (sub-folders included); two files with one id are an error naming both."""
    video_dir = Path(video_dir)
    if not video_dir.is_dir():
        raise FileNotFoundError(f"{video_dir}: video folder not found")
    found: dict[str, Path] = {}
    for path in sorted(video_dir.rglob("*")):
        if path.is_file() and path.suffix.lower() in extensions and not path.name.startswith("."):
            if path.stem in found:
                raise ValueError(f"two videos have the id {path.stem!r}: {found[path.stem]} and {path}")
            found[path.stem] = path
    return found


def _atomic_save(path: Path, write) -> None:
    """`write(file object)` into a temporary file next to `path`, then rename it to `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_manifest(path: Path, manifest: dict) -> None:
    _atomic_save(path, lambda f: f.write((json.dumps(manifest, indent=1) + "\n").encode()))


def _load_manifest(path: Path, settings: dict) -> dict:
    """The folder's manifest, checked to have been written with the same settings."""
    if not path.is_file():
        return {"settings": settings, "videos": {}, "failed": {}}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON ({e.msg} at line {e.lineno})") from None
    if manifest.get("settings") != settings:
        raise ValueError(f"{path}: this folder was extracted with settings {manifest.get('settings')}, "
                         f"not {settings}; extract into another OUT_DIR / --feature-dir, or delete it")
    manifest.setdefault("videos", {})
    manifest["failed"] = {}
    return manifest


def extract_video(encoder: FrameEncoder, path: Path, fps: float, batch_size: int = 32,
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(frame times [T] in seconds, features [T, tokens, D]) of one video file."""
    duration = video_duration(path)
    bar = tqdm(total=math.ceil(duration * fps) if duration else None, desc=path.name, unit="frame",
               leave=False, disable=not progress)
    times, chunks, batch = [], [], []
    with bar:
        for t, frame in frames_at_fps(path, fps):
            times.append(t)
            batch.append(frame)
            if len(batch) == batch_size:
                chunks.append(encoder(batch))
                bar.update(len(batch))
                batch = []
        if batch:
            chunks.append(encoder(batch))
            bar.update(len(batch))
    return np.asarray(times), np.concatenate(chunks)


def extract_features(video_dir: str | Path, out_dir: str | Path, settings: ExtractionSettings,
                     batch_size: int = 32, device: str | None = None, progress: bool = True,
                     trust_remote_code: bool = False, extensions=VIDEO_EXTENSIONS,
                     encoder: FrameEncoder | None = None) -> ExtractionReport:
    """Extract every video under `video_dir` into `<out_dir>/<feature_dir>/<video>.npy`
    ([T, tokens, D] for the coin layout, [T, D] for oad) and keep `<feature_dir>/manifest.json`
    up to date after each video, from the first one extracted on (a run that extracts nothing
    writes no manifest). Videos already extracted are skipped; a video that fails is recorded and
    the run goes on. No video file under `video_dir` is a ValueError. `encoder` is built from
    `settings` unless given.
    """
    videos = find_videos(video_dir, extensions)
    if not videos:
        raise ValueError(f"{video_dir}: no video files (looked for {', '.join(extensions)}, sub-folders "
                         f"included); nothing to extract")
    folder = Path(out_dir) / settings.feature_dir
    manifest_path = folder / MANIFEST
    manifest = _load_manifest(manifest_path, asdict(settings))
    # The manifest locks the folder to these settings: it is written once a first video has been
    # extracted with them, so a run that extracts nothing (a wrong encoder name, only unreadable
    # files) leaves no folder bound to settings that never worked.
    report = ExtractionReport()
    todo = {}
    for vid, path in videos.items():
        if (folder / f"{vid}.npy").is_file():
            report.skipped.append(vid)
        else:
            todo[vid] = path
    if todo and encoder is None:
        encoder = FrameEncoder(settings.encoder, settings.tokens, settings.grid, device, settings.precision,
                               trust_remote_code)
    for vid, path in tqdm(todo.items(), desc="videos", unit="video", disable=not progress):
        try:
            times, features = extract_video(encoder, path, settings.fps, batch_size, progress)
        except VideoReadError as e:
            report.failed[vid] = str(e)
            manifest["failed"][vid] = str(e)
            if manifest["videos"]:
                _write_manifest(manifest_path, manifest)
            continue
        if settings.layout == "oad":
            features = features[:, 0]
        features = features.astype(settings.save_dtype)
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_save(folder / f"{vid}.npy", lambda f: np.save(f, features))
        manifest["videos"][vid] = {"source": str(path), "frames": len(features), "shape": list(features.shape),
                                   "last_frame_s": float(times[-1])}
        manifest["failed"].pop(vid, None)
        _write_manifest(manifest_path, manifest)
        report.extracted.append(vid)
    if manifest["videos"]:
        _write_manifest(manifest_path, manifest)  # this run's failures replace the last run's
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gadlib.features", description=__doc__.split("\n\n")[0])
    parser.add_argument("video_dir", help="folder of video files (searched recursively); id = file name stem")
    parser.add_argument("out_dir", help="data set root: features go to OUT_DIR/<feature dir>/<id>.npy")
    parser.add_argument("--encoder", required=True, help="hub name or local folder of a vision encoder")
    parser.add_argument("--fps", type=float, required=True, help="frames sampled per second (COIN 2, DINOv2 OAD 1)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="coin")
    parser.add_argument("--tokens", choices=TOKENS, default=None,
                        help="default: pooled_grid (1 + grid**2 tokens) for coin, cls for oad")
    parser.add_argument("--grid", type=int, default=3, help="pooled_grid: cells per side (3 -> 10 tokens)")
    parser.add_argument("--feature-dir", default=None, help="default: features (coin), rgb_features (oad)")
    parser.add_argument("--batch-size", type=int, default=32, help="frames per encoder forward")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--precision", default="auto", help="auto (bf16 on CUDA), float32, bfloat16, float16")
    parser.add_argument("--save-dtype", default="float32", choices=("float32", "float16"))
    parser.add_argument("--extensions", default=",".join(VIDEO_EXTENSIONS), help="comma-separated")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--trust-remote-code", action="store_true", help="only for an encoder you trust")
    args = parser.parse_args(argv)
    quiet()
    extensions = tuple(e if e.startswith(".") else f".{e}" for e in args.extensions.lower().split(",") if e)
    try:
        settings = ExtractionSettings(args.encoder, args.fps, args.layout, args.tokens, args.grid,
                                      args.feature_dir, args.precision, args.save_dtype)
        report = extract_features(args.video_dir, args.out_dir, settings, args.batch_size, args.device,
                                  not args.no_progress, args.trust_remote_code, extensions)
    except (ValueError, OSError) as e:  # bad input (or an encoder that cannot load): one line, no traceback
        print(f"python -m gadlib.features: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
              file=sys.stderr)
        return 2
    print(f"extracted {len(report.extracted)}, already done {len(report.skipped)}, failed {len(report.failed)}; "
          f"manifest: {Path(args.out_dir) / settings.feature_dir / MANIFEST}")
    for vid, message in report.failed.items():
        print(f"FAILED {vid}: {message}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
