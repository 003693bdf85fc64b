"""Evaluation spread over the processes of `accelerate launch`, with single-process results.

Test items (samples, or the dense windows of every test frame) are cut into batches of
`batch_size` consecutive items, exactly as one process would cut them, and the batches are dealt
to the processes in turn (batch k to process k mod N). Every process predicts its batches, the
predictions are gathered with accelerate's `gather_object` and put back in batch order. A batch
holds the same items whatever the number of processes, so the scores are those of one process,
bit for bit on a CPU, and so are the metrics computed from them.

Under several processes every process must call the function (it is a collective call); alone,
it is a plain loop over the batches (no process group needed).

Explained in configs/README.md ("Several processes").
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch.distributed as dist
from accelerate import PartialState
from accelerate.utils import gather_object
from tqdm.auto import tqdm


def process_rank() -> tuple[int, int]:
    """(this process's index, number of processes): (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    return process_rank()[0] == 0


def end_process_group() -> None:
    """End the process group of `accelerate launch`: every process calls it last, before it exits.

    Why: a process that simply exits after its last collective can abort on the way out
    ("terminate called without an active exception", SIGABRT). Gloo's worker thread lets go of a
    collective's work only after the caller has been told it is done, and a barrier's work also
    keeps the collective before it (the all-gather of `gather_object`, whose tensors Python owns).
    Freeing those tensors takes the GIL; if the main thread has meanwhile begun shutting the
    interpreter down, Python ends the worker thread inside a destructor, and that aborts the
    process. Under CPU load the worker thread is the one that waits, and loses. Destroying the
    process group drops its last reference, which joins gloo's worker threads (without holding
    the GIL) while the interpreter still runs. The barrier first, so no process closes its
    connections while another may still be in a collective with it. A no-op in one process.
    """
    if dist.is_available() and dist.is_initialized():
        state = PartialState()  # accelerate's barrier names the GPU of each process (NCCL)
        state.wait_for_everyone()
        state.destroy_process_group()


def predict_sharded(predict: Callable, n: int, batch_size: int, progress: bool = False,
                    desc: str = "eval") -> tuple[np.ndarray, np.ndarray]:
    """(scores [n, C], pred [n]) of items 0..n-1 on every process.

    predict(indices) -> an object with `scores` [B, C] and `pred` [B] (a `Prediction`) for the
    items `indices` (an int64 array of consecutive indices).
    """
    if n < 1:
        raise ValueError("predict_sharded: nothing to predict")
    if batch_size < 1:
        raise ValueError(f"predict_sharded: batch_size must be >= 1, got {batch_size}")
    rank, world = process_rank()
    mine = [(k, start) for k, start in enumerate(range(0, n, batch_size)) if k % world == rank]
    done = []
    for k, start in tqdm(mine, disable=not progress or rank > 0, desc=desc, leave=False):
        p = predict(np.arange(start, min(start + batch_size, n)))
        done.append((k, np.asarray(p.scores), np.asarray(p.pred)))
    if world > 1:
        done = sorted(gather_object(done), key=lambda item: item[0])
    return np.concatenate([d[1] for d in done]), np.concatenate([d[2] for d in done])
