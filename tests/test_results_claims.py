"""The committed results of the notebooks judge every comparison against the paper
(`gadlib.evaluation.intervals.judge`): the keys are there, equality claims get equivalence
verdicts, no verdict rests on one seed, and no kept run that stopped at its cap passes as converged."""
import json
from pathlib import Path

import pytest

from gadlib.evaluation.intervals import EQUALITY_VERDICTS, ONE_SEED, VERDICTS

RESULTS = Path(__file__).resolve().parents[1] / "results"
NOTEBOOKS = sorted(p for p in RESULTS.glob("0[1-5]_*.json"))
JUDGED = ("paper_effect", "paper_inside", "half_width", "seeds_needed", "claim", "verdict", "meaning", "seeds")


def _runs(convergence):
    if isinstance(convergence, dict):
        if "steps_run" in convergence:
            yield convergence
        else:
            for value in convergence.values():
                yield from _runs(value)


def _judged(res: dict) -> bool:
    return any("claim" in d for d in res.get("differences", {}).values())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_comparison_is_judged_against_the_paper(path):
    res = json.loads(path.read_text())
    assert res.get("differences"), f"{path.name}: no comparisons"
    if not _judged(res):   # shown as an expected failure until that notebook is rerun
        pytest.xfail(f"{path.name} was written before judge(): rerun it (python -m gadlib.run_notebooks)")
    for key, d in res["differences"].items():
        missing = [k for k in JUDGED if k not in d]
        assert not missing, f"{path.name}: {key!r} lacks {missing}"
        if d["claim"] == "equal":
            assert d["margin"] > 0 and d["verdict"] in EQUALITY_VERDICTS + (ONE_SEED,), (path.name, key, d["verdict"])
            assert d["verdict"] != "opposite"
        else:
            assert d["verdict"] in VERDICTS + (ONE_SEED,), (path.name, key, d["verdict"])
        if len(d["per_seed"]) < 2:
            assert d["verdict"] == ONE_SEED, f"{path.name}: {key!r} has a verdict on one seed"
        if d["paper_effect"] is not None and d["ci95"][0] == d["ci95"][0]:
            assert d["paper_inside"] == (d["ci95"][0] <= d["paper_effect"] <= d["ci95"][1])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_run_that_ended_at_its_cap_passes_as_converged(path):
    res = json.loads(path.read_text())
    if not _judged(res):
        pytest.xfail(f"{path.name} was written before convergence records 'converged': rerun it")
    runs = list(_runs(res.get("convergence", {})))
    assert runs, f"{path.name}: no convergence record"
    for run in runs:
        assert "converged" in run, path.name
        if run["best_step"] == run["steps_run"]:
            assert run["converged"] is False, f"{path.name}: a run kept its last step and is marked converged"
