"""Regenerate the README's results table from results/*.json: `python -m gadlib.readme_table`."""
from __future__ import annotations

import json

from .results import repo_root


def results_table() -> str:
    """A markdown table: notebook, method, each top-1 metric as mean ± std (in %), run time."""
    rows = ["| notebook | method | metric (top-1 %, mean ± std over seeds) | profile | run time |",
            "|---|---|---|---|---|"]
    for path in sorted((repo_root() / "results").glob("[0-9][0-9]_*.json")):
        res = json.loads(path.read_text())
        for method, metrics in res.get("metrics", {}).items():
            cells = ", ".join(f"{k.removesuffix('_top1')} {100 * v['mean']:.1f} ± {100 * v['std']:.1f}"
                              for k, v in metrics.items() if k.endswith("_top1") and not k.endswith("balanced_top1"))
            rows.append(f"| {res['notebook']} | {method} | {cells} | {res.get('profile', '?')} "
                        f"| {res.get('seconds', float('nan')) / 60:.1f} min |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(results_table())
