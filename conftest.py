"""Running the tests must not rewrite committed files.

The notebooks executed by `pytest --nbmake` call `gadlib.results.save_results`, which writes to
`$GADLAB_RESULTS_DIR` when it is set. This sets it, for the whole session, to a fresh temporary
folder (removed at the end); the Jupyter kernels nbmake starts inherit the variable from this
process (tests/test_results.py checks that a kernel does). Set GADLAB_RESULTS_DIR yourself to keep
the test run's results somewhere; pointing it at the committed results/ is refused.

Under pytest-xdist (`-n auto`, the README's test command) every worker, and every kernel it starts,
gets an equal share of the CPU threads: torch's default of one thread per core in every worker
oversubscribes the machine (two 2-thread processes on 2 cores ran 15x slower than one, measured in
benchmarks/README.md), while one thread per worker finishes the suite sooner than one process.
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gadlib.results import RESULTS_DIR_ENV

ROOT = Path(__file__).resolve().parent
# Student editions stop at every exercise (raise NotImplementedError): tests/test_course.py runs
# their exercise sections; `--nbmake notebooks/` must not run them top to bottom as well.
collect_ignore_glob = ["notebooks/student/*"]
_made: list[str] = []


def _share_threads():
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if not workers or "OMP_NUM_THREADS" in os.environ:   # not a worker, or the user chose
        return
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads          # inherited by the Jupyter kernels nbmake starts
    import torch
    torch.set_num_threads(int(threads))


def pytest_configure(config):
    _share_threads()
    chosen = os.environ.get(RESULTS_DIR_ENV)
    if chosen and Path(chosen).resolve() == ROOT / "results":
        raise pytest.UsageError(f"{RESULTS_DIR_ENV}={chosen} is the committed results folder; tests must not write there")
    if not chosen:
        _made.append(tempfile.mkdtemp(prefix="gadlab-test-results-"))
        os.environ[RESULTS_DIR_ENV] = _made[-1]


def pytest_report_header(config):
    return f"notebook results go to {RESULTS_DIR_ENV}={os.environ[RESULTS_DIR_ENV]}"


def pytest_unconfigure(config):
    while _made:
        folder = _made.pop()
        if os.environ.get(RESULTS_DIR_ENV) == folder:
            del os.environ[RESULTS_DIR_ENV]
        shutil.rmtree(folder, ignore_errors=True)
