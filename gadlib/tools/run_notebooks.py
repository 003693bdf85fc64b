"""The main job: execute every notebook top to bottom, headless, as a student would.

    python -m gadlib.run_notebooks            # all notebooks
    python -m gadlib.run_notebooks 01 02      # the ones whose name starts with these

Each executed notebook is written back, outputs included, to notebooks/<notebook>.ipynb (the
committed notebooks show the last main job's figures; the paired notebooks/<notebook>.py stays
output-free) and headline numbers go to results/<notebook>.json (or `$GADLAB_RESULTS_DIR`).
Finished progress bars are stored as their last line of text, not as widgets: a widget needs its
state, which JupyterLab drops when the notebook is saved again (its "save widget state" setting is
off by default), and then shows "Error displaying widget: model not found".
A notebook whose jupytext pair (notebooks/<notebook>.py) is out of sync is not run: run
`python -m gadlib.course build` first. Each notebook's measured wall time and the
machine are added to its results file, and the README's generated blocks are rewritten from
the results (`gadlib.tools.readme_table`), so the README never carries a typed-in number; the student
editions (notebooks/student/, which keep the lesson's outputs) are rewritten from the new run.

Progress goes to stderr (tqdm.auto; `TQDM_DISABLE=1` turns it off): one bar per notebook (code
cells executed / total, elapsed time, the notebook's last recorded run time) and one over the
notebooks. A notebook whose cell raises (or times out, or kills the kernel) is reported: notebook,
cell, the error's last line. It is left as committed and its results file as it was (the partly
executed notebook goes to a temporary folder, named in the report); the other notebooks still
run, and the job ends with a list of the failures and exit status 1.
"""
from __future__ import annotations

import html
import os
import platform
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import torch
import zmq
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from tqdm.auto import tqdm
from traitlets.config import Config

from gadlib import PINNED_CODE_PATH, pin_code_path
from gadlib.lessons.profile import SIZE_ENV
from gadlib.tools.course import pair_problems, write_student_editions
from gadlib.tools.readme_table import generated_files, render_readme, results_table, run_minutes
from gadlib.evaluation.results import load_results, record_run, repo_root, results_dir
from gadlib.lessons.widgets import STATIC_ENV

# The kernel manager provisions CurveZMQ keys when the kernelspec declares support (ipykernel's
# does): the kernel's sockets are then encrypted and it no longer logs "Kernel is running over TCP
# without encryption" at every start. 'auto' is refused by a libzmq built without CurveZMQ; the
# kernel then runs, and warns, as before.
KERNEL_CONFIG = Config(KernelManager={"transport_encryption": "auto"}) if zmq.has("curve") else Config()
NOTEBOOK_BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} cells [{elapsed}{postfix}]"
JOB_BAR = "{desc}: {n_fmt}/{total_fmt} notebooks |{bar}| [{elapsed}{postfix}]"


def machine_description() -> str:
    """What the run time was measured on, e.g. 'Linux x86_64, 2 CPU cores, no GPU'."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, {gpu}"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, sysctl's brand string on macOS), else the platform's word."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_facts() -> dict:
    """What decides a run's floating-point results besides the code: the CPU, the instruction set
    torch dispatches to, the BLAS it was built with, its thread count, and the load before the run."""
    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    return {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "blas": blas.group(1) if blas else "unknown", "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "load_before": round(os.getloadavg()[0], 2),
            "code_path": {k: os.environ.get(k, "library's choice") for k in PINNED_CODE_PATH}}


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_REF = re.compile(r"IPY_MODEL_([0-9a-f]+)")


def progress_bars_as_text(nb) -> int:
    """Replace every tqdm progress-bar widget in `nb`'s outputs by its last text, in place.

    A tqdm.auto bar in a notebook is an HBox of (HTML prefix, FloatProgress, HTML suffix); its
    final text comes from the widget state nbclient stored in the notebook's metadata. Bars closed
    with leave=False (hidden) are dropped; widget models no output refers to any more are pruned,
    and other widgets (the explorers) keep their state. Returns how many bars were converted.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    converted = 0
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            bar = _progress_bar(state, out.get("data", {}).get(WIDGET_VIEW, {}).get("model_id"))
            if bar is None:
                outputs.append(out)
            elif bar:  # "" = a hidden (leave=False) bar: nothing to show
                outputs.append(nbformat.v4.new_output("stream", name="stderr", text=bar + "\n"))
            converted += bar is not None
        if "outputs" in cell:
            cell.outputs = outputs
    if state:
        keep, todo = set(), [out["data"][WIDGET_VIEW]["model_id"] for c in nb.cells for out in c.get("outputs", [])
                             if WIDGET_VIEW in out.get("data", {})]
        while todo:  # every model a remaining output reaches through IPY_MODEL_ references
            mid = todo.pop()
            if mid in state and mid not in keep:
                keep.add(mid)
                todo += _REF.findall(str(state[mid].get("state", {})))
        for mid in set(state) - keep:
            del state[mid]
        if not state:
            del nb.metadata["widgets"]
    return converted


def _progress_bar(state: dict, model_id: str | None) -> str | None:
    """The text of a tqdm bar widget ('' when hidden), or None when it is not one."""
    model = state.get(model_id or "", {})
    children = [state.get(r[len("IPY_MODEL_"):], {}) for r in model.get("state", {}).get("children", [])]
    if model.get("model_name") != "HBoxModel" or [c.get("model_name") for c in children] != \
            ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    layout = state.get(_REF.sub(r"\1", model["state"].get("layout", "")), {}).get("state", {})
    if layout.get("visibility") == "hidden":
        return ""
    left, progress, right = (c.get("state", {}) for c in children)
    total, value = progress.get("max") or 0, progress.get("value") or 0
    filled = round(10 * value / total) if total else 0
    text = f"{left.get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|{right.get('value', '')}"
    return html.unescape(text).replace("\u2007", " ")


def last_run_seconds(notebook: str) -> float | None:
    """The notebook's wall time in its results file (the last main job's), None when it has none."""
    try:
        return 60 * run_minutes(load_results(notebook))
    except (FileNotFoundError, KeyError, ValueError):  # never run, or no time recorded
        return None


@dataclass
class Failure:
    """Where a notebook stopped: its cell (index in the notebook, as nbformat counts, and its
    In [n] number) and the error's last line, e.g. 'ZeroDivisionError: division by zero'."""
    notebook: str
    cell_index: int | None
    execution_count: int | None
    first_line: str
    error: str
    partial: Path | None = None

    @property
    def where(self) -> str:
        if self.cell_index is None:
            return "before its first cell"
        return f"cell {self.cell_index} (In [{self.execution_count}]: {self.first_line})"

    def __str__(self) -> str:
        kept = f"\n  the partly executed notebook: {self.partial}" if self.partial else ""
        return (f"FAILED {self.notebook}, {self.where}:\n  {self.error}\n"
                f"  notebooks/{self.notebook} left as committed, its results file as it was{kept}")


HEARTBEAT_SECONDS = 2.0  # how often the bar shows the cell in flight and its time, inside long cells


class _Run:
    """One notebook's execution: nbclient's per-cell hooks advance its progress bar and remember
    the cell in flight, which nbclient's exceptions do not name. A heartbeat thread redraws the bar
    every HEARTBEAT_SECONDS with that cell's index, first line and elapsed time, so a training
    cell that runs for minutes still shows where the job is (nbclient reports nothing inside a cell)."""

    def __init__(self, path: Path, expected: float | None):
        self.path, self.cell, self.count = path, None, 0
        self.started, self.first_line = time.perf_counter(), ""
        self._t0 = time.perf_counter()             # reset when execute() starts
        self.kernel_start_s: float | None = None   # execute() to the first cell: kernel start and connect
        self.cell_seconds: list[tuple[int, str, float]] = []   # (cell index, first line, seconds) per executed cell
        self.last = f"last run {expected / 60:.1f} min" if expected is not None else "first timed run"
        self._stop = threading.Event()
        self.nb = nbformat.read(path, as_version=4)
        # record_timing=False: no per-cell timestamps in the committed notebook (diff noise)
        self.client = NotebookClient(self.nb, timeout=3600, kernel_name="python3", record_timing=False,
                                     config=KERNEL_CONFIG, resources={"metadata": {"path": str(path.parent)}},
                                     on_cell_execute=self._started, on_cell_executed=self._finished)
        cells = sum(c.cell_type == "code" and bool(c.source.strip()) and
                    self.client.skip_cells_with_tag not in c.metadata.get("tags", []) for c in self.nb.cells)
        # mininterval 0: a cell that ends right after another is drawn too (cells are few)
        self.bar = tqdm(total=cells, desc=path.stem, bar_format=NOTEBOOK_BAR, postfix=self.last, leave=False,
                        mininterval=0)

    def _started(self, cell, cell_index):
        lines = cell.source.strip().splitlines()
        self.cell, self.count = cell_index, self.count + 1
        if self.kernel_start_s is None:
            self.kernel_start_s = time.perf_counter() - self._t0
        self.started, self.first_line = time.perf_counter(), (lines[0] if lines else "")[:48]
        self._show()

    def _finished(self, cell, cell_index, execute_reply):
        self.cell_seconds.append((cell_index, self.first_line, round(time.perf_counter() - self.started, 2)))
        self.bar.update()

    def profile(self, top: int = 5) -> dict:
        """Where the notebook's time went: kernel start, the slowest cells, and the sum over cells
        (what the results file records next to the wall time)."""
        slowest = sorted(self.cell_seconds, key=lambda c: -c[2])[:top]
        return {"kernel_start_s": None if self.kernel_start_s is None else round(self.kernel_start_s, 2),
                "cells_s": round(sum(c[2] for c in self.cell_seconds), 1),
                "slowest_cells": [{"cell": i, "first_line": line, "seconds": sec} for i, line, sec in slowest]}

    def _show(self) -> None:
        """The bar's postfix: the cell in flight (index, first line, seconds in it), the last run's time."""
        seconds = time.perf_counter() - self.started
        cell = f"cell {self.cell} {self.first_line!r} {seconds:.0f}s; " if self.cell is not None else ""
        self.bar.set_postfix_str(cell + self.last)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self._show()

    def execute(self) -> Failure | None:
        """Run every cell; a Failure when one raised, timed out or killed the kernel."""
        self._t0 = time.perf_counter()
        beat = threading.Thread(target=self._heartbeat, daemon=True)
        if not self.bar.disable:
            beat.start()
        with self.bar:
            try:
                self.client.execute()
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
                # a timeout's message goes on with a preview of the cell: its first line says it
                error = f"{e.ename}: {e.evalue}" if isinstance(e, CellExecutionError) else \
                    f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"
                if self.cell is None:
                    return Failure(self.path.name, None, None, "", error)
                source = self.nb.cells[self.cell].source.strip().splitlines()
                return Failure(self.path.name, self.cell, self.count, source[0] if source else "", error)
            finally:
                self._stop.set()
        return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault(STATIC_ENV, "1")  # the kernels inherit it: explorers show a note (gadlib.lessons.widgets)
    # The committed results are the full lessons': a GADLAB_SIZE=tiny left in the shell (the test
    # size) must not become them.
    if os.environ.get(SIZE_ENV, "full") != "full":
        print(f"{SIZE_ENV}={os.environ[SIZE_ENV]} ignored: the main job runs the full lessons", file=sys.stderr)
    os.environ[SIZE_ENV] = "full"
    pin_code_path()   # only with GADLAB_PIN_CODE_PATH=1 (gadlib.PINNED_CODE_PATH)
    root = repo_root()
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if argv:
        notebooks = [n for n in notebooks if any(n.name.startswith(a) for a in argv)]
    if not notebooks:
        print(f"no notebooks matching {argv} in {root / 'notebooks'}", file=sys.stderr)
        return 2
    stale = [problem for n in notebooks if n.with_suffix(".py").is_file() for problem in pair_problems(n.stem, root)]
    if stale:  # running the .ipynb would execute, and then keep, inputs older than the .py's
        print("\n".join(stale), file=sys.stderr)
        return 2
    machine = machine_description()
    expected = {path.stem: last_run_seconds(path.stem) for path in notebooks}
    known = [s for s in expected.values() if s is not None]
    last = f"last run {sum(known) / 60:.1f} min"
    if len(known) < len(expected):
        last += f" + {len(expected) - len(known)} untimed"
    times, failures = {}, []
    with tqdm(total=len(notebooks), desc="main job", bar_format=JOB_BAR, postfix=last) as job:
        for path in notebooks:
            results_file = results_dir() / f"{path.stem}.json"
            before = results_file.read_bytes() if results_file.is_file() else None
            facts = machine_facts()  # the load before this notebook, not before the job
            run = _Run(path, expected[path.stem])
            t0 = time.perf_counter()
            failure = run.execute()
            elapsed = time.perf_counter() - t0
            job.update()
            if failure:
                # A failed run's numbers (saved before the failing cell) must not stand next to the
                # committed notebook from an earlier run: its results file goes back as it was.
                if before is None:
                    results_file.unlink(missing_ok=True)
                else:
                    results_file.write_bytes(before)
                # kept outside notebooks/ so the committed notebook is never replaced by a broken one
                failure.partial = Path(tempfile.mkdtemp(prefix="gadlab-failed-")) / path.name
                nbformat.write(run.nb, failure.partial)
                failures.append(failure)
                tqdm.write(f"{failure}\n", file=sys.stderr)
                continue
            times[path.name] = elapsed
            bars = progress_bars_as_text(run.nb)
            nbformat.write(run.nb, path)
            record_run(path.stem, elapsed, machine, {**facts, **run.profile()})
            tqdm.write(f"{path.name} done in {elapsed / 60:.1f} min -> notebooks/{path.name} "
                       f"({path.stat().st_size / 1e6:.1f} MB, {bars} progress bars stored as text)", file=sys.stdout)
    print(f"\nwall time per notebook ({machine}):")
    for name, t in times.items():
        print(f"  {name}: {t / 60:.1f} min")
    print("\n" + results_table())
    readme = root / "README.md"
    if results_dir() != root / "results":
        print(f"\n{readme.name} left as it is: these results went to {results_dir()}, not results/")
    elif readme.is_file():  # the failed notebooks' blocks still show their last successful run
        docs = generated_files(root)
        for doc in docs:
            doc.write_text(render_readme(doc.read_text()))
        print(f"\n{', '.join(str(d.relative_to(root)) for d in docs)}: generated blocks rewritten from results/*.json")
    if times:  # the student editions keep the lesson's outputs: they follow the run they come from
        rewritten = write_student_editions(root)
        print(f"student editions rewritten: {', '.join(rewritten) or 'none changed'}")
    if failures:
        print(f"\n{len(failures)} of {len(notebooks)} notebooks failed:\n" +
              "\n".join(f"  {f.notebook}, {f.where}: {f.error}" for f in failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
