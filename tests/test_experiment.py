"""The notebook plumbing: experiment runs and summaries, error analysis, results files, timing."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gadlib.evaluation import results as results_mod
from gadlib.evaluation.experiment import Run, Setup, offline_samples, run, summarize
from gadlib.lessons.plots import confused_pairs, error_sharing, split_label
from gadlib.tools.readme_table import results_table
from gadlib.evaluation.timing import ms_per_sample
from gadlib.core.training import History, TrainConfig


def _run(method, seed, top1):
    return Run(method, seed, History(), {"step": {"metrics": {"top1": top1, "top5": 1.0, "balanced_top1": top1}}})


def test_summarize_mean_std_per_seed_in_seed_order():
    runs = [_run("disc", 2, 0.7), _run("disc", 0, 0.5), _run("disc", 1, 0.6), _run("gen", 0, 0.1)]
    s = summarize(runs, kinds=("step",))
    assert s["disc"]["step_top1"]["per_seed"] == [0.5, 0.6, 0.7]
    assert s["disc"]["step_top1"]["mean"] == pytest.approx(0.6)
    assert s["disc"]["step_top1"]["std"] == pytest.approx(0.1)  # ddof=1
    assert s["gen"]["step_top1"] == {"mean": 0.1, "std": 0.0, "per_seed": [0.1]}
    assert set(s["disc"]) == {"step_top1", "step_top5", "step_balanced_top1"}


def test_error_sharing_and_confused_pairs_hand_case():
    names = ["add sugar", "add salt", "cut onion", "peel onion"]
    targets = np.array([0, 0, 0, 2, 3, 1])
    pred = np.array([1, 1, 2, 3, 3, 1])  # errors: 0->1 twice (same verb), 0->2, 2->3 (same object)
    share = error_sharing(pred, targets, names)
    assert share == {"errors": 4, "same_verb": 0.5, "same_object": 0.25}
    table = confused_pairs(pred, targets, names, top=2)
    assert table.iloc[0].to_dict() == {"true": "add sugar", "predicted": "add salt", "count": 2,
                                       "same verb": True, "same object": False}
    assert len(table) == 2
    assert split_label("pour olive oil") == ("pour", "olive oil")
    assert np.isnan(error_sharing(targets, targets, names)["same_verb"])


def test_save_results_writes_plain_json_atomically(tmp_path, monkeypatch):
    (tmp_path / "gadlib").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # notebooks run in notebooks/: results go to the root
    monkeypatch.delenv(results_mod.RESULTS_DIR_ENV)  # as in the main job, not under the tests' temp folder
    path = results_mod.save_results("99_test", {"profile": "cpu", "seconds": 60.0, "metrics": {
        "disc": {"step_top1": {"mean": np.float32(0.5), "std": 0.0, "per_seed": np.array([0.5])}}}})
    assert path == tmp_path / "results" / "99_test.json"
    data = json.loads(path.read_text())
    assert data["notebook"] == "99_test" and data["metrics"]["disc"]["step_top1"]["per_seed"] == [0.5]
    assert list((tmp_path / "results").iterdir()) == [path]  # no temp file left behind
    assert "| 99_test | disc | step 50.0 (1 seed) | cpu | 1.0 min |" in results_table()
    with pytest.raises(FileNotFoundError, match="98_missing"):
        results_mod.load_results("98_missing")


def test_run_trains_and_evaluates_every_decoding(dataset):
    setup = Setup(num_frames=2, kinds=("step", "next"), train=TrainConfig(epochs=1, batch_size=32, progress=False))
    out = run("generative", dataset, 0, setup, decodings=("greedy", "exact"), name="gen_text", keep_model=True)
    assert set(out) == {"gen_text", "gen_text_exact"}
    test = offline_samples(dataset, "test", 2, kinds=("step", "next"))
    for r in out.values():
        assert set(r.results) == {"step", "next"}
        assert len(r.results["step"]["targets"]) == sum(s.kind == "step" for s in test)
        assert r.history.steps == -(-len(offline_samples(dataset, "train", 2, ("step", "next"))) // 32)
    # Both decodings evaluate the same trained model.
    assert out["gen_text"].classifier is out["gen_text_exact"].classifier
    assert ms_per_sample(out["gen_text"].classifier, test[:4], batch_size=2, repeats=1) > 0


def test_run_validates_on_held_out_videos_and_keeps_the_best_epoch(dataset):
    from gadlib.core.training import evaluate
    split = dataset.with_validation(0.3, seed=0)
    setup = Setup(num_frames=2, kinds=("step", "next"),
                  train=TrainConfig(epochs=3, batch_size=32, progress=False, patience=None))
    r = run("discriminative", split, 0, setup, validate_on="val", keep_model=True)["discriminative"]
    h = r.history
    assert len(h.val_score) == 3 and h.best_step == h.val_steps[int(np.argmax(h.val_score))]
    # The kept weights are the best epoch's: recomputing its validation score from them gives it back.
    val = offline_samples(split, "val", 2, ("step", "next"))
    res = evaluate(r.classifier, val)
    assert np.mean([res[k]["metrics"]["top1"] for k in ("step", "next")]) == pytest.approx(max(h.val_score))


def test_plots_raise_no_library_warnings():
    """Students' notebook outputs must not show library warnings (seaborn 0.13 warned about
    `color=` with `hue=` in the strip plot)."""
    import warnings

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gadlib.lessons.plots import plot_accuracy, plot_latency, plot_losses
    summary = {m: {f"{k}_top1": {"mean": 0.5, "std": 0.1, "per_seed": [0.4, 0.5, 0.6]} for k in ("step", "task")}
               for m in ("discriminative", "generative", "gad")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plot_accuracy(summary, chance={"step recognition": 0.1, "task recognition": 0.2})
        plot_latency({m: {"ms_per_sample_b1": 2.0, "ms_per_sample_batched": 1.0} for m in summary})
        plot_losses({"discriminative": History(loss=[1.0, 0.5])})
    dots = [c for c in ax.collections if len(c.get_offsets()) and len(c.get_facecolor())]
    assert dots and all((c.get_facecolor()[:, :3] == 0).all() for c in dots)  # the seeds' dots stay black
    plt.close("all")


def test_learning_curves_interpolate_seeds_and_mark_the_kept_weights():
    import matplotlib
    matplotlib.use("Agg")
    from gadlib.lessons.plots import convergence_table, learning_curves, method_color, method_family, plot_learning_curves
    a = History(steps=30, val_steps=[10, 20, 30], val_score=[0.2, 0.6, 0.5], best_step=20)
    b = History(steps=20, val_steps=[8, 20], val_score=[0.4, 0.8], best_step=20)
    runs = [Run("gad", 0, a, {}), Run("gad", 1, b, {})]
    df = learning_curves(runs)
    assert len(df) == 5 and df["best"].sum() == 2
    ax = plot_learning_curves(runs, percent=False)
    line = ax.get_lines()[0]
    # grid 8, 10, 20, 30: seed 0 first validated at step 10 and seed 1 stopped at 20, so steps 8
    # and 30 are one seed each
    assert list(line.get_xdata()) == [8, 10, 20, 30]
    np.testing.assert_allclose(line.get_ydata(), [0.4, (0.2 + 0.4 + 0.4 * 2 / 12) / 2, (0.6 + 0.8) / 2, 0.5])
    assert line.get_color() == method_color("gad") and method_family("gen_rand") == "generative"
    # in % by default; each family its own dash, so a curve on top of another leaves it visible
    runs += [Run("discriminative", 0, a, {})]
    lines = {ln.get_label(): ln for ln in plot_learning_curves(runs).get_lines()}
    np.testing.assert_allclose(lines["gad"].get_ydata(), 100 * line.get_ydata())
    assert lines["gad"].get_linestyle() != lines["discriminative"].get_linestyle()
    ax = plot_learning_curves(runs)
    # no marker on the curves themselves (a marker means kept weights); the legend shows each method's
    # line with its kept-weights marker
    assert all(ln.get_marker() in ("None", None, "") for ln in ax.get_lines())
    legend = {t.get_text(): h for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)}
    assert legend["gad"].get_marker() == "^" and legend["discriminative"].get_marker() == "s"
    assert plot_learning_curves(runs, legend=False).get_legend() is None
    # gad and discriminative both kept step 20: the legend says why a marker sits inside another
    assert "kept at the same step" in ax.get_legend().get_title().get_text()
    solo = plot_learning_curves(runs[:2]).get_legend().get_title().get_text()
    assert "same step" not in solo
    table = convergence_table(runs)
    assert table.loc["gad", "optimizer steps run"] == [30, 20] and table.loc["gad", "kept weights' step"] == [20, 20] and table.loc["gad", "converged"] == ["NO", "NO"]



def test_learning_speed_counts_steps_to_a_target_both_reach():
    from gadlib.evaluation.experiment import convergence, converged, learning_speed, steps_to_reach
    fast = History(steps=30, val_steps=[10, 20, 30], val_score=[0.5, 0.6, 0.6], best_step=20)
    slow = History(steps=40, val_steps=[10, 20, 30, 40], val_score=[0.0, 0.3, 0.7, 0.8], best_step=40)
    runs = [Run("discriminative", 0, fast, {}), Run("generative", 0, slow, {})]
    # target 0.8 * min(0.6, 0.8) = 0.48 (the kept scores): reached at step 10 and at step 30
    assert learning_speed(runs, "discriminative", "generative") == [
        {"seed": 0, "target": pytest.approx(0.48), "share": 0.8, "kept": {"discriminative": 0.6, "generative": 0.8},
         "discriminative": 10, "generative": 30}]
    # a later score above the kept one (a gain under min_delta) does not raise the target: the kept
    # weights (0.3 at step 20) are the run's result, and they reach 0.8 * 0.3
    late = History(steps=30, val_steps=[10, 20, 30], val_score=[0.1, 0.3, 0.305], best_step=20)
    race = learning_speed([Run("discriminative", 0, fast, {}), Run("generative", 0, late, {})], "discriminative", "generative")
    assert race[0]["target"] == pytest.approx(0.24) and race[0]["generative"] == 20 <= late.best_step
    assert steps_to_reach(slow, 0.9) is None
    assert convergence(runs)["generative seed 0"] == {"steps_run": 40, "best_step": 40, "converged": False,
                                                      "val_steps": [10, 20, 30, 40], "val_score": [0.0, 0.3, 0.7, 0.8]}
    fast.stopped_early = True
    assert convergence(runs)["discriminative seed 0"]["converged"] is True
    assert converged(runs, "discriminative") and not converged(runs, "discriminative", "generative")
