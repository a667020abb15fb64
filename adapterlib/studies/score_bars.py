"""The one bar chart of ours beside the paper's, per task and method, shared by every table-like figure.

Each bar's x position comes from its own task's index, never from the order of the rows a method happens to have:
a task without a paper number (a stand-in with no paper counterpart) leaves its paper bar empty instead of
shifting the next task's bar under it. Ours carries its 95% interval when the table has ``ci_low``/``ci_high``,
and a dashed line per classification task marks always predicting the majority class, below which nothing was
learned; a regression task has no majority class (a constant prediction has no Spearman correlation), so it gets no
line.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from adapterlib.data.tasks import get_task

PAPER_SUFFIX = " (paper)"  # the label of a method's paper bars: ``method + PAPER_SUFFIX``
LABEL_WIDTH = 16  # characters per line of a tick label


def task_label(task: str, paper_task: object) -> str:
    """The tick label of a task: its name (broken at underscores past ``LABEL_WIDTH``: eleven tasks side by side
    leave no room for "commonsense_qa_offline" on one line), then the paper task it stands in for, wrapped to a
    few words a line."""
    name: list[str] = []
    for part in task.split("_"):
        if name and len(name[-1]) + 1 + len(part) <= LABEL_WIDTH:
            name[-1] += "_" + part
        else:
            name.append(f"_{part}" if name else part)
    paper = textwrap.wrap(f"({paper_task})", LABEL_WIDTH) if isinstance(paper_task, str) else []
    return "\n".join([*name, *paper])


def interval(rows: pd.DataFrame) -> np.ndarray | None:
    """[2, n] distances from ``score`` down to ``ci_low`` and up to ``ci_high`` (None when the table has none)."""
    if not {"ci_low", "ci_high"} <= set(rows.columns) or rows[["ci_low", "ci_high"]].isna().all().all():
        return None
    return np.vstack([rows["score"] - rows["ci_low"], rows["ci_high"] - rows["score"]]).clip(min=0)


def has_majority_class(task: str) -> bool:
    """Whether always predicting one answer is a floor for ``task``: not for regression, where ``majority_score``
    gives a constant prediction 0, which is no floor for a correlation."""
    return get_task(task).format != "regression"


def majority_floor(table: pd.DataFrame, tasks: Sequence[str]) -> pd.Series:
    """Per task of ``tasks``, the ``majority`` score of ``table``; NaN where the task has no majority class."""
    floor = table.drop_duplicates("task").set_index("task")["majority"].reindex(tasks)
    return floor.where([has_majority_class(task) for task in tasks])


def scores_beside_paper(
    table: pd.DataFrame, methods: Sequence[str], *, paper_label: str, ylabel: str, ours_label: str = "ours (test)",
    majority: bool = True, figsize: tuple[float, float] = (12, 4.5),
) -> Figure:
    """Per task (rows with a ``task``; ``paper_task`` names the paper's) one pair of bars per method of ``methods``
    present in ``table``: ours (``score``, solid, with its interval) and the paper's (``paper_score``, hatched);
    ``majority``: draw each classification task's ``majority`` score as a dashed line across its group
    (``majority_floor``)."""
    ours = table[table["task"].notna()]
    methods = [m for m in methods if m in set(ours["method"])]
    tasks = list(dict.fromkeys(ours["task"]))
    paper_tasks = ours.drop_duplicates("task").set_index("task")["paper_task"].reindex(tasks)
    x = np.arange(len(tasks))
    width = 0.84 / max(2 * len(methods), 1)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, ax = plt.subplots(figsize=figsize)
    for j, method in enumerate(methods):
        rows = ours[ours["method"] == method].drop_duplicates("task").set_index("task").reindex(tasks)
        left = x - 0.42 + 2 * j * width + width / 2
        color = colors[j % len(colors)]
        errors = interval(rows)
        ax.bar(left, rows["score"], width, color=color, label=method, yerr=errors,
               error_kw={"elinewidth": 0.8, "capsize": 1.5} if errors is not None else None)
        ax.bar(left + width, rows["paper_score"], width, color=color, alpha=0.45, hatch="//", edgecolor=color,
               label=method + PAPER_SUFFIX)
    floor = majority_floor(ours, tasks) if majority and "majority" in ours.columns else pd.Series(dtype=float)
    drawn = floor.notna().to_numpy()
    if drawn.any():
        ax.hlines(floor[drawn], x[drawn] - 0.45, x[drawn] + 0.45, colors="k", linestyles="--", linewidth=1)
    ax.set_xticks(x, [task_label(t, p) for t, p in paper_tasks.items()], fontsize=8)
    ax.set_xlim(-0.55, len(tasks) - 0.45)
    ax.set_ylabel(ylabel)
    handles = [Patch(color=colors[j % len(colors)], label=m) for j, m in enumerate(methods)]
    handles.append(Patch(facecolor="grey", label=f"solid: {ours_label}"))
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch="//", label=f"hatched: {paper_label}"))
    if drawn.any():
        regression = not all(has_majority_class(task) for task in tasks)
        label = "majority class" + (" (none for regression)" if regression else "")
        handles.append(plt.Line2D([], [], color="k", linestyle="--", label=label))
    if interval(ours) is not None:
        handles.append(plt.Line2D([], [], color="k", marker="|", linestyle="none", label="ours: 95% interval"))
    ax.legend(handles=handles, fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    fig.tight_layout()
    return fig
