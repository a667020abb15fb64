"""Shared by every study: tidy output tables with the paper's number beside ours, and notebook set-up.

A study selects hyperparameters on dev with ``grid.select_best`` and turns the winners into rows of the documented
table (``results.TABLE_COLUMNS``) with ``tidy_rows``: one row per task x method, our test score, the paper's score for
the task it stands in for, the trained parameters per task, and the score of always predicting the majority class:
at small scale a model can sit exactly there, which is not learning.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache

import matplotlib
import numpy as np
import pandas as pd

from adapterlib.runner.grid import METHOD_HPARAMS
from adapterlib.runner.profiles import Profile, get_profile
from adapterlib.data.metrics import compute_metrics
from adapterlib.reporting.paper import PAPER_SPLITS, paper_score
from adapterlib.reporting.statistics import Interval, TaskRuns, mean_difference_interval, seed_mean_interval
from adapterlib.data.tasks import Task, get_task, load_task
from adapterlib.data.tasks.registry import TASKS
from adapterlib.data.tasks.hub import DEFAULT_SPEC, SPECS


def setup(profile: str, study: str | None = None, **overrides) -> Profile:
    """The notebook's profile (fails at once on a bad name or value) and a consistent plot style. With ``study``
    (the notebook's name) it first prints what the notebook will run (tasks, runs to train and already in the run
    store, minutes on this machine: ``preflight.check``) and stops with one line (``preflight.DataMissing``) when
    data its runs need is missing; tasks the profile leaves out are named and it goes on."""
    import seaborn as sns

    chosen = get_profile(profile, **overrides)
    if study is not None:
        from adapterlib.studies.preflight import check

        check(chosen, study)
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
    """What our ``test`` score of a task is measured on (the ``our_split`` column beside ``paper_split``): for an
    offline task, how its test split was made (``Task.split``: the official dev set, or a part of a dev set, which
    is never the paper's split), or the hub split our loader makes the test set."""
    task = get_task(task_name, suite)
    if task.offline:
        kind = "the paper's own data" if task.own_data else "stand-in"
        return f"{kind}: {task.split}"
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
    when it sits in several suites (sst2_dev_split is SST-2 in glue_offline, SST in fusion_offline). Tasks without a
    paper counterpart, or methods the paper does not report, get NaN. Extra columns: ``majority`` (see
    ``majority_score``), ``ci_low``/``ci_high`` (the score's 95% bootstrap interval over test examples and seeds,
    ``statistics.seed_mean_interval``; NaN for runs recorded without predictions) and ``n_test``, chosen
    hyperparameters, dev score, spread over seeds, and the per-example ``predictions``/``references`` behind the
    score (in memory only: ``save_table`` leaves them out; paired differences start from them).
    """
    rows = []
    for _, row in selected.iterrows():
        task = get_task(row["task"], suite)
        paper_value = (paper_score(paper, task.reference, paper_method or method)
                       if paper is not None and task.reference else float("nan"))
        extra = {k: row[k] for k in ("lr", "epochs", *METHOD_HPARAMS, "top_k", "dev_score", "std", "sem", "n_seeds")
                 if k in row.index}
        rows.append({"task": task.name, "paper_task": task.reference, "method": method, "metric": task.metric,
                     "score": row["score"], "paper_score": paper_value, "trained_params": row["trainable"],
                     "trained_pct": row["trainable_pct"], "majority": majority_score(task.name, task.suite),
                     **score_columns(task, row.get("predictions"), row.get("references")), **extra})
    return pd.DataFrame(rows)


def score_columns(task: Task | str, seed_predictions: list | None, references: list | None) -> dict:
    """``ci_low``, ``ci_high``, ``n_test`` of a row and the examples behind it (NaN without recorded predictions).
    ``task``: the view of the task whose metric the row reports (MRPC: F1 in Houlsby's GLUE, accuracy in
    AdapterFusion's suite), so the interval is around the score it is printed beside."""
    if not seed_predictions:
        return {"ci_low": math.nan, "ci_high": math.nan, "n_test": math.nan, "predictions": None, "references": None}
    interval = seed_mean_interval(task, seed_predictions, references)
    return {"ci_low": interval.low, "ci_high": interval.high, "n_test": interval.n, "predictions": seed_predictions,
            "references": references}


FLOOR_MARGIN = 1.0  # points above the majority-class score below which a row is flagged as at the floor
LEARNED_MARGIN = 5.0  # points above the majority class full fine-tuning must reach for a task to count as learned


def _full_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Full fine-tuning's rows with a score and a majority-class score (none if the table has no majority column)."""
    if "majority" not in table.columns:
        return table.iloc[:0]
    return table[table["method"] == "full"].dropna(subset=["score", "majority"])


def _learned(full: pd.DataFrame, margin: float) -> pd.Series:
    """Full fine-tuning rows that learned their task: at least ``margin`` points above the majority class *and* the
    lower end of their bootstrap interval above the majority class too (a 5-point lead on 50 test examples is
    within noise). One rule for every table: a row without an interval (no per-example predictions) has not shown
    that it learned, so it counts as not learned, in means, figures and counts alike."""
    above = full["score"] >= full["majority"] + margin
    ci_low = full["ci_low"] if "ci_low" in full.columns else pd.Series(math.nan, index=full.index)
    return above & (ci_low > full["majority"])


def learned_tasks(table: pd.DataFrame, margin: float = LEARNED_MARGIN) -> list[str]:
    """The tasks of ``table`` whose full fine-tuning learned them (see ``_learned``): where differences between
    methods can say something about the paper's claims."""
    full = _full_rows(table)
    return [] if full.empty else list(full.loc[_learned(full, margin), "task"])


def floor_reason(table: pd.DataFrame, task: str | None, margin: float = LEARNED_MARGIN) -> str | None:
    """Why a learning claim checked on ``task`` is "not measured" from ``table``: full fine-tuning, the reference
    method, has not learned it (``learned_tasks``). None if it did, or the table cannot tell (no majority column,
    no full fine-tuning row)."""
    if "majority" not in table.columns:
        return None
    full = _full_rows(table[table["task"] == task])
    if full.empty or _learned(full, margin).iloc[0]:
        return None
    row = full.iloc[0]
    if math.isnan(row.get("ci_low", math.nan)):
        return (f"not measured: full fine-tuning's {row['score']:.1f} on {task} has no interval (no per-example "
                "predictions), so it has not shown that it learned the task")
    return (f"not measured: full fine-tuning scores {row['score']:.1f} (95% interval from {row['ci_low']:.1f}) on "
            f"{task}, not clearly above always predicting its majority class ({row['majority']:.1f}) by {margin:g} "
            "points: not learned at this scale")


def paired_mean_difference(
    table: pd.DataFrame, method: str, baseline: str, aggregate: Callable[..., np.ndarray] = np.mean,
    learned: Sequence[str] | None = None,
) -> tuple[Interval | None, list[str], str | None]:
    """``method`` minus ``baseline``, averaged (or ``aggregate``d: ``np.median``) over the tasks full fine-tuning
    learned (``learned_tasks``, or ``learned`` where the caller's table decided it already: a trade-off frame,
    whose interval columns are those of each row's difference from full fine-tuning, not of its score) where both
    have a row, with the paired interval over those tasks' test examples and seeds
    (``statistics.mean_difference_interval``). Returns (interval, the tasks, why it is not measured): the interval
    is None when no task was learned or a row lacks its per-example predictions (a table read back from CSV). A
    task without a paper counterpart (no ``paper_task``: vader_movie's Spearman regression, ...) is never in a mean
    compared with the paper's."""
    rows = table[table["task"].notna()]
    if "paper_task" in rows.columns:
        rows = rows[rows["paper_task"].notna()]
    pairs = {m: rows[rows["method"] == m].set_index("task") for m in (method, baseline)}
    both = set(pairs[method].index) & set(pairs[baseline].index)
    tasks = [task for task in (learned_tasks(rows) if learned is None else sorted(learned)) if task in both]
    if not tasks:
        return None, [], (f"not measured: full fine-tuning learned none of the {len(both)} tasks with both "
                          f"{method} and {baseline} (see floor_reason)")
    if "predictions" not in rows.columns or any(pairs[m].at[t, "predictions"] is None for m in pairs for t in tasks):
        return None, tasks, "not measured: rows without per-example predictions (runs recorded before they were kept)"
    runs = [TaskRuns(scored_view(task, pairs[baseline].at[task, "metric"] if "metric" in rows.columns else None),
                     pairs[baseline].at[task, "references"], pairs[method].at[task, "predictions"],
                     pairs[baseline].at[task, "predictions"]) for task in tasks]
    return mean_difference_interval(runs, aggregate=aggregate), tasks, None


def scored_view(task: str, metric: str | None) -> Task:
    """The view of ``task`` scored by ``metric`` (a table's ``metric`` column): a difference is taken on the metric
    its rows report (MRPC's accuracy in AdapterFusion's tables, its F1 in Houlsby's), not on the task's first view."""
    views = [t for t in TASKS if t.name == task and t.metric == metric]
    return views[0] if views else get_task(task)


def paired_task_difference(table: pd.DataFrame, task: str | None, method: str,
                           baseline: str) -> tuple[Interval | None, str | None]:
    """``method`` minus ``baseline`` on one ``task`` of ``table`` with its paired interval
    (``paired_mean_difference`` on that task alone). Returns (interval, why it is not measured): the
    ``floor_reason`` when full fine-tuning has not learned the task, else ``paired_mean_difference``'s."""
    interval, _, why = paired_mean_difference(table[table["task"] == task], method, baseline)
    reason = floor_reason(table, task)
    return (None, reason) if reason else (interval, why)


def floor_tasks(table: pd.DataFrame) -> list[str]:
    """The tasks of ``table`` full fine-tuning has not learned (see ``floor_reason``)."""
    tasks = table["task"].dropna().unique() if "majority" in table.columns else []
    return [task for task in tasks if floor_reason(table, task) is not None]


def floor_count(table: pd.DataFrame, n_tasks: int) -> str:
    """A clause for a claim's basis: how many of the ``n_tasks`` averaged full fine-tuning has not learned."""
    tasks = floor_tasks(table)
    if not tasks:
        return ""
    return (f" ({len(tasks)} of these {n_tasks} tasks, {', '.join(tasks)}, have full fine-tuning not clearly "
            f"{LEARNED_MARGIN:g} points above the majority class: not learned at this scale)")


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
