"""Shared by every study: tidy output tables with the paper's number beside ours, and notebook set-up.

A study selects hyperparameters on dev with ``grid.select_best`` and turns the winners into rows of the documented
table (``results.TABLE_COLUMNS``) with ``tidy_rows``: one row per task x method, our test score, the paper's score for
the task it stands in for, the trained parameters per task, and the score of always predicting the majority class:
at small scale a model can sit exactly there, which is not learning.
"""
from __future__ import annotations

import math
from functools import cache

import matplotlib
import numpy as np
import pandas as pd

from adapterlib.runner.profiles import Profile, get_profile
from adapterlib.data.metrics import compute_metrics
from adapterlib.reporting.paper import PAPER_SPLITS, paper_score
from adapterlib.data.tasks import get_task, load_task
from adapterlib.data.tasks.hub import DEFAULT_SPEC, SPECS


def setup(profile: str, **overrides) -> Profile:
    """The notebook's profile (fails at once on a bad name or value) and a consistent plot style."""
    import seaborn as sns

    chosen = get_profile(profile, **overrides)
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    sns.set_theme(context="notebook", style="whitegrid")
    return chosen


@cache
def majority_score(task_name: str, suite: str | None = None) -> float:
    """The task's metric for always predicting the most frequent label of its test split (for multiple choice, the
    most frequent correct option; for regression a constant, which scores 0); NaN for span QA. Caps are stratified,
    so this is also the floor of a capped test split. ``suite``: whose metric (MRPC is F1 in Houlsby's GLUE, accuracy
    in AdapterFusion's suite)."""
    task = get_task(task_name, suite)
    if task.format == "span_qa":
        return math.nan
    labels = np.asarray(load_task(task_name)["test"]["label"])
    values, counts = np.unique(labels, return_counts=True)
    constant = np.full_like(labels, values[counts.argmax()])
    return compute_metrics(task, constant, labels)["score"]


def our_split(task_name: str, suite: str) -> str:
    """What our ``test`` score of a task is measured on (the ``our_split`` column beside ``paper_split``): an offline
    stand-in's held-out test split, or the hub split our loader makes the test set."""
    task = get_task(task_name, suite)
    if task.offline:
        return "held-out test split of the offline stand-in"
    test = SPECS.get(task.name, DEFAULT_SPEC).test
    return "held-out 10% of train" if test is None else f"hub {test} split"


def split_columns(table: pd.DataFrame, suite: str, paper_table: str) -> pd.DataFrame:
    """``table`` with ``our_split`` (per task row; None on paper-only rows) and ``paper_split`` (``PAPER_SPLITS``)."""
    return table.assign(our_split=[our_split(t, suite) if isinstance(t, str) else None for t in table["task"]],
                        paper_split=PAPER_SPLITS[paper_table])


def tidy_rows(
    selected: pd.DataFrame, method: str, paper: pd.DataFrame | None = None, paper_method: str | None = None,
    *, suite: str | None = None,
) -> pd.DataFrame:
    """Rows of the documented table for one method from ``grid.select_best`` output (one row per task).

    ``paper``: a ``reference`` frame (``houlsby_glue()``, ``houlsby_additional()``, ``fusion_table1()``);
    ``paper_method``: the method's name there (default: ``method``); ``suite``: whose paper task a task stands in for
    when it sits in several suites (rt_polarity is SST-2 in glue_offline, SST in fusion_offline). Tasks without a
    paper counterpart, or methods the paper does not report, get NaN. Extra columns: ``majority`` (see
    ``majority_score``), chosen hyperparameters, dev score, spread over seeds.
    """
    rows = []
    for _, row in selected.iterrows():
        task = get_task(row["task"], suite)
        paper_value = (paper_score(paper, task.reference, paper_method or method)
                       if paper is not None and task.reference else float("nan"))
        extra = {k: row[k] for k in ("lr", "epochs", "size", "reduction_factor", "r", "top_k", "init_std", "dev_score",
                                     "std", "sem", "n_seeds") if k in row.index}
        rows.append({"task": task.name, "paper_task": task.reference, "method": method, "metric": task.metric,
                     "score": row["score"], "paper_score": paper_value, "trained_params": row["trainable"],
                     "trained_pct": row["trainable_pct"], "majority": majority_score(task.name, task.suite), **extra})
    return pd.DataFrame(rows)


FLOOR_MARGIN = 1.0  # points above the majority-class score below which a task counts as not learned
LEARNED_MARGIN = 5.0  # points above the majority class full fine-tuning must reach for a task to count as learned


def learned_tasks(table: pd.DataFrame, margin: float = LEARNED_MARGIN) -> list[str]:
    """The tasks of ``table`` on which full fine-tuning scores at least ``margin`` points above always predicting
    the majority class: where differences between methods can say something about the paper's claims."""
    full = table[table["method"] == "full"].dropna(subset=["score", "majority"])
    return list(full.loc[full["score"] >= full["majority"] + margin, "task"])


def floor_reason(table: pd.DataFrame, task: str | None, margin: float = FLOOR_MARGIN) -> str | None:
    """Why a claim checked on ``task`` cannot be judged from ``table``: full fine-tuning scores within ``margin``
    points of the task's majority-class score (None if it learned the task, or the table cannot tell)."""
    if "majority" not in table.columns:
        return None
    full = table[(table["task"] == task) & (table["method"] == "full")].dropna(subset=["score", "majority"])
    if full.empty or full["score"].iloc[0] > full["majority"].iloc[0] + margin:
        return None
    return (f"not measured: full fine-tuning scores {full['score'].iloc[0]:.1f} on {task}, within {margin:g} point "
            f"of always predicting its majority class ({full['majority'].iloc[0]:.1f})")


def floor_tasks(table: pd.DataFrame) -> list[str]:
    """The tasks of ``table`` whose full fine-tuning sits at the majority-class floor (see ``floor_reason``)."""
    tasks = table["task"].dropna().unique() if "majority" in table.columns else []
    return [task for task in tasks if floor_reason(table, task) is not None]


def floor_count(table: pd.DataFrame, n_tasks: int) -> str:
    """A clause for a claim's basis: how many of the ``n_tasks`` averaged sit at the majority-class floor."""
    tasks = floor_tasks(table)
    if not tasks:
        return ""
    return (f" ({len(tasks)} of these {n_tasks} tasks, {', '.join(tasks)}, have full fine-tuning within "
            f"{FLOOR_MARGIN:g} point of the majority class: not learned at this scale)")


def majority_note(table: pd.DataFrame, margin: float = FLOOR_MARGIN) -> str:
    """A sentence for a closing cell: which rows score within ``margin`` points of their task's majority-class
    score, or below it. There the model has not learned the task at this scale, so differences between methods on
    those rows are noise, not evidence for or against a claim."""
    rows = table.dropna(subset=["score", "majority"])
    floor = rows[rows["score"] <= rows["majority"] + margin]
    if floor.empty:
        return f"Every score here is more than {margin:g} point above its task's majority-class score."
    parts = [f"{task} ({', '.join(part['method'])}; majority class {part['majority'].iloc[0]:.1f})"
             for task, part in floor.groupby("task", sort=False)]
    return (f"**At the majority-class floor** ({len(floor)} of {len(rows)} rows score within {margin:g} point of "
            f"always predicting the most frequent label, or below): {'; '.join(parts)}. The model has not learned "
            "these tasks at this scale, so method differences on them are noise.")
