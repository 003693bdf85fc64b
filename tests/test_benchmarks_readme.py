"""benchmarks/README.md's generated block says what results/live_cost.json holds (no typed number)."""
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _live_cost():
    spec = importlib.util.spec_from_file_location("live_cost", ROOT / "benchmarks" / "live_cost.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_live_cost_block_matches_its_results():
    live_cost = _live_cost()
    text = (ROOT / "benchmarks" / "README.md").read_text()
    block = text.split(live_cost.BEGIN, 1)[1].split(live_cost.END, 1)[0].strip("\n")
    result = json.loads((ROOT / "results" / "live_cost.json").read_text())
    assert block == live_cost.readme_block(result), "rerun: python benchmarks/live_cost.py --readme"
