"""The training loop (Accelerate) and the evaluation loop, shared by every classifier.

Accelerate places the model on the device, runs mixed precision on a GPU (bf16 where supported,
fp16 with loss scaling otherwise), accumulates gradients, and scales to several processes with
`accelerate launch` without a code change. One seed fixes the data order, so two CPU runs give the
same numbers, and a run resumed from a checkpoint continues bit-identically.

Runs outside notebooks: `python -m gadlib.train --config configs/smoke.yaml` (the command line is
gadlib/tools/cli.py; gadlib/train.py is only its entry point, so this library module never imports it).

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, gather_object
from sklearn.metrics import balanced_accuracy_score
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from gadlib.core.backbone import EMBEDDED_SCRATCH, EMBEDDED_NAMES
from gadlib.core.checkpoint import load_training_state, rng_states, save_checkpoint
from gadlib.core.classifier import ActionClassifier, Sample, collate
from gadlib.core.sharding import is_main_process, predict_sharded
from gadlib.core.tracking import CURVES_FILE, trackers_for

PRETRAINED_LR = 1e-4  # the paper's rate for LoRA on a pretrained LM
EMBEDDED_LR = 1e-3    # the random-init embedded LM learns from scratch: a larger rate
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Optimisation settings.

    batch_size is per process and per micro-batch: the effective batch is
    batch_size * grad_accum * number of processes (the paper's COIN runs: 16).
    lr None picks it from the backbone (`default_lr`). mixed_precision "auto": bf16 on a GPU that
    supports it, fp16 with loss scaling on one that does not (a T4), none on CPU / MPS.
    gradient_checkpointing recomputes the LM's activations in the backward pass: less memory
    (a 1B model on a 16 GB GPU), about a third more compute.
    """
    epochs: int = 5
    batch_size: int = 64
    lr: float | None = None
    weight_decay: float = 0.01
    warmup: float = 0.05          # share of all steps
    grad_clip: float = 1.0
    grad_accum: int = 1
    mixed_precision: str = "auto"
    gradient_checkpointing: bool = False
    seed: int = 0
    progress: bool = True
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0      # optimizer steps between checkpoints (0: only at the end)
    stop_after: int | None = None  # stop after this many optimizer steps (to test resuming)
    log_dir: str | None = None     # training curves (`gadlib.core.tracking`: curves.csv, TensorBoard if installed)
    # With a `validate` callback: stop after this many epochs without a better validation score
    # and keep the best epoch's weights (None: run every epoch, still keep the best).
    patience: int | None = None
    # Validate after every `val_every`-th epoch (and the last): a generative model's validation
    # decodes every frame, which on the small presets costs more than an epoch of training.
    val_every: int = 1
    # Patience counts from the last epoch that beat the kept weights' score by more than this, and
    # those are the weights kept: a curve that only creeps up on a plateau has converged.
    min_delta: float = 0.0
    # Patience never ends a run on a validation that scores at or below this: a model on its starting
    # plateau (an OAD model that calls every frame background scores segment F1 0, sometimes after a
    # first lucky segment) has not begun to learn, and stopping it there keeps a collapsed model
    # (Keras' `start_from_epoch` fixes a warm-up in epochs instead; a plateau's length in epochs
    # changes with the data's size). Patience counts from the later of the last gain and the last
    # validation at the floor; a run that never leaves it ends at its cap (then not converged).
    # None: patience alone decides.
    patience_from_score: float | None = 0.0


@dataclass
class History:
    loss: list[float] = field(default_factory=list)  # per optimizer step, mean over micro-batches and processes
    lr: list[float] = field(default_factory=list)    # per optimizer step, after the scheduler stepped
    epoch_loss: list[float] = field(default_factory=list)
    # Micro-batch losses of the epoch in progress: saved with a checkpoint, so the mean of an
    # epoch interrupted and resumed still covers all of its batches.
    batch_loss: list[float] = field(default_factory=list)
    train_seconds: float = 0.0   # wall time of the whole run: validation and data loading included
    # Each optimizer step's own seconds (its micro-batches' forward, backward and the update), so a
    # step time can be summarised by its median: a first call's warm-up or a slow spell of a shared
    # machine then moves it little, and the validation between epochs does not count.
    step_seconds: list[float] = field(default_factory=list)
    steps: int = 0
    peak_gpu_memory_gib: float | None = None  # torch.cuda.max_memory_allocated while training; None on CPU
    # The validation curve (`train(..., validate=...)`): the score after each epoch, at that step.
    val_steps: list[int] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    best_step: int | None = None   # the step whose weights were kept (its last gain of more than min_delta)
    # True when patience ended the run; False when it ran to its epoch cap (not shown converged)
    stopped_early: bool = False

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.train_seconds / max(self.steps, 1)

    @property
    def median_ms_per_step(self) -> float:
        """The median of `step_seconds` in ms (`ms_per_step` for a history recorded without them)."""
        return 1000 * float(np.median(self.step_seconds)) if self.step_seconds else self.ms_per_step


def default_lr(backbone_name: str) -> float:
    """The learning rate when TrainConfig.lr is None: the paper's 1e-4 for a pretrained LM (with
    LoRA), 1e-3 for the embedded tiny LM, random-init or pretrained here (fully fine-tuned)."""
    return EMBEDDED_LR if backbone_name in EMBEDDED_NAMES else PRETRAINED_LR


def choose_mixed_precision(requested: str, cuda: bool, bf16_supported: bool) -> str:
    """Resolve TrainConfig.mixed_precision to what Accelerate takes ("no" | "bf16" | "fp16")."""
    if requested not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, got {requested!r}")
    if requested != "auto":
        return requested
    if not cuda:
        return "no"
    return "bf16" if bf16_supported else "fp16"


def resolve_mixed_precision(requested: str) -> str:
    """`choose_mixed_precision` for this machine."""
    cuda = torch.cuda.is_available()
    # including_emulation=False: a T4 emulates bf16 (slowly) and would otherwise report support.
    return choose_mixed_precision(requested, cuda, cuda and torch.cuda.is_bf16_supported(including_emulation=False))


def make_accelerator(config: TrainConfig, find_unused_parameters: bool = True,
                     log_with: list | None = None) -> Accelerator:
    """find_unused_parameters: the classifier's `leaves_parameters_unused`. Under DDP a parameter
    without a gradient in a step breaks the backward unless DDP looks for such parameters, a
    graph traversal every step that warns when it finds none (GAD reads them all), so it is on
    only for classifiers that leave one unused (`unused_parameters`: the discriminative
    classifier's never computed LM head, the generative classifier's [CLS] query)."""
    ddp = DistributedDataParallelKwargs(find_unused_parameters=find_unused_parameters)
    return Accelerator(mixed_precision=resolve_mixed_precision(config.mixed_precision),
                       gradient_accumulation_steps=config.grad_accum, kwargs_handlers=[ddp],
                       log_with=log_with, project_dir=config.log_dir)


def enable_gradient_checkpointing(classifier: ActionClassifier) -> None:
    """Recompute each LM layer's activations in the backward pass instead of storing them.
    Non-reentrant, so it works with frozen (LoRA) inputs and restores the dropout RNG."""
    lm = classifier.mllm.lm
    if hasattr(lm, "activation_checkpointing_enable"):  # transformers >= 5.x name
        lm.activation_checkpointing_enable({"use_reentrant": False})
    else:
        lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def epoch_loader(samples: Sequence[Sample], config: TrainConfig, epoch: int) -> DataLoader:
    """This epoch's batches in an order fixed by (seed, epoch): resuming replays it exactly.

    `samples` may be a list or a lazy sequence (`gadlib.evaluation.oad.OADWindows`): the loader only
    indexes it, batch by batch, so a lazy sequence never holds more than one batch of samples.
    """
    if not len(samples):
        raise ValueError("no training samples")
    seed = config.seed * 100_003 + epoch
    order = torch.randperm(len(samples), generator=torch.Generator().manual_seed(seed))
    # Its own generator: iterating a DataLoader otherwise draws from the global torch RNG, which
    # dropout (LoRA) also uses, so a resumed run would continue a different random stream.
    return DataLoader(Subset(samples, order.tolist()), batch_size=config.batch_size, collate_fn=collate,
                      generator=torch.Generator().manual_seed(seed))


@dataclass
class TrainingRun:
    """What one call of `train` holds: the prepared model, optimizer and schedule, the history, and
    the best validated weights so far."""
    config: TrainConfig
    accelerator: Accelerator
    model: torch.nn.Module  # prepared (DDP-wrapped under several processes)
    optimizer: torch.optim.Optimizer
    scheduler: object
    params: list[torch.nn.Parameter]
    history: History
    bar: tqdm
    t0: float = 0.0
    best: dict = field(default_factory=dict)  # score, step, weights of the best validated epoch; "improved": its epoch

    @property
    def net(self) -> ActionClassifier:
        return self.accelerator.unwrap_model(self.model)

    def stopped(self) -> bool:
        return bool(self.config.stop_after) and self.history.steps >= self.config.stop_after

    def finish(self) -> History:
        self.history.train_seconds = time.perf_counter() - self.t0
        if self.accelerator.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.accelerator.device) / 2 ** 30
            self.history.peak_gpu_memory_gib = max(peak, self.history.peak_gpu_memory_gib or 0.0)
        return self.history

    def checkpoint(self) -> None:
        rng = gather_object([rng_states()])  # every process's RNG, so each resumes its own stream
        if self.accelerator.is_main_process:
            save_checkpoint(self.config.checkpoint_dir, self.net, self.optimizer, self.scheduler,
                            asdict(self.finish()), rng)
        self.accelerator.wait_for_everyone()


def train_one_epoch(run: TrainingRun, samples: Sequence[Sample], epoch: int, skip: int = 0) -> None:
    """One pass over `samples` (skipping the first `skip` micro-batches of a resumed epoch);
    stops early at `config.stop_after` steps."""
    acc, config, history = run.accelerator, run.config, run.history
    loader = acc.prepare_data_loader(epoch_loader(samples, config, epoch))
    if skip:
        loader = acc.skip_first_batches(loader, skip)
    step_losses = []
    for batch in loader:
        if not step_losses:   # the first micro-batch of an optimizer step
            step_start = time.perf_counter()
        with acc.accumulate(run.model):
            loss = run.model(batch)  # forward() is loss(): DDP must see the call
            acc.backward(loss)
            if acc.sync_gradients:
                acc.clip_grad_norm_(run.params, config.grad_clip)
            run.optimizer.step()
            run.scheduler.step()
            run.optimizer.zero_grad()
        # The mean over processes: every process records the same history.
        step_losses.append(acc.reduce(loss.detach().float(), "mean").item())
        if not acc.sync_gradients:
            continue
        history.steps += 1
        history.step_seconds.append(time.perf_counter() - step_start)
        history.loss.append(float(np.mean(step_losses)))
        history.lr.append(float(run.scheduler.get_last_lr()[0]))
        acc.log({"epoch": epoch, "loss": history.loss[-1], "lr": history.lr[-1]}, step=history.steps)
        history.batch_loss += step_losses
        step_losses = []
        if acc.gradient_state.end_of_dataloader:  # this step ends the epoch
            history.epoch_loss.append(float(np.mean(history.batch_loss)))
            history.batch_loss = []
        run.bar.update(1)
        run.bar.set_postfix(epoch=epoch, loss=f"{history.loss[-1]:.3f}")
        if config.checkpoint_dir and config.checkpoint_every and history.steps % config.checkpoint_every == 0:
            run.checkpoint()
        if run.stopped():
            return


def validate_epoch(run: TrainingRun, validate: Callable[[ActionClassifier], float], epoch: int) -> bool:
    """Score the model after `epoch`, keep its weights when they beat the kept ones by more than
    `min_delta`; True when `config.patience` epochs have passed without such a gain."""
    net, best, history = run.net, run.best, run.history
    net.eval()
    with torch.no_grad():
        score = float(validate(net))
    net.train()
    history.val_steps.append(history.steps)
    history.val_score.append(score)
    # Only a gain of more than min_delta over the kept weights counts (as Keras' EarlyStopping with
    # restore_best_weights): a curve that creeps up by less for `patience` epochs has converged,
    # and the weights kept are those of its last real gain, never a run's still-rising last step.
    if "score" not in best or score > best["score"] + run.config.min_delta:
        best.update(improved=epoch, score=score, step=history.steps,
                    weights={n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad})
    floor = run.config.patience_from_score
    if floor is not None and score <= floor:
        best["floor"] = epoch   # (back) on the starting plateau: patience restarts from here
    if run.config.patience is None:
        return False
    return epoch - max(best["improved"], best.get("floor", -1)) >= run.config.patience


def epoch_steps(train_data, config: TrainConfig, num_processes: int) -> list[int]:
    """Optimizer steps of every epoch. Epochs that draw their own samples (`num_windows(epoch)`:
    OAD windows at random offsets, `gadlib.evaluation.oad.EpochWindows`) differ by a few windows,
    so the schedule is sized from each epoch's own count. Accelerate deals whole batches to the
    processes in turn, padding the last round."""
    sizes = ([train_data.num_windows(e) for e in range(config.epochs)] if hasattr(train_data, "num_windows")
             else [len(train_data(0) if callable(train_data) else train_data)] * config.epochs)
    return [math.ceil(math.ceil(math.ceil(n / config.batch_size) / num_processes) / config.grad_accum)
            for n in sizes]


def prepare_run(classifier: ActionClassifier, train_data, config: TrainConfig, trackers) -> tuple[TrainingRun, np.ndarray]:
    """Accelerator, AdamW and the cosine schedule with warmup, prepared for this process; and the
    first optimizer step of every epoch (then the total), counted from 0."""
    accelerator = make_accelerator(config, classifier.leaves_parameters_unused, trackers)
    n_proc = accelerator.num_processes
    first_step = np.cumsum([0] + epoch_steps(train_data, config, n_proc))
    total = int(first_step[-1])
    if config.gradient_checkpointing:
        enable_gradient_checkpointing(classifier)
    lr = config.lr if config.lr is not None else default_lr(classifier.spec.get("backbone", {}).get("name", EMBEDDED_SCRATCH))
    params = [p for p in classifier.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay)
    # A prepared scheduler steps once per process per optimizer step, hence the n_proc factor.
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(config.warmup * total) * n_proc, total * n_proc)
    model, optimizer, scheduler = accelerator.prepare(classifier, optimizer, scheduler)
    return TrainingRun(config, accelerator, model, optimizer, scheduler, params, History(), bar=None), first_step


def train(classifier: ActionClassifier, train_data: list[Sample] | Callable[[int], list[Sample]],
          config: TrainConfig = TrainConfig(), resume_from: str | Path | None = None,
          validate: Callable[[ActionClassifier], float] | None = None) -> History:
    """Fine-tune `classifier` with its own `loss`: AdamW, cosine schedule with warmup, clipping.

    train_data: the samples, or `epoch -> samples` when each epoch draws new ones (OAD windows at
    random offsets). resume_from: a checkpoint folder written by this loop, with as many processes
    as wrote it. validate: `model -> score` (higher is better) after every `val_every`-th epoch;
    training stops after `config.patience` epochs without a better score and the best epoch's
    trainable weights are put back (`History.best_step`). Under `accelerate launch` every process
    calls this and all end with the same weights. Explained in notebooks/05_online_action_detection.ipynb.
    """
    samples_of = train_data if callable(train_data) else (lambda epoch: train_data)
    if config.log_dir and resume_from is None and (Path(config.log_dir) / CURVES_FILE).exists():
        raise FileExistsError(f"{Path(config.log_dir) / CURVES_FILE} exists: another run's curves; "
                              "choose another log_dir or resume that run")
    trackers = trackers_for(config.log_dir) if config.log_dir else None
    run, first_step = prepare_run(classifier, train_data, config, trackers)
    start_epoch, skip = resume(run, resume_from, first_step)
    if config.log_dir:  # after resuming: the curve restarts from the checkpoint's history
        trackers[0].rows = [{"step": i + 1, "epoch": epoch_of(first_step, i), "loss": loss, "lr": lr}
                            for i, (loss, lr) in enumerate(zip(run.history.loss, run.history.lr))]
        run.accelerator.init_trackers("tensorboard")  # TensorBoard's folder in log_dir
    if run.accelerator.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(run.accelerator.device)
    run.model.train()
    # disable is passed only to switch the bar off, so TQDM_DISABLE=1 (CI) still silences it otherwise
    quiet = {} if config.progress and run.accelerator.is_main_process else {"disable": True}
    run.bar = tqdm(total=int(first_step[-1]), initial=run.history.steps, desc="train", leave=False, **quiet)
    run.t0 = time.perf_counter() - run.history.train_seconds
    for epoch in range(start_epoch, config.epochs):
        train_one_epoch(run, samples_of(epoch), epoch, skip)
        skip = 0
        if run.stopped():
            break
        due = (epoch + 1) % config.val_every == 0 or epoch == config.epochs - 1
        if validate is not None and due and validate_epoch(run, validate, epoch):
            run.history.stopped_early = True
            # the bar's last line says the run ended, not that it froze part-way (saved notebooks)
            run.bar.total = run.bar.n
            run.bar.set_postfix_str(f"converged at epoch {epoch + 1}: no gain > {config.min_delta:g} "
                                    f"in {config.patience} epochs", refresh=False)
            break
    run.bar.close()
    return end_run(run)


def epoch_of(first_step: np.ndarray, step: int) -> int:
    """The epoch of optimizer step `step` (counted from 0), given each epoch's first step."""
    return int(np.searchsorted(first_step, step, side="right")) - 1


def resume(run: TrainingRun, resume_from, first_step: np.ndarray) -> tuple[int, int]:
    """Load a checkpoint's weights, optimizer, schedule, RNG and history into `run`; returns the
    epoch to continue and how many of its micro-batches are done. (0, 0) without a checkpoint."""
    if resume_from is None:
        return 0, 0
    state = load_training_state(resume_from, run.net, run.optimizer, run.scheduler,
                                run.accelerator.process_index, run.accelerator.num_processes)
    run.history = History(**state["history"])
    start_epoch = epoch_of(first_step, run.history.steps)
    return start_epoch, (run.history.steps - int(first_step[start_epoch])) * run.config.grad_accum


def end_run(run: TrainingRun) -> History:
    """Put back the best validated weights, close the trackers, write the last checkpoint."""
    if "weights" in run.best:  # the best validated epoch's weights, as every process has them
        with torch.no_grad():
            for n, p in run.net.named_parameters():
                if n in run.best["weights"]:
                    p.copy_(run.best["weights"][n])
        run.history.best_step = run.best["step"]
    # Not accelerator.end_training(): it would also end the process group, which evaluation
    # and the next seed still use.
    for tracker in run.accelerator.trackers:
        tracker.finish()
    run.finish()
    config = run.config
    if config.checkpoint_dir and not (config.checkpoint_every and run.history.steps % config.checkpoint_every == 0):
        run.checkpoint()
    run.model.eval()  # predict() right after training must not apply (LoRA) dropout
    return run.history


def accuracy_metrics(scores: np.ndarray, targets: np.ndarray, ks=(1, 5)) -> dict[str, float]:
    """{"top1", "top5", "balanced_top1"} from per-class scores [N, C] (higher is better).

    Ties are broken as `argmax` breaks them (lower class index first), so top1 always agrees with
    the classifier's own prediction; greedy decoding's edit-distance scores tie often. Without
    ties this equals scikit-learn's `top_k_accuracy_score` (tests check it).
    balanced_top1 averages recall over the classes present in `targets`.
    """
    scores, targets = np.asarray(scores), np.asarray(targets)
    if scores.ndim != 2 or len(scores) != len(targets) or len(targets) == 0:
        raise ValueError(f"scores must be [N, C] with N = len(targets) > 0; got {scores.shape} and {targets.shape}")
    target_score = scores[np.arange(len(targets)), targets][:, None]
    idx = np.arange(scores.shape[1])[None]
    rank = ((scores > target_score) | ((scores == target_score) & (idx < targets[:, None]))).sum(1)
    out = {f"top{k}": float(np.mean(rank < k)) for k in ks}
    out["balanced_top1"] = float(balanced_accuracy_score(targets, scores.argmax(1)))
    return out


def _autocast(classifier: ActionClassifier, mixed_precision: str):
    """The training precision for prediction too: a bf16 / fp16 LM feeds fp32 heads."""
    device = next(classifier.parameters()).device
    mp = resolve_mixed_precision(mixed_precision) if device.type == "cuda" else "no"
    if mp == "no":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if mp == "bf16" else torch.float16)


@torch.no_grad()
def evaluate(classifier: ActionClassifier, samples: list[Sample], batch_size: int = 128,
             progress: bool = False, mixed_precision: str = "auto", **predict_kwargs) -> dict[str, dict]:
    """Predict every sample; group by kind ("step", "next", "task", "oad").

    Returns {kind: {"scores" [N, C], "pred" [N], "targets" [N], "metrics": {top1, top5, balanced_top1}}}.
    predict_kwargs go to `classifier.predict` (e.g. decoding="exact" for a generative model).
    Under `accelerate launch` every process must call it: the batches are shared out among the
    processes and gathered (`gadlib.core.sharding`), every process gets all the predictions, and the
    metrics are computed once, on the main process ("metrics" is None on the others).
    """
    if not samples:
        raise ValueError("no samples to evaluate")
    classifier.eval()
    by_kind = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    results = {}
    for kind, group in by_kind.items():
        def predict(indices, group=group):
            with _autocast(classifier, mixed_precision):
                return classifier.predict(collate([group[i] for i in indices]), **predict_kwargs)

        scores, pred = predict_sharded(predict, len(group), batch_size, progress, desc=f"eval {kind}")
        targets = np.array([s.target for s in group])
        results[kind] = {"scores": scores, "pred": pred, "targets": targets,
                         "metrics": accuracy_metrics(scores, targets) if is_main_process() else None}
    return results
