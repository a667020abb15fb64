"""One run: train one task under one regime (or a fusion of finished adapter runs) with the training loop
(``loop.train_epochs``), keep the best dev epoch, report every split.

Every step draws one global batch of ``batch_size`` examples (the same order for any number of processes) and each
process takes its share, so a 2-process run follows the single-process run's schedule. Training batches are grouped
by length within shuffled windows of ``group_batches`` batches (``loop.global_batches``): about 40% less padding on
our tasks, still a fresh random grouping every epoch.

    cfg = RunConfig(task="rt_polarity", regime="adapters", adapter=al.AdapterConfig.houlsby(64), lr=1e-3)
    result = train_and_evaluate(cfg)          # or RunStore().run(cfg): the same, recorded and resumable
    result.metrics["test"]["score"]
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from datasets import Dataset
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed

from adapterlib.core.fusion import add_fusion, recording_fusion_attention, save_fusion
from adapterlib.core.inject import add_adapter
from adapterlib.core.io import load_adapter, save_adapter
from adapterlib.core.models import load_model
from adapterlib.core.params import count_parameters
from adapterlib.core.methods import added_parameter_names
from adapterlib.core.trainable import head_parameter_names, set_trainable
from adapterlib.data.encoding import collate, feature_length
from adapterlib.data.tasks import Task, get_task
from adapterlib.runner.cache import encoded_splits
from adapterlib.runner.checkpoint import EpochCheckpoint
from adapterlib.runner.evaluate import Evaluation, evaluate_split, pad_id
from adapterlib.runner.fusion_attention import FusionAttention
from adapterlib.runner.loop import (RunKind, TrainingBatch, TrainingDivergedError, global_batches, make_accelerator,
                                    train_epochs)
from adapterlib.runner.settings import DATA_SEED, RunConfig, RunResult

TRAINED_WEIGHTS = "trained.safetensors"  # the trained parameters of non-adapter regimes, by model parameter name
ADAPTER_DIR = "adapter"  # al.save_adapter output (adapter + its LayerNorms + head)
FUSION_DIR = "fusion"  # al.save_fusion output (the head goes to TRAINED_WEIGHTS)
# The regimes whose weights a later study reloads: fusion fuses adapter runs, Houlsby's Fig. 6 ablates them, the
# fusion attention figure reads fusion runs. The others keep their weights only when asked (``keep_weights``).
RELOADED_REGIMES = ("adapters", "fusion")
SHARED_BASE = "base.safetensors"  # a fine-tuned encoder next to the adapters trained with it (MT-A, see load_shared_base)


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


def single_task_kind(
    model: PreTrainedModel, task: Task, cfg: RunConfig, train_features: list[dict], dev: tuple[Dataset, list[dict]],
    accelerator: Accelerator, eval_batch_size: int, dev_evaluations: list[Evaluation],
) -> RunKind:
    """One task: every step one global batch (``global_batches``), this process's share of it; dev is the task's.
    Each epoch's dev evaluation is appended to ``dev_evaluations`` (the best epoch's predictions are recorded);
    a fusion run's dev fields add its attention statistics (``FusionAttention.statistics``) per epoch."""
    world, rank = accelerator.num_processes, accelerator.process_index
    generator = torch.Generator().manual_seed(cfg.seed)
    lengths = [feature_length(f) for f in train_features]

    def batches(epoch: int):
        for batch_indices in global_batches(lengths, cfg.batch_size, generator, world, cfg.group_batches):
            local = batch_indices[rank::world]
            inputs = collate([train_features[i] for i in local], pad_id(model))
            yield TrainingBatch(task.name, model, {k: v.to(accelerator.device) for k, v in inputs.items()},
                                len(local), len(batch_indices))

    def score_dev() -> tuple[float, dict[str, Any]]:
        if cfg.regime != "fusion":
            dev_evaluations.append(evaluate_split(model, task, *dev, eval_batch_size, accelerator, cfg.precision))
            return dev_evaluations[-1].metrics["score"], {"validation": dev_evaluations[-1].metrics}
        # A fusion run's curve also says whether its attention left the uniform start (over the whole dev split).
        with recording_fusion_attention(model) as layers:
            attention = FusionAttention(layers)
            dev_evaluations.append(evaluate_split(model, task, *dev, eval_batch_size, accelerator, cfg.precision,
                                                  on_batch=attention.add))
        statistics = attention.across_processes(accelerator).statistics()
        return dev_evaluations[-1].metrics["score"], {"validation": dev_evaluations[-1].metrics, **statistics}

    def load_state(state: dict[str, Any]) -> None:
        generator.set_state(state["generator"])
        dev_evaluations[:] = state["dev_evaluations"]

    return RunKind(tasks=(task.name,), steps_per_epoch=len(global_batches(lengths, cfg.batch_size, torch.Generator(), world)),
                   batches=batches, loss=lambda prepared, batch: prepared(**batch.inputs).loss, score_dev=score_dev,
                   loss_fields=lambda sums: {"train_loss": float(sums[0, 0] / sums[0, 1])},
                   state=lambda: {"generator": generator.get_state(), "dev_evaluations": list(dev_evaluations)},
                   load_state=load_state)


def train_and_evaluate(
    cfg: RunConfig,
    *,
    save_to: str | Path | None = None,
    keep_weights: bool = False,
    adapter_dir: Callable[[str], Path] | None = None,
    eval_batch_size: int = 64,
    progress: bool = True,
    epoch_extra: Callable[[PreTrainedModel], dict[str, Any]] | None = None,
    checkpoint: EpochCheckpoint | None = None,
) -> RunResult:
    """Train and evaluate one run (see the module docstring). ``save_to``: where the main process writes the
    best epoch's trained weights (``RELOADED_REGIMES`` always, the others only with ``keep_weights``).
    ``epoch_extra(model)``: more fields for each epoch's history entry. ``checkpoint``: where each epoch's end is
    kept and an interrupted run resumes from (``runner.checkpoint``). Raises TrainingDivergedError on a NaN/inf loss."""
    start = time.perf_counter()
    accelerator = make_accelerator(cfg.precision)
    task = get_task(cfg.task)
    model, tokenizer = build_model(cfg, adapter_dir)
    counts = count_parameters(model)
    params = {**dataclasses.asdict(counts), "trainable_pct": counts.trainable_pct}
    splits = encoded_splits(cfg.task, tokenizer, **cfg.caps, seed=DATA_SEED,
                            max_length=cfg.max_length, doc_stride=cfg.doc_stride)
    train_features = splits["train"].features
    eval_sets = {split: (s.dataset, s.features) for split, s in splits.items() if split != "train"}
    dev_evaluations: list[Evaluation] = []
    kind = single_task_kind(model, task, cfg, train_features, eval_sets["validation"], accelerator, eval_batch_size,
                            dev_evaluations)
    training = train_epochs(model, kind, cfg, accelerator, run_id=cfg.run_id, label=cfg.label, progress=progress,
                            epoch_extra=epoch_extra and (lambda: epoch_extra(model)), checkpoint=checkpoint)

    def result(status: str, evaluations: dict[str, Evaluation]) -> RunResult:
        return RunResult(cfg.run_id, cfg.to_dict(), status, {s: e.metrics for s, e in evaluations.items()},
                         training.best_epoch, training.history, params, time.perf_counter() - start,
                         training.examples_per_s, accelerator.num_processes, training.error,
                         {s: e.predictions for s, e in evaluations.items()},
                         {s: e.references for s, e in evaluations.items()}, training.train_time)

    if training.error:
        raise TrainingDivergedError(training.error, result("failed", {}))
    evaluations = {"validation": dev_evaluations[training.best_epoch - 1]}
    evaluations.update({split: evaluate_split(model, task, ds, feats, eval_batch_size, accelerator, cfg.precision)
                        for split, (ds, feats) in eval_sets.items() if split != "validation"})
    if save_to is not None and accelerator.is_main_process:
        save_trained(model, cfg, Path(save_to), keep_weights)
    accelerator.wait_for_everyone()
    return result("ok", evaluations)


def save_trained(model: PreTrainedModel, cfg: RunConfig, directory: Path, keep_weights: bool = False) -> list[Path]:
    """Write what a later study reads of the run: the adapter (al.save_adapter format) for adapter runs; the fusion
    layers (al.save_fusion) and the trained head for fusion runs; the trained parameters of the other regimes only
    with ``keep_weights`` (no study reads them, and full or top-k weights are up to a whole model per run)."""
    directory.mkdir(parents=True, exist_ok=True)
    if cfg.regime == "adapters":
        return [save_adapter(model, cfg.task, directory / ADAPTER_DIR)]
    if cfg.regime not in RELOADED_REGIMES and not keep_weights:
        return []
    written, names = [], {n for n, p in model.named_parameters() if p.requires_grad}
    if cfg.regime == "fusion":
        written, names = [save_fusion(model, directory / FUSION_DIR)], head_parameter_names(model)
    parameters = dict(model.named_parameters())
    save_file({n: parameters[n].detach().cpu().contiguous() for n in sorted(names)}, directory / TRAINED_WEIGHTS)
    return [*written, directory / TRAINED_WEIGHTS]
