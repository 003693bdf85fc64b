"""The main job: execute every notebook top to bottom, headless, as a student would.

    python -m gadlib.run_notebooks            # all notebooks
    python -m gadlib.run_notebooks 01 02      # the ones whose name starts with these

Executed copies go to runs/<notebook>.ipynb (open them in JupyterLab), headline numbers to
results/<notebook>.json; the measured wall time of each notebook is printed at the end, with
the README's results table regenerated from results/*.json.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .readme_table import results_table
from .results import repo_root


def main(argv: list[str]) -> int:
    root = repo_root()
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if argv:
        notebooks = [n for n in notebooks if any(n.name.startswith(a) for a in argv)]
    if not notebooks:
        print(f"no notebooks matching {argv} in {root / 'notebooks'}", file=sys.stderr)
        return 2
    (root / "runs").mkdir(exist_ok=True)
    times = {}
    for path in notebooks:
        print(f"running {path.name} ...", flush=True)
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        times[path.name] = time.perf_counter() - t0
        nbformat.write(nb, root / "runs" / path.name)
        print(f"  done in {times[path.name] / 60:.1f} min -> runs/{path.name}", flush=True)
    print("\nwall time per notebook:")
    for name, t in times.items():
        print(f"  {name}: {t / 60:.1f} min")
    print("\n" + results_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
