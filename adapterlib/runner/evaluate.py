"""Evaluation: a model's outputs on encoded features and the task's metrics from them.

Evaluation gives each process whole length-sorted batches and gathers the outputs: every example is counted
exactly once, whatever the number of processes. It runs under ``torch.inference_mode`` in the run's precision
(``loop.autocast``): a run is evaluated (dev after every epoch, then test) in the arithmetic it was trained in.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from adapterlib.data.encoding import (MODEL_INPUTS, collate, encode, length_sorted_batches, model_outputs, predictions,
                                      qa_answers, references)
from adapterlib.data.metrics import compute_metrics
from adapterlib.data.tasks import Task, get_task
from adapterlib.runner.loop import autocast, resolve_precision


def pad_id(model: PreTrainedModel) -> int:
    """The token id batches of ``model`` are padded with (0 where the config names none)."""
    return model.config.pad_token_id if model.config.pad_token_id is not None else 0


def predict(
    model: PreTrainedModel, task: Task, features: list[dict], batch_size: int, accelerator: Accelerator | None = None,
    precision: str = "fp32", on_batch: Callable[[dict[str, torch.Tensor]], None] | None = None,
) -> list[np.ndarray]:
    """Raw outputs for every feature, in order (fp32 numpy whatever ``precision``). Length-sorted batches are dealt
    to the processes round-robin and gathered back, so nothing is padded or counted twice. ``on_batch(batch)`` runs
    after each of this process's forward passes (e.g. to read what the model recorded, see ``fusion_attention``)."""
    rank, world = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    local = []
    with torch.inference_mode(), autocast(resolve_precision(precision, device), device):
        for indices in length_sorted_batches(features, batch_size)[rank::world]:
            batch = collate([features[i] for i in indices], pad_id(model))
            inputs = {k: v.to(device) for k, v in batch.items() if k in MODEL_INPUTS}
            local.extend(zip(indices, model_outputs(task, model(**inputs), batch)))
            if on_batch is not None:
                on_batch(batch)
    model.train(was_training)
    outputs = dict(gather_object(local) if world > 1 else local)
    return [outputs[i] for i in range(len(features))]


@dataclass(frozen=True)
class Evaluation:
    """One split's metrics with the per-example predictions and gold references behind them (plain JSON values:
    int labels, float scores, answer strings), which a run records so intervals need no retraining."""

    metrics: dict[str, float]
    predictions: list
    references: list


def evaluate_split(
    model: PreTrainedModel, task: Task, dataset: Dataset, features: list[dict], batch_size: int,
    accelerator: Accelerator | None = None, precision: str = "fp32",
    on_batch: Callable[[dict[str, torch.Tensor]], None] | None = None,
) -> Evaluation:
    """The task's metrics and predictions on ``dataset`` from its already encoded ``features`` (a run encodes its
    splits once), evaluated in ``precision``; ``on_batch`` as for ``predict``."""
    outputs = predict(model, task, features, batch_size, accelerator, precision, on_batch)
    preds = qa_answers(dataset, features, outputs) if task.format == "span_qa" else predictions(task, outputs).tolist()
    golds = references(task, dataset)
    return Evaluation(compute_metrics(task, preds, golds), preds, golds)


def evaluate_features(
    model: PreTrainedModel, task: Task, dataset: Dataset, features: list[dict], batch_size: int,
    accelerator: Accelerator | None = None, precision: str = "fp32",
) -> dict[str, float]:
    """The task's metrics on ``dataset`` (``evaluate_split`` without the predictions)."""
    return evaluate_split(model, task, dataset, features, batch_size, accelerator, precision).metrics


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
    return evaluate_features(model, task, dataset, features, batch_size, accelerator)
