"""What a run is (its config, validated and hashed into its run id) and what it gives (its result record).

``TrainingSettings`` are the fields every run kind shares; ``RunConfig`` is one task under one regime (single-task,
or fusion over finished adapter runs), ``MultiTaskConfig`` one MT-A run over several tasks. A config's ``to_dict``
is its record and its hash is its run id, so a config is everything that determines a result and nothing else.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from adapterlib.core.config import AdapterConfig
from adapterlib.core.inject import adapter_config_from_dict
from adapterlib.core.methods import MethodConfig
from adapterlib.core.trainable import REGIMES
from adapterlib.data.tasks import get_task

DATA_SEED = 0  # data caps draw the same examples for every run seed: seeds vary the training, not the data
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
MULTITASK = "multitask"  # the record kind of MT-A runs in the run store
MT_A = "mt_a"  # the regime MT-A's per-task rows carry in result frames (and its run ids' prefix)
# Fields a config's dict (what run ids hash) leaves out at these values: every run recorded before the field existed
# ran at that value (fp32; test capped as validation; MT-A at one length), so their run ids and records stay valid.
LEFT_OUT_AT = {"precision": "fp32", "max_test": None, "task_max_length": {}}


def is_int(x: Any) -> bool:
    """An int that is not a bool (``True`` is not a batch size)."""
    return isinstance(x, int) and not isinstance(x, bool)


def _plain(value: Any) -> Any:
    """A config field as JSON: adapter configs as dicts, tuples as lists."""
    if hasattr(value, "to_dict"):  # an adapter config of any method
        return value.to_dict()
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    """The model, optimisation and data fields every run config shares, declared, validated, serialised and hashed
    once. Keyword-only, so each config keeps its own leading positional field (``task``, ``tasks``).

    ``precision``: "fp32" (exact), "bf16" (torch.autocast, CPU or CUDA), "fp16" (accelerate's mixed precision with
    loss scaling, CUDA only), "auto" (bf16 on a CUDA device that supports it, else fp32); off fp32, CUDA matmuls
    use TF32. Evaluation always runs in fp32."""

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
    max_test: int | None = None
    keep_best_epoch: bool = True
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    precision: str = "fp32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_kwargs", dict(self.model_kwargs))
        # both configs take their adapter as a config of any method or as its dict (a record's config)
        if isinstance(getattr(self, "adapter", None), Mapping):
            object.__setattr__(self, "adapter", adapter_config_from_dict(dict(self.adapter)))

    def training_problems(self) -> list[str]:
        """What is wrong with these fields (the config's ``__post_init__`` raises them with its own)."""
        problems = [
            not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1) and f"lr must be in (0, 1), got {self.lr!r}",
            *[not (is_int(value) and value >= low) and f"{name} must be an int >= {low}, got {value!r}"
              for name, value, low in (("epochs", self.epochs, 1), ("batch_size", self.batch_size, 1),
                                       ("max_length", self.max_length, 16), ("group_batches", self.group_batches, 1))],
            not 0 <= self.warmup_ratio < 1 and f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}",
            not self.weight_decay >= 0 and f"weight_decay must be >= 0, got {self.weight_decay!r}",
            not self.max_grad_norm > 0 and f"max_grad_norm must be > 0, got {self.max_grad_norm!r}",
            not is_int(self.seed) and f"seed must be an int, got {self.seed!r}",
            *[cap is not None and not (is_int(cap) and cap >= 1) and f"{name} must be None or an int >= 1, got {cap!r}"
              for name, cap in (("max_train", self.max_train), ("max_eval", self.max_eval),
                                             ("max_test", self.max_test))],
            self.precision not in PRECISIONS and f"precision must be one of {PRECISIONS}, got {self.precision!r}",
        ]
        return [p for p in problems if p]

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {k: v for k, v in d.items() if k not in LEFT_OUT_AT or v != LEFT_OUT_AT[k]}

    def max_length_of(self, task: str) -> int:
        """The tokens ``task``'s inputs are cut to in this run."""
        return self.max_length

    @property
    def caps(self) -> dict[str, int | None]:
        """The split caps, as ``load_task`` and ``encoded_splits`` take them."""
        return {"max_train": self.max_train, "max_eval": self.max_eval, "max_test": self.max_test}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}")
        return cls(**d)

    @property
    def id_prefix(self) -> str:
        raise NotImplementedError

    @property
    def run_id(self) -> str:
        """``<id_prefix>-<12 hex digits of the config's hash>``: stable across processes and machines."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return f"{self.id_prefix}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class RunConfig(TrainingSettings):
    """Everything that determines a run's result, and nothing else (``run_id`` is its hash).

    ``adapter`` is required for regime "adapters" (and only there); ``top_k`` for "top_k"; ``fusion`` (run ids of
    finished adapter runs, resolved through the run store) for "fusion". ``max_train``/``max_eval``/``max_test`` cap
    train, validation and test (seeded, label-stratified; ``max_test`` None: as ``max_eval``). ``keep_best_epoch=False`` reports the last epoch instead of the best dev one.
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
        object.__setattr__(self, "fusion", tuple(self.fusion))
        problems = [
            self.regime not in REGIMES and f"regime must be one of {REGIMES}, got {self.regime!r}",
            (self.regime == "adapters") != (self.adapter is not None)
            and f"adapter config is required for regime 'adapters' and only there (regime {self.regime!r})",
            (self.regime == "top_k") != (self.top_k is not None)
            and f"top_k is required for regime 'top_k' and only there (regime {self.regime!r})",
            self.top_k is not None and not (is_int(self.top_k) and self.top_k >= 1) and f"top_k must be an int >= 1, got {self.top_k!r}",
            (self.regime == "fusion") != bool(self.fusion)
            and f"fusion (run ids of adapter runs) is required for regime 'fusion' and only there (regime {self.regime!r})",
            get_task(self.task).format == "span_qa" and not (is_int(self.doc_stride) and 0 < self.doc_stride < self.max_length)
            and f"doc_stride must be an int in 1..max_length-1 (span_qa), got {self.doc_stride!r}",
        ]
        problems = [p for p in problems if p] + self.training_problems()
        if problems:
            raise ValueError(f"bad RunConfig for task {self.task!r}: " + "; ".join(problems))

    @property
    def id_prefix(self) -> str:
        return f"{self.task}-{self.regime}"

    @property
    def label(self) -> str:
        """A short human-readable description (progress bars, logs)."""
        what = {"adapters": f"adapters({self.adapter.label})" if self.adapter else "", "top_k": f"top_{self.top_k}",
                "fusion": f"fusion({len(self.fusion)})"}
        return f"{self.task} {what.get(self.regime, self.regime)} lr={self.lr:g} ep={self.epochs} seed={self.seed}"


@dataclass(frozen=True)
class MultiTaskConfig(TrainingSettings):
    """Everything that determines an MT-A run (``run_id`` is its hash); the shared fields are ``TrainingSettings``.

    ``tasks`` are kept sorted, so the same set of tasks is the same run. Defaults: Pfeiffer adapters (reduction
    factor 16, as ST-A) and full fine-tuning's learning rate, since the encoder is trained too. ``task_max_length``:
    the tasks read at another length than ``max_length`` (those whose inputs need more, ``Task.max_length``, as in
    their single-task runs)."""

    tasks: tuple[str, ...]
    adapter: AdapterConfig = field(default_factory=AdapterConfig.pfeiffer)
    task_max_length: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "tasks", tuple(sorted(self.tasks)))
        object.__setattr__(self, "task_max_length", dict(sorted(self.task_max_length.items())))
        formats = {t: get_task(t).format for t in self.tasks}  # TaskError on an unknown task
        problems = [
            len(self.tasks) < 2 and f"MT-A needs at least two tasks, got {list(self.tasks)}",
            len(set(self.tasks)) != len(self.tasks) and f"tasks must be distinct, got {list(self.tasks)}",
            *[f"task {t!r} is span_qa, which MT-A does not support" for t, f in formats.items() if f == "span_qa"],
            *[f"task_max_length names {t!r}, not one of the tasks" for t in self.task_max_length if t not in formats],
            *[f"task_max_length[{t!r}] must be an int >= 16, got {n!r}" for t, n in self.task_max_length.items()
              if not (is_int(n) and n >= 16)],
        ]
        problems = [p for p in problems if p] + self.training_problems()
        if problems:
            raise ValueError("bad MultiTaskConfig: " + "; ".join(problems))

    def max_length_of(self, task: str) -> int:
        return self.task_max_length.get(task, self.max_length)

    @property
    def id_prefix(self) -> str:
        return MT_A

    @property
    def adapter_ids(self) -> list[str]:
        """How a fusion run names this run's adapters (``RunConfig(regime="fusion", fusion=...)``)."""
        return [f"{self.run_id}/{t}" for t in self.tasks]

    @property
    def label(self) -> str:
        return f"MT-A({len(self.tasks)} tasks) lr={self.lr:g} ep={self.epochs} seed={self.seed}"


class _Record:
    """``to_dict``/``from_dict`` of a result dataclass (fields missing from an older record take their default)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


@dataclass
class RunResult(_Record):
    """``metrics``: split -> metric -> value, at the best dev epoch (``best_epoch``, 1-based); ``history``: one
    entry per epoch (``train_loss``, ``dev_score``, ``validation`` metrics, and any per-epoch extra); ``params``:
    ``ParamCount`` fields; ``examples_per_s``: training throughput over all processes, evaluation excluded.
    ``predictions`` / ``references``: split -> one value per example at the best epoch, and the gold values they
    are scored against (empty for runs recorded before predictions were kept); ``train_time``: seconds in training
    steps (``wall_time`` less it is what the run spends on anything else)."""

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
    predictions: dict[str, list] = field(default_factory=dict)
    references: dict[str, list] = field(default_factory=dict)
    train_time: float = 0.0


@dataclass
class MultiTaskResult(_Record):
    """An MT-A run: ``metrics`` task -> split -> metric (at the best epoch on mean dev score); ``params`` task ->
    ``ParamCount`` fields of that task's model (everything is trained: encoder, all adapters, its head);
    ``history``: per epoch, train loss and steps per task, dev metrics per task and their mean (``dev_score``);
    ``predictions`` / ``references``: task -> split -> one value per example (see ``RunResult``)."""

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
    predictions: dict[str, dict[str, list]] = field(default_factory=dict)
    references: dict[str, dict[str, list]] = field(default_factory=dict)

    @property
    def adapter_ids(self) -> list[str]:
        return MultiTaskConfig.from_dict(self.config).adapter_ids

    def per_task(self) -> list[RunResult]:
        """One RunResult per task (run id ``<run id>/<task>``, regime "mt_a"), so result frames and
        ``grid.select_best`` treat MT-A like any other method."""
        shared = {k: v for k, v in self.config.items() if k not in ("tasks", "task_max_length")}
        lengths = self.config.get("task_max_length") or {}

        def task_history(task: str) -> list[dict[str, Any]]:
            return [{"epoch": h["epoch"], "train_loss": h["train_loss"].get(task), "validation": h["validation"].get(task),
                     "dev_score": (h["validation"].get(task) or {}).get("score")} for h in self.history]

        return [RunResult(f"{self.run_id}/{task}", {**shared, "task": task, "regime": MT_A,
                                                     "max_length": lengths.get(task, shared["max_length"])}, self.status,
                          self.metrics.get(task, {}), self.best_epoch, task_history(task), self.params.get(task, {}),
                          self.wall_time, self.examples_per_s, self.processes, self.error,
                          self.predictions.get(task, {}), self.references.get(task, {}))
                for task in self.config["tasks"]]
