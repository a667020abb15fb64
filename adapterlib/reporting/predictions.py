"""Every run's per-example predictions in one file, ``results/<profile>/predictions.parquet``, so anyone can
recompute a score, an interval or a paired difference (``reporting.statistics``) without training anything.

One row per run, split and example: ``prediction`` (the label or score; NaN for span QA) or ``answers`` (the answer
text, span QA). The gold references are written once per task, split and number of examples, as rows with run id
``gold``: capped splits of one task share them, so repeating them per run would only multiply the file.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from adapterlib.data.tasks import get_task
from adapterlib.reporting.outputs import results_dir
from adapterlib.runner.settings import MultiTaskResult, RunResult
from adapterlib.runner.store import RunStore

GOLD = "gold"
PREDICTIONS_FILE = "predictions.parquet"


def _example_rows(run_id: str, task: str, regime: str, split: str, values: list) -> pd.DataFrame:
    """One row per example; span QA values are answer texts (a prediction) or lists of them (the gold answers)."""
    span_qa = get_task(task).format == "span_qa"
    answers = [[v] if isinstance(v, str) else list(v) for v in values] if span_qa else None
    return pd.DataFrame({"run_id": run_id, "task": task, "regime": regime, "split": split,
                         "example": range(len(values)),
                         "prediction": float("nan") if span_qa else pd.Series(values, dtype=float),
                         "answers": answers})


def predictions_frame(results: Iterable[RunResult | MultiTaskResult]) -> pd.DataFrame:
    """The long frame of ``results``' predictions (runs recorded without predictions add nothing) and their gold
    references once per (task, split, number of examples)."""
    parts, golds = [], {}
    for run in (one for result in results
                for one in (result.per_task() if isinstance(result, MultiTaskResult) else [result])):
        task, regime = run.config["task"], run.config["regime"]
        for split, values in sorted(run.predictions.items()):
            parts.append(_example_rows(run.run_id, task, regime, split, values))
            golds.setdefault((task, split, len(values)), run.references[split])
    parts += [_example_rows(GOLD, task, GOLD, split, values) for (task, split, _), values in sorted(golds.items())]
    columns = ["run_id", "task", "regime", "split", "example", "prediction", "answers"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def save_predictions(profile: str, store: RunStore | None = None) -> Path:
    """Write every recorded run's predictions of ``profile``'s store as ``results/<profile>/predictions.parquet``."""
    store = store or RunStore(profile=profile)
    path = results_dir(profile) / PREDICTIONS_FILE
    predictions_frame(store.results()).to_parquet(path, index=False)
    return path
