"""The run store: every finished run recorded once, so notebooks share runs and a rerun only trains what is missing.

One directory per run id under the store root (default ``runs/<profile>/`` in the project root, or
``$ADAPTERLIB_RUNS/<profile>/``, see ``paths``)::

    <run_id>/record.json        config, metrics per split, params, wall time, versions, git revision, file sizes
    <run_id>/predictions.json   per-example predictions and gold references per split (per task for MT-A), compact
    <run_id>/adapter/           adapter runs: al.save_adapter (adapter + its LayerNorms + head)
    <run_id>/fusion/            fusion runs: al.save_fusion, with the head in trained.safetensors
    <run_id>/trained.safetensors  other regimes: the trained parameters, only if asked (keep_weights)
    <mt_a run_id>/adapters/     MT-A runs (settings.MultiTaskConfig): one al.save_adapter per task + base.safetensors

A run is built in a hidden temporary directory and renamed into place in one ``os.replace`` after its record is
written, so a killed run leaves no half-written run directory. While it trains, each epoch's end is kept in
``.<run_id>.resume/`` (``runner.checkpoint``): a killed run goes on from its last complete epoch when it is run
again (by ``fill``, ``reproduce`` or a notebook), and the folder goes once the run is recorded. A record that does not parse, does not hash to its
directory name, or whose files are missing or truncated is reported and redone, never read.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load_file
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from adapterlib import __version__
from adapterlib.core.fusion import delete_fusion, load_fusion
from adapterlib.core.io import load_adapter
from adapterlib.core.inject import METHODS, adapter_config_from_dict, delete_adapter, method_of
from adapterlib.core.methods import METHOD_KEY
from adapterlib.paths import project_root, runs_root
from adapterlib.runner.checkpoint import EpochCheckpoint
from adapterlib.runner.loop import TrainingDivergedError, process_state, run_device
from adapterlib.runner.multitask import ADAPTERS_DIR, train_multitask
from adapterlib.runner.settings import MULTITASK, MultiTaskConfig, MultiTaskResult, RunConfig, RunResult
from adapterlib.runner.single import ADAPTER_DIR, FUSION_DIR, TRAINED_WEIGHTS, build_model, train_and_evaluate

RECORD = "record.json"
PREDICTIONS = "predictions.json"  # kept out of the record: thousands of values would bury its readable fields
EXAMPLE_FIELDS = ("predictions", "references")
SCHEMA = 1


def default_root(profile: str = "cpu") -> Path:
    return runs_root() / profile


def git_revision(repo: Path | None = None) -> str | None:
    """HEAD of ``repo`` (default: the project root), with "-dirty" if tracked files differ from it outside
    ``results/`` (the outputs a reproduce run rewrites itself); None outside a git checkout."""
    git = ["git", "-C", str(repo or project_root())]
    try:
        revision = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
                               capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return revision + ("-dirty" if dirty.strip() else "")


@cache
def environment() -> dict[str, Any]:
    """Library versions and the git revision (``git_revision``), for the record."""
    import accelerate
    import datasets
    import transformers

    versions = {"adapterlib": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
                "datasets": datasets.__version__, "accelerate": accelerate.__version__,
                "python": platform.python_version()}
    return {"versions": versions, "git_revision": git_revision(), "host": platform.node()}


class RunStore:
    """Finished runs by run id. ``run(cfg)`` returns the recorded result or trains, records and returns it."""

    def __init__(self, root: str | Path | None = None, *, profile: str = "cpu") -> None:
        self.root = Path(root) if root is not None else default_root(profile)
        self.root.mkdir(parents=True, exist_ok=True)

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    def get(self, run: RunConfig | MultiTaskConfig | str) -> RunResult | MultiTaskResult | None:
        """The recorded result, or None if the run is missing or its record is corrupt or partial."""
        run_id = run if isinstance(run, str) else run.run_id
        record = self._read(run_id)
        if record is None:
            return None
        examples = self.run_dir(run_id) / PREDICTIONS
        if examples.is_file():  # listed in the record's files, so its size was checked by _read
            record.update(json.loads(examples.read_text()))
        return (MultiTaskResult if record.get("kind") == MULTITASK else RunResult).from_dict(record)

    def _read(self, run_id: str) -> dict[str, Any] | None:
        if not self.run_dir(run_id).exists():
            return None
        try:
            record = json.loads((self.run_dir(run_id) / RECORD).read_text())
            problem = self._problem(run_id, record)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            problem = f"unreadable record ({type(err).__name__}: {err})"
        if problem:
            warnings.warn(f"run store: ignoring corrupt run {self.run_dir(run_id)} ({problem}); it will be redone",
                          stacklevel=3)
            return None
        return record

    def _problem(self, run_id: str, record: dict[str, Any]) -> str | None:
        """Why ``record`` cannot be trusted, or None."""
        if record.get("schema") != SCHEMA:
            return f"schema {record.get('schema')!r}, expected {SCHEMA}"
        config_type = MultiTaskConfig if record.get("kind") == MULTITASK else RunConfig
        if record.get("run_id") != run_id or config_type.from_dict(record["config"]).run_id != run_id:
            return "its config does not hash to the run id"
        for name, size in record["files"].items():
            path = self.run_dir(run_id) / name
            if not path.is_file() or path.stat().st_size != size:
                return f"{name} is missing or truncated"
        return None

    def run(
        self, cfg: RunConfig | MultiTaskConfig, *, retry_failed: bool = False, keep_weights: bool = False,
        progress: bool = True,
    ) -> RunResult | MultiTaskResult:
        """The result of ``cfg``: from the store if recorded, else trained now and recorded.

        A failed run (NaN/inf loss) is recorded too and returned with status "failed"; being deterministic it is
        not retried unless ``retry_failed``. Under ``torchrun`` every process trains and the main one writes. A run
        interrupted before resumes from its last complete epoch (``checkpoint``)."""
        done = self.get(cfg)
        if done is not None and (done.status == "ok" or not retry_failed):
            return done
        state = process_state()
        tmp = self.root / f".{cfg.run_id}.tmp-{os.getpid()}"
        if state.is_main_process:
            for stale in self.root.glob(f".{cfg.run_id}.tmp-*"):  # left by killed runs
                shutil.rmtree(stale, ignore_errors=True)
        checkpoint = self.checkpoint(cfg.run_id)
        try:
            if isinstance(cfg, MultiTaskConfig):
                result = train_multitask(cfg, save_to=tmp, progress=progress, checkpoint=checkpoint)
            else:
                result = train_and_evaluate(cfg, save_to=tmp, keep_weights=keep_weights,
                                            adapter_dir=self.adapter_dir, progress=progress, checkpoint=checkpoint)
        except TrainingDivergedError as err:
            result = err.result
            print(f"run store: {err}", file=sys.stderr)
        if state.is_main_process:
            self._commit(result, tmp)
            checkpoint.remove()
        state.wait_for_everyone()
        return result

    def checkpoint(self, run_id: str) -> EpochCheckpoint:
        """Where run ``run_id`` keeps each epoch's end while it trains (removed once it is recorded)."""
        return EpochCheckpoint(self.root / f".{run_id}.resume")

    def _commit(self, result: RunResult | MultiTaskResult, tmp: Path) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        fields = result.to_dict()
        examples = {name: fields.pop(name) for name in EXAMPLE_FIELDS}
        if any(examples.values()):
            (tmp / PREDICTIONS).write_text(json.dumps(examples, separators=(",", ":")) + "\n")
        files = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
        # threads: read per run, not cached with the rest (on a CPU they split a product's float sums: runner.workers)
        record = {"schema": SCHEMA, **fields, "files": files, **environment(), "threads": torch.get_num_threads(),
                  "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        (tmp / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        final = self.run_dir(result.run_id)
        if final.exists():  # a corrupt or failed record being redone
            shutil.rmtree(final)
        os.replace(tmp, final)

    def adapter_dir(self, run_id: str) -> Path:
        """Where a finished adapter run keeps its adapter (for fusion and for reuse), with a clear error if not.
        ``"<MT-A run id>/<task>"`` names the adapter of one task of an MT-A run."""
        if "/" in run_id:
            multitask_id, task = run_id.split("/", 1)
            result = self.get(multitask_id)
            if not isinstance(result, MultiTaskResult) or result.status != "ok" or task not in result.config["tasks"]:
                raise ValueError(f"{run_id!r} is not a task of a finished MT-A run in {self.root}: train it first")
            return self.run_dir(multitask_id) / ADAPTERS_DIR / task
        result = self.get(run_id)
        if result is None or result.status != "ok" or result.config["regime"] != "adapters":
            raise ValueError(f"run {run_id!r} is not a finished adapter run in {self.root}: train it first")
        return self.run_dir(run_id) / ADAPTER_DIR

    def load_trained(
        self, run: RunConfig | str, device: torch.device | str | None = None
    ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        """The model of a finished run with its best epoch's trained weights (e.g. for ablations, fusion
        attention read-outs), in eval mode on ``device`` (default: ``loop.run_device``, the GPU when there is one). Runs outside ``single.RELOADED_REGIMES`` need ``keep_weights=True`` when they ran."""
        run_id = run.run_id if isinstance(run, RunConfig) else run
        result = self.get(run_id)
        if result is None or result.status != "ok":
            raise ValueError(f"run {run_id!r} is not a finished run in {self.root}")
        cfg = RunConfig.from_dict(result.config)
        model, tokenizer = build_model(cfg, self.adapter_dir)
        if cfg.regime == "adapters":
            delete_adapter(model, cfg.task)
            load_adapter(model, self.run_dir(run_id) / ADAPTER_DIR)
            return model.to(device or run_device()).eval(), tokenizer
        weights = self.run_dir(run_id) / TRAINED_WEIGHTS
        if not weights.is_file():
            raise ValueError(f"run {run_id!r} kept no weights ({cfg.regime} runs keep them only with keep_weights=True)")
        missing, unexpected = model.load_state_dict(load_file(weights), strict=False)
        if unexpected:
            raise ValueError(f"{weights} does not fit the model of {run_id}: unexpected {unexpected[:3]}")
        if cfg.regime == "fusion":  # build_model gave it a fresh fusion: the trained one is saved beside the head
            delete_fusion(model)
            load_fusion(model, self.run_dir(run_id) / FUSION_DIR)
        return model.to(device or run_device()).eval(), tokenizer

    def run_ids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def results(self, run_ids: Iterable[str] | None = None) -> list[RunResult]:
        """Every valid recorded result (or those of ``run_ids`` that are recorded), in run-id order."""
        found = (self.get(run_id) for run_id in (self.run_ids() if run_ids is None else sorted(set(run_ids))))
        return [r for r in found if r is not None]

    def to_frame(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """One row per run and evaluated split (a failed run: one row without split), see ``results_frame``."""
        return results_frame(self.results(run_ids))


CONFIG_COLUMNS = ("task", "regime", "model", "top_k", "lr", "epochs", "batch_size", "max_length", "seed",
                  "max_train", "max_eval", "max_test", "keep_best_epoch")
METHOD_POINT = "method_point"
# Every config field of every registered method: a grid may set any, so a selection may group on any.
ADAPTER_COLUMNS = tuple(dict.fromkeys(key for method in METHODS for key in method.grid_keys))
PARAM_COLUMNS = ("trainable", "total", "base", "added", "head", "trainable_pct")


def adapter_columns(adapter: dict[str, Any] | None) -> dict[str, Any]:
    """A run's adapter in the frame, read through the method registry (``inject.METHODS``), never from names:
    ``method``, the key of its method (``bottleneck``, ``lora``, ``ia3``); ``method_point``, its point of that
    method's sweep (``AdapterMethod.point_name``: ``adapters_64``, ``lora_8``, ``ia3``); and ``ADAPTER_COLUMNS``,
    its config's fields (None where its method has no such field). All None for a run without an adapter of its
    own (full, top-k, LayerNorm, head; a fusion's adapters are its source runs')."""
    if not adapter:
        return {METHOD_KEY: None, METHOD_POINT: None, **dict.fromkeys(ADAPTER_COLUMNS)}
    config = adapter_config_from_dict(adapter)
    method = method_of(config)
    fields = config.to_dict()  # every field, with its default where the record predates it
    return {METHOD_KEY: method.key, METHOD_POINT: method.point_name(config),
            **{c: _groupable(fields.get(c)) for c in ADAPTER_COLUMNS}}


def _groupable(value: Any) -> Any:
    """A list as a tuple (a config's ``layers``, ``target_modules``), so a frame can be grouped on its column."""
    return tuple(value) if isinstance(value, list) else value


def results_frame(results: Iterable[RunResult | MultiTaskResult]) -> pd.DataFrame:
    """Tidy frame of run results (an MT-A run gives one row set per task, see ``MultiTaskResult.per_task``): config
    columns, the adapter's method and fields (``adapter_columns``), ``n_fused``, ``split``, ``score`` and every
    metric of that split, parameter counts, ``best_epoch``, ``wall_time``, ``examples_per_s``, and that split's
    per-example ``predictions`` and gold ``references`` (lists; None for runs recorded without them)."""
    rows = []
    for r in (one for result in results
              for one in (result.per_task() if isinstance(result, MultiTaskResult) else [result])):
        cfg = r.config
        base = {"run_id": r.run_id, "status": r.status, **{c: cfg.get(c) for c in CONFIG_COLUMNS},
                **adapter_columns(cfg.get("adapter")), "n_fused": len(cfg.get("fusion") or ()),
                **{c: r.params.get(c) for c in PARAM_COLUMNS}, "best_epoch": r.best_epoch, "wall_time": r.wall_time,
                "examples_per_s": r.examples_per_s, "error": r.error}
        rows.extend([{**base, "split": split, **metrics, "predictions": r.predictions.get(split),
                      "references": r.references.get(split)} for split, metrics in sorted(r.metrics.items())]
                    or [{**base, "split": None, "score": float("nan")}])
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    first = ["run_id", "task", "regime", "split", "score"]
    return frame[first + [c for c in frame.columns if c not in first]].reset_index(drop=True)
