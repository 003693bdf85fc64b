"""The training loop (Accelerate) and the evaluation loop, shared by every classifier.

Accelerate places the model on the device, runs bf16 autocast on a GPU, accumulates gradients,
and scales to several GPUs with `accelerate launch` without a code change. One seed fixes the
data order, so two CPU runs give the same numbers.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from .checkpoint import load_training_state, save_checkpoint
from .classifier import ActionClassifier, collate
from .metrics import accuracy_metrics
from .samples import Sample


@dataclass
class TrainConfig:
    """Optimisation settings. The paper uses lr 1e-4 with LoRA on a pretrained LM; the random-init
    embedded LM learns from scratch and needs a larger rate (the default)."""
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.05          # share of all steps
    grad_clip: float = 1.0
    grad_accum: int = 1
    mixed_precision: str = "auto"  # "auto": bf16 on CUDA, none on CPU / MPS
    seed: int = 0
    progress: bool = True
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0      # optimizer steps between checkpoints (0: only at the end)
    stop_after: int | None = None  # stop after this many optimizer steps (to test resuming)


@dataclass
class History:
    loss: list[float] = field(default_factory=list)  # one value per optimizer step
    epoch_loss: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    steps: int = 0

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.train_seconds / max(self.steps, 1)


def make_accelerator(config: TrainConfig) -> Accelerator:
    mp = config.mixed_precision
    if mp == "auto":
        mp = "bf16" if torch.cuda.is_available() else "no"
    return Accelerator(mixed_precision=mp, gradient_accumulation_steps=config.grad_accum)


def epoch_loader(samples: Sequence[Sample], config: TrainConfig, epoch: int) -> DataLoader:
    """This epoch's batches in an order fixed by (seed, epoch): resuming replays it exactly.

    `samples` may be a list or a lazy sequence (`gadlib.oad.OADWindows`): the loader only
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


def train(classifier: ActionClassifier, train_data: list[Sample] | Callable[[int], list[Sample]],
          config: TrainConfig = TrainConfig(), resume_from: str | Path | None = None) -> History:
    """Fine-tune `classifier` with its own `loss`. AdamW, cosine schedule with warmup, clipping.

    train_data: the samples, or `epoch -> samples` when each epoch draws new ones (augmentation,
    OAD windows at a random offset). resume_from: a checkpoint folder written by this loop.
    """
    samples_of = train_data if callable(train_data) else (lambda epoch: train_data)
    accelerator = make_accelerator(config)
    steps_per_epoch = -(-len(samples_of(0)) // (config.batch_size * config.grad_accum))
    total = steps_per_epoch * config.epochs
    params = [p for p in classifier.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(config.warmup * total), total)
    model, optimizer, scheduler = accelerator.prepare(classifier, optimizer, scheduler)
    history, start_epoch, skip = History(), 0, 0
    if resume_from is not None:
        state = load_training_state(resume_from, accelerator.unwrap_model(model), optimizer, scheduler)
        history = History(**state["history"])
        start_epoch, skip = divmod(history.steps, steps_per_epoch)
        skip *= config.grad_accum
    model.train()
    # disable is passed only to switch the bar off, so TQDM_DISABLE=1 (CI) still silences it otherwise
    quiet = {} if config.progress else {"disable": True}
    bar = tqdm(total=total, initial=history.steps, desc="train", leave=False, **quiet)
    t0 = time.perf_counter() - history.train_seconds
    for epoch in range(start_epoch, config.epochs):
        loader = accelerator.prepare_data_loader(epoch_loader(samples_of(epoch), config, epoch))
        if skip:
            loader, skip = accelerator.skip_first_batches(loader, skip), 0
        epoch_losses = []
        for batch in loader:
            with accelerator.accumulate(model):
                loss = model(batch)  # forward() is loss(): DDP must see the call
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(params, config.grad_clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            epoch_losses.append(loss.item())
            if not accelerator.sync_gradients:
                continue
            history.steps += 1
            history.loss.append(float(np.mean(epoch_losses[-config.grad_accum:])))
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{history.loss[-1]:.3f}")
            history.train_seconds = time.perf_counter() - t0
            due = config.checkpoint_every and history.steps % config.checkpoint_every == 0
            if config.checkpoint_dir and due:
                save_checkpoint(config.checkpoint_dir, accelerator.unwrap_model(model), optimizer,
                                scheduler, asdict(history))
            if config.stop_after and history.steps >= config.stop_after:
                bar.close()
                model.eval()  # predict() right after training must not apply (LoRA) dropout
                return history
        history.epoch_loss.append(float(np.mean(epoch_losses)))
    bar.close()
    history.train_seconds = time.perf_counter() - t0
    if config.checkpoint_dir:
        save_checkpoint(config.checkpoint_dir, accelerator.unwrap_model(model), optimizer, scheduler,
                        asdict(history))
    model.eval()  # predict() right after training must not apply (LoRA) dropout
    return history


@torch.no_grad()
def evaluate(classifier: ActionClassifier, samples: list[Sample], batch_size: int = 128,
             progress: bool = False, **predict_kwargs) -> dict[str, dict]:
    """Predict every sample; group by kind ("step", "next", "task", "oad").

    Returns {kind: {"scores" [N, C], "pred" [N], "targets" [N], "metrics": {top1, top5, balanced_top1}}}.
    predict_kwargs go to `classifier.predict` (e.g. decoding="exact" for a generative model).
    """
    if not samples:
        raise ValueError("no samples to evaluate")
    classifier.eval()
    by_kind = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    results = {}
    for kind, group in by_kind.items():
        scores, preds = [], []
        for i in tqdm(range(0, len(group), batch_size), disable=not progress, desc=f"eval {kind}", leave=False):
            p = classifier.predict(collate(group[i:i + batch_size]), **predict_kwargs)
            scores.append(p.scores)
            preds.append(p.pred)
        targets = np.array([s.target for s in group])
        scores = np.concatenate(scores)
        results[kind] = {"scores": scores, "pred": np.concatenate(preds), "targets": targets,
                         "metrics": accuracy_metrics(scores, targets)}
    return results
