"""One run: train one task under one regime, evaluate on dev every epoch, keep the best epoch, report every split.

As in both papers: AdamW, linear warm-up over the first ``warmup_ratio`` of the steps then linear decay to zero,
batch 32, gradient clipping; AdapterFusion's early stopping keeps the epoch with the best dev score.

The loop runs on ``accelerate``, so ``accelerate launch`` / ``torchrun`` spread a run over processes. Every step
draws one global batch of ``batch_size`` examples (the same order for any number of processes) and each process
takes its share, so a 2-process run follows the single-process run's schedule. Training batches are grouped by
length within shuffled windows of ``group_batches`` batches (``global_batches``): about 40% less padding on our
tasks, still a fresh random grouping every epoch. Evaluation gives each process
whole length-sorted batches and gathers the outputs: every example is counted exactly once.

    cfg = RunConfig(task="rt_polarity", regime="adapters", adapter=al.AdapterConfig.houlsby(64), lr=1e-3)
    result = train_and_evaluate(cfg)          # or RunStore().run(cfg): the same, recorded and resumable
    result.metrics["test"]["score"]
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from datasets import Dataset
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup, set_seed

from adapterlib.data.encoding import (MODEL_INPUTS, collate, encode, feature_length, length_sorted_batches, model_outputs, predictions,
                       qa_answers, references)
from adapterlib.core.fusion import add_fusion, fusion_regularization, save_fusion
from adapterlib.core.io import load_adapter, save_adapter
from adapterlib.data.metrics import compute_metrics
from adapterlib.core.inject import add_adapter, adapter_config_from_dict
from adapterlib.core.methods import MethodConfig, added_parameter_names
from adapterlib.core.models import load_model
from adapterlib.core.params import count_parameters
from adapterlib.core.trainable import REGIMES, head_parameter_names, set_trainable
from adapterlib.data.tasks import Task, get_task, load_task

TRAINED_WEIGHTS = "trained.safetensors"  # the trained parameters of non-adapter regimes, by model parameter name
ADAPTER_DIR = "adapter"  # al.save_adapter output (adapter + its LayerNorms + head)
FUSION_DIR = "fusion"  # al.save_fusion output (the head goes to TRAINED_WEIGHTS)
SHARED_BASE = "base.safetensors"  # a fine-tuned encoder next to the adapters trained with it (MT-A, see load_shared_base)
DATA_SEED = 0  # data caps draw the same examples for every run seed: seeds vary the training, not the data


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; ``result`` is the failed run (history up to that point)."""

    def __init__(self, message: str, result: "RunResult") -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    """The model, optimisation and data fields every run config shares (RunConfig, MultiTaskConfig), declared and
    validated once. Keyword-only, so each config keeps its own leading positional field (``task``, ``tasks``)."""

    model: str = "minilm-l6"
    lr: float = 3e-4
    epochs: int = 3
    batch_size: int = 32
    max_length: int = 128
    group_batches: int = 4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    max_train: int | None = None
    max_eval: int | None = None
    keep_best_epoch: bool = True
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_kwargs", dict(self.model_kwargs))

    def training_problems(self) -> list[str]:
        """What is wrong with these fields (the config's ``__post_init__`` raises them with its own)."""
        problems = [
            not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1) and f"lr must be in (0, 1), got {self.lr!r}",
            *[not (_is_int(value) and value >= low) and f"{name} must be an int >= {low}, got {value!r}"
              for name, value, low in (("epochs", self.epochs, 1), ("batch_size", self.batch_size, 1),
                                       ("max_length", self.max_length, 16), ("group_batches", self.group_batches, 1))],
            not 0 <= self.warmup_ratio < 1 and f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}",
            not self.weight_decay >= 0 and f"weight_decay must be >= 0, got {self.weight_decay!r}",
            not self.max_grad_norm > 0 and f"max_grad_norm must be > 0, got {self.max_grad_norm!r}",
            not _is_int(self.seed) and f"seed must be an int, got {self.seed!r}",
            *[cap is not None and not (_is_int(cap) and cap >= 1) and f"{name} must be None or an int >= 1, got {cap!r}"
              for name, cap in (("max_train", self.max_train), ("max_eval", self.max_eval))],
        ]
        return [p for p in problems if p]


@dataclass(frozen=True)
class RunConfig(TrainingSettings):
    """Everything that determines a run's result, and nothing else (``run_id`` is its hash).

    ``adapter`` is required for regime "adapters" (and only there); ``top_k`` for "top_k"; ``fusion`` (run ids of
    finished adapter runs, resolved through the run store) for "fusion". ``max_train``/``max_eval`` cap the splits
    (seeded, label-stratified). ``keep_best_epoch=False`` reports the last epoch instead of the best dev one.
    ``model_kwargs`` override the model config (e.g. ``{"num_hidden_layers": 2}``). ``group_batches``: training
    batches are grouped by length within shuffled windows of this many batches (1: plain shuffling).
    """

    task: str
    regime: str = "adapters"
    adapter: MethodConfig | None = None
    top_k: int | None = None
    fusion: tuple[str, ...] = ()
    doc_stride: int = 128

    def __post_init__(self) -> None:
        super().__post_init__()
        get_task(self.task)  # TaskError (a ValueError) naming the known tasks
        if isinstance(self.adapter, Mapping):
            object.__setattr__(self, "adapter", adapter_config_from_dict(dict(self.adapter)))
        object.__setattr__(self, "fusion", tuple(self.fusion))
        problems = [
            self.regime not in REGIMES and f"regime must be one of {REGIMES}, got {self.regime!r}",
            (self.regime == "adapters") != (self.adapter is not None)
            and f"adapter config is required for regime 'adapters' and only there (regime {self.regime!r})",
            (self.regime == "top_k") != (self.top_k is not None)
            and f"top_k is required for regime 'top_k' and only there (regime {self.regime!r})",
            self.top_k is not None and not (_is_int(self.top_k) and self.top_k >= 1) and f"top_k must be an int >= 1, got {self.top_k!r}",
            (self.regime == "fusion") != bool(self.fusion)
            and f"fusion (run ids of adapter runs) is required for regime 'fusion' and only there (regime {self.regime!r})",
            get_task(self.task).format == "span_qa" and not (_is_int(self.doc_stride) and 0 < self.doc_stride < self.max_length)
            and f"doc_stride must be an int in 1..max_length-1 (span_qa), got {self.doc_stride!r}",
        ]
        problems = [p for p in problems if p] + self.training_problems()
        if problems:
            raise ValueError(f"bad RunConfig for task {self.task!r}: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["adapter"] = self.adapter.to_dict() if self.adapter else None
        d["fusion"] = list(self.fusion)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunConfig":
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown RunConfig fields {sorted(unknown)}")
        return cls(**d)

    @property
    def run_id(self) -> str:
        """``<task>-<regime>-<12 hex digits of the config's hash>``: stable across processes and machines."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return f"{self.task}-{self.regime}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"

    @property
    def label(self) -> str:
        """A short human-readable description (progress bars, logs)."""
        what = {"adapters": f"adapters({self.adapter.label})" if self.adapter else "", "top_k": f"top_{self.top_k}", "fusion": f"fusion({len(self.fusion)})"}
        return f"{self.task} {what.get(self.regime, self.regime)} lr={self.lr:g} ep={self.epochs} seed={self.seed}"


def make_accelerator() -> Accelerator:
    """The process's Accelerator. Under ``torchrun`` without GPUs accelerate stays single-process unless told
    ``cpu=True``; with it, the processes join one gloo group (``accelerate launch`` sets this by itself)."""
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    return Accelerator(cpu=multi_cpu)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass
class RunResult:
    """``metrics``: split -> metric -> value, at the best dev epoch (``best_epoch``, 1-based); ``history``: one
    entry per epoch (train loss, dev metrics); ``params``: ``ParamCount`` fields; ``examples_per_s``: training
    throughput over all processes, evaluation excluded."""

    run_id: str
    config: dict[str, Any]
    status: str  # "ok" or "failed"
    metrics: dict[str, dict[str, float]]
    best_epoch: int | None
    history: list[dict[str, Any]]
    params: dict[str, float]
    wall_time: float
    examples_per_s: float
    processes: int = 1
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunResult":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


def build_model(
    cfg: RunConfig, adapter_dir: Callable[[str], Path] | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model ``cfg`` trains, with exactly the regime's parameters trainable; seeded, so the fresh head and
    adapter are the same for a given seed. ``adapter_dir`` maps the run ids of ``cfg.fusion`` to saved adapters."""
    task = get_task(cfg.task)
    set_seed(cfg.seed)
    model, tokenizer = load_model(cfg.model, task_format=task.format, num_labels=task.num_labels, **cfg.model_kwargs)
    if cfg.max_length > model.config.max_position_embeddings:
        raise ValueError(f"max_length {cfg.max_length} exceeds the model's {model.config.max_position_embeddings} positions")
    if cfg.regime == "adapters":
        add_adapter(model, task.name, cfg.adapter)
    if cfg.regime == "fusion":
        if adapter_dir is None:
            raise ValueError("a fusion run needs adapter_dir (a RunStore) to find the adapters it fuses")
        directories = [adapter_dir(run_id) for run_id in cfg.fusion]
        load_shared_base(model, directories)
        names = [load_adapter(model, d, load_layernorms=False, load_head=False) for d in directories]
        add_fusion(model, names)
    set_trainable(model, cfg.regime, adapter=task.name if cfg.adapter else None, k=cfg.top_k)
    return model, tokenizer


def load_shared_base(model: PreTrainedModel, adapter_dirs: list[Path]) -> None:
    """Adapters trained jointly with a fine-tuned encoder (MT-A) keep that encoder beside them, in
    ``<adapter dir>/../base.safetensors``: fusing them must start from it. Adapters of different bases cannot be fused."""
    bases = {d.parent / SHARED_BASE if (d.parent / SHARED_BASE).is_file() else None for d in adapter_dirs}
    if len(bases) > 1:
        raise ValueError(f"cannot fuse adapters trained on different base weights: {sorted(map(str, bases))}")
    base = bases.pop()
    if base is None:
        return
    missing, unexpected = model.base_model.load_state_dict(load_file(base), strict=False)
    if unexpected or set(missing) - added_parameter_names(model.base_model):
        raise ValueError(f"{base} does not fit this model (unexpected {unexpected[:3]}, missing {missing[:3]})")


def predict(
    model: PreTrainedModel, task: Task, features: list[dict], batch_size: int, accelerator: Accelerator | None = None
) -> list[np.ndarray]:
    """Raw outputs for every feature, in order. Length-sorted batches are dealt to the processes round-robin and
    gathered back, so nothing is padded or counted twice."""
    rank, world = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    local = []
    with torch.no_grad():
        for indices in length_sorted_batches(features, batch_size)[rank::world]:
            batch = collate([features[i] for i in indices], _pad_id(model))
            inputs = {k: v.to(device) for k, v in batch.items() if k in MODEL_INPUTS}
            local.extend(zip(indices, model_outputs(task, model(**inputs), batch)))
    model.train(was_training)
    outputs = dict(gather_object(local) if world > 1 else local)
    return [outputs[i] for i in range(len(features))]


def _pad_id(model: PreTrainedModel) -> int:
    return model.config.pad_token_id if model.config.pad_token_id is not None else 0


def _evaluate_features(
    model: PreTrainedModel, task: Task, dataset: Dataset, features: list[dict], batch_size: int,
    accelerator: Accelerator | None = None,
) -> dict[str, float]:
    outputs = predict(model, task, features, batch_size, accelerator)
    preds = qa_answers(dataset, features, outputs) if task.format == "span_qa" else predictions(task, outputs)
    return compute_metrics(task, preds, references(task, dataset))


def evaluate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    task: Task | str,
    dataset: Dataset,
    *,
    max_length: int = 128,
    doc_stride: int = 128,
    batch_size: int = 64,
    accelerator: Accelerator | None = None,
) -> dict[str, float]:
    """The task's metrics for ``model`` on ``dataset`` (e.g. under ``al.adapters_removed`` for the ablation);
    with an ``accelerator``, the processes share the work."""
    task = get_task(task) if isinstance(task, str) else task
    features = encode(task, dataset, tokenizer, max_length, train=False, doc_stride=doc_stride)
    return _evaluate_features(model, task, dataset, features, batch_size, accelerator)


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


def train_and_evaluate(
    cfg: RunConfig,
    *,
    save_to: str | Path | None = None,
    save_full_weights: bool = False,
    adapter_dir: Callable[[str], Path] | None = None,
    eval_batch_size: int = 64,
    progress: bool = True,
) -> RunResult:
    """Train and evaluate one run (see the module docstring). ``save_to``: where the main process writes the
    best epoch's trained weights (adapter regimes always; full fine-tuning only with ``save_full_weights``).
    Raises TrainingDivergedError on a NaN/inf loss."""
    start = time.perf_counter()
    accelerator = make_accelerator()
    world = accelerator.num_processes
    task = get_task(cfg.task)
    data = load_task(cfg.task, max_train=cfg.max_train, max_eval=cfg.max_eval, seed=DATA_SEED)
    model, tokenizer = build_model(cfg, adapter_dir)
    counts = count_parameters(model)
    params = {**dataclasses.asdict(counts), "trainable_pct": counts.trainable_pct}

    def featurize(ds: Dataset, train: bool) -> list[dict]:
        return encode(task, ds, tokenizer, cfg.max_length, train=train, doc_stride=cfg.doc_stride)

    train_features = featurize(data["train"], True)
    eval_sets = {split: (ds, featurize(ds, False)) for split, ds in data.items() if split != "train"}
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(cfg.seed)
    lengths = [feature_length(f) for f in train_features]
    steps_per_epoch = len(global_batches(lengths, cfg.batch_size, torch.Generator(), world))
    total_steps = steps_per_epoch * cfg.epochs
    optimizer, scheduler = make_optimizer(trainable, cfg.lr, cfg.weight_decay, cfg.warmup_ratio, total_steps)
    ddp_model, optimizer = accelerator.prepare(model, optimizer)
    pad_id = _pad_id(model)

    history: list[dict[str, Any]] = []
    best_score, best_epoch, best_state = -math.inf, None, None
    train_time, seen = 0.0, 0
    bar = tqdm(total=total_steps, desc=cfg.label, leave=False, disable=not (progress and accelerator.is_main_process))
    for epoch in range(1, cfg.epochs + 1):
        ddp_model.train()
        loss_sum = torch.zeros(2)  # sum of per-example losses, examples: this process's share
        epoch_start = time.perf_counter()
        for batch_indices in global_batches(lengths, cfg.batch_size, generator, world, cfg.group_batches):
            local = batch_indices[accelerator.process_index::world]
            batch = {k: v.to(accelerator.device) for k, v in collate([train_features[i] for i in local], pad_id).items()}
            loss = ddp_model(**batch).loss
            loss_sum += torch.tensor([loss.item() * len(local), len(local)])
            # Each process's mean loss, weighted by its share: DDP's gradient average is then the global batch mean.
            objective = loss * (len(local) * world / len(batch_indices))
            regularization = fusion_regularization(model)
            accelerator.backward(objective if regularization is None else objective + regularization)
            grad_norm = accelerator.clip_grad_norm_([p for _, p in trainable], cfg.max_grad_norm)
            if not torch.isfinite(grad_norm):  # the same on every process: gradients are already averaged
                message = (f"{cfg.run_id}: non-finite loss/gradient (loss {loss.item():.4g}) at epoch {epoch}, "
                           f"step {bar.n + 1}; lower the learning rate (lr={cfg.lr:g})")
                bar.close()
                raise TrainingDivergedError(message, _result(cfg, "failed", {}, None, history, params, start, 0.0,
                                                             world, message))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            seen += len(batch_indices)
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        train_time += time.perf_counter() - epoch_start
        loss_sum = accelerator.reduce(loss_sum.to(accelerator.device), "sum").cpu() if world > 1 else loss_sum
        dev = _evaluate_features(model, task, *eval_sets["validation"], eval_batch_size, accelerator)
        history.append({"epoch": epoch, "train_loss": float(loss_sum[0] / loss_sum[1]), "validation": dev})
        bar.set_postfix(dev=f"{dev['score']:.1f}")
        if dev["score"] > best_score or not cfg.keep_best_epoch:
            best_score, best_epoch = dev["score"], epoch
            if epoch < cfg.epochs:  # the last epoch's weights are already in the model
                best_state = {n: p.detach().clone() for n, p in trainable}
            else:
                best_state = None
    bar.close()
    if best_state is not None:
        with torch.no_grad():
            for name, parameter in trainable:
                parameter.copy_(best_state[name])
    metrics = {"validation": history[best_epoch - 1]["validation"]}
    metrics.update({split: _evaluate_features(model, task, ds, feats, eval_batch_size, accelerator)
                    for split, (ds, feats) in eval_sets.items() if split != "validation"})
    if save_to is not None and accelerator.is_main_process:
        save_trained(model, cfg, Path(save_to), save_full_weights)
    accelerator.wait_for_everyone()
    return _result(cfg, "ok", metrics, best_epoch, history, params, start, seen / max(train_time, 1e-9), world)


def _result(cfg: RunConfig, status: str, metrics: dict, best_epoch: int | None, history: list, params: dict,
            start: float, examples_per_s: float, world: int, error: str | None = None) -> RunResult:
    return RunResult(cfg.run_id, cfg.to_dict(), status, metrics, best_epoch, history, params,
                     time.perf_counter() - start, examples_per_s, world, error)


def save_trained(model: PreTrainedModel, cfg: RunConfig, directory: Path, full_weights: bool = False) -> list[Path]:
    """Write what the run trained: the adapter (al.save_adapter format) for adapter runs; the fusion layers
    (al.save_fusion) and the trained head for fusion runs; the trained parameters otherwise (for full
    fine-tuning only with ``full_weights``: a whole model per run is too big to keep by default)."""
    directory.mkdir(parents=True, exist_ok=True)
    if cfg.regime == "adapters":
        return [save_adapter(model, cfg.task, directory / ADAPTER_DIR)]
    if cfg.regime == "full" and not full_weights:
        return []
    written, names = [], {n for n, p in model.named_parameters() if p.requires_grad}
    if cfg.regime == "fusion":
        written, names = [save_fusion(model, directory / FUSION_DIR)], head_parameter_names(model)
    parameters = dict(model.named_parameters())
    save_file({n: parameters[n].detach().cpu().contiguous() for n in sorted(names)}, directory / TRAINED_WEIGHTS)
    return [*written, directory / TRAINED_WEIGHTS]
