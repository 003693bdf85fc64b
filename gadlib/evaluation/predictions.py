"""Per-frame / per-sample predictions of a run, saved beside its results (`predictions.npz`).

One compressed NumPy archive (`np.savez_compressed`, read with `np.load`, no pickle) per run
folder. For every (run key, seed, task kind) a table of the test items, under
`<run key>/seed<seed>/<kind>/<field>`:

    video_id  str [N]      the item's video
    index     int64 [N]    OAD: the frame predicted; step / next / task: the sample's first frame
    truth     int64 [N]    true class (OAD: 0 = background)
    pred      int64 [N]    predicted class
    scores    float16 [N, C]  the classifier's scores (higher is better; float16 to halve the
                           file: argmax ties may differ from `pred`, use `pred`); absent when the
                           run was told not to keep them (`eval.save_scores: false`)
    ignored   bool [N]     OAD only: frames left out of mAP, background truth for F1 (THUMOS'14 "Ambiguous")

plus `class_names/<label set>` (str [C]) and `train_counts/<label set>` (int64 [C]: training
frames (OAD) or samples per class, the class prior of notebook 03's null baseline).

Explained in configs/README.md ("Outputs") and read by `python -m gadlib.diversity RUN_DIR`.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

PREDICTIONS_FILE = "predictions.npz"
FIELDS = ("video_id", "index", "truth", "pred", "scores", "ignored")


def table(video_id, index, truth, pred, scores=None, ignored=None) -> dict[str, np.ndarray]:
    """One table of predictions, checked and in the stored dtypes."""
    out = {"video_id": np.asarray(video_id, dtype=np.str_), "index": np.asarray(index, dtype=np.int64),
           "truth": np.asarray(truth, dtype=np.int64), "pred": np.asarray(pred, dtype=np.int64)}
    if scores is not None:
        out["scores"] = np.asarray(scores, dtype=np.float16)
    if ignored is not None:
        out["ignored"] = np.asarray(ignored, dtype=bool)
    n = len(out["truth"])
    bad = {k: v.shape for k, v in out.items() if len(v) != n or (k == "scores" and v.ndim != 2)}
    if bad:
        raise ValueError(f"predictions: every field needs one row per item ({n}), got {bad}")
    return out


def save_predictions(path: str | Path, tables: dict[tuple[str, int, str], dict], class_names: dict[str, list[str]],
                     train_counts: dict[str, np.ndarray] | None = None) -> Path:
    """Write `tables` {(run key, seed, kind): `table(...)`} and the class names atomically."""
    path = Path(path)
    arrays = {}
    for (run, seed, kind), fields in tables.items():
        for name, value in fields.items():
            if name not in FIELDS:
                raise ValueError(f"predictions: unknown field {name!r}; known: {FIELDS}")
            arrays[f"{run}/seed{seed}/{kind}/{name}"] = value
    arrays.update({f"class_names/{k}": np.asarray(v, dtype=np.str_) for k, v in class_names.items()})
    arrays.update({f"train_counts/{k}": np.asarray(v, dtype=np.int64) for k, v in (train_counts or {}).items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)
    return path


def load_predictions(path: str | Path) -> dict:
    """{"tables": {(run key, seed, kind): {field: array}}, "class_names": {label set: [names]},
    "train_counts": {label set: array}} from a `predictions.npz` (or the run folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / PREDICTIONS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no predictions file {path}: run python -m gadlib.train first")
    out = {"tables": {}, "class_names": {}, "train_counts": {}}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            parts = key.split("/")
            if parts[0] in ("class_names", "train_counts") and len(parts) == 2:
                out[parts[0]][parts[1]] = data[key].tolist() if parts[0] == "class_names" else data[key]
            elif len(parts) == 4 and parts[1].startswith("seed"):
                run, seed, kind, name = parts
                out["tables"].setdefault((run, int(seed[4:]), kind), {})[name] = data[key]
            else:
                raise ValueError(f"{path}: unexpected entry {key!r} (not written by gadlib.evaluation.predictions)")
    return out
