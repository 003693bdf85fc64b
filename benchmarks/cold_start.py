"""What a fresh clone pays before its first lesson, against a warm checkout (issue 32).

A fresh clone has no `data/pretrained/` (the embedded tiny Llama, pretrained on first use), no
`data/generated/` (the synthetic benchmarks, written on first use) and no `__pycache__`; every
notebook also starts a Jupyter kernel. This measures each of these cold and warm, in fresh
interpreters, with caches in a temporary folder (the checkout's own caches are not touched):

1. bytecode: `import gadlib` and the training stack with an empty pycache, then with a warm one;
2. with --pretrained only: the pretrained embedded LM (`embedded-tiny-llama`, pretrained on first
   use, then loaded). The notebooks' default is the random-init `embedded-tiny-llama-scratch`, so
   this is no part of a fresh clone's main job, only of whoever opts into it;
3. the data: every preset the notebooks use, at the CPU size, written then read back;
4. a kernel: start to the end of a first cell (`import torch, gadlib`), and the torch threads in it.

    python benchmarks/cold_start.py [--pretrained]   # under a minute (+ a few with --pretrained); results/cold_start.json
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.readme_blocks import write_block  # noqa: E402
from gadlib.tools.run_notebooks import machine_description, machine_facts  # noqa: E402

IMPORTS = "import gadlib.evaluation.experiment, gadlib.evaluation.oad, gadlib.lms.build"
PRETRAIN = ("import sys, time; from gadlib.lms.pretrain import ensure_pretrained; t = time.perf_counter(); "
            "p = ensure_pretrained(root=sys.argv[1]); print(p.built, time.perf_counter() - t)")
DATA = """import json, sys, time
from gadlib.data.datasets import ensure_benchmark
out = {}
for p in ("coin_like", "crosstask_like", "epic_like", "goalstep_like", "thumos_like"):
    t = time.perf_counter(); ensure_benchmark(p, size="cpu", root=sys.argv[1]); out[p] = time.perf_counter() - t
print(json.dumps(out))"""


def timed(code: str, *args: str, env: dict | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    if done.returncode:
        raise RuntimeError(f"{code[:60]!r} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0, done.stdout.strip()


def kernel_first_cell() -> dict:
    """A kernel's start and its first cell, as nbclient runs a notebook in the main job."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import torch, gadlib\nprint(torch.get_num_threads())"))
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    return {"kernel_start_and_first_cell_s": round(time.perf_counter() - t0, 2),
            "torch_threads_in_kernel": int(nb.cells[0].outputs[0]["text"].strip())}


BLOCK = "cold-start"


def readme_block(result: dict) -> str:
    """benchmarks/README.md's summary, from results/cold_start.json."""
    data = result["data_s"]
    cold = max(d["cold (written)"] for d in data.values())
    warm = max(d["warm (read)"] for d in data.values())
    pretrained = result.get("pretrained_embedded_lm_s")
    return (f"Measured {result['date']} on {result['cpu']} ({result['machine']}), load {result['load_before']} before: "
            f"the training stack's imports {result['import_s']['cold']:.1f} s with an empty bytecode cache vs "
            f"{result['import_s']['warm']:.1f} s warm; each preset's data at most {cold:.2f} s cold (written) and "
            f"{warm:.2f} s warm (read); a kernel's start with its first cell {result['kernel_start_and_first_cell_s']:.1f} s, "
            f"with {result['torch_threads_in_kernel']} torch threads in the kernel"
            + (f"; the embedded LM pretrained {pretrained['cold (pretrained)']:.0f} s, loaded {pretrained['warm (loaded)']:.0f} s"
               if pretrained else "") + ".")


def main() -> None:
    if "--readme-only" in sys.argv[1:]:
        write_block(BLOCK, readme_block(json.loads((REPO / "results" / "cold_start.json").read_text())))
        return
    facts = machine_facts()
    out = {"benchmark": "cold_start", "date": time.strftime("%Y-%m-%d"), "machine": machine_description(), **facts}
    with tempfile.TemporaryDirectory() as tmp:
        cache = {"PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}   # an empty bytecode cache: a fresh clone's
        out["import_s"] = {"cold": round(timed(IMPORTS, env=cache)[0], 2), "warm": round(timed(IMPORTS, env=cache)[0], 2)}
        if "--pretrained" in sys.argv[1:]:
            cold, _ = timed(PRETRAIN, tmp)
            warm, _ = timed(PRETRAIN, tmp)
            out["pretrained_embedded_lm_s"] = {"cold (pretrained)": round(cold, 1), "warm (loaded)": round(warm, 1)}
        _, cold_data = timed(DATA, tmp)
        _, warm_data = timed(DATA, tmp)
        out["data_s"] = {p: {"cold (written)": round(c, 2), "warm (read)": round(json.loads(warm_data)[p], 2)}
                         for p, c in json.loads(cold_data).items()}
    out.update(kernel_first_cell())
    out["load_after"] = round(os.getloadavg()[0], 2)
    path = REPO / "results" / "cold_start.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    write_block(BLOCK, readme_block(out))
    print(json.dumps(out, indent=1))
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
