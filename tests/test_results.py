"""Results files, the README's generated numbers, and the rule that tests never write results/."""
from __future__ import annotations

import json
import os
import re
import statistics
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gadlib.tools import readme_table, run_notebooks
from gadlib.evaluation.results import (RESULTS_DIR_ENV, TOKENIZATION_CLAIMS, claim_line, fmt_mean_std, load_results,
                            paired_difference, record_run, results_dir, save_results)

ROOT = Path(__file__).resolve().parents[1]


def _summary(per_seed):
    return {"mean": statistics.mean(per_seed), "std": statistics.stdev(per_seed), "per_seed": per_seed}


def test_fmt_mean_std_hand_cases():
    assert fmt_mean_std({"mean": 0.62775, "std": 0.03303}) == "62.8 ± 3.3"
    assert fmt_mean_std({"mean": 1.5, "std": 0.25}, scale=1, digits=2) == "1.50 ± 0.25"
    # one seed: no "± 0.0" (decided from the seeds, not from std == 0: two equal seeds keep theirs)
    assert fmt_mean_std({"mean": 0.628, "std": 0.0, "per_seed": [0.628]}) == "62.8 (1 seed)"
    assert fmt_mean_std({"mean": 0.628, "std": 0.0, "seeds": [3]}) == "62.8 (1 seed)"
    assert fmt_mean_std({"mean": 0.628, "std": 0.0, "per_seed": [0.628, 0.628]}) == "62.8 ± 0.0"
    assert fmt_mean_std({"mean": 0.628, "std": float("nan"), "per_seed": [0.628]}) == "62.8 (1 seed)"
    with pytest.raises(ValueError, match="'mean' and 'std'"):
        fmt_mean_std({"mean": 0.5})


def test_fmt_percent_keeps_small_shares_readable():
    from gadlib.evaluation.results import fmt_percent
    assert fmt_percent(0.0243) == "2.4" and fmt_percent(0.123) == "12.3" and fmt_percent(0.5) == "50.0"
    assert fmt_percent(0.0042) == "0.42" and fmt_percent(0.0) == "0.0"


def test_paired_difference_matches_a_recomputation():
    a, b = [0.5, 0.6, 0.7], [0.4, 0.6, 0.5]
    d = paired_difference(a, b)
    per_seed = [100 * (x - y) for x, y in zip(a, b)]      # +10, 0, +20 points
    assert d.mean == pytest.approx(statistics.mean(per_seed))
    assert d.std == pytest.approx(statistics.stdev(per_seed))   # ddof=1, not the spread of A and B
    assert (d.wins, d.n) == (2, 3)                         # a tie is not a win
    assert str(d) == "+10.0 ± 10.0"
    assert not d.ahead and not d.behind and d.similar()
    # Summaries are accepted as well as per-seed lists; pairing follows the seed order.
    assert paired_difference(_summary(b), _summary(a)).mean == pytest.approx(-10.0)
    assert paired_difference([0.3], [0.1]).std == 0.0
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference([0.1, 0.2], [0.1, 0.2, 0.3])


def test_claim_line_verdicts():
    metrics = {"discriminative": {"step_top1": _summary([0.40, 0.42, 0.41])},
               "gen_text": {"step_top1": _summary([0.20, 0.21, 0.22])},
               "gen_rand": {"step_top1": _summary([0.205, 0.215, 0.215])},
               "gen_desync": {"step_top1": _summary([0.15, 0.25, 0.10])},
               "gen_extend": {"step_top1": _summary([0.10, 0.12, 0.08])}}
    lines = [claim_line(metrics, a, b, rel) for a, b, rel in TOKENIZATION_CLAIMS]
    assert lines[0].endswith("-> holds here.") and "+20.0 ± 1.0" in lines[0]
    assert lines[1].endswith("-> holds here.")            # 0.3 points apart: ≈
    assert lines[2].endswith("-> does not hold here.")    # desync − text = -4.3 ± 6.7: not ahead
    assert lines[3].endswith("-> does not hold here.")    # extend 30 points behind: not ≈
    with pytest.raises(KeyError, match="gen_missing"):
        claim_line(metrics, "gen_missing", "gen_text", ">")


def test_tests_write_results_to_a_temporary_folder():
    """The root conftest.py points results at a temporary folder for the whole session."""
    folder = Path(os.environ[RESULTS_DIR_ENV])
    assert results_dir() == folder and folder.resolve() != ROOT / "results"


def test_a_notebook_kernel_started_by_the_tests_inherits_the_results_folder(monkeypatch):
    """nbmake runs notebooks in Jupyter kernels started from the pytest process (via nbclient,
    as here): their save_results must land in the temporary folder, not in results/."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # gadlib importable without an install
    committed = {p.name: p.read_bytes() for p in (ROOT / "results").glob("*.json")}
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "from gadlib.evaluation.results import save_results\nprint(save_results('99_kernel_check', {'seconds': 1.0}))"))
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    written = Path(nb.cells[0].outputs[0]["text"].strip())
    assert written == Path(os.environ[RESULTS_DIR_ENV]) / "99_kernel_check.json" and written.is_file()
    assert {p.name: p.read_bytes() for p in (ROOT / "results").glob("*.json")} == committed


def test_the_readme_numbers_are_the_generated_ones():
    """Every number in the README's generated blocks comes from the committed results/*.json:
    after editing results or the generator, run `python -m gadlib.readme_table --write`."""
    readme = (ROOT / "README.md").read_text()
    docs = {d: (ROOT / d).read_text() for d in readme_table.GENERATED_DOCS}
    used = set(re.findall(r"<!-- BEGIN generated:([\w-]+) -->", readme + "".join(docs.values())))
    assert used == set(readme_table.BLOCKS)
    assert readme_table.render_readme(readme, ROOT / "results") == readme
    for name, text in docs.items():
        assert readme_table.render_readme(text, ROOT / "results") == text, f"{name}: run python -m gadlib.readme_table --write"


def test_talking_points_list_every_verdict_but_holds():
    results = {"01_x": {"differences": {
        "a − b": {"mean": 1.0, "ci95": [-1.0, 3.0], "verdict": "unresolved"},
        "c − d": {"mean": 4.0, "ci95": [2.0, 6.0], "verdict": "holds"},
        "e − f": {"mean": -4.0, "ci95": [-6.0, -2.0], "verdict": "opposite"}}},
        "02_y": {"differences": {"g − h": {"mean": 2.0, "ci95": [1.0, 3.0], "verdict": "holds"}}}}
    text = readme_table.talking_points(results)
    assert "**01_x** (1 of 3 comparisons hold)" in text and "02_y" not in text
    assert "- a − b: +1.0 points, 95 % interval [-1.0, +3.0]: **unresolved**" in text
    assert "c − d" not in text and "e − f" in text
    assert "*unresolved*" in text and "*opposite*" in text and "*not testable*" not in text


def test_a_typed_number_in_a_generated_block_is_caught():
    readme = (ROOT / "docs" / "results.md").read_text()  # where the per-notebook blocks stand
    block = readme.index("<!-- BEGIN generated:results-01 -->")
    row = readme.index("| discriminative |", block)
    typed = readme[:row] + readme[row:].replace("| discriminative | ", "| discriminative | 99.9 ± 0.1 | ", 1)
    assert readme_table.render_readme(typed, ROOT / "results") == readme
    with pytest.raises(ValueError, match="unknown generated block 'nope'"):
        readme_table.render_readme("<!-- BEGIN generated:nope -->\nx\n<!-- END generated:nope -->\n", ROOT / "results")
    with pytest.raises(ValueError, match="opened but"):
        readme_table.render_readme("<!-- BEGIN generated:results-all -->\nx\n", ROOT / "results")


def _fake_repo(root: Path) -> None:
    """A repository root with one notebook that saves results, and a README with generated blocks."""
    (root / "gadlib").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    (root / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "from gadlib.evaluation.results import save_results\n"
        "save_results('01_fake', {'profile': 'cpu', 'seconds': 0.5, 'metrics': "
        "{'disc': {'step_top1': {'mean': 0.5, 'std': 0.1, 'per_seed': [0.4, 0.6]}}}})"))
    nbformat.write(nb, root / "notebooks" / "01_fake.ipynb")
    (root / "README.md").write_text(
        "intro\n<!-- BEGIN generated:quickstart-time -->\nabout 7 minutes\n<!-- END generated:quickstart-time -->\n"
        "<!-- BEGIN generated:notebook-table -->\n| notebook | what | time |\n|---|---|---|\n"
        "| [01](notebooks/01_fake.ipynb) | fake | 3.1 min |\n<!-- END generated:notebook-table -->\n"
        "<!-- BEGIN generated:results-all -->\n<!-- END generated:results-all -->\noutro\n")


def test_main_job_records_wall_time_and_regenerates_the_readme(tmp_path, monkeypatch, capsys):
    _fake_repo(tmp_path)
    monkeypatch.delenv(RESULTS_DIR_ENV)   # the main job writes the repository's results/
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports the real gadlib
    monkeypatch.chdir(tmp_path)
    assert run_notebooks.main(["01"]) == 0
    res = load_results("01_fake", tmp_path / "results")
    wall = res["run"]["wall_seconds"]
    assert wall > 0 and res["run"]["machine"] == run_notebooks.machine_description()
    # what decides the floating-point results besides the code is recorded with them
    facts = run_notebooks.machine_facts()
    assert {k: res["run"][k] for k in ("cpu", "cpu_capability", "blas", "torch")} == \
        {k: facts[k] for k in ("cpu", "cpu_capability", "blas", "torch")}
    assert res["run"]["load_before"] >= 0 and res["run"]["torch_threads"] >= 1
    # where the time went: kernel start, then per cell (the one cell here is the slowest)
    assert 0 < res["run"]["kernel_start_s"] < wall
    (slowest,) = res["run"]["slowest_cells"]
    assert slowest["cell"] == 0 and slowest["first_line"].startswith("from gadlib.evaluation.results import")
    # cells_s is rounded to 0.1 s and each cell to 0.01 s: they may differ by 0.05 (1.25 vs 1.2)
    assert 0 < slowest["seconds"] == pytest.approx(res["run"]["cells_s"], abs=0.051) and slowest["seconds"] < wall
    executed = nbformat.read(tmp_path / "notebooks" / "01_fake.ipynb", as_version=4)  # outputs written back
    assert executed.cells[0].execution_count == 1
    readme = (tmp_path / "README.md").read_text()
    assert f"**{wall / 60:.1f} minutes** for all notebooks (01: {wall / 60:.1f} min" in readme
    assert f"| [01](notebooks/01_fake.ipynb) | fake | {wall / 60:.1f} min |" in readme
    assert f"| 01_fake | disc | step 50.0 ± 10.0 | cpu | {wall / 60:.1f} min |" in readme
    assert "about 7 minutes" not in readme and readme.startswith("intro\n") and readme.endswith("outro\n")
    # Without a main-job record, the notebook's own timer is used and said to be.
    data = json.loads((tmp_path / "results" / "01_fake.json").read_text())
    del data["run"]
    assert "0.0 min; each notebook's own timer" in readme_table.quickstart_time({"01_fake": data})


def test_record_run_needs_the_notebooks_results(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="98_missing"):
        record_run("98_missing", 1.0, "here")
    save_results("97_x", {"seconds": 2.0})
    (tmp_path / "96_bad.json").write_text("{")
    with pytest.raises(ValueError, match="96_bad.json: malformed JSON"):
        load_results("96_bad")


def test_backbone_pretraining_block_is_made_from_its_benchmark_results(tmp_path):
    from gadlib.tools.readme_table import render_readme
    stats = lambda m: {"mean": m, "std": 0.01, "per_seed": [m - 0.01, m + 0.01]}  # noqa: E731
    res = {"seconds": 600.0, "load_start": 0.1, "load_end": 1.9, "dataset": "toy", "seeds": [0, 1],
           "settings": {"val_every": 3, "patience": 15, "max_epochs": 60},
           "metrics": {"oad scratch gad": stats(0.4), "oad pretrained gad": stats(0.45)},
           "best_step": {"oad scratch gad": [100, 120], "oad pretrained gad": [90, 80]},
           "differences": {"oad gad: pretrained − scratch": {"mean": 5.0, "ci95": [1.0, 9.0], "verdict": "pretrained better"}}}
    text = "x\n<!-- BEGIN generated:backbone-pretraining -->\nold\n<!-- END generated:backbone-pretraining -->\n"
    with pytest.raises(FileNotFoundError, match="benchmarks/backbone_pretraining.py"):
        render_readme(text, tmp_path)
    (tmp_path / "backbone_pretraining.json").write_text(json.dumps(res))
    out = render_readme(text, tmp_path)
    assert "| oad | gad | 40.0 ± 1.0 | 45.0 ± 1.0 | [100, 120] | [90, 80] |" in out
    assert "- oad gad: pretrained − scratch: +5.0 points, 95 % interval [+1.0, +9.0]: **pretrained better**" in out
    assert "10 min, load average 0.1 at the start, 1.9 at the end" in out


def test_autograde_block_is_made_from_its_benchmark_and_the_notebooks_run_time(tmp_path):
    from gadlib.tools.readme_table import render_readme
    res = {"assignment": "01_x", "seconds": 270.0, "load_average_before": [0.5, 1.0, 1.0], "auto_points": 3.0,
           "auto_max": 4.0, "manual_cells": 2, "machine": "toy box", "date": "2026-01-02"}
    text = "<!-- BEGIN generated:autograde-time -->\nold\n<!-- END generated:autograde-time -->\n"
    with pytest.raises(FileNotFoundError, match="benchmarks/nbgrader_autograde.py"):
        render_readme(text, tmp_path)
    (tmp_path / "nbgrader_autograde.json").write_text(json.dumps(res))
    assert "of 01_x took **4.5 min**; it scored 3 of 4 auto-graded points, 2 answers" in render_readme(text, tmp_path)
    (tmp_path / "01_x.json").write_text(json.dumps({"run": {"wall_seconds": 240.0}}))
    assert "**4.5 min**; the main job ran it in 4.0 min; it scored" in render_readme(text, tmp_path)
    res.update(cell_timeout_s=2820, slowest_cells=[{"cell": 17, "first_line": "runs = train()", "seconds": 95.2}])
    (tmp_path / "nbgrader_autograde.json").write_text(json.dumps(res))
    out = render_readme(text, tmp_path)
    assert "before), with the nbgrader_config.py that `python -m gadlib.course nbgrader` writes (cell timeout 2820 s):" in out
    assert "hand grading. Its slowest cell ran 95 s (`runs = train()`)." in out
    res["slowest_cells"][0]["seconds"] = 2820.0
    (tmp_path / "nbgrader_autograde.json").write_text(json.dumps(res))
    assert "(`runs = train()`) reached that timeout and was stopped" in render_readme(text, tmp_path)


def test_thread_sensitivity_block_is_made_from_its_benchmark(tmp_path):
    from gadlib.tools.readme_table import render_readme
    res = {"assignment": "01_x", "threads": 1, "committed_torch_threads": 2, "seconds": 600.0, "compared": 10,
           "moved": 1, "load_average_before": [0.5, 1.0, 1.0], "machine": "toy box", "date": "2026-01-02",
           "groups": {"metrics (mean)": {"compared": 4, "moved": 1, "max_abs_change": 0.02},
                      "settings": {"compared": 6, "moved": 0, "max_abs_change": 0.0}},
           "verdicts_changed": [{"key": "/differences/a − b [x]/verdict", "committed": "holds", "new": "unresolved"}],
           "slowest_cells": [{"cell": 3, "first_line": "runs = train()", "seconds": 512.3}]}
    text = "<!-- BEGIN generated:thread-sensitivity -->\n<!-- END generated:thread-sensitivity -->\n"
    with pytest.raises(FileNotFoundError, match="benchmarks/thread_sensitivity.py"):
        render_readme(text, tmp_path)
    (tmp_path / "thread_sensitivity.json").write_text(json.dumps(res))
    out = render_readme(text, tmp_path)
    assert "01_x rerun with 1 thread(s) (the committed run had 2) took 10.0 min; 1 of its 10" in out
    assert "Verdicts that changed: a − b [x]: holds → unresolved. Its slowest cell ran 512 s (`runs = train()`)." in out
    assert "| metrics (mean) | 4 | 1 | 0.020 (2.0 points) |" in out and "| settings |" not in out


def _cell(c, o, disc, text, seeds=1):
    def summary(x):
        return {"mean": x, "std": 0.0, "per_seed": [x] * seeds}
    return {"compositionality": c, "overlap": o, "metrics": {"discriminative": {"step_top1": summary(disc)},
                                                            "gen_text": {"step_top1": summary(text)}}}


def test_grid_gap_line_describes_the_cells_without_reading_causes_into_one_seed():
    from gadlib.evaluation.results import grid_gap_line
    text = grid_gap_line([_cell(0.0, 0.3, 0.50, 0.49), _cell(0.0, 0.9, 0.50, 0.40),
                          _cell(1.0, 0.3, 0.50, 0.49), _cell(1.0, 0.9, 0.50, 0.60)])
    assert "one seed per cell: these describe one run, with no verdict" in text
    assert "smallest at compositionality=1.0, overlap=0.9 (-10.0)" in text
    # same sign (+1.0, +10.0): the lead widens
    assert ("At compositionality=0.0: +1.0 at overlap 0.3, +10.0 at overlap 0.9: discriminative's estimated lead widens "
            "with overlap; higher at more overlap in this one run") in text
    # +1.0 then -10.0: the sign flips, never "narrows"
    assert "At compositionality=1.0: +1.0 at overlap 0.3, -10.0 at overlap 0.9: the estimates' sign flips; lower at more overlap in this one run" in text
    assert "narrows" not in text and not any(w in text for w in ("because", "makes", "shared visual evidence"))
    three = grid_gap_line([_cell(0.0, 0.3, 0.50, 0.40, seeds=3), _cell(0.0, 0.9, 0.50, 0.45, seeds=3)])
    assert "means over 3 seeds per cell" in three and "+10.0 at overlap 0.3, +5.0 at overlap 0.9: discriminative's estimated lead narrows" in three


def test_gap_row_line_by_hand():
    from gadlib.evaluation.results import gap_row_line
    assert gap_row_line([(0.9, -1.5), (0.3, 2.0)]) == "+2.0 at overlap 0.3, -1.5 at overlap 0.9: the estimates' sign flips"
    assert gap_row_line([(0.3, -2.0), (0.9, -4.0)], a="disc", b="text").endswith("text's estimated lead widens with overlap")
    assert gap_row_line([(0.3, -2.0), (0.9, -1.0)]).endswith("B's estimated lead narrows with overlap")
    # +0.04 is shown as +0.0: no lead there, not a flip
    assert gap_row_line([(0.3, 0.04), (0.9, 1.0)]) == "+0.0 at overlap 0.3, +1.0 at overlap 0.9: A ahead except at overlap 0.3"
    assert gap_row_line([(0.3, 1.0), (0.6, -1.0), (0.9, 2.0)]).endswith("the estimates' sign changes along the row")
    assert gap_row_line([(0.3, 1.0)]) == "+1.0 at overlap 0.3"



def test_matched_vs_raw_line_is_a_ratio_never_a_share_above_100_percent():
    from gadlib.evaluation.results import matched_vs_raw_line
    more = matched_vs_raw_line(0.10, 0.147)            # 0.147 / 0.10 = 1.47
    assert "1.47 × the raw one" in more and "does not shrink" in more and "%" not in more
    assert more.startswith("At matched error counts the difference is +0.15 nats against the raw +0.10")
    half = matched_vs_raw_line(0.20, 0.10)
    assert "0.50 × the raw one (50 % of it remains after matching)" in half
    assert "none of the raw difference remains" in matched_vs_raw_line(0.20, -0.05)
    with pytest.raises(ValueError):
        matched_vs_raw_line(-0.1, 0.1)
