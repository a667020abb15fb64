"""AdapterFusion Table 1: Head, Full, ST-A, MT-A, Fusion w/ ST-A, Fusion w/ MT-A and ST-A Houlsby on the fusion tasks.

    table = table1.table(profile)          # trains what the run store lacks
    checks = table1.claims(table)
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import fusion_n_tasks, fusion_table1, paper_score
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import MultiTaskConfig, RunConfig
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.common import floor_count, majority_note, paired_mean_difference, split_columns
from adapterlib.studies.fusion.report import claims_section
from adapterlib.studies.fusion.runs import TABLE1_GRIDS, method_rows, results, table1_configs
from adapterlib.studies.score_bars import scores_beside_paper

STUDY = register(Study(
    name="fusion_table1", paper="fusion", title="Table 1: Head, Full, ST-A, MT-A, Fusion w/ ST-A and w/ MT-A",
    roles=("fusion",), grids=TABLE1_GRIDS, stand_ins=True,
    depends=("houlsby_table1_glue",)))  # Full and ST-A Houlsby are Houlsby Table 1's runs where the tasks overlap
METHODS = ("head", "full", "st_a", "mt_a", "fusion_st_a", "fusion_mt_a", "st_a_houlsby")  # Table 1's columns


@declares_runs(STUDY)
def runs(profile: Profile) -> list[RunConfig | MultiTaskConfig]:
    """Every run of the table (``runs.table1_configs``); Table 2, Figure 3 and the trade-off read the same."""
    return [cfg for configs in table1_configs(profile).values() for cfg in configs]


def table(profile: Profile) -> pd.DataFrame:
    """AdapterFusion Table 1 on the profile's fusion tasks: one row per task x method (``METHODS``), our test score
    (mean over seeds, hyperparameters chosen on dev) beside the paper's dev score for the task it stands in for."""
    frames = {name: results(profile, configs) for name, configs in table1_configs(profile).items()}  # sources first
    baselines = frames.pop("baselines")
    parts = [method_rows(profile, baselines[baselines["regime"] == regime], regime) for regime in ("head", "full")]
    parts += [method_rows(profile, frame, method) for method, frame in frames.items()]
    rows = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    rows["method"] = pd.Categorical(rows["method"], METHODS, ordered=True)
    rows = split_columns(rows, profile.suites["fusion"], "fusion_table1")
    return rows.sort_values(["method", "task"]).assign(method=lambda t: t["method"].astype(str)).reset_index(drop=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: our mean over our tasks, the paper's mean over the same stand-in tasks and over all of
    its tasks."""
    paper = fusion_table1()
    rows = []
    for method in METHODS:
        mine = table[table["method"] == method]
        rows.append({"method": method, "n_tasks": int(mine["score"].notna().sum()), "score": mine["score"].mean(),
                     "paper_score_same_tasks": mine["paper_score"].mean(),
                     "paper_score_all_tasks": paper_score(paper, "Mean", method),
                     "trained_pct": mine["trained_pct"].mean()})
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame) -> Figure:
    """Our test score per task and method beside the paper's dev score (Table 1)."""
    return scores_beside_paper(table, METHODS, paper_label="paper (dev, BERT-base)", ylabel="accuracy",
                               figsize=(14, 4.5))


def claims(table: pd.DataFrame) -> list[ClaimCheck]:
    """The paper's headline (Fusion w/ ST-A beats ST-A and full fine-tuning on average) on our learned tasks, by the
    one learning rule: the sign of the paper's difference is the claim ("fusion scores higher"), so the region is
    (0, inf) when the paper's difference is positive and (-inf, 0) otherwise; a difference indistinguishable from
    0 is inconclusive, never a pass."""
    means = summary(table).set_index("method")
    checks = []
    for other in ("st_a", "full"):
        paper = means.loc["fusion_st_a", "paper_score_same_tasks"] - means.loc[other, "paper_score_same_tasks"]
        interval, tasks, why = paired_mean_difference(table, "fusion_st_a", other)
        higher = not paper < 0  # NaN (no paper numbers for our stand-ins) reads as the paper's headline: higher
        region = (0.0, math.inf) if higher else (-math.inf, 0.0)
        n = int(means.loc["fusion_st_a", "n_tasks"])
        checks.append(cl.learning_check(
            f"t1_fusion_st_a_minus_{other}", interval, region,
            f"fusion_st_a {'above' if higher else 'below'} {other} on average (Table 1 on the paper tasks ours "
            f"stand in for: {paper:+.2f})",
            f"test score of fusion_st_a minus {other}, paired, mean over the {len(tasks)} learned of our {n} tasks"
            f"{floor_count(table, n)}", STUDY.name, not_measured=why, tasks=tasks, paper_value=paper,
            description=f"Fusion w/ ST-A vs {other}: mean difference over the tasks", paper=STUDY.paper,
            source="Table 1"))
    return checks


def findings(table: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """The closing text of the notebook, from the numbers."""
    means = summary(table).set_index("method")
    best = means["score"].idxmax()
    lines = [f"Over our {int(means['n_tasks'].max())} tasks the best mean is **{best}** "
             f"({means.at[best, 'score']:.2f}); the paper's best on the same stand-in tasks is "
             f"**{means['paper_score_same_tasks'].idxmax()}** ({means['paper_score_same_tasks'].max():.2f}).",
             "", f"| method | ours (mean test) | paper, same tasks | paper, {fusion_n_tasks()} tasks "
             "| ours minus paper (same tasks) |",
             "|---|---|---|---|---|"]
    lines += [f"| {m} | {r['score']:.2f} | {r['paper_score_same_tasks']:.2f} | {r['paper_score_all_tasks']:.2f} | "
              f"{r['score'] - r['paper_score_same_tasks']:+.2f} |" for m, r in means.iterrows()]
    return "\n".join(lines) + "\n\n" + claims_section(checks) + "\n\n" + majority_note(table)
