"""Multi-task adapters (MT-A): one encoder shared by all tasks, one adapter and one head per task, trained jointly.

AdapterFusion's MT-A follows Stickland & Murray (2019): the shared encoder is fine-tuned along with the per-task
adapters and heads. Each step draws one task and a batch of it; tasks are drawn with probability proportional to
N_t^alpha, alpha annealed from 1 (proportional to size) to 0.2 over training (Stickland & Murray's schedule:
alpha = 1 - 0.8 (e - 1) / (E - 1) in epoch e of E), so large tasks dominate early and small ones are not drowned.
The per-task adapters are then fusable like single-task ones. Training is the shared loop (``loop.train_epochs``).

One epoch is as many steps as one pass over every task's training set takes (sum of the tasks' batch counts); the
best epoch is the one with the best dev score averaged over the tasks. ``RunStore().run(MultiTaskConfig(...))``
records a run like any other; its task ``t`` is addressed as ``"<run id>/t"`` (a row of ``to_frame`` with regime
"mt_a", and an adapter a fusion run can fuse: the fine-tuned encoder is saved beside the adapters and a fusion of
them starts from it, see ``single.load_shared_base``).

Under several processes (``accelerate launch``, ``torchrun``) MT-A is data parallel like any run: every process
draws the same task and batch each step (one seeded generator) and takes its share of the batch, through one module
(``MultiTaskModel``) that DDP wraps; the processes' shares of unused heads and adapters are no gradient at all.

    cfg = MultiTaskConfig(tasks=("snli", "sst2_dev_split", "cb_dev_split"), max_train=512)
    result = RunStore().run(cfg)                       # result.metrics[task][split]["score"]
    fusion = RunConfig(task="cb_dev_split", regime="fusion", fusion=tuple(result.adapter_ids))
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed

from adapterlib.core.config import AdapterConfig
from adapterlib.core.inject import add_adapter, set_active_adapter
from adapterlib.core.io import save_adapter
from adapterlib.core.models import load_model
from adapterlib.core.params import count_parameters
from adapterlib.core.methods import added_parameter_names
from adapterlib.core.trainable import set_trainable
from adapterlib.data.encoding import collate, feature_length
from adapterlib.data.tasks import get_task
from adapterlib.runner.cache import encoded_splits
from adapterlib.runner.checkpoint import EpochCheckpoint
from adapterlib.runner.evaluate import Evaluation, evaluate_split, pad_id
from adapterlib.runner.loop import (RunKind, TrainingBatch, TrainingDivergedError, global_batches, make_accelerator,
                                    train_epochs)
from adapterlib.runner.settings import DATA_SEED, MultiTaskConfig, MultiTaskResult
from adapterlib.runner.single import SHARED_BASE

ADAPTERS_DIR = "adapters"  # <run>/adapters/<task>/: al.save_adapter; <run>/adapters/base.safetensors: the encoder


def build_multitask(
    model_name: str, heads: Mapping[str, tuple[str, int]], adapter: AdapterConfig, **config_overrides: Any
) -> tuple[nn.ModuleDict, PreTrainedTokenizerBase]:
    """One task model per entry of ``heads`` (task -> (task_format, num_labels)), all sharing one encoder that
    carries one adapter per task, named after the task. Call ``task_forward`` to run a task's batch."""
    if not heads:
        raise ValueError("build_multitask needs at least one task")
    models: dict[str, PreTrainedModel] = {}
    shared = tokenizer = None
    for task, (task_format, num_labels) in heads.items():
        model, tokenizer = load_model(model_name, task_format=task_format, num_labels=num_labels, **config_overrides)
        if shared is None:
            shared = model.base_model
        else:
            setattr(model, model.base_model_prefix, shared)
        models[task] = model
    for task in heads:
        add_adapter(models[task], task, adapter)
    return nn.ModuleDict(models), tokenizer


def task_forward(models: nn.ModuleDict, task: str, **batch: torch.Tensor) -> Any:
    """Run one task's batch through the shared encoder with that task's adapter and head."""
    model = models[task]
    set_active_adapter(model, task)
    return model(**batch)


class MultiTaskModel(nn.Module):
    """The task models of ``build_multitask`` as one module whose forward takes the task: what the training loop
    (and DDP under several processes, which must see every forward) wraps."""

    def __init__(self, models: nn.ModuleDict) -> None:
        super().__init__()
        self.models = models

    def forward(self, task: str, **batch: torch.Tensor) -> Any:
        return task_forward(self.models, task, **batch)


def sampling_weights(sizes: Mapping[str, int], epoch: int, epochs: int) -> dict[str, float]:
    """Probability of drawing each task in ``epoch`` (1-based) of ``epochs``: N_t^alpha, annealed alpha."""
    if not 1 <= epoch <= epochs:
        raise ValueError(f"epoch must be in 1..{epochs}, got {epoch}")
    alpha = 1.0 if epochs == 1 else 1.0 - 0.8 * (epoch - 1) / (epochs - 1)
    raw = {task: float(n) ** alpha for task, n in sizes.items()}
    total = sum(raw.values())
    return {task: w / total for task, w in raw.items()}


def task_schedule(
    sizes: Mapping[str, int], steps: int, epoch: int, epochs: int, generator: torch.Generator
) -> Iterator[str]:
    """The task of each of ``steps`` steps in one epoch, drawn with ``sampling_weights``."""
    weights = sampling_weights(sizes, epoch, epochs)
    tasks = list(weights)
    draws = torch.multinomial(torch.tensor([weights[t] for t in tasks]), steps, replacement=True, generator=generator)
    return (tasks[i] for i in draws.tolist())


class TaskBatches:
    """One task's global batches (``loop.global_batches``), redrawn after every pass: tasks run out at different
    times. ``pending``, the rest of the current pass, is what a resumed run needs of it (``runner.checkpoint``)."""

    def __init__(self, lengths: list[int], batch_size: int, group_batches: int, world: int,
                 generator: torch.Generator) -> None:
        self.lengths, self.batch_size, self.group_batches, self.world = lengths, batch_size, group_batches, world
        self.generator = generator
        self.pending: list[list[int]] = []

    def next(self) -> list[int]:
        if not self.pending:
            self.pending = global_batches(self.lengths, self.batch_size, self.generator, self.world,
                                          self.group_batches)
            if not self.pending:
                raise ValueError(f"{len(self.lengths)} training examples cannot give {self.world} processes one each")
        return self.pending.pop(0)


def train_multitask(
    cfg: MultiTaskConfig, *, save_to: str | Path | None = None, eval_batch_size: int = 64, progress: bool = True,
    epoch_extra: Callable[[nn.ModuleDict], dict[str, Any]] | None = None, checkpoint: EpochCheckpoint | None = None,
) -> MultiTaskResult:
    """Train and evaluate one MT-A run (see the module docstring). ``save_to``: where the main process writes the
    best epoch's adapters (``adapters/<task>/``, al.save_adapter with the task's head) and fine-tuned encoder
    (``adapters/base.safetensors``). ``epoch_extra(models)``: more fields for each epoch's history entry.
    ``checkpoint``: where each epoch's end is kept and an interrupted run resumes from (``runner.checkpoint``).
    Raises TrainingDivergedError on a NaN/inf loss."""
    start = time.perf_counter()
    accelerator = make_accelerator(cfg.precision)
    device, world, rank = accelerator.device, accelerator.num_processes, accelerator.process_index
    tasks = {name: get_task(name) for name in cfg.tasks}
    set_seed(cfg.seed)
    models, tokenizer = build_multitask(cfg.model, {n: (t.format, t.num_labels) for n, t in tasks.items()},
                                        cfg.adapter, **cfg.model_kwargs)
    models.to(device)
    for model in models.values():
        set_trainable(model, "full")  # Stickland & Murray: the shared encoder is fine-tuned with the adapters
    params = {}
    for name, model in models.items():
        counts = count_parameters(model)
        params[name] = {**dataclasses.asdict(counts), "trainable_pct": counts.trainable_pct}
    splits = {n: encoded_splits(n, tokenizer, **cfg.caps, seed=DATA_SEED,
                                max_length=cfg.max_length_of(n)) for n in tasks}
    train_features = {n: s["train"].features for n, s in splits.items()}
    eval_sets = {n: {split: (e.dataset, e.features) for split, e in s.items() if split != "train"}
                 for n, s in splits.items()}
    sizes = {n: len(f) for n, f in train_features.items()}
    steps_per_epoch = sum(math.ceil(n / cfg.batch_size) for n in sizes.values())
    generator = torch.Generator().manual_seed(cfg.seed)
    streams = {n: TaskBatches([feature_length(f) for f in train_features[n]], cfg.batch_size, cfg.group_batches,
                              world, generator) for n in tasks}

    def batches(epoch: int):
        for name in task_schedule(sizes, steps_per_epoch, epoch, cfg.epochs, generator):
            indices = streams[name].next()
            local = indices[rank::world]
            inputs = collate([train_features[name][i] for i in local], pad_id(models[name]))
            yield TrainingBatch(name, models[name], {k: v.to(device) for k, v in inputs.items()}, len(local),
                                len(indices))

    def evaluate_task(name: str, split: str) -> Evaluation:
        set_active_adapter(models[name], name)
        return evaluate_split(models[name], tasks[name], *eval_sets[name][split], eval_batch_size, accelerator,
                              cfg.precision)

    dev_evaluations: list[dict[str, Evaluation]] = []  # per epoch: the best epoch's predictions are recorded

    def score_dev() -> tuple[float, dict[str, Any]]:
        dev_evaluations.append({n: evaluate_task(n, "validation") for n in tasks})
        dev = {n: e.metrics for n, e in dev_evaluations[-1].items()}
        return float(np.mean([m["score"] for m in dev.values()])), {"validation": dev}

    def loss_fields(sums: torch.Tensor) -> dict[str, Any]:
        return {"train_loss": {n: float(sums[i, 0] / sums[i, 1]) if sums[i, 1] else None for i, n in enumerate(tasks)},
                "steps": {n: int(sums[i, 2]) for i, n in enumerate(tasks)}}

    def state() -> dict[str, Any]:
        return {"generator": generator.get_state(), "pending": {n: list(s.pending) for n, s in streams.items()},
                "dev_evaluations": list(dev_evaluations)}

    def load_state(kept: dict[str, Any]) -> None:
        generator.set_state(kept["generator"])
        for name, stream in streams.items():
            stream.pending = kept["pending"][name]
        dev_evaluations[:] = kept["dev_evaluations"]

    # float64 loss sums: MT-A has always summed its per-task losses in Python floats
    kind = RunKind(tasks=tuple(tasks), steps_per_epoch=steps_per_epoch, batches=batches, score_dev=score_dev,
                   loss=lambda prepared, batch: prepared(batch.task, **batch.inputs).loss,
                   loss_fields=loss_fields, state=state, load_state=load_state, loss_dtype=torch.float64)
    training = train_epochs(MultiTaskModel(models), kind, cfg, accelerator, run_id=cfg.run_id, label=cfg.label,
                            progress=progress, epoch_extra=epoch_extra and (lambda: epoch_extra(models)),
                            checkpoint=checkpoint)

    def result(status: str, evaluations: dict[str, dict[str, Evaluation]]) -> MultiTaskResult:
        field_of = lambda name: {n: {s: getattr(e, name) for s, e in splits.items()}  # noqa: E731
                                 for n, splits in evaluations.items()}
        return MultiTaskResult(cfg.run_id, cfg.to_dict(), status, field_of("metrics"), training.best_epoch,
                               training.history, params, time.perf_counter() - start, training.examples_per_s,
                               processes=world, error=training.error, predictions=field_of("predictions"),
                               references=field_of("references"))

    if training.error:
        raise TrainingDivergedError(training.error, result("failed", {}))
    evaluations = {n: {"validation": dev_evaluations[training.best_epoch - 1][n],
                       **{split: evaluate_task(n, split) for split in eval_sets[n] if split != "validation"}}
                   for n in tasks}
    if save_to is not None and accelerator.is_main_process:
        save_multitask(models, Path(save_to))
    accelerator.wait_for_everyone()
    return result("ok", evaluations)


def save_multitask(models: nn.ModuleDict, directory: Path) -> Path:
    """Each task's adapter and head (al.save_adapter) and the shared fine-tuned encoder, under ``adapters/``."""
    target = directory / ADAPTERS_DIR
    for name, model in models.items():
        save_adapter(model, name, target / name)
    encoder = next(iter(models.values())).base_model
    added = added_parameter_names(encoder)
    save_file({n: t.detach().cpu().contiguous() for n, t in encoder.state_dict().items() if n not in added},
              target / SHARED_BASE)
    return target
