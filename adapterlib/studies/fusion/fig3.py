"""AdapterFusion Figure 3: each adapter method's score relative to full fine-tuning, per task.

Computed from Table 1's runs (reused through the run store); the paper's differences from its Table 1 beside ours.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import FUSION_SMALL_TASKS
from adapterlib.reporting.statistics import TaskRuns, mean_difference_interval
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.common import learned_tasks, paired_mean_difference
from adapterlib.studies.fusion import table1
from adapterlib.studies.fusion.report import claims_section
from adapterlib.studies.fusion.runs import TABLE1_GRIDS
from adapterlib.studies.score_bars import scores_beside_paper

STUDY = register(Study(name="fusion_fig3_relative", paper="fusion", title="Figure 3: relative to full fine-tuning",
                       roles=("fusion",), grids=TABLE1_GRIDS, stand_ins=True, depends=(table1.STUDY.name,)))
METHODS = ("st_a", "mt_a", "fusion_st_a", "fusion_mt_a")


def relative(table1_rows: pd.DataFrame) -> pd.DataFrame:
    """Figure 3 from a Table 1 frame: each method's score minus full fine-tuning's, per task, ours and the paper's;
    ``learned``: full fine-tuning learned the task (``learned_tasks``), where a difference can say something."""
    full = table1_rows[table1_rows["method"] == "full"].set_index("task")
    rows = table1_rows[table1_rows["method"].isin(METHODS)].copy()
    if rows.empty:  # no task of the kind asked for (the others left out: Profile.missing_tasks)
        return rows.drop(columns=["run_ids"], errors="ignore").reset_index(drop=True)
    rows["score"] = rows["score"] - rows["task"].map(full["score"])
    bounds = [_difference_bounds(row, full.loc[row["task"]]) if row["task"] in full.index else (math.nan, math.nan)
              for _, row in rows.iterrows()]
    rows["ci_low"], rows["ci_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
    rows["paper_score"] = rows["paper_score"] - rows["task"].map(full["paper_score"])
    rows["metric"] = rows["metric"] + " minus full fine-tuning"
    rows["learned"] = rows["task"].isin(learned_tasks(table1_rows))
    return rows.drop(columns=["run_ids"], errors="ignore").reset_index(drop=True)


def drawn(rel: pd.DataFrame) -> pd.Series:
    """The rows the figure draws and the findings average: learned tasks that stand for a paper task (one rule for
    the floor: a task full fine-tuning did not learn is out of every figure and mean)."""
    return rel["learned"].astype(bool) & rel["paper_task"].notna()


def _difference_bounds(row: pd.Series, full: pd.Series) -> tuple[float, float]:
    """The paired 95% interval of ``row`` minus full fine-tuning on its task (NaN without per-example
    predictions): the score's own interval no longer applies once full fine-tuning's score is subtracted."""
    if not isinstance(row.get("predictions"), list) or not isinstance(full.get("predictions"), list):
        return math.nan, math.nan
    interval = mean_difference_interval([TaskRuns(row["task"], full["references"], row["predictions"],
                                                  full["predictions"])])
    return interval.low, interval.high


declares_runs(STUDY)(table1.runs)  # this study tabulates Table 1's runs


def plot(rel: pd.DataFrame) -> Figure:
    """Points over full fine-tuning per learned paper task (``drawn``) and method, ours beside the paper's; the
    title names the tasks left out and why."""
    fig = scores_beside_paper(rel[drawn(rel)], METHODS, paper_label="paper (dev, BERT-base)", majority=False,
                              ylabel="points over full fine-tuning")
    fig.axes[0].axhline(0, color="k", linewidth=0.8)
    out = rel.loc[~drawn(rel)].drop_duplicates("task")
    title = f"{rel.loc[drawn(rel), 'task'].nunique()} of {rel['task'].nunique()} tasks: those full fine-tuning learned"
    for why, tasks in (("full fine-tuning did not learn them", out.loc[~out["learned"].astype(bool), "task"]),
                       ("no paper task", out.loc[out["learned"].astype(bool), "task"])):
        if len(tasks):
            title += f"\nnot drawn ({why}): {', '.join(tasks)}"
    fig.axes[0].set_title(title, fontsize=9)
    if not drawn(rel).any():
        fig.axes[0].text(0.5, 0.5, "no task learned by full fine-tuning: no difference to draw", ha="center",
                         va="center", transform=fig.axes[0].transAxes, color="grey")
    return fig


def claims(table1_rows: pd.DataFrame) -> list[ClaimCheck]:
    """Fig. 3: fusion gains most on the small tasks, checked as Fusion w/ ST-A minus full fine-tuning on the
    stand-ins of the paper's small (<5k) tasks, mean over those full fine-tuning learned, paired (the one
    learning rule). From Table 1's frame itself (``table1.table``): the interval needs both methods' per-example
    predictions, which ``relative`` and the saved CSV leave out."""
    small = table1_rows[table1_rows["paper_task"].isin(FUSION_SMALL_TASKS)]
    relative_rows = relative(small)
    paper = float(relative_rows.loc[relative_rows["method"] == "fusion_st_a", "paper_score"].mean())
    interval, tasks, why = paired_mean_difference(small, "fusion_st_a", "full")
    return [cl.learning_check(
        "fig3_small_task_gain", interval, (0.0, math.inf),
        f"Fusion w/ ST-A scores above full fine-tuning on the small tasks (paper: {paper:+.2f} points, mean of "
        "Table 1 over the same tasks)",
        f"test score of fusion_st_a minus full, paired, mean over the {len(tasks)} learned of our "
        f"{small['task'].nunique()} small-task stand-ins ({', '.join(tasks) or 'none'})", STUDY.name,
        not_measured=why, tasks=tasks, paper_value=paper, paper=STUDY.paper, source="Fig. 3",
        description="Fusion w/ ST-A gains over full fine-tuning on the small tasks")]


def findings(rel: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """Mean gains over full fine-tuning, on the learned paper tasks (``drawn``) and on the small ones among them,
    ours beside the paper's on the same tasks."""
    learned = sorted(rel.loc[drawn(rel), "task"].unique())
    lines = [f"Means over the {len(learned)} tasks full fine-tuning learned ({', '.join(learned) or 'none'}); the "
             "others are at the floor, where a difference says nothing.", "",
             "| method | ours: mean points over full FT | paper, same tasks | ours, small tasks | paper, small tasks |",
             "|---|---|---|---|---|"]
    for method in METHODS:
        part = rel[(rel["method"] == method) & drawn(rel)]
        small = part[part["paper_task"].isin(FUSION_SMALL_TASKS)]
        lines.append(f"| {method} | {part['score'].mean():+.2f} | {part['paper_score'].mean():+.2f} | "
                     f"{small['score'].mean():+.2f} | {small['paper_score'].mean():+.2f} |")
    return "\n".join(lines) + "\n\n" + claims_section(checks)
