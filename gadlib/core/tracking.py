"""Training curves through Accelerate's trackers: a CSV file always, TensorBoard when installed.

Accelerate ships trackers for TensorBoard, W&B, MLflow, ... but none that writes a plain file a
notebook or a spreadsheet reads without a server, hence `CSVTracker` (one row per optimizer
step: step, loss, lr). `trackers_for(log_dir)` is what `gadlib.core.training.train` passes to
`Accelerator(log_with=...)`; `curve_summary` is the short form `python -m gadlib.train` writes
into results.json.

Explained in configs/README.md ("Outputs").
"""
from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import numpy as np
from accelerate.tracking import GeneralTracker
from accelerate.utils import is_tensorboard_available

CURVES_FILE = "curves.csv"
COLUMNS = ("step", "epoch", "loss", "lr")


class CSVTracker(GeneralTracker):
    """Appends one row per `log` call to `<log_dir>/curves.csv`, flushed at once, so the curve of
    a long run can be read while it trains.

    rows: the rows logged before (a resumed run's history): the file is rewritten with them at
    `start`, which also drops rows logged after the checkpoint the run resumes from.
    """

    name = "csv"
    requires_logging_directory = True
    main_process_only = True

    def __init__(self, log_dir: str | Path, rows: list[dict] = ()):
        super().__init__()
        self.path = Path(log_dir) / CURVES_FILE
        self.rows = list(rows)
        self._file = None

    @property
    def tracker(self):
        return self.path

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.path)
        self._file = open(self.path, "a", newline="")

    def log(self, values: dict, step: int | None = None, **kwargs) -> None:
        row = {"step": step, **{k: values.get(k) for k in COLUMNS if k != "step"}}
        csv.DictWriter(self._file, COLUMNS).writerow(row)
        self._file.flush()

    def finish(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def trackers_for(log_dir: str | Path, rows: list[dict] = ()) -> list:
    """`log_with` for an Accelerator: the CSV tracker, plus "tensorboard" when it is installed
    (an optional dependency: its event files go to <log_dir>/tensorboard/)."""
    return [CSVTracker(log_dir, rows)] + (["tensorboard"] if is_tensorboard_available() else [])


def read_curves(log_dir: str | Path) -> list[dict]:
    """The rows of `<log_dir>/curves.csv` as dicts of numbers (step, epoch: int; loss, lr: float)."""
    path = Path(log_dir) / CURVES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no training curves {path}")
    with open(path, newline="") as f:
        return [{"step": int(r["step"]), "epoch": int(r["epoch"]), "loss": float(r["loss"]), "lr": float(r["lr"])}
                for r in csv.DictReader(f)]


def curve_summary(loss: list[float], epoch_loss: list[float], lr: list[float]) -> dict:
    """What results.json keeps of a loss curve: steps, first / last / min step loss (and the step
    of the min), the mean loss of every epoch and the first / last learning rate."""
    if not loss:
        return {"steps": 0}
    loss = np.asarray(loss, dtype=float)
    return {"steps": int(len(loss)), "first_loss": float(loss[0]), "last_loss": float(loss[-1]),
            "min_loss": float(loss.min()), "min_loss_step": int(loss.argmin()) + 1,
            "epoch_loss": [float(x) for x in epoch_loss],
            "first_lr": float(lr[0]) if lr else None, "last_lr": float(lr[-1]) if lr else None}
