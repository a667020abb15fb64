"""The one training loop of every run kind: single-task, fusion and MT-A runs differ only in a ``RunKind``.

As in both papers: AdamW, linear warm-up over the first ``warmup_ratio`` of the steps then linear decay to zero,
gradient clipping, fusion's ||V - I||^2 regulariser wherever a model has a fusion layer, and (AdapterFusion's early
stopping) the weights of the epoch with the best dev score restored at the end. Each epoch appends one entry to
the run's history: ``epoch``, ``train_loss``, ``dev_score`` (the score the best epoch is chosen on), the kind's dev
fields (``validation``, a fusion run's attention statistics) and an optional per-epoch extra (``epoch_extra``).

The loop runs on ``accelerate``: ``accelerate launch`` / ``torchrun`` spread a run over processes, each taking its
share of every global batch (``global_batches``), so a 2-process run follows the single-process run's schedule.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from accelerate import Accelerator, DistributedDataParallelKwargs, PartialState
from torch import nn
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from adapterlib import progress as progress_policy
from adapterlib.core.fusion import fusion_regularization
from adapterlib.runner.checkpoint import EpochCheckpoint
from adapterlib.runner.settings import MultiTaskResult, RunResult, TrainingSettings


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; ``result`` is the failed run (history up to that point)."""

    def __init__(self, message: str, result: RunResult | MultiTaskResult) -> None:
        super().__init__(message)
        self.result = result


def multi_cpu() -> bool:
    """Launched on several processes without GPUs: accelerate stays single-process there unless told ``cpu=True``;
    with it, the processes join one gloo group (``accelerate launch`` sets this by itself)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def process_state() -> PartialState:
    """This process's place in a launch (``is_main_process``, ``wait_for_everyone``), without fixing a precision."""
    return PartialState(cpu=multi_cpu())


def run_device() -> torch.device:
    """Where this process trains and where a model reloaded for an analysis goes: its CUDA device when there is
    one (one per process under a launcher), else the CPU."""
    return process_state().device


def make_accelerator(precision: str = "fp32") -> Accelerator:
    """The process's Accelerator for a run in ``precision``: accelerate's loss-scaled mixed precision for "fp16"
    (CUDA only), none otherwise (bf16 is plain autocast, see ``autocast``). accelerate keeps one mode per process."""
    if precision == "fp16" and not torch.cuda.is_available():
        raise ValueError("precision 'fp16' needs a CUDA device (loss scaling); on CPU use 'bf16' or 'fp32'")
    # Under several processes DDP must tolerate trained parameters without a gradient: fusion's key bias cancels
    # in the softmax (core/fusion.py), so it never gets one; a fusion run would otherwise fail at its second step.
    unused = DistributedDataParallelKwargs(find_unused_parameters=True)
    return Accelerator(cpu=multi_cpu(), mixed_precision="fp16" if precision == "fp16" else "no",
                       kwargs_handlers=[unused])


def resolve_precision(precision: str, device: torch.device) -> str:
    """What "auto" means on ``device``: bf16 on a CUDA device that supports it, else fp32."""
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context a forward pass (training or evaluation) on ``device`` runs in (``precision`` resolved): torch
    autocast to bf16 or fp16, nothing for fp32. fp16 training's loss scaling is accelerate's (``make_accelerator``)."""
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in dtypes:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtypes[precision])


@contextlib.contextmanager
def tf32_matmuls(enabled: bool) -> Iterator[None]:
    """TF32 for the fp32 matmuls left outside autocast (CUDA), restored afterwards."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = previous or enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def make_optimizer(
    trainable: list[tuple[str, torch.nn.Parameter]], lr: float, weight_decay: float, warmup_ratio: float,
    total_steps: int,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (no weight decay on biases and LayerNorms, as in BERT) with linear warm-up over the first
    ``warmup_ratio`` of ``total_steps``, then linear decay to zero."""
    groups = [
        {"params": [p for _, p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for _, p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr, fused=True)  # fused: ~7x faster step than the default on CPU
    return optimizer, get_linear_schedule_with_warmup(optimizer, math.ceil(warmup_ratio * total_steps), total_steps)


def global_batches(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator, world: int, group_batches: int = 1
) -> list[list[int]]:
    """One epoch of global batches of feature indices (``lengths``: the features' token lengths).

    The shuffled order is cut into windows of ``group_batches`` batches; each window is sorted by length and cut
    into batches, and the batches are shuffled (as HF Trainer's ``group_by_length``, with small windows: a batch is
    still a random sample, regrouped every epoch, but pads far less). ``group_batches=1`` is plain shuffling.
    A last batch too small to give every process an example is dropped."""
    n, window = len(lengths), batch_size * group_batches
    order = torch.randperm(n, generator=generator).tolist()
    if group_batches > 1:
        order = [i for start in range(0, n, window)
                 for i in sorted(order[start:start + window], key=lambda i: -lengths[i])]
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if group_batches > 1:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return [b for b in batches if len(b) >= world]


@dataclass(frozen=True)
class TrainingBatch:
    """One step's batch as this process sees it: ``examples`` of the global batch's ``batch_examples``."""

    task: str
    model: PreTrainedModel  # the task's unwrapped model: its fusion regulariser, if it has one, joins the loss
    inputs: dict[str, torch.Tensor]
    examples: int
    batch_examples: int


@dataclass(frozen=True)
class RunKind:
    """What differs between run kinds; the loop does everything else.

    ``batches(epoch)``: that epoch's batches (1-based epoch), ``steps_per_epoch`` of them at most; ``loss(model,
    batch)``: the batch's loss, ``model`` being the accelerate-prepared model; ``score_dev()``: the dev score the
    best epoch is chosen on and the history fields that go with it; ``loss_fields(sums)``: history fields from the
    epoch's per-task [loss x examples, examples, steps] rows (``tasks`` order, ``loss_dtype``); ``state()`` /
    ``load_state(state)``: what the kind itself needs to go on from an epoch's end (its batch-order generator, the
    dev evaluations it recorded), for a resumed run (``checkpoint``)."""

    tasks: tuple[str, ...]
    steps_per_epoch: int
    batches: Callable[[int], Iterable[TrainingBatch]]
    loss: Callable[[nn.Module, TrainingBatch], torch.Tensor]
    score_dev: Callable[[], tuple[float, dict[str, Any]]]
    loss_fields: Callable[[torch.Tensor], dict[str, Any]]
    state: Callable[[], dict[str, Any]]
    load_state: Callable[[dict[str, Any]], None]
    loss_dtype: torch.dtype = torch.float32


@dataclass
class Training:
    """What the loop gives back: the history, the best epoch (restored in the model), the training throughput
    over all processes and the seconds spent in training steps (evaluation excluded from both), and ``error`` when
    the loss diverged (the run stopped there)."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    examples_per_s: float = 0.0
    train_time: float = 0.0
    error: str | None = None


def train_epochs(
    model: nn.Module, kind: RunKind, settings: TrainingSettings, accelerator: Accelerator, *, run_id: str,
    label: str, progress: bool = True, epoch_extra: Callable[[], dict[str, Any]] | None = None,
    checkpoint: EpochCheckpoint | None = None,
) -> Training:
    """Train ``model``'s trainable parameters for ``settings.epochs`` epochs of ``kind``'s batches, scoring dev
    after each; the best dev epoch's weights (the last epoch's with ``keep_best_epoch=False``) end in ``model``.
    With a ``checkpoint``, every epoch's end is kept there and a run interrupted before goes on from its last
    complete epoch (``runner.checkpoint``)."""
    world, precision = accelerator.num_processes, resolve_precision(settings.precision, accelerator.device)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    optimizer, scheduler = make_optimizer(trainable, settings.lr, settings.weight_decay, settings.warmup_ratio,
                                          kind.steps_per_epoch * settings.epochs)
    prepared, optimizer = accelerator.prepare(model, optimizer)
    rows = {task: i for i, task in enumerate(kind.tasks)}
    training, best_score, best_state = Training(), -math.inf, None
    train_time, seen, step, done_epochs = 0.0, 0, 0, 0

    def epoch_state() -> dict[str, Any]:
        return {"trainable": {n: p.detach().cpu().clone() for n, p in trainable}, "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": accelerator.scaler and accelerator.scaler.state_dict(),
                "history": training.history, "best_score": best_score, "best_epoch": training.best_epoch,
                "best_state": best_state, "step": step, "seen": seen, "train_time": train_time, "kind": kind.state()}

    kept = checkpoint.load(accelerator) if checkpoint is not None else None
    if kept is not None:
        with torch.no_grad():
            for name, parameter in trainable:
                parameter.copy_(kept["trainable"][name])
        optimizer.load_state_dict(kept["optimizer"])
        scheduler.load_state_dict(kept["scheduler"])
        if accelerator.scaler is not None:
            accelerator.scaler.load_state_dict(kept["scaler"])
        kind.load_state(kept["kind"])
        training.history, training.best_epoch = kept["history"], kept["best_epoch"]
        best_score, best_state, done_epochs = kept["best_score"], kept["best_state"], kept["epoch"]
        step, seen, train_time = kept["step"], kept["seen"], kept["train_time"]
    # one policy (adapterlib.progress): inside a grid, the grid's bar or log line; a run on its own, one bar or line
    bar = progress_policy.Run(label, kind.steps_per_epoch * settings.epochs,
                              enabled=progress and accelerator.is_main_process, resumed_at=step)
    with tf32_matmuls(precision != "fp32" and accelerator.device.type == "cuda"):
        for epoch in range(done_epochs + 1, settings.epochs + 1):
            prepared.train()
            sums = torch.zeros(len(kind.tasks), 3, dtype=kind.loss_dtype)  # per task: loss x examples, examples, steps
            epoch_start = time.perf_counter()
            for batch in kind.batches(epoch):
                step += 1
                with autocast(precision, accelerator.device):
                    loss = kind.loss(prepared, batch)
                sums[rows[batch.task]] += torch.tensor([loss.item() * batch.examples, batch.examples, 1],
                                                       dtype=kind.loss_dtype)
                # Each process's mean loss, weighted by its share: DDP's gradient average is then the global batch mean.
                objective = loss * (batch.examples * world / batch.batch_examples)
                regularization = fusion_regularization(batch.model)
                accelerator.backward(objective if regularization is None else objective + regularization)
                grad_norm = accelerator.clip_grad_norm_([p for _, p in trainable], settings.max_grad_norm)
                if diverged(loss, grad_norm, accelerator):
                    task = f", task {batch.task}" if len(kind.tasks) > 1 else ""
                    bar.failed(f"non-finite loss at epoch {epoch}, step {step}")
                    return Training(training.history, error=f"{run_id}: non-finite loss/gradient (loss "
                                    f"{loss.item():.4g}{task}) at epoch {epoch}, step {step}; lower the learning "
                                    f"rate (lr={settings.lr:g})")
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                seen += batch.batch_examples
                bar.step(loss)
            train_time += time.perf_counter() - epoch_start
            if world > 1:  # losses and examples add up over the processes; every process took every step
                sums = accelerator.reduce(sums.to(accelerator.device), "sum").cpu()
                sums[:, 2] /= world
            score, dev_fields = kind.score_dev()
            training.history.append({"epoch": epoch, **kind.loss_fields(sums), "dev_score": score, **dev_fields,
                                     **(epoch_extra() if epoch_extra else {})})
            bar.epoch(epoch, settings.epochs, score)
            if score > best_score or not settings.keep_best_epoch:
                best_score, training.best_epoch = score, epoch
                # the last epoch's weights are already in the model
                best_state = {n: p.detach().clone() for n, p in trainable} if epoch < settings.epochs else None
            if checkpoint is not None:
                checkpoint.save(epoch, epoch_state, accelerator)
    bar.finished(best_score)
    if best_state is not None:
        with torch.no_grad():
            for name, parameter in trainable:
                parameter.copy_(best_state[name])
    training.examples_per_s, training.train_time = seen / max(train_time, 1e-9), train_time
    return training


def diverged(loss: torch.Tensor, grad_norm: torch.Tensor, accelerator: Accelerator) -> bool:
    """A non-finite gradient norm (the same on every process: gradients are already averaged). Under fp16 loss
    scaling an overflowing gradient is routine (the scaler skips that step), so there only the loss counts, agreed
    over the processes."""
    if accelerator.scaler is None:
        return not torch.isfinite(grad_norm)
    bad = torch.tensor(float(not torch.isfinite(loss.detach())), device=accelerator.device)
    return bool(accelerator.reduce(bad, "sum") > 0) if accelerator.num_processes > 1 else bool(bad)
