"""Results files and how their numbers are written.

Every notebook saves its headline numbers to `results/<notebook>.json` (method -> metric ->
mean, std, per-seed values), so runs can be compared and the README's result blocks regenerated
(`python -m gadlib.readme_table --write`). The main job (`python -m gadlib.run_notebooks`) adds
each notebook's measured wall time. Under pytest, `$GADLAB_RESULTS_DIR` points to a temporary
folder (see the root `conftest.py`), so running the tests never rewrites the committed files.

`fmt_mean_std` and `paired_difference` are the one way the notebooks and the README write a
mean over seeds and a paired difference between two methods.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gadlib.data.layout_io import load_json
from gadlib.evaluation.metrics import mean_std

RESULTS_DIR_ENV = "GADLAB_RESULTS_DIR"


def repo_root() -> Path:
    """The folder holding pyproject.toml above the working directory (notebooks run in
    notebooks/), else the working directory itself (e.g. a Colab scratch folder)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "gadlib").is_dir():
            return folder
    return here


def results_dir() -> Path:
    """Where results files are read and written: `$GADLAB_RESULTS_DIR` when set (the tests set it
    to a temporary folder), else `results/` at the repository root."""
    override = os.environ.get(RESULTS_DIR_ENV)
    return Path(override) if override else repo_root() / "results"


def _plain(value):
    """numpy scalars and arrays -> JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_json(path: Path, data: dict) -> None:
    """Write atomically: a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(_plain(data), f, indent=1)
    os.replace(tmp, path)


def save_results(notebook: str, payload: dict) -> Path:
    """Write <results_dir()>/<notebook>.json."""
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.json"
    _write_json(path, {"notebook": notebook, **payload})
    return path


def read_results_file(path: Path) -> dict:
    """One results file; a missing or malformed file names itself and the notebook to rerun."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file {path}: run notebooks/{path.stem}.ipynb first")
    try:
        return load_json(path)
    except ValueError as e:  # malformed JSON: the message names the file, line and column
        raise ValueError(f"{e}: rerun notebooks/{path.stem}.ipynb") from e


def load_results(notebook: str, folder: Path | None = None) -> dict:
    """<folder or results_dir()>/<notebook>.json."""
    return read_results_file((folder or results_dir()) / f"{notebook}.json")


def record_run(notebook: str, wall_seconds: float, machine: str, facts: dict | None = None) -> Path:
    """Add the main job's measured wall time of a notebook (kernel start to last cell), the machine
    it ran on and `facts` about it (CPU model, instruction set, BLAS, threads, load before) to that
    notebook's results file."""
    path = results_dir() / f"{notebook}.json"
    data = load_results(notebook)
    data["run"] = {"wall_seconds": float(wall_seconds), "machine": machine, **(facts or {})}
    _write_json(path, data)
    return path


def seed_count(stats: dict) -> int | None:
    """How many seeds a {"mean", "std", ...} summary holds: its "per_seed" list, else a "seeds" count
    or list; None when it does not say (std alone cannot tell: two equal seeds also give 0)."""
    if isinstance(stats.get("per_seed"), (list, tuple, np.ndarray)):
        return len(stats["per_seed"])
    seeds = stats.get("seeds")
    if isinstance(seeds, (list, tuple)):
        return len(seeds)
    return int(seeds) if isinstance(seeds, (int, np.integer)) else None


def fmt_mean_std(stats: dict, scale: float = 100.0, digits: int = 1, one_seed: str = " (1 seed)") -> str:
    """'62.8 ± 3.3' from a {"mean", "std", ...} summary (accuracies are stored as fractions and
    shown in %: scale=100); '62.8 (1 seed)' when it holds one seed (`seed_count`): one seed has no
    spread to show, and '± 0.0' would read as a measured one (`one_seed`: the mark, e.g. "" where a
    table's header already names the seeds)."""
    try:
        mean, std = stats["mean"], stats["std"]
    except (KeyError, TypeError) as e:
        raise ValueError(f"expected a summary with 'mean' and 'std', got {stats!r}") from e
    if seed_count(stats) == 1:
        return f"{scale * mean:.{digits}f}{one_seed}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def fmt_percent(share: float) -> str:
    """A share (a fraction) in %, with enough digits for a small one: one decimal from 1 % up
    ('12.3'), two significant digits below ('0.42'), so a chance rate of 2.4 % never reads '2'."""
    value = 100 * float(share)
    return f"{value:.1f}" if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def matched_vs_raw_line(raw: float, matched: float, unit: str = "nats") -> str:
    """Notebook 03: a positive raw generative − discriminative entropy difference beside the one at
    matched error counts, as the ratio matched / raw (not a share: matching can leave a larger
    difference than the raw one). E.g. raw +0.20, matched +0.10 -> '... 0.50 × the raw one (50 % of
    it remains after matching)'; raw +0.10, matched +0.147 -> '1.47 × the raw one ...'."""
    if not (np.isfinite(raw) and np.isfinite(matched)) or raw <= 0:
        raise ValueError(f"matched_vs_raw_line: needs a positive raw difference and a finite matched one, got {raw}, {matched}")
    ratio = matched / raw
    head = f"At matched error counts the difference is {matched:+.2f} {unit} against the raw {raw:+.2f}"
    if round(ratio, 2) >= 1:
        return f"{head}: {ratio:.2f} × the raw one; matching error counts does not shrink it."
    if ratio > 0:
        return f"{head}: {ratio:.2f} × the raw one ({100 * ratio:.0f} % of it remains after matching)."
    return f"{head}: none of the raw difference remains after matching."


@dataclass(frozen=True)
class PairedDifference:
    """A − B over the same seeds (in points with scale=100): mean and std (ddof=1) of the per-seed
    differences, and in how many seeds A was ahead."""
    mean: float
    std: float
    wins: int
    n: int

    @property
    def ahead(self) -> bool:
        """A beat B by more than one std of the paired difference."""
        return self.mean > self.std

    @property
    def behind(self) -> bool:
        return self.mean < -self.std

    def similar(self, tolerance: float = 1.0) -> bool:
        """|A − B| within one std, or within `tolerance` points when the std is smaller."""
        return abs(self.mean) <= max(self.std, tolerance)

    def __str__(self) -> str:
        return f"{self.mean:+.1f} ± {self.std:.1f}"


def paired_difference(a, b, scale: float = 100.0) -> PairedDifference:
    """Per-seed A − B. `a` and `b` are per-seed values in seed order, or summaries with a
    "per_seed" list; pairing by seed removes the variation that both methods share."""
    a, b = (np.asarray(x["per_seed"] if isinstance(x, dict) else x, dtype=float) for x in (a, b))
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired_difference needs per-seed values of the same seeds; got shapes {a.shape} and {b.shape}")
    x = scale * (a - b)
    s = mean_std(x)
    return PairedDifference(s["mean"], s["std"], int((x > 0).sum()), len(x))


# What notebook 02 checks of the paper's claim 2 (A, B, relation): one list for the notebook's
# conclusions and the README's, so the two cannot drift apart.
TOKENIZATION_CLAIMS = (("discriminative", "gen_text", ">"), ("gen_rand", "gen_text", "≈"),
                       ("gen_desync", "gen_text", ">"), ("gen_extend", "discriminative", "≈"),
                       ("gen_desync", "gen_extend", "≈"), ("gen_desync", "discriminative", "≈"))


def claim_line(metrics: dict, a: str, b: str, relation: str, key: str = "step_top1") -> str:
    """One line: does 'A > B' or 'A ≈ B' (the paper's finding) hold in these results?
    `metrics` is `experiment.summarize` output (method -> key -> per-seed values)."""
    if relation not in (">", "≈"):
        raise ValueError(f"relation must be '>' or '≈', got {relation!r}")
    missing = [m for m in (a, b) if m not in metrics]
    if missing:
        raise KeyError(f"no results for {missing}; methods present: {sorted(metrics)}")
    d = paired_difference(metrics[a][key], metrics[b][key])
    holds = d.similar() if relation == "≈" else d.ahead
    return (f"- {a} {relation} {b} (paper): {a} − {b} = {d} points over {d.n} seeds -> "
            f"{'holds' if holds else 'does not hold'} here.")


def gap_row_line(cells: list[tuple[float, float]], knob: str = "overlap", a: str = "A", b: str = "B") -> str:
    """What one row of a grid shows: cells (knob value, a − b in points), e.g. [(0.3, 2.0), (0.9, -1.5)]
    -> '+2.0 at overlap 0.3, -1.5 at overlap 0.9: the estimates' sign flips'. "widens" / "narrows"
    (the estimated lead of whichever side is ahead, from the first to the last cell) only when every
    cell, rounded as shown, has the same sign; no word on why. Every word is about the point
    estimates: a cell's interval may hold 0, so none of this is a tested change."""
    cells = sorted(cells)
    shown = ", ".join(f"{g:+.1f} at {knob} {o:g}" for o, g in cells)
    if len(cells) < 2:
        return shown
    signs = {np.sign(round(g, 1)) for _, g in cells} - {0}
    zeros = [f"{o:g}" for o, g in cells if round(g, 1) == 0]
    first, last = round(cells[0][1], 1), round(cells[-1][1], 1)
    if len(signs) > 1:
        return f"{shown}: the estimates' sign {'flips' if len(cells) == 2 else 'changes along the row'}"
    if not signs:
        return f"{shown}: no difference (as shown) in any cell"
    side = a if signs == {1} else b
    if zeros:
        return f"{shown}: {side} ahead except at {knob} {', '.join(zeros)}"
    if abs(last) == abs(first):
        return f"{shown}: {side}'s estimated lead the same at both ends"
    return f"{shown}: {side}'s estimated lead {'widens' if abs(last) > abs(first) else 'narrows'} with {knob}"


def grid_gap_line(sweep: list[dict], key: str = "step_top1") -> str:
    """What notebook 02's compositionality × overlap grid shows of discriminative − text-label
    generation (top-1 points): its smallest and largest cell, and along overlap at each
    compositionality (`gap_row_line`). With one seed per cell these describe one run, no verdict."""
    gaps = {(p["compositionality"], p["overlap"]): 100 * (p["metrics"]["discriminative"][key]["mean"]
                                                          - p["metrics"]["gen_text"][key]["mean"]) for p in sweep}
    counts = [seed_count(p["metrics"][m][key]) for p in sweep for m in ("discriminative", "gen_text")]
    n = min((c for c in counts if c is not None), default=None)
    seeds = ("one seed per cell: these describe one run, with no verdict" if n == 1 else
             f"means over {n} seeds per cell, judged by the intervals of each cell" if n else "means per cell")
    lo, hi = min(gaps, key=gaps.get), max(gaps, key=gaps.get)
    lines = [f"- Grid, discriminative − text (top-1 points; {seeds}): smallest at compositionality={lo[0]}, "
             f"overlap={lo[1]} ({gaps[lo]:+.1f}), largest at compositionality={hi[0]}, overlap={hi[1]} "
             f"({gaps[hi]:+.1f})."]
    # along overlap at each compositionality; the paper's expectation: a wider discriminative lead
    # with more shared words (its text-label generation shares first tokens between classes)
    one_run = " in this one run" if n == 1 else ""
    for c in sorted({c for c, _ in gaps}):
        row = sorted((o, g) for (cc, o), g in gaps.items() if cc == c)
        if len(row) < 2:
            continue
        rise = round(row[-1][1], 1) - round(row[0][1], 1)
        line = gap_row_line(row, "overlap", "discriminative", "text")
        expected = ("" if rise == 0 else
                    f"; higher at more overlap{one_run}, the direction the paper's explanation predicts" if rise > 0 else
                    f"; lower at more overlap{one_run}, against the paper's explanation (a wider discriminative lead with "
                    "more shared words)")
        lines.append(f"- At compositionality={c}: {line}{expected}.")
    return "\n".join(lines)
