"""The main job: execute every notebook top to bottom, headless, as a student would.

    python -m gadlib.run_notebooks            # all notebooks
    python -m gadlib.run_notebooks 01 02      # the ones whose name starts with these

Executed copies go to runs/<notebook>.ipynb (open them in JupyterLab), headline numbers to
results/<notebook>.json (or `$GADLAB_RESULTS_DIR`). Each notebook's measured wall time and the
machine are added to its results file, and the README's generated blocks are rewritten from
the results (`gadlib.readme_table`), so the README never carries a typed-in number.
"""
from __future__ import annotations

import os
import platform
import sys
import time

import nbformat
from nbclient import NotebookClient

from .readme_table import render_readme, results_table
from .results import record_run, repo_root, results_dir


def machine_description() -> str:
    """What the run time was measured on, e.g. 'Linux x86_64, 2 CPU cores, no GPU'."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, {gpu}"


def main(argv: list[str]) -> int:
    root = repo_root()
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if argv:
        notebooks = [n for n in notebooks if any(n.name.startswith(a) for a in argv)]
    if not notebooks:
        print(f"no notebooks matching {argv} in {root / 'notebooks'}", file=sys.stderr)
        return 2
    (root / "runs").mkdir(exist_ok=True)
    machine = machine_description()
    times = {}
    for path in notebooks:
        print(f"running {path.name} ...", flush=True)
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        times[path.name] = time.perf_counter() - t0
        nbformat.write(nb, root / "runs" / path.name)
        record_run(path.stem, times[path.name], machine)
        print(f"  done in {times[path.name] / 60:.1f} min -> runs/{path.name}", flush=True)
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
