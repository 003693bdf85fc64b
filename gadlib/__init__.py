"""gadlib: generative vs discriminative MLLM action classifiers, and GAD, at laptop scale.

Start with notebooks/00_the_paper_in_one_page.ipynb (the terms), then
notebooks/01_generative_vs_discriminative.ipynb. The folders are the layers, each importing only
those above it in this list:
  core/        the thin core: backbone (LM + connector + [CLS]), the generative, discriminative and
               GAD classifiers behind one interface, label spaces, the training loop, checkpoints
  data/        videos and samples, the synthetic benchmark, real layouts, readers, converters, features
  lms/         the embedded tiny Llama and its pretraining; building a classifier on any LM by name
  evaluation/  experiments over seeds, OAD evaluation, streaming, metrics, intervals, diversity, results
  lessons/     figures, explorers and graded exercises for the notebooks
  tools/       the training CLI, the main job, README tables, course tooling
The modules at the top level are the commands: `python -m gadlib.train`, `gadlib.run_notebooks`,
`gadlib.course`, `gadlib.convert`, `gadlib.compare`, `gadlib.diversity`, `gadlib.features`,
`gadlib.pretrain`, `gadlib.readme_table`.
"""
__version__ = "0.1.0"

import os as _os
import platform as _platform

# One CPU code path for the numbers, opt-in (benchmarks/code_paths.py measures why, and what it
# costs): MKL and ATen pick their kernels by the CPU they find (AVX-512 on recent Intel, other paths
# on AMD), another summation order changes the last bits, and a training drifts. Pinned, every x86
# CPU with AVX2 takes the same kernels; measured here it cost about 10 % per training step, and no
# second CPU was at hand to show the gain, so the committed runs use the libraries' own choice.
# Read by torch when it loads: `pin_code_path()` must run before torch is imported (the main job
# calls it for its kernels).
PINNED_CODE_PATH = {"MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
PIN_ENV = "GADLAB_PIN_CODE_PATH"   # "1": pin (on an x86 CPU with AVX2)


def _has_avx2() -> bool:
    if _platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return " avx2" in f.read()
    except OSError:   # not Linux: leave the choice to the libraries
        return False


def pin_code_path(environ=None) -> dict:
    """With GADLAB_PIN_CODE_PATH=1 in `environ` (default: this process's) and an x86 CPU with AVX2
    (elsewhere the variables mean nothing), set PINNED_CODE_PATH where unset. Returns what it set.
    Has no effect on a torch already imported in the process that reads `environ`."""
    environ = _os.environ if environ is None else environ
    if environ.get(PIN_ENV, "0") != "1" or not _has_avx2():
        return {}
    added = {k: v for k, v in PINNED_CODE_PATH.items() if k not in environ}
    environ.update(added)
    return added
