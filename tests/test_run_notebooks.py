"""The main job stores finished progress bars as text, so a reopened notebook never shows
"Error displaying widget: model not found"; other widgets keep their state. A notebook that fails
is reported and left as committed, and the job goes on with the others; progress shows meanwhile."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

import gadlib
from gadlib.evaluation.results import RESULTS_DIR_ENV
from gadlib.tools.run_notebooks import WIDGET_STATE, WIDGET_VIEW, progress_bars_as_text


@pytest.fixture(scope="module")
def executed():
    """A notebook with tqdm.auto bars (kept and leave=False) and a slider, run by nbclient as
    the main job runs the notebooks (one kernel start, a few seconds)."""
    pytest.importorskip("ipykernel")
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from tqdm.auto import tqdm\n"
                                          "for i in tqdm(range(3), desc='outer'):\n"
                                          "    for j in tqdm(range(2), desc='inner', leave=False):\n"
                                          "        pass"),
                nbformat.v4.new_code_cell("import ipywidgets as w\nw.IntSlider(7)")]
    NotebookClient(nb, timeout=120, kernel_name="python3", record_timing=False).execute()
    return nb


def _views(nb):
    return [o["data"][WIDGET_VIEW]["model_id"] for c in nb.cells for o in c.outputs if WIDGET_VIEW in o.get("data", {})]


def test_progress_bars_become_their_last_text_and_no_view_lacks_its_model(executed):
    nb = nbformat.from_dict(executed)
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    assert len(_views(nb)) == 5 and len(state) > 20  # 4 bars (1 kept, 3 hidden) + a slider, as widgets
    assert progress_bars_as_text(nb) == 4
    bar_outputs = nb.cells[0].outputs
    assert [o.output_type for o in bar_outputs] == ["stream"]  # the hidden inner bars are gone
    assert bar_outputs[0].text.startswith("outer: 100%|██████████| 3/3 [")
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    (slider,) = _views(nb)
    assert state[slider]["model_name"] == "IntSliderModel" and state[slider]["state"]["value"] == 7
    # what JupyterLab needs to draw every remaining view: its model and every model it refers to
    refs = [v[len("IPY_MODEL_"):] for k, v in state[slider]["state"].items() if str(v).startswith("IPY_MODEL_")]
    assert refs and all(r in state for r in refs)
    assert set(state) == {slider, *refs}  # the bars' models were pruned
    nbformat.validate(nb)


def test_a_notebook_without_widgets_is_left_alone():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1")]
    nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1)]
    before = nbformat.writes(nb)
    assert progress_bars_as_text(nb) == 0 and nbformat.writes(nb) == before


def test_main_job_refuses_a_notebook_whose_text_source_is_newer(tmp_path, monkeypatch, capsys):
    import jupytext

    from gadlib.tools import run_notebooks

    (tmp_path / "gadlib").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · x"), nbformat.v4.new_code_cell("x = 1")]
    nb.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    nbformat.write(nb, tmp_path / "notebooks" / "01_x.ipynb")
    nb.cells[1].source = "x = 2"  # edited in the text source, not synced
    jupytext.write(nb, tmp_path / "notebooks" / "01_x.py", fmt="py:percent")
    monkeypatch.chdir(tmp_path)
    before = (tmp_path / "notebooks" / "01_x.ipynb").read_text()
    assert run_notebooks.main(["01"]) == 2
    assert "differ from cell 1" in capsys.readouterr().err
    assert (tmp_path / "notebooks" / "01_x.ipynb").read_text() == before  # nothing ran, nothing written


@pytest.fixture(scope="module")
def main_job(tmp_path_factory):
    """`python -m gadlib.run_notebooks` in a throwaway repository of two tiny notebooks: 01 saves
    its results, then raises in cell 2; 02 saves its results and ends. Both were timed before."""
    pytest.importorskip("ipykernel")
    root = tmp_path_factory.mktemp("repo")
    (root / "gadlib").mkdir()
    (root / "pyproject.toml").write_text("")
    (root / "notebooks").mkdir()
    results = root / "scratch-results"
    results.mkdir()
    save = ("import json, os, pathlib\n"
            "pathlib.Path(os.environ['GADLAB_RESULTS_DIR'], '{0}.json').write_text(json.dumps({{'notebook': '{0}', 'seconds': 1.0}}))")
    cells = {"01_fails": [nbformat.v4.new_markdown_cell("# 01"), nbformat.v4.new_code_cell(save.format("01_fails")),
                          nbformat.v4.new_code_cell("y = 1 / 0  # the bug\nprint('never')"),
                          nbformat.v4.new_code_cell("z = 2")],
                 "02_ok": [nbformat.v4.new_code_cell(save.format("02_ok")), nbformat.v4.new_code_cell("print('hello')"),
                           nbformat.v4.new_code_cell("import time\ntime.sleep(5)  # a long cell")]}
    for name, nb_cells in cells.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = nb_cells
        nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
        (results / f"{name}.json").write_text(json.dumps({"notebook": name, "run": {"wall_seconds": 288.0, "machine": "m"}}))
    before = {p.name: p.read_bytes() for p in [*(root / "notebooks").iterdir(), *results.iterdir()]}
    env = {**os.environ, RESULTS_DIR_ENV: str(results),
           "PYTHONPATH": os.pathsep.join([str(Path(gadlib.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    env.pop("TQDM_DISABLE", None)  # the bars are under test (tqdm reads any value, even "0", as true)
    proc = subprocess.run([sys.executable, "-m", "gadlib.run_notebooks"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)
    return SimpleNamespace(root=root, results=results, before=before, proc=proc)


def test_a_failing_notebook_is_reported_left_as_committed_and_the_others_still_run(main_job):
    proc, nbs = main_job.proc, main_job.root / "notebooks"
    assert proc.returncode == 1, proc.stderr
    report = proc.stderr[proc.stderr.index("FAILED"):]
    assert report.startswith("FAILED 01_fails.ipynb, cell 2 (In [2]: y = 1 / 0  # the bug):\n"
                             "  ZeroDivisionError: division by zero\n")
    assert proc.stderr.rstrip().endswith("1 of 2 notebooks failed:\n  01_fails.ipynb, cell 2 (In [2]: y = 1 / 0  # the bug): "
                                         "ZeroDivisionError: division by zero")
    # the committed notebook and its results (which the failed run had overwritten) are as they were
    assert (nbs / "01_fails.ipynb").read_bytes() == main_job.before["01_fails.ipynb"]
    assert (main_job.results / "01_fails.json").read_bytes() == main_job.before["01_fails.json"]
    partial = Path(re.search(r"the partly executed notebook: (\S+)", report).group(1))
    assert partial.parent.name.startswith("gadlab-failed-")
    assert nbformat.read(partial, as_version=4).cells[2].outputs[0].ename == "ZeroDivisionError"
    shutil.rmtree(partial.parent)
    # the next notebook ran, was written back and timed
    ok = nbformat.read(nbs / "02_ok.ipynb", as_version=4)
    assert ok.cells[1].outputs[0].text == "hello\n"
    assert json.loads((main_job.results / "02_ok.json").read_text())["run"]["wall_seconds"] > 0
    assert "02_ok.ipynb done in" in proc.stdout


def test_main_job_shows_progress_and_no_kernel_transport_warning(main_job):
    err = main_job.proc.stderr
    assert "Kernel is running over TCP without encryption" not in err
    # a notebook's bar shows every finished cell and is cleared when the notebook ends
    in_flight = r"(cell \d+ '[^']*' \d+s; )?"
    assert re.search(rf"02_ok: +\d+%\|.*\| [0-3]/3 cells \[\d\d:\d\d, {in_flight}last run 4\.8 min\]", err), err
    assert re.search(rf"01_fails:  33%\|.*\| 1/3 cells \[\d\d:\d\d, {in_flight}last run 4\.8 min\]", err), err
    # inside a long cell the bar is redrawn with that cell, its first line and its time so far
    assert re.search(r"02_ok: .*\| 2/3 cells \[00:0\d, cell 2 'import time' [2-9]s; last run 4\.8 min\]", err), err
    assert re.search(r"main job: 2/2 notebooks \|█+\| \[\d\d:\d\d, last run 9\.6 min\]", err), err
