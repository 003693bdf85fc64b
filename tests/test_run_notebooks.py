"""The main job stores finished progress bars as text, so a reopened notebook never shows
"Error displaying widget: model not found"; other widgets keep their state."""
import nbformat
import pytest

from gadlib.run_notebooks import WIDGET_STATE, WIDGET_VIEW, progress_bars_as_text


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

    from gadlib import run_notebooks

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
