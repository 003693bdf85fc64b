"""Small conveniences for notebooks: pick a device, quiet the libraries, print versions."""
from __future__ import annotations

import platform
import warnings

import accelerate
import numpy
import peft
import torch
import transformers


def pick_device() -> torch.device:
    """CUDA, then Apple MPS, then CPU: the same notebook scales up on a GPU kernel."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def quiet() -> None:
    """Silence transformers' weight-loading bars and load reports (they go to stderr)."""
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")


def versions() -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__,
            "accelerate": accelerate.__version__, "numpy": numpy.__version__,
            "device": str(pick_device()), "cpu_threads": str(torch.get_num_threads())}
