"""The two on-disk layouts people already have, and the synthetic benchmarks written in them.

Explained in notebooks/01_generative_vs_discriminative.ipynb (data) and used by every notebook.
This module is the entry point; the pieces live in:

- `gadlib.data.videos`: the data model (`Segment`, `Video`, `VideoDataset`), re-exported here;
- `gadlib.data.coin_layout`: `read_coin` / `write_coin` (`COIN.json` + `features/<video>.npy`);
- `gadlib.data.oad_layout`: `read_oad` / `write_oad` (MAT/TeSTra: `data_info.json`,
  `<feature_dir>/<video>.npy`, `target_perframe/<video>.npy`);
- `gadlib.data.layout_io`: the checks and atomic writing they share.

`ensure_benchmark` generates a synthetic preset on first use, writes it in its layout and reads
it back through the same reader, so our data and yours take the same path. See data/README.md
for pointing the readers at real COIN / THUMOS'14 / EPIC-Kitchens folders.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

from gadlib.data import benchmark
from gadlib.data.benchmark import BenchmarkConfig, preset
# Readers, writers and data types are re-exported: `from gadlib.data.datasets import Video, read_oad`
# is the one import callers need.
from gadlib.data.coin_layout import read_coin, write_coin, write_coin_files  # noqa: F401
from gadlib.data.videos import ConcatenatedFeatures, OADInfo, Segment, Video, VideoDataset  # noqa: F401
from gadlib.data.layout_io import atomic_write, write_json
from gadlib.data.oad_layout import read_oad, write_oad, write_oad_files  # noqa: F401

log = logging.getLogger(__name__)


def _default_root() -> Path:
    """<repo>/data/generated for a source checkout, else ~/.cache/gadlib."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "gadlib").is_dir():
            return parent / "data" / "generated"
    return Path.home() / ".cache" / "gadlib"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _data_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.name != "manifest.json")


def _manifest_ok(folder: Path, record: dict) -> bool:
    """True when folder/manifest.json describes this config and every checksum matches."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        files = manifest["files"]
        return (manifest["config"] == record["config"] and manifest["layout"] == record["layout"]
                and sorted(files) == _data_files(folder)
                and all(_sha256(folder / f) == digest for f, digest in files.items()))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_benchmark(name_or_config, size: str = "cpu", layout: str | None = None,
                     root: str | Path | None = None, **overrides) -> VideoDataset:
    """A synthetic benchmark, generated on first use and read back from disk.

    name_or_config: a preset name from `gadlib.data.benchmark.PRESETS` (with `size` "cpu"/"gpu")
    or a `BenchmarkConfig`; `overrides` replace config fields. The data goes to
    `<root>/<name>[-<size>]-<hash of the config>/` (root defaults to `<repo>/data/generated`),
    in the config's layout unless `layout` ("coin"/"oad") says otherwise, with a
    `manifest.json` (config + sha256 of every file) written last. A missing manifest or a
    changed or extra file means it is generated again: the folder, named by gadlib after the
    config's hash, is gadlib's own and is replaced whole (`layout_io.atomic_write`); the user's
    folders are written by `write_oad` / `write_coin`, which never delete a file they did not write.
    """
    if isinstance(name_or_config, BenchmarkConfig):
        config = dataclasses.replace(name_or_config, **overrides)
        label = config.name
    else:
        config, label = preset(name_or_config, size, **overrides), f"{name_or_config}-{size}"
    if layout is not None:
        config = dataclasses.replace(config, layout=layout)
    # JSON round trip so tuples compare equal to the lists read back from the manifest.
    record = json.loads(json.dumps({"config": dataclasses.asdict(config), "layout": config.layout}))
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:10]
    folder = Path(root) if root is not None else _default_root()
    folder = folder / f"{label}-{digest}"

    if not _manifest_ok(folder, record):
        log.info("generating %s", folder)
        dataset = benchmark.generate_benchmark(config)

        def fill(tmp: Path) -> None:
            if config.layout == "coin":
                write_coin_files(dataset, tmp)
            else:
                write_oad_files(dataset, tmp)
            files = {f: _sha256(tmp / f) for f in _data_files(tmp)}
            write_json(tmp / "manifest.json", {**record, "files": files})

        atomic_write(folder, fill, keep_existing=lambda: _manifest_ok(folder, record))
    return read_coin(folder) if config.layout == "coin" else read_oad(folder)

