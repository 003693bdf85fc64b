"""Peak memory and time of `read_oad` on a TeSTra-shaped folder, with and without `mmap=True`.

Writes a synthetic THUMOS'14-like root (RGB 2048-d + flow 1024-d features in two folders,
22-column float32 targets) of `--videos` x `--frames` frames, then reads it in a fresh process
per setting and reports, from /proc/self/status (Linux only):

- peak_rss_mb: VmHWM minus the RSS before the call (anonymous + file-backed pages);
- peak_anon_mb: the largest RssAnon minus the RssAnon before the call, sampled every 5 ms -
  the memory the process really owns (file-backed pages of a memory map are clean page cache
  that the OS can drop);
- after_anon_mb: RssAnon minus the start, once read_oad has returned;
- seconds: wall time of read_oad.

    PYTHONPATH=. python benchmarks/oad_reader_memory.py --videos 8 --frames 6000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

FOLDERS = {"rgb_kinetics_resnet50": 2048, "flow_kinetics_bninception": 1024}


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB -> MB
    raise KeyError(field)


def write_root(root: Path, videos: int, frames: int) -> None:
    """A TeSTra-layout root written row block by row block (the writer itself stays small)."""
    rng = np.random.default_rng(0)
    for folder in [*FOLDERS, "target_perframe"]:
        (root / folder).mkdir(parents=True, exist_ok=True)
    ids = [f"video_validation_{i:07d}" for i in range(videos)]
    for vid in ids:
        for folder, dim in FOLDERS.items():
            out = np.lib.format.open_memmap(root / folder / f"{vid}.npy", mode="w+", dtype=np.float32,
                                            shape=(frames, dim))
            for start in range(0, frames, 1000):
                out[start:start + 1000] = rng.standard_normal((min(1000, frames - start), dim), dtype=np.float32)
            out.flush()
            del out
        labels = rng.integers(0, 22, size=frames)
        np.save(root / "target_perframe" / f"{vid}.npy", np.eye(22, dtype=np.float32)[labels])
    names = ["Background"] + [f"Action{i}" for i in range(1, 21)] + ["Ambiguous"]
    info = {"THUMOS": {"class_names": names, "num_classes": 22, "ignore_index": 21, "fps": 4,
                       "train_session_set": ids[:-1], "test_session_set": ids[-1:]}}
    (root / "data_info.json").write_text(json.dumps(info))


def measure(root: Path, mmap: bool) -> dict:
    from gadlib.data.datasets import read_oad

    start_rss, start_anon = _status("VmRSS"), _status("RssAnon")
    peak_anon, done = [start_anon], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak_anon[0] = max(peak_anon[0], _status("RssAnon"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.perf_counter()
    data = read_oad(root, feature_dir=list(FOLDERS), name="THUMOS", mmap=mmap)
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    frames = sum(len(v.features) for v in data.videos)
    return {"mmap": mmap, "frames": frames, "feature_mb": frames * data.feature_dim * 4 / 2**20,
            "seconds": round(seconds, 2), "peak_rss_mb": round(_status("VmHWM") - start_rss, 1),
            "peak_anon_mb": round(max(peak_anon[0], _status("RssAnon")) - start_anon, 1),
            "after_anon_mb": round(_status("RssAnon") - start_anon, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--frames", type=int, default=6000, help="frames per video")
    parser.add_argument("--root", type=Path, help="existing folder from an earlier run (else a temporary one)")
    parser.add_argument("--measure", choices=["mmap", "eager"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.root, args.measure == "mmap")))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp) / "THUMOS"
        if not (root / "data_info.json").exists():
            write_root(root, args.videos, args.frames)
        for mode in ("eager", "mmap"):
            out = subprocess.run([sys.executable, __file__, "--root", str(root), "--measure", mode],
                                 check=True, capture_output=True, text=True).stdout
            print(out.strip())


if __name__ == "__main__":
    main()
