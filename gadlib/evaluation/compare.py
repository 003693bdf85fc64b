"""`python -m gadlib.compare RUN_DIR... [--out DIR] [--metrics M ...]`: the methods of one or more
runs side by side, measured (mean ± std over seeds) and the paper's numbers under the same keys.

A RUN_DIR is a run folder holding one sub-folder per method (`runs/paper_ek100/`, as
`python -m gadlib.train` writes them) or a method folder itself (`runs/paper_ek100/gad/`); each
method folder holds a results.json. The table is printed, and written to `<out>/comparison.md`
and `<out>/comparison.csv` (one row per config, method and metric: mean, std, seeds, paper;
fractions as stored). Fractions are shown in %, rates as is. The paper's numbers come from the
config's `paper:` section, keyed like the results (method -> `<kind>_<metric>`). Two rates, never
confused: `oad_streaming_fps` is the paper's FPS protocol (every test frame at batch 1,
`gadlib.evaluation.streaming.streaming_fps`) and is the one set beside the paper's FPS;
`oad_batched_frames_per_s` is batched dense evaluation. Older results and configs named them
`oad_fps` (batched) and `paper: oad_fps` (the paper's streaming FPS): both are read under the
new names (`LEGACY_RESULTS`, `LEGACY_PAPER`).

Explained in configs/README.md ("Comparing runs").
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from gadlib.data.layout_io import load_json
from gadlib.data.owned_files import write_owned
from gadlib.evaluation.results import fmt_mean_std

PROG = "python -m gadlib.compare"
MARKER = "<!-- written by python -m gadlib.compare -->"
# Keys renamed when "fps" got one meaning: old name -> new name, for results and `paper:` sections.
LEGACY_RESULTS = {"oad_fps": "oad_batched_frames_per_s"}
LEGACY_PAPER = {"oad_fps": "oad_streaming_fps"}


def results_files(paths: list[str | Path]) -> list[Path]:
    """The results.json of every method folder in `paths` (a method folder, or a run folder of them)."""
    found = []
    for path in map(Path, paths):
        if (path / "results.json").is_file():
            found.append(path / "results.json")
        elif path.is_dir() and (inside := sorted(path.glob("*/results.json"))):
            found += inside
        else:
            raise FileNotFoundError(f"{path}: no results.json in it nor in its sub-folders "
                                    "(a run folder written by python -m gadlib.train)")
    return found


def long_table(files: list[Path]) -> pd.DataFrame:
    """One row per (config, method, metric): mean, std, seeds (number), paper (NaN when the
    paper gives none). An eval-only folder's rows are named after the folder (`gad_eval`)."""
    rows = []
    for path in files:
        res = load_json(path)
        for key in ("config", "metrics"):
            if key not in res:
                raise ValueError(f"{path}: no {key!r} (not a results.json of python -m gadlib.train)")
        paper = res.get("paper", res.get("settings", {}).get("paper", {})) or {}
        run, folder = res.get("run", res.get("method")), path.parent.name
        for method, metrics in res["metrics"].items():
            label = method.replace(run, folder, 1) if run and folder != run else method
            mine = paper.get(method) if isinstance(paper.get(method), dict) else {}
            mine = {LEGACY_PAPER.get(k, k): v for k, v in mine.items()}
            for metric, stats in metrics.items():
                metric = LEGACY_RESULTS.get(metric, metric)
                value = mine.get(metric)
                rows.append({"config": res["config"], "method": label, "metric": metric, "mean": stats["mean"],
                             "std": stats["std"], "seeds": len(stats["per_seed"]),
                             "paper": float(value) if value is not None else math.nan})
    return pd.DataFrame(rows, columns=["config", "method", "metric", "mean", "std", "seeds", "paper"])


def _scale(metric: str) -> float:
    return 1.0 if metric.endswith(("fps", "frames_per_s")) else 100.0


def wide_table(long: pd.DataFrame, metrics: list[str] | None = None) -> pd.DataFrame:
    """Methods x metrics, formatted: "mean ± std" and, where the paper gives a number, a
    "<metric> (paper)" column beside it."""
    chosen = metrics or list(dict.fromkeys(long["metric"]))
    unknown = sorted(set(chosen) - set(long["metric"]))
    if unknown:
        raise ValueError(f"--metrics {unknown} are not in these results; they have {sorted(set(long['metric']))}")
    out = {}
    for metric in chosen:
        part = long[long["metric"] == metric].set_index(["config", "method"])
        s = _scale(metric)
        out[metric] = part.apply(lambda r: fmt_mean_std({"mean": r["mean"], "std": r["std"], "seeds": int(r["seeds"])}, s), axis=1)
        if part["paper"].notna().any():
            out[f"{metric} (paper)"] = part["paper"].map(lambda v: "" if math.isnan(v) else f"{s * v:.1f}")
    rows = list(dict.fromkeys(zip(long["config"], long["method"])))
    return pd.DataFrame(out).reindex(pd.MultiIndex.from_tuples(rows, names=["config", "method"])).fillna("")


def markdown(wide: pd.DataFrame) -> str:
    """A GitHub Markdown table (no tabulate needed)."""
    head = ["config", "method", *wide.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (config, method), row in wide.iterrows():
        lines.append("| " + " | ".join([config, method, *map(str, row.tolist())]) + " |")
    return "\n".join(lines)


def write(out: Path, wide: pd.DataFrame, long: pd.DataFrame, sources: list[Path]) -> tuple[Path, Path]:
    """comparison.md and comparison.csv in `out`, through `owned_files.write_owned`: each replaced
    atomically, and never a file gadlib did not write there (ForeignFileError names it)."""
    note = ("Mean ± std over seeds; fractions in %, rates as is (streaming FPS: the paper's protocol; batched frames/s: never the paper's); (paper): the config's `paper:` section.\n"
            "Sources: " + ", ".join(str(p) for p in sources))
    text = f"{MARKER}\n{note}\n\n{markdown(wide)}\n"
    write_owned(out, {"comparison.md": lambda tmp: tmp.write_text(text),
                      "comparison.csv": lambda tmp: long.to_csv(tmp, index=False)}, managed=[], what=PROG)
    return out / "comparison.md", out / "comparison.csv"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (runs/<name>/) or method folders")
    p.add_argument("--out", help="where comparison.md / .csv go (default: the first RUN_DIR)")
    p.add_argument("--metrics", nargs="+", help="only these metrics (e.g. oad_seg_f1_0.1 oad_point_f1_1s)")
    args = p.parse_args(argv)
    try:
        files = results_files(args.runs)
        long = long_table(files)
        wide = wide_table(long, args.metrics)
        if args.metrics:
            long = long[long["metric"].isin(args.metrics)]
        print(markdown(wide))
        md, csv = write(Path(args.out or args.runs[0]), wide, long, files)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print(f"written: {md}, {csv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
