"""Multi-task adapters (MT-A): one encoder shared by all tasks, one adapter and one head per task, trained jointly.

AdapterFusion's MT-A follows Stickland & Murray (2019): the shared encoder is fine-tuned along with the per-task
adapters and heads. Each step draws one task and a batch of it; tasks are drawn with probability proportional to
N_t^alpha, alpha annealed from 1 (proportional to size) to 0.2 over training (Stickland & Murray's schedule:
alpha = 1 - 0.8 (e - 1) / (E - 1) in epoch e of E), so large tasks dominate early and small ones are not drowned.
The per-task adapters are then fusable like single-task ones.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .config import AdapterConfig
from .model import add_adapter, set_active_adapter
from .models import load_model


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
