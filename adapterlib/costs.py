"""What a run will cost before it runs: GPU-hours from a count of training FLOPs, and the disk the run store keeps.

GPU time. No GPU was at hand where this was written, so the time is computed, not measured: training FLOPs per
token of a Transformer encoder with ``L`` layers of width ``d`` are about ``6 N + 6 L T d`` with ``N = 12 L d^2``
(Kaplan et al. 2020, *Scaling Laws for Neural Language Models*, Table 1: forward ``2 N + 2 L T d``, backward twice
the forward). A frozen weight still passes gradients back but computes none of its own, so a regime that trains
a share ``s`` of the encoder costs ``(4 + 2 s) N`` (full fine-tuning and MT-A ``s = 1``, top-k ``k / L``; adapters,
LayerNorm, head and fusion ``s = 0``; the adapters' and fusion layers' own FLOPs are left out). Every example is
counted at the run's ``max_length`` (an upper bound: batches are grouped by length), one sequence per answer
choice for multiple choice; evaluation is left out. The device is ``REFERENCE_GPU`` at ``UTILISATION`` of its
peak (an assumption, typical of BERT fine-tuning in mixed precision; no measurement behind it here).

Disk: what ``runner.single.save_trained`` and ``runner.multitask`` write, counted exactly on a model of the run's
shape built on the ``meta`` device (no weights, no download), in fp32: adapter runs their adapter, LayerNorms and
head; fusion runs the fusion layers and head; MT-A runs the encoder and every task's adapter and head; the other
regimes nothing unless their weights are asked for (``keep_weights``), since no study reads them back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch

from adapterlib.core.fusion import add_fusion
from adapterlib.core.inject import add_adapter
from adapterlib.core.models import model_path
from adapterlib.core.params import count_parameters
from adapterlib.core.trainable import set_trainable
from adapterlib.data.tasks import get_task
from adapterlib.runner.settings import MultiTaskConfig, RunConfig
from adapterlib.runner.single import RELOADED_REGIMES

# (layers, hidden size, vocabulary) of each base model, from its config.json on the hub (the embedded MiniLM's
# from its package).
MODEL_SHAPES = {"bert-large-uncased": (24, 1024, 30522), "bert-base-uncased": (12, 768, 30522),
                "roberta-base": (12, 768, 50265), "minilm-l6": (6, 384, 30522)}
REFERENCE_GPU = "NVIDIA A100"
PEAK_FLOPS = {"fp32": 19.5e12, "mixed": 312e12}  # NVIDIA A100 datasheet: FP32, and dense BF16/FP16 tensor cores
UTILISATION = 0.3
# Training examples of the papers' hub tasks, from their dataset cards (train split; MNLI-mm trains on MNLI).
# A task missing here (the local-only ones, Crowdflower) has no time estimate: the plan says how many runs lack one.
TRAIN_EXAMPLES = {"cola": 8551, "sst2": 67349, "mrpc": 3668, "stsb": 5749, "qqp": 363846, "mnli": 392702,
                  "mnli_mm": 392702, "qnli": 104743, "rte": 2490, "squad": 87599, "imdb": 25000,
                  "winogrande": 40398, "hellaswag": 39905, "social_i_qa": 33410, "cosmos_qa": 25262,
                  "scitail": 23596, "commonsense_qa": 9741, "boolq": 9427, "sick": 4439, "cb": 250,
                  "newsgroups20": 11314}
BYTES_PER_PARAMETER = 4  # fp32 safetensors


@dataclass(frozen=True)
class RunCost:
    """``gpu_hours``: None where a task's training size is unknown; ``disk_bytes``: what the store keeps."""

    gpu_hours: float | None
    disk_bytes: int


def run_cost(cfg: RunConfig | MultiTaskConfig, *, keep_weights: bool = False) -> RunCost:
    """The estimated GPU time and store size of one run (see the module docstring for where both come from)."""
    tasks = cfg.tasks if isinstance(cfg, MultiTaskConfig) else (cfg.task,)
    regime = "full" if isinstance(cfg, MultiTaskConfig) else cfg.regime  # MT-A trains the encoder too
    flops = [_training_flops(cfg, task, regime) for task in tasks]
    peak = PEAK_FLOPS["fp32" if cfg.precision == "fp32" else "mixed"]
    hours = None if None in flops else sum(flops) / (peak * UTILISATION) / 3600
    return RunCost(hours, BYTES_PER_PARAMETER * _kept_parameters(cfg, keep_weights))


def _shape(cfg: RunConfig | MultiTaskConfig) -> tuple[int, int, int]:
    layers, hidden, vocab = MODEL_SHAPES.get(cfg.model) or _config_shape(cfg.model)
    return cfg.model_kwargs.get("num_hidden_layers", layers), hidden, vocab


@cache
def _config_shape(model: str) -> tuple[int, int, int]:
    """(layers, hidden size, vocabulary) from the config.json of a model not in MODEL_SHAPES (a local directory,
    or a hub id in the local cache): the plan reads no weights and needs no network for it."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(model_path(model), local_files_only=True)
    except OSError:
        raise ValueError(f"no shape for model {model!r}: not in adapterlib.costs.MODEL_SHAPES and no local "
                         "config.json; add its layers, hidden size and vocabulary there") from None
    return config.num_hidden_layers, config.hidden_size, config.vocab_size


def _training_flops(cfg: RunConfig | MultiTaskConfig, task: str, regime: str) -> float | None:
    examples = min(filter(None, (cfg.max_train, TRAIN_EXAMPLES.get(task))), default=None)
    if examples is None:
        return None
    layers, hidden, _ = _shape(cfg)
    spec = get_task(task)
    sequences = spec.num_labels if spec.format == "multiple_choice" else 1
    trained_share = {"full": 1.0, "top_k": (getattr(cfg, "top_k", None) or 0) / layers}.get(regime, 0.0)
    n = 12 * layers * hidden ** 2
    length = cfg.max_length_of(task)
    per_token = (4 + 2 * trained_share) * n + 6 * layers * length * hidden
    return per_token * length * sequences * examples * cfg.epochs


def _kept_parameters(cfg: RunConfig | MultiTaskConfig, keep_weights: bool) -> int:
    if isinstance(cfg, MultiTaskConfig):
        base = _counted(cfg, "full", "single", 2)["total"]
        per_task = [_counted(cfg, "adapters", get_task(t).format, get_task(t).num_labels)["trainable"] for t in cfg.tasks]
        return base + sum(per_task)
    if cfg.regime not in RELOADED_REGIMES and not keep_weights:
        return 0
    spec = get_task(cfg.task)
    return _counted(cfg, cfg.regime, spec.format, spec.num_labels)["trainable"]


def _counted(cfg: RunConfig | MultiTaskConfig, regime: str, task_format: str, num_labels: int) -> dict[str, int]:
    """Total and trainable parameters of ``cfg``'s model shape under ``regime`` (cached per distinct shape)."""
    adapter = getattr(cfg, "adapter", None)
    return _count(_shape(cfg), regime, task_format, num_labels, adapter, getattr(cfg, "top_k", None),
                  len(getattr(cfg, "fusion", ())))


@cache
def _count(shape: tuple[int, int, int], regime: str, task_format: str, num_labels: int, adapter: Any,
           top_k: int | None, n_fused: int) -> dict[str, int]:
    from transformers import (BertConfig, BertForMultipleChoice, BertForQuestionAnswering,
                              BertForSequenceClassification)

    layers, hidden, vocab = shape
    config = BertConfig(num_hidden_layers=layers, hidden_size=hidden, intermediate_size=4 * hidden,
                        num_attention_heads=max(1, hidden // 64), vocab_size=vocab,
                        num_labels=1 if task_format == "regression" else max(num_labels, 2))
    model_class = {"multiple_choice": BertForMultipleChoice, "span_qa": BertForQuestionAnswering}.get(
        task_format, BertForSequenceClassification)
    with torch.device("meta"):
        model = model_class(config)
        if regime == "adapters":
            add_adapter(model, "a", adapter)
        elif regime == "fusion":
            from adapterlib.runner.scale_grids import ST_A

            names = [f"a{i}" for i in range(n_fused)]
            for name in names:
                add_adapter(model, name, ST_A)
            add_fusion(model, names)
    set_trainable(model, regime, adapter="a" if regime == "adapters" else None, k=top_k)
    counts = count_parameters(model)
    return {"total": int(counts.total), "trainable": int(counts.trainable)}


def human_bytes(n: float) -> str:
    """``n`` bytes as B / KB / MB / GB / TB (powers of 1000, as disks are sold)."""
    if n <= 0:
        return "0 B"
    unit = min(int(math.log10(n) // 3), 4)
    return f"{n / 1000 ** unit:.3g} {('B', 'KB', 'MB', 'GB', 'TB')[unit]}"
