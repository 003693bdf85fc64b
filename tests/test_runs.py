"""What `python -m gadlib.train` leaves behind and the commands that read it: one folder per
method, no silent overwrite, --eval-only, predictions.npz, training curves, `gadlib.evaluation.compare`
and `gadlib.evaluation.diversity` on real runs. Two tiny runs (GAD and discriminative) shared by the tests."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from gadlib.evaluation import compare, diversity
from gadlib.tools.cli import load_config, load_data, main, run_args, run_folder, task_kinds, task_samples
from gadlib.lms.build import build_classifier
from gadlib.evaluation.predictions import load_predictions
from gadlib.core.training import TrainConfig, make_accelerator

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "configs" / "smoke.yaml")
TINY = ["--train.epochs", "1", "--data.max_train_videos", "10", "--data.max_test_videos", "6",
        "--paper", "{gad: {step_top1: 0.653}, discriminative: {step_top1: 0.641, task_top1: 0.928}}"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """runs/smoke-like folder with gad/ and discriminative/ (and their payloads)."""
    out = tmp_path_factory.mktemp("runs") / "smoke"
    gad = run_args(["--config", SMOKE, "--output-dir", str(out), *TINY])
    disc = run_args(["--config", SMOKE, "--output-dir", str(out), "--method", "discriminative",
                     "--method_kwargs", "{}", *TINY])
    return out, {"gad": gad, "discriminative": disc}


def test_each_method_has_its_folder_and_nothing_is_overwritten(runs, capsys):
    out, payloads = runs
    assert sorted(p.name for p in out.iterdir()) == ["discriminative", "gad"]
    for method, payload in payloads.items():
        saved = json.loads((out / method / "results.json").read_text())
        assert saved["run"] == method and list(saved["metrics"]) == [method]
    # the same method again: refused before any work, naming the file
    assert main(["--config", SMOKE, "--output-dir", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'gad' / 'results.json'} exists" in err and "--overwrite" in err
    # a desync generative run is named so, in its folder (and so in results.json's "run")
    cfg = load_config(SMOKE, ["--method", "generative", "--method_kwargs", "{mapping: desync}"])
    assert run_folder(cfg) == Path("runs") / "smoke" / "generative_desync"


def test_overwrite_replaces_an_earlier_run(tmp_path):
    args = ["--config", SMOKE, "--output-dir", str(tmp_path), *TINY, "--data.max_train_videos", "2"]
    first = run_args(args)
    with pytest.raises(FileExistsError, match="results.json exists"):
        run_args(args + ["--seeds", "1"])
    second = run_args(args + ["--seeds", "1", "--overwrite"])
    saved = json.loads((tmp_path / "gad" / "results.json").read_text())
    assert first["seeds"] == [0] and second["seeds"] == saved["seeds"] == [1]


def test_eval_only_reproduces_the_metrics_of_the_run_it_loads(runs):
    out, payloads = runs
    again = run_args(["--config", SMOKE, "--output-dir", str(out), *TINY, "--eval-only",
                      "--checkpoint", str(out / "gad" / "checkpoint")])
    assert again["metrics"] == payloads["gad"]["metrics"]
    assert again["eval_only"] == str(out / "gad" / "checkpoint") and again["curves"]["gad"][0]["steps"] == 0
    trained, evaluated = (load_predictions(out / f) for f in ("gad", "gad_eval"))
    for key, t in trained["tables"].items():
        np.testing.assert_array_equal(evaluated["tables"][key]["pred"], t["pred"])
    # a checkpoint of another method than the config's is refused before any data is read
    with pytest.raises(ValueError, match="holds method 'discriminative'"):
        run_args(["--config", SMOKE, "--output-dir", str(out), "--data.path", "/nonexistent", "--eval-only",
                  "--checkpoint", str(out / "discriminative" / "checkpoint")])
    # (gad_eval is removed so the other tests see two methods)
    for f in sorted((out / "gad_eval").rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    (out / "gad_eval").rmdir()


def test_predictions_are_saved_per_sample(runs):
    out, payloads = runs
    saved = load_predictions(out / "gad")
    cfg = load_config(SMOKE, TINY)
    dataset, layout = load_data(cfg.data)
    kinds = task_kinds(cfg.data, layout)
    test = task_samples(dataset, cfg.data, kinds, "test")
    assert sorted(saved["tables"]) == sorted(("gad", 0, k) for k in kinds)
    for kind in kinds:
        t = saved["tables"][("gad", 0, kind)]
        group = [s for s in test if s.kind == kind]
        np.testing.assert_array_equal(t["truth"], [s.target for s in group])
        assert t["video_id"].tolist() == [s.video_id for s in group] and t["index"].tolist() == [s.frame for s in group]
        assert t["scores"].dtype == np.float16 and t["scores"].shape == (len(group), len(saved["class_names"][
            "tasks" if kind == "task" else "steps"]))
        top1 = payloads["gad"]["metrics"]["gad"][f"{kind}_top1"]["mean"]
        assert np.mean(t["pred"] == t["truth"]) == pytest.approx(top1)
    assert saved["class_names"]["steps"] == list(dataset.step_names)
    assert saved["train_counts"]["steps"].sum() > 0


def test_training_curves_are_logged_and_summarised(runs):
    out, payloads = runs
    with open(out / "gad" / "logs" / "seed0" / "curves.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    summary = payloads["gad"]["curves"]["gad"][0]
    assert len(rows) == summary["steps"] > 0 and [int(r["step"]) for r in rows] == list(range(1, len(rows) + 1))
    assert float(rows[-1]["loss"]) == summary["last_loss"] and float(rows[0]["loss"]) == summary["first_loss"]
    assert min(float(r["loss"]) for r in rows) == summary["min_loss"] and len(summary["epoch_loss"]) == 1
    assert float(rows[0]["lr"]) == summary["first_lr"] > 0


def test_compare_puts_methods_and_the_paper_side_by_side(runs, tmp_path, capsys):
    out, payloads = runs
    assert compare.main([str(out), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    md = (tmp_path / "comparison.md").read_text()
    assert md.splitlines()[0] == compare.MARKER
    header = next(line for line in md.splitlines() if line.startswith("| config"))
    assert "| step_top1 | step_top1 (paper) |" in header and "task_top1 (paper)" in header
    gad_row = next(line for line in md.splitlines() if line.startswith("| smoke | gad |"))
    step = payloads["gad"]["metrics"]["gad"]["step_top1"]
    shown = (f"{100 * step['mean']:.1f} ± {100 * step['std']:.1f}" if len(step["per_seed"]) > 1
             else f"{100 * step['mean']:.1f} (1 seed)")   # one seed: no "± 0.0"
    assert f"{shown} | 65.3 |" in gad_row and gad_row in printed
    assert "| 64.1 |" in next(line for line in md.splitlines() if line.startswith("| smoke | discriminative |"))
    table = {(r["method"], r["metric"]): r for r in csv.DictReader(open(tmp_path / "comparison.csv"))}
    assert float(table[("discriminative", "task_top1")]["paper"]) == 0.928
    assert float(table[("gad", "step_top1")]["mean"]) == step["mean"] and table[("gad", "next_top1")]["paper"] == ""
    # method folders directly, and a metric selection
    assert compare.main([str(out / "gad"), str(out / "discriminative"), "--out", str(tmp_path),
                         "--metrics", "task_top1"]) == 0
    assert "step_top1" not in (tmp_path / "comparison.md").read_text()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "comparison.md").write_text("mine\n")
    assert compare.main([str(out), "--out", str(tmp_path / "other")]) == 2  # not its file: left alone
    assert (tmp_path / "other" / "comparison.md").read_text() == "mine\n"


def test_diversity_command_prints_notebook_03s_table_for_a_run(runs, capsys):
    out, _ = runs
    assert diversity.main([str(out), "--min-errors", "1"]) == 0
    printed = capsys.readouterr().out
    for column in ("error_entropy", "error_entropy_matched", "null_prior", "classes_matched"):
        assert column in printed
    preds, num_classes, exclude, prior = diversity.run_predictions([str(out)])
    assert sorted(m for _, m, _ in preds) == ["discriminative", "gad"] and exclude == {"smoke": ()}
    table = diversity.summarize_diversity(diversity.diversity_table(preds, num_classes, exclude, prior, 1))
    pred, truth = preds[("smoke", "gad", 0)]
    expected = diversity.error_entropy(diversity.error_counts(pred, truth, num_classes["smoke"]), 1)
    assert table.loc[("smoke", "gad"), "error_entropy"] == round(expected, 2)
    assert table.loc[("smoke", "gad"), "errors"] == np.sum(pred != truth)


def test_find_unused_parameters_only_where_a_method_leaves_some(names, visual_dim):
    """DDP's search for unused parameters warns where there are none (GAD): on only where a step
    can leave a parameter without a gradient (tests/test_unused_parameters.py checks each answer)."""
    oad = {"oad": ["background", "a", "b"]}
    coin = {"steps": ["a", "b"], "tasks": ["t"]}
    assert not build_classifier("gad", oad, visual_dim).leaves_parameters_unused
    assert not build_classifier("gad", coin, visual_dim).leaves_parameters_unused  # every head, every step
    assert build_classifier("gad", oad, visual_dim, readout="last_token").leaves_parameters_unused  # [CLS]
    assert build_classifier("discriminative", oad, visual_dim).leaves_parameters_unused  # its LM head
    assert build_classifier("generative", oad, visual_dim).leaves_parameters_unused  # the [CLS] query
    assert make_accelerator(TrainConfig(), False).ddp_handler.find_unused_parameters is False
    assert make_accelerator(TrainConfig(), True).ddp_handler.find_unused_parameters is True
