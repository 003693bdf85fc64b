"""What a student sees in JupyterLab, checked in a real (headless) browser.

Needs Playwright's Python package and a system Chromium (Playwright drives it; nothing is
downloaded): `pip install playwright` and, on Debian/Ubuntu, `apt-get install chromium`
(or set GADLAB_CHROMIUM to any Chromium/Chrome binary). Skipped, saying which is missing,
elsewhere.

1. A small notebook that shows notebook 01's sample explorer is opened in JupyterLab and run:
   the explorer renders a figure, and switching the problem while the slider is past the new
   end redraws it exactly once.
2. Every committed notebook (with the main job's outputs) opens without "Error displaying
   widget" (finished progress bars must not depend on widget state).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from gadlib.evaluation.results import repo_root
from gadlib.lessons.widgets import STATIC_ENV

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TOKEN = "gadlab-browser-test"


def _chromium() -> str | None:
    chosen = os.environ.get("GADLAB_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium found (apt-get install chromium, "
                                "or set GADLAB_CHROMIUM to a Chromium/Chrome binary)")

EXPLORER_NOTEBOOK = r'''
import numpy as np
from gadlib.data.benchmark import generate_benchmark, preset
from gadlib.data.samples import label_names, step_recognition_samples, task_recognition_samples
from gadlib.lessons.widgets import sample_explorer
data = generate_benchmark(preset("coin_like", num_classes=8, num_tasks=2, steps_per_task=(4, 6), videos_per_task=12))
samples = {"step": step_recognition_samples(data, "test", 2), "task": task_recognition_samples(data, "test", 2)}
rng = np.random.default_rng(0)
results = {m: {k: {"scores": rng.normal(size=(len(s), len(label_names(data, "steps" if k == "step" else "tasks"))))}
               for k, s in samples.items()} for m in ("generative", "discriminative")}
explorer = sample_explorer(data, samples, results)
explorer
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a folder with the explorer notebook and copies of the committed
    notebooks; yields (base URL, folder)."""
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(EXPLORER_NOTEBOOK.strip())]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "explorer.ipynb")
    for p in sorted((repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy(p, root / p.name)
    port = _free_port()
    # Workspaces (which notebooks a page restores) live in the test's folder, not the user's.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo_root()), os.environ.get("PYTHONPATH", "")]),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path_factory.mktemp("workspaces"))}
    # A student's kernel draws inline; the test run's MPLBACKEND=Agg (.ci/run) would make every
    # figure the text "<Figure size ...>" in the browser.
    env.pop("MPLBACKEND", None)
    # conftest sets STATIC_ENV for nbmake's headless kernels; in a browser the explorer is live.
    env.pop(STATIC_ENV, None)
    # allow_root: developers' machines and CI run as root, and JupyterLab refuses root without it
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
                               f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}",
                               "--ServerApp.open_browser=False", "--ServerApp.allow_root=True"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield url, root
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


# The notebook panel on show: every other panel of the page is hidden (lm-mod-hidden).
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"


def _open(browser, url: str, name: str):
    """A page of its own JupyterLab workspace (reset), so it restores no notebook opened by an
    earlier page, showing the notebook `name`."""
    page = browser.new_page(viewport={"width": 1024, "height": 900})
    workspace = f"test-{name.replace('.', '-')}-{time.monotonic_ns()}"
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{name}?reset&token={TOKEN}")
    page.wait_for_selector(f".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook", timeout=60_000)
    page.wait_for_selector(f".lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel:text-is('{name}')", timeout=60_000)
    return page


def _run_all(page):
    """Run every cell of the notebook on show, once its kernel is connected and idle (a Run menu
    used before that does nothing); the first cell's prompt then shows [*] or a number."""
    page.wait_for_function("document.querySelector('.jp-StatusBar-Widget, #jp-main-statusbar')"
                           " && document.body.innerText.includes('| Idle')", timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    started = ("() => { const p = document.querySelector(SELECTOR);"
               " return !!p && /\\[(\\*|\\d+)\\]/.test(p.innerText); }").replace("SELECTOR", repr(f"{NOTEBOOK} .jp-InputPrompt"))
    page.wait_for_function(started, timeout=60_000)


def test_explorer_renders_and_redraws_once(lab, browser):
    url, _ = lab
    page = _open(browser, url, "explorer.ipynb")
    _run_all(page)
    select = page.wait_for_selector(".widget-dropdown select", timeout=120_000)
    figure = ".widget-output img"
    page.wait_for_selector(figure, timeout=60_000)
    assert page.locator(figure).count() == 1
    first = page.locator(figure).get_attribute("src")
    # move the slider to its end (past the end of the task samples), then switch the problem
    slider = page.locator(".widget-slider .noUi-handle").first
    slider.focus()
    page.keyboard.press("End")
    page.wait_for_function(f"document.querySelector('{figure}') && document.querySelector('{figure}').src !== {first!r}")
    at_end = page.locator(figure).get_attribute("src")
    srcs = []
    page.expose_function("recordSrc", lambda s: srcs.append(s))
    page.evaluate("""() => new MutationObserver(() => {
        const img = document.querySelector('.widget-output img'); if (img) window.recordSrc(img.src);
    }).observe(document.querySelector('.widget-output'), {subtree: true, childList: true, attributes: true})""")
    select.select_option(label="task recognition")
    page.wait_for_function(f"document.querySelector('{figure}') && document.querySelector('{figure}').src !== {at_end!r}")
    page.wait_for_timeout(3000)  # a second redraw would land within this
    # While the output area swaps images the old one can still be the first <img> for a moment:
    # the observer then records it again. A redraw is a new image, so only those count.
    drawn = set(srcs) - {at_end}
    assert len(drawn) == 1, f"the figure was drawn {len(drawn)} times after one change"
    assert page.locator(figure).count() == 1
    assert "Error displaying widget" not in page.content()
    page.close()


@pytest.mark.parametrize("name", [p.name for p in sorted((repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))])
def test_committed_notebook_opens_without_widget_errors(lab, browser, name):
    url, _ = lab
    page = _open(browser, url, name)
    page.wait_for_timeout(5000)  # outputs and widget views render after the notebook model loads
    assert "Error displaying widget" not in page.inner_text(NOTEBOOK)
    page.close()
