"""Declarative grids as in the papers: a dict of lists expands into runs; selection on dev, report on test.

    configs = expand(GRIDS["houlsby_glue"], task=["sst2_dev_split", "snli"], regime=["full", "adapters"], seed=[0, 1])
    report = run_grid(configs, RunStore())                      # skips what the store already has
    table = select_best(report.frame, by=["task", "regime"])   # hparams chosen on dev, test mean +- std / s.e.m.

A grid key is a RunConfig field (``lr``, ``epochs``, ``seed``, ``top_k``...), ``adapter`` (a config of any
method), ``method`` (a key of ``inject.METHODS``: the run's adapter starts from that method's default config), or a
field of a method's config (``size``, ``r``, ``target_modules``...: ``AdapterMethod.grid_keys``) applied to the
run's adapter. The run's adapter starts from ``adapter``, else from ``method``'s default config, else from
``AdapterConfig.houlsby()`` (the papers' method); a field its method does not have is an error. As in the papers,
one grid serves every regime: keys that do not apply to a run's regime (adapter keys without adapters, ``top_k``
outside top_k, ``fusion`` outside fusion) are dropped for that run; a value may also be given per regime (a dict:
regime -> values).
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from adapterlib.core.config import AdapterConfig
from adapterlib.core.inject import METHODS, method_of
from adapterlib.core.methods import METHOD_KEY, AdapterMethod, MethodConfig
from adapterlib.runner.store import RunStore
from adapterlib.runner.settings import RunConfig

# The papers' grids. Houlsby et al. 2019: GLUE (BERT-large) and the additional tasks (BERT-base), variable
# fine-tuning of the top k layers; Pfeiffer et al. 2021: ST-A and fusion at a fixed lr, best epoch on dev.
GRIDS: dict[str, dict[str, list]] = {
    "houlsby_glue": {"lr": [3e-5, 3e-4, 3e-3], "epochs": [3, 20], "size": [8, 64, 256]},
    "houlsby_additional": {"lr": [1e-5, 3e-5, 1e-4, 3e-3], "epochs": [20, 50, 100], "size": [2, 4, 8, 16, 32, 64],
                           "top_k": [1, 2, 3, 5, 7, 9, 11, 12]},
    "fusion_st_a": {"adapter": [AdapterConfig.pfeiffer()], "reduction_factor": [16], "lr": [1e-4], "epochs": [30]},
    "fusion": {"lr": [5e-5], "epochs": [10]},
}
RUN_KEYS = {f.name for f in dataclasses.fields(RunConfig)}
METHOD_BY_KEY: dict[str, AdapterMethod] = {m.key: m for m in METHODS}
METHOD_FIELDS = {key for method in METHODS for key in method.grid_keys}  # a field of any method's config
GRID_KEYS = RUN_KEYS | METHOD_FIELDS | {METHOD_KEY}
APPLIES = {"adapter": "adapters", METHOD_KEY: "adapters", "top_k": "top_k", "fusion": "fusion",
           **{k: "adapters" for k in METHOD_FIELDS}}
METHOD_HPARAMS = tuple(dict.fromkeys(h for method in METHODS for h in method.hparams))  # ``AdapterMethod.hparams``
# What select_best chooses among: the run-level hyperparameters, the method (so two methods never pool as one
# setting, sized or not) and every method's own.
HPARAMS = ("lr", "epochs", METHOD_KEY, *METHOD_HPARAMS, "top_k")


def unknown_grid_keys(grid: Mapping[str, Any]) -> str | None:
    """One line naming the keys of ``grid`` that are no grid key (see the module docstring) and the valid ones,
    or None when every key is valid."""
    unknown = sorted(set(grid) - GRID_KEYS)
    if not unknown:
        return None
    fields = "; ".join(f"{m.key}: {', '.join(m.grid_keys)}" for m in METHODS)
    return (f"unknown grid keys {unknown}; RunConfig fields: {sorted(RUN_KEYS)}, {METHOD_KEY!r} (one of "
            f"{', '.join(METHOD_BY_KEY)}), method config fields ({fields})")


def expand(grid: Mapping[str, Any] | None = None, **axes: Any) -> list[RunConfig]:
    """Every combination of ``grid`` and ``axes`` as RunConfigs, in a stable order and without duplicates.

    A value is a list or tuple of values (``fusion=[run_ids]``: one fusion of those adapters), a scalar (one
    value, e.g. ``task="rte"``), or a dict from regime to either
    (e.g. ``lr={"full": [1e-4], "adapters": [1e-3, 3e-3]}``: learning rates per method). Bad keys or values
    fail here, before any training."""
    merged = {**(grid or {}), **axes}
    problem = unknown_grid_keys(merged)
    if problem:
        raise ValueError(problem)
    configs: dict[str, RunConfig] = {}
    for regime in _values(merged.get("regime", "adapters")):
        axes_here = {}
        for key, value in merged.items():
            if isinstance(value, Mapping) and key != "model_kwargs":  # per regime (model_kwargs is itself a dict)
                if regime not in value:
                    raise ValueError(f"grid key {key!r} gives values per regime {sorted(value)} but not for {regime!r}")
                value = value[regime]
            if APPLIES.get(key, regime) == regime:
                axes_here[key] = _values(value)
        axes_here["regime"] = [regime]
        for values in itertools.product(*axes_here.values()):
            point = dict(zip(axes_here, values))
            fields = {k: point.pop(k) for k in list(point) if k in METHOD_FIELDS}
            method_key = point.pop(METHOD_KEY, None)
            if regime == "adapters":
                point["adapter"] = grid_adapter(point.get("adapter"), method_key, fields)
            cfg = RunConfig(**point)
            configs.setdefault(cfg.run_id, cfg)
    return list(configs.values())


def grid_adapter(adapter: MethodConfig | None, method_key: str | None, fields: Mapping[str, Any]) -> MethodConfig:
    """The adapter of one grid point: ``adapter``, else the default config of the method ``method_key`` names, else
    Houlsby's; with ``fields`` (method config fields) set on it. An unknown method, an ``adapter`` of another
    method than ``method_key``, or a field the method does not have fails in one line listing the valid ones."""
    if method_key is not None:
        if method_key not in METHOD_BY_KEY:
            raise ValueError(f"unknown method {method_key!r} in a grid; methods: {', '.join(METHOD_BY_KEY)}")
        if adapter is not None and method_of(adapter).key != method_key:
            raise ValueError(f"grid gives method {method_key!r} and an adapter of method {method_of(adapter).key!r}"
                             f" ({adapter.label}); give one of them")
        if adapter is None:
            adapter = METHOD_BY_KEY[method_key].config_type()
    if adapter is None:
        adapter = AdapterConfig.houlsby()
    method = method_of(adapter)
    foreign = sorted(set(fields) - set(method.grid_keys))
    if foreign:
        raise ValueError(f"grid keys {foreign} are not fields of method {method.key!r} ({type(adapter).__name__}); "
                         f"its fields: {', '.join(method.grid_keys)}")
    return dataclasses.replace(adapter, **fields)


def _values(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple, range)) else [value]


@dataclass
class GridReport:
    """``frame``: the tidy results of the grid's runs (RunStore.to_frame); counts of what this call did."""

    frame: pd.DataFrame
    trained: int
    skipped: int
    failed: int

    def __str__(self) -> str:
        return (f"{self.trained + self.skipped} runs: {self.skipped} already in the store, {self.trained} trained"
                f" ({self.failed} failed)")


def run_grid(configs: Sequence[RunConfig], store: RunStore, *, progress: bool = True, **run_kwargs: Any) -> GridReport:
    """Run every config not yet in ``store`` (see RunStore.run for ``run_kwargs``); print and return the counts.
    Progress follows ``adapterlib.progress``: one bar for the grid, or one line per finished run (thinned)."""
    from adapterlib import progress as policy

    def in_store(cfg: RunConfig) -> bool:
        done = store.get(cfg)
        return done is not None and (done.status == "ok" or not run_kwargs.get("retry_failed"))

    todo = list({cfg.run_id: cfg for cfg in configs if not in_store(cfg)}.values())
    trained = failed = 0
    with policy.grid(len(configs), len(configs) - len(todo), enabled=progress) as bar:
        for cfg in todo:
            result = store.run(cfg, progress=progress, **run_kwargs)
            trained += 1
            failed += result.status != "ok"
            bar.advance()
    report = GridReport(store.to_frame(c.run_id for c in configs), trained, len(configs) - len(todo), failed)
    print(f"grid: {report}", file=policy.stream(), flush=True)  # the counts, whatever the progress mode
    return report


def select_best(
    frame: pd.DataFrame,
    by: Sequence[str] = ("task", "regime"),
    hparams: Sequence[str] = HPARAMS,
    *,
    dev: str = "validation",
    report: str = "test",
    seeds: str = "mean",
) -> pd.DataFrame:
    """Model selection on ``dev``, scores on ``report``, one row per ``by`` group.

    ``seeds="mean"``: choose the hparams with the best dev score averaged over seeds; report the mean, std and
    s.e.m. over those seeds (Houlsby Table 2, AdapterFusion). ``seeds="best"``: choose the single best run,
    seeds included (Houlsby Table 1: best of 5 seeds on dev); ``score`` is that run's, std/sem over its seeds.
    Failed runs never win. Output columns: ``by``, chosen ``hparams``, ``dev_score``, ``score``, ``std``,
    ``sem``, ``n_seeds``, ``trainable``, ``trainable_pct``, ``run_ids``, and, when ``frame`` has them, the
    ``report`` split's per-example ``predictions`` of the runs behind ``score`` (a list per seed; None if a run
    has none recorded) and their ``references``, for intervals.
    """
    if seeds not in ("mean", "best"):
        raise ValueError(f"seeds must be 'mean' or 'best', got {seeds!r}")
    if frame.empty:
        return pd.DataFrame()
    by, hparams = list(by), [h for h in hparams if h in frame.columns and h not in by]
    setting = by + hparams
    runs = frame[frame["split"] == dev][["run_id", *setting, "seed", "score", "trainable", "trainable_pct"]]
    runs = runs.rename(columns={"score": "dev_score"}).merge(
        frame[frame["split"] == report][["run_id", "score"]], on="run_id", how="left")
    runs = runs.dropna(subset=["dev_score"]).sort_values([*setting, "seed"], na_position="first")
    runs["setting_id"] = runs.groupby(setting, dropna=False, sort=True).ngroup()
    stats = runs.groupby("setting_id").agg(
        dev_mean=("dev_score", "mean"), score_mean=("score", "mean"), std=("score", "std"),
        n_seeds=("seed", "nunique"), run_ids=("run_id", lambda s: sorted(s)))
    stats["sem"] = stats["std"] / np.sqrt(stats["n_seeds"])
    runs = runs.join(stats, on="setting_id").reset_index(drop=True)
    if seeds == "mean":
        winners = runs.loc[runs.groupby(by, dropna=False, sort=True)["dev_mean"].idxmax()]
        winners = winners.assign(dev_score=winners["dev_mean"], score=winners["score_mean"])
    else:
        winners = runs.loc[runs.groupby(by, dropna=False, sort=True)["dev_score"].idxmax()]
    columns = [*setting, "dev_score", "score", "std", "sem", "n_seeds", "trainable", "trainable_pct", "run_ids"]
    chosen = winners[columns].reset_index(drop=True)
    if "predictions" not in frame.columns:
        return chosen
    examples = frame[frame["split"] == report].set_index("run_id")
    behind = list(chosen["run_ids"]) if seeds == "mean" else [[run_id] for run_id in winners["run_id"]]
    per_seed = [[examples["predictions"].get(run_id) for run_id in run_ids] for run_ids in behind]
    chosen["predictions"] = [None if any(p is None for p in runs) else runs for runs in per_seed]
    chosen["references"] = [examples["references"].get(run_ids[0]) for run_ids in behind]
    return chosen
