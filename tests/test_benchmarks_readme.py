"""benchmarks/README.md's generated blocks say what their results files hold (no typed number)."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _block(name: str) -> str:
    return _benchmark("readme_blocks").read_block(name, ROOT / "benchmarks" / "README.md")


def test_live_cost_block_matches_its_results():
    live_cost = _benchmark("live_cost")
    text = (ROOT / "benchmarks" / "README.md").read_text()
    block = text.split(live_cost.BEGIN, 1)[1].split(live_cost.END, 1)[0].strip("\n")
    result = json.loads((ROOT / "results" / "live_cost.json").read_text())
    assert block == live_cost.readme_block(result), "rerun: python benchmarks/live_cost.py --readme"


@pytest.mark.parametrize("name, block", [("cold_start", "cold-start"), ("crosstask_04_vs_05", "crosstask-04-vs-05")])
def test_block_matches_its_results(name, block):
    module = _benchmark(name)
    result = json.loads((ROOT / "results" / f"{name}.json").read_text())
    assert module.BLOCK == block
    assert _block(block) == module.readme_block(result), f"rerun: python benchmarks/{name}.py --readme-only"


def test_crosstask_block_has_one_row_per_setting_with_its_interval():
    # hand-made result: the table shows each setting's mean and interval with their signs
    module = _benchmark("crosstask_04_vs_05")
    result = {"date": "2026-01-01", "cpu": "some CPU", "seconds": 90, "load_start": 0.5, "seeds": [0, 1],
              "differences": {"a": {"mean": 1.25, "ci95": [-0.5, 3.0], "batch": 32, "train_videos": 5, "test_videos": 7},
                              "b": {"mean": -2.0, "ci95": [-4.0, -0.04], "batch": 64, "train_videos": 6, "test_videos": 8}}}
    lines = module.readme_block(result).splitlines()
    assert lines[0] == "Measured 2026-01-01 (some CPU, 1.5 min, load 0.5 before), seeds 0, 1:"
    assert lines[-2:] == ["| a | 32 | +1.2 [-0.5, +3.0] | 5 / 7 |", "| b | 64 | -2.0 [-4.0, -0.0] | 6 / 8 |"]


def test_a_missing_block_is_a_clear_error(tmp_path):
    blocks = _benchmark("readme_blocks")
    (tmp_path / "README.md").write_text("# no markers here\n")
    with pytest.raises(ValueError, match="generated:nothing"):
        blocks.write_block("nothing", "text", tmp_path / "README.md")
