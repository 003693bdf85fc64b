"""Running the tests must not rewrite committed files.

The notebooks executed by `pytest --nbmake` call `gadlib.results.save_results`, which writes to
`$GADLAB_RESULTS_DIR` when it is set. This sets it, for the whole session, to a fresh temporary
folder (removed at the end); the Jupyter kernels nbmake starts inherit the variable from this
process (tests/test_results.py checks that a kernel does). Set GADLAB_RESULTS_DIR yourself to keep
the test run's results somewhere; pointing it at the committed results/ is refused.
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gadlib.results import RESULTS_DIR_ENV

ROOT = Path(__file__).resolve().parent
_made: list[str] = []


def pytest_configure(config):
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
