"""Multi-task adapters (MT-A): one encoder shared by all tasks, one adapter and one head per task, trained jointly.

AdapterFusion's MT-A follows Stickland & Murray (2019): the shared encoder is fine-tuned along with the per-task
adapters and heads. Each step draws one task and a batch of it; tasks are drawn with probability proportional to
N_t^alpha, alpha annealed from 1 (proportional to size) to 0.2 over training (Stickland & Murray's schedule:
alpha = 1 - 0.8 (e - 1) / (E - 1) in epoch e of E), so large tasks dominate early and small ones are not drowned.
The per-task adapters are then fusable like single-task ones.

One epoch is as many steps as one pass over every task's training set takes (sum of the tasks' batch counts); the
best epoch is the one with the best dev score averaged over the tasks. ``RunStore().run(MultiTaskConfig(...))``
records a run like any other; its task ``t`` is addressed as ``"<run id>/t"`` (a row of ``to_frame`` with regime
"mt_a", and an adapter a fusion run can fuse: the fine-tuned encoder is saved beside the adapters and a fusion of
them starts from it, see ``train.load_shared_base``). MT-A runs in one process.

    cfg = MultiTaskConfig(tasks=("vitaminc", "rt_polarity", "presuppositions_nli"), max_train=512)
    result = RunStore().run(cfg)                       # result.metrics[task][split]["score"]
    fusion = RunConfig(task="presuppositions_nli", regime="fusion", fusion=tuple(result.adapter_ids))
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed

from adapterlib.core.config import AdapterConfig
from adapterlib.data.encoding import collate, encode, feature_length
from adapterlib.core.io import save_adapter
from adapterlib.core.inject import add_adapter, set_active_adapter
from adapterlib.core.models import load_model
from adapterlib.core.params import count_parameters
from adapterlib.core.methods import added_parameter_names
from adapterlib.core.trainable import set_trainable
from adapterlib.data.tasks import get_task, load_task
from adapterlib.runner.single import (DATA_SEED, SHARED_BASE, RunResult, TrainingDivergedError, TrainingSettings, _evaluate_features,
                    _pad_id, global_batches, make_accelerator, make_optimizer)

MULTITASK = "multitask"  # the record kind of MT-A runs in the run store
REGIME = "mt_a"  # the regime MT-A's per-task rows carry in result frames
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


@dataclass(frozen=True)
class MultiTaskConfig(TrainingSettings):
    """Everything that determines an MT-A run (``run_id`` is its hash); the shared fields are
    ``train.TrainingSettings``.

    ``tasks`` are kept sorted, so the same set of tasks is the same run. Defaults: Pfeiffer adapters (reduction
    factor 16, as ST-A) and full fine-tuning's learning rate, since the encoder is trained too."""

    tasks: tuple[str, ...]
    adapter: AdapterConfig = field(default_factory=AdapterConfig.pfeiffer)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.adapter, Mapping):
            object.__setattr__(self, "adapter", AdapterConfig.from_dict(dict(self.adapter)))
        object.__setattr__(self, "tasks", tuple(sorted(self.tasks)))
        formats = {t: get_task(t).format for t in self.tasks}  # TaskError on an unknown task
        problems = [
            len(self.tasks) < 2 and f"MT-A needs at least two tasks, got {list(self.tasks)}",
            len(set(self.tasks)) != len(self.tasks) and f"tasks must be distinct, got {list(self.tasks)}",
            *[f"task {t!r} is span_qa, which MT-A does not support" for t, f in formats.items() if f == "span_qa"],
        ]
        problems = [p for p in problems if p] + self.training_problems()
        if problems:
            raise ValueError("bad MultiTaskConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {**d, "tasks": list(self.tasks), "adapter": self.adapter.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MultiTaskConfig":
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown MultiTaskConfig fields {sorted(unknown)}")
        return cls(**d)

    @property
    def run_id(self) -> str:
        """``mt_a-<12 hex digits of the config's hash>``."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return f"{REGIME}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"

    @property
    def adapter_ids(self) -> list[str]:
        """How a fusion run names this run's adapters (``RunConfig(regime="fusion", fusion=...)``)."""
        return [f"{self.run_id}/{t}" for t in self.tasks]

    @property
    def label(self) -> str:
        return f"MT-A({len(self.tasks)} tasks) lr={self.lr:g} ep={self.epochs} seed={self.seed}"


@dataclass
class MultiTaskResult:
    """An MT-A run: ``metrics`` task -> split -> metric (at the best epoch on mean dev score); ``params`` task ->
    ``ParamCount`` fields of that task's model (everything is trained: encoder, all adapters, its head);
    ``history``: per epoch, train loss and steps per task, dev metrics per task and their mean."""

    run_id: str
    config: dict[str, Any]
    status: str
    metrics: dict[str, dict[str, dict[str, float]]]
    best_epoch: int | None
    history: list[dict[str, Any]]
    params: dict[str, dict[str, float]]
    wall_time: float
    examples_per_s: float
    processes: int = 1
    error: str | None = None
    kind: str = MULTITASK

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MultiTaskResult":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})

    @property
    def adapter_ids(self) -> list[str]:
        return MultiTaskConfig.from_dict(self.config).adapter_ids

    def per_task(self) -> list[RunResult]:
        """One RunResult per task (run id ``<run id>/<task>``, regime "mt_a"), so result frames and
        ``grid.select_best`` treat MT-A like any other method."""
        shared = {k: v for k, v in self.config.items() if k != "tasks"}
        return [RunResult(f"{self.run_id}/{task}", {**shared, "task": task, "regime": REGIME}, self.status,
                          self.metrics.get(task, {}), self.best_epoch,
                          [{"epoch": h["epoch"], "train_loss": h["train_loss"].get(task),
                            "validation": h["validation"].get(task)} for h in self.history],
                          self.params.get(task, {}), self.wall_time, self.examples_per_s, self.processes, self.error)
                for task in self.config["tasks"]]


def _endless_batches(
    lengths: list[int], batch_size: int, group_batches: int, generator: torch.Generator
) -> Iterator[list[int]]:
    """Batches of one task's training set (``train.global_batches``), redrawn after every pass (tasks run out at
    different times)."""
    while True:
        yield from global_batches(lengths, batch_size, generator, 1, group_batches)


def train_multitask(
    cfg: MultiTaskConfig, *, save_to: str | Path | None = None, eval_batch_size: int = 64, progress: bool = True
) -> MultiTaskResult:
    """Train and evaluate one MT-A run (see the module docstring). ``save_to``: where the best epoch's adapters
    (``adapters/<task>/``, al.save_adapter with the task's head) and fine-tuned encoder (``adapters/base.safetensors``)
    go. Raises TrainingDivergedError on a NaN/inf loss."""
    start = time.perf_counter()
    accelerator = make_accelerator()
    if accelerator.num_processes > 1:
        raise ValueError("MT-A runs in one process; launch it without torchrun / accelerate launch")
    device = accelerator.device
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
    data = {n: load_task(n, max_train=cfg.max_train, max_eval=cfg.max_eval, seed=DATA_SEED) for n in tasks}
    train_features = {n: encode(t, data[n]["train"], tokenizer, cfg.max_length, train=True) for n, t in tasks.items()}
    eval_sets = {n: {split: (ds, encode(t, ds, tokenizer, cfg.max_length, train=False))
                     for split, ds in data[n].items() if split != "train"} for n, t in tasks.items()}
    sizes = {n: len(f) for n, f in train_features.items()}
    trainable = [(n, p) for n, p in models.named_parameters() if p.requires_grad]  # shared encoder counted once
    steps_per_epoch = sum(math.ceil(n / cfg.batch_size) for n in sizes.values())
    optimizer, scheduler = make_optimizer(trainable, cfg.lr, cfg.weight_decay, cfg.warmup_ratio,
                                          steps_per_epoch * cfg.epochs)
    generator = torch.Generator().manual_seed(cfg.seed)
    streams = {n: _endless_batches([feature_length(f) for f in train_features[n]], cfg.batch_size, cfg.group_batches,
                                   generator) for n in tasks}
    pad_id = _pad_id(next(iter(models.values())))

    def evaluate_task(name: str, split: str) -> dict[str, float]:
        set_active_adapter(models[name], name)
        return _evaluate_features(models[name], tasks[name], *eval_sets[name][split], eval_batch_size)

    history: list[dict[str, Any]] = []
    best_score, best_epoch, best_state = -math.inf, None, None
    train_time, seen = 0.0, 0
    bar = tqdm(total=steps_per_epoch * cfg.epochs, desc=cfg.label, leave=False, disable=not progress)
    for epoch in range(1, cfg.epochs + 1):
        models.train()
        loss_sums = {n: [0.0, 0, 0] for n in tasks}  # loss x examples, examples, steps
        epoch_start = time.perf_counter()
        for name in task_schedule(sizes, steps_per_epoch, epoch, cfg.epochs, generator):
            indices = next(streams[name])
            batch = {k: v.to(device) for k, v in collate([train_features[name][i] for i in indices], pad_id).items()}
            loss = task_forward(models, name, **batch).loss
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_([p for _, p in trainable], cfg.max_grad_norm)
            if not torch.isfinite(grad_norm):
                message = (f"{cfg.run_id}: non-finite loss/gradient (loss {loss.item():.4g}, task {name}) at epoch "
                           f"{epoch}, step {bar.n + 1}; lower the learning rate (lr={cfg.lr:g})")
                bar.close()
                raise TrainingDivergedError(message, MultiTaskResult(
                    cfg.run_id, cfg.to_dict(), "failed", {}, None, history, params, time.perf_counter() - start, 0.0,
                    error=message))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sums[name][0] += loss.item() * len(indices)
            loss_sums[name][1] += len(indices)
            loss_sums[name][2] += 1
            seen += len(indices)
            bar.update()
        train_time += time.perf_counter() - epoch_start
        dev = {n: evaluate_task(n, "validation") for n in tasks}
        mean_dev = float(np.mean([m["score"] for m in dev.values()]))
        history.append({"epoch": epoch, "train_loss": {n: s / c if c else None for n, (s, c, _) in loss_sums.items()},
                        "steps": {n: steps for n, (_, _, steps) in loss_sums.items()},
                        "validation": dev, "mean_validation_score": mean_dev})
        bar.set_postfix(dev=f"{mean_dev:.1f}")
        if mean_dev > best_score or not cfg.keep_best_epoch:
            best_score, best_epoch = mean_dev, epoch
            best_state = {n: p.detach().clone() for n, p in trainable} if epoch < cfg.epochs else None
    bar.close()
    if best_state is not None:
        with torch.no_grad():
            for name, parameter in trainable:
                parameter.copy_(best_state[name])
    metrics = {n: {"validation": history[best_epoch - 1]["validation"][n],
                   **{split: evaluate_task(n, split) for split in eval_sets[n] if split != "validation"}}
               for n in tasks}
    if save_to is not None:
        save_multitask(models, Path(save_to))
    return MultiTaskResult(cfg.run_id, cfg.to_dict(), "ok", metrics, best_epoch, history, params,
                           time.perf_counter() - start, seen / max(train_time, 1e-9))


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
