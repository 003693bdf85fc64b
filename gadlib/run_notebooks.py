"""The main job: execute every notebook top to bottom, headless, as a student would.

    python -m gadlib.run_notebooks            # all notebooks
    python -m gadlib.run_notebooks 01 02      # the ones whose name starts with these

Each executed notebook is written back, outputs included, to notebooks/<notebook>.ipynb (the
committed notebooks show the last main job's figures; the paired notebooks/<notebook>.py stays
output-free) and headline numbers go to results/<notebook>.json (or `$GADLAB_RESULTS_DIR`).
Finished progress bars are stored as their last line of text, not as widgets: a widget needs its
state, which JupyterLab drops when the notebook is saved again (its "save widget state" setting is
off by default), and then shows "Error displaying widget: model not found".
A notebook whose jupytext pair (notebooks/<notebook>.py) is out of sync is not run: run
`python -m gadlib.course build` first. Each notebook's measured wall time and the
machine are added to its results file, and the README's generated blocks are rewritten from
the results (`gadlib.readme_table`), so the README never carries a typed-in number.
"""
from __future__ import annotations

import html
import os
import platform
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

from .course import pair_problems
from .readme_table import render_readme, results_table
from .results import record_run, repo_root, results_dir


def machine_description() -> str:
    """What the run time was measured on, e.g. 'Linux x86_64, 2 CPU cores, no GPU'."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, {gpu}"


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_REF = re.compile(r"IPY_MODEL_([0-9a-f]+)")


def progress_bars_as_text(nb) -> int:
    """Replace every tqdm progress-bar widget in `nb`'s outputs by its last text, in place.

    A tqdm.auto bar in a notebook is an HBox of (HTML prefix, FloatProgress, HTML suffix); its
    final text comes from the widget state nbclient stored in the notebook's metadata. Bars closed
    with leave=False (hidden) are dropped; widget models no output refers to any more are pruned,
    and other widgets (the explorers) keep their state. Returns how many bars were converted.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    converted = 0
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            bar = _progress_bar(state, out.get("data", {}).get(WIDGET_VIEW, {}).get("model_id"))
            if bar is None:
                outputs.append(out)
            elif bar:  # "" = a hidden (leave=False) bar: nothing to show
                outputs.append(nbformat.v4.new_output("stream", name="stderr", text=bar + "\n"))
            converted += bar is not None
        if "outputs" in cell:
            cell.outputs = outputs
    if state:
        keep, todo = set(), [out["data"][WIDGET_VIEW]["model_id"] for c in nb.cells for out in c.get("outputs", [])
                             if WIDGET_VIEW in out.get("data", {})]
        while todo:  # every model a remaining output reaches through IPY_MODEL_ references
            mid = todo.pop()
            if mid in state and mid not in keep:
                keep.add(mid)
                todo += _REF.findall(str(state[mid].get("state", {})))
        for mid in set(state) - keep:
            del state[mid]
        if not state:
            del nb.metadata["widgets"]
    return converted


def _progress_bar(state: dict, model_id: str | None) -> str | None:
    """The text of a tqdm bar widget ('' when hidden), or None when it is not one."""
    model = state.get(model_id or "", {})
    children = [state.get(r[len("IPY_MODEL_"):], {}) for r in model.get("state", {}).get("children", [])]
    if model.get("model_name") != "HBoxModel" or [c.get("model_name") for c in children] != \
            ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    layout = state.get(_REF.sub(r"\1", model["state"].get("layout", "")), {}).get("state", {})
    if layout.get("visibility") == "hidden":
        return ""
    left, progress, right = (c.get("state", {}) for c in children)
    total, value = progress.get("max") or 0, progress.get("value") or 0
    filled = round(10 * value / total) if total else 0
    text = f"{left.get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|{right.get('value', '')}"
    return html.unescape(text).replace("\u2007", " ")


def main(argv: list[str]) -> int:
    root = repo_root()
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if argv:
        notebooks = [n for n in notebooks if any(n.name.startswith(a) for a in argv)]
    if not notebooks:
        print(f"no notebooks matching {argv} in {root / 'notebooks'}", file=sys.stderr)
        return 2
    stale = [problem for n in notebooks if n.with_suffix(".py").is_file() for problem in pair_problems(n.stem, root)]
    if stale:  # running the .ipynb would execute, and then keep, inputs older than the .py's
        print("\n".join(stale), file=sys.stderr)
        return 2
    machine = machine_description()
    times = {}
    for path in notebooks:
        print(f"running {path.name} ...", flush=True)
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        # record_timing=False: no per-cell timestamps in the committed notebook (diff noise)
        NotebookClient(nb, timeout=3600, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        times[path.name] = time.perf_counter() - t0
        bars = progress_bars_as_text(nb)
        nbformat.write(nb, path)
        record_run(path.stem, times[path.name], machine)
        print(f"  done in {times[path.name] / 60:.1f} min -> notebooks/{path.name} "
              f"({path.stat().st_size / 1e6:.1f} MB, {bars} progress bars stored as text)", flush=True)
    print(f"\nwall time per notebook ({machine}):")
    for name, t in times.items():
        print(f"  {name}: {t / 60:.1f} min")
    print("\n" + results_table())
    readme = root / "README.md"
    if results_dir() != root / "results":
        print(f"\n{readme.name} left as it is: these results went to {results_dir()}, not results/")
    elif readme.is_file():
        readme.write_text(render_readme(readme.read_text()))
        print(f"\n{readme.name}: generated blocks rewritten from results/*.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
