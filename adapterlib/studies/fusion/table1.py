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
from adapterlib.studies.base import Study, register
from adapterlib.studies.common import floor_count, majority_note
from adapterlib.studies.fusion.report import claims_section
from adapterlib.studies.fusion.runs import (TABLE1_GRIDS, fusion_configs, method_rows, mt_a_configs, results,
                                            st_a_configs)
from adapterlib.studies.score_bars import scores_beside_paper

STUDY = register(Study(
    name="fusion_table1", paper="fusion", title="Table 1: Head, Full, ST-A, MT-A, Fusion w/ ST-A and w/ MT-A",
    roles=("fusion",), grids=TABLE1_GRIDS, stand_ins=True,
    depends=("houlsby_table1_glue",)))  # Full and ST-A Houlsby are Houlsby Table 1's runs where the tasks overlap
METHODS = ("head", "full", "st_a", "mt_a", "fusion_st_a", "fusion_mt_a", "st_a_houlsby")  # Table 1's columns


def table(profile: Profile) -> pd.DataFrame:
    """AdapterFusion Table 1 on the profile's fusion tasks: one row per task x method (``METHODS``), our test score
    (mean over seeds, hyperparameters chosen on dev) beside the paper's dev score for the task it stands in for."""
    st_a = st_a_configs(profile)
    mt_a = mt_a_configs(profile)
    frames = {
        "baselines": results(profile, profile.configs("fusion_full", profile.task_names("fusion"), role="fusion",
                                                      regime=["head", "full"])),
        "st_a": results(profile, st_a),
        "st_a_houlsby": results(profile, st_a_configs(profile, "fusion_st_a_houlsby")),
        "mt_a": results(profile, mt_a),
    }
    frames["fusion_st_a"] = results(profile, fusion_configs(profile, st_a))
    frames["fusion_mt_a"] = results(profile, fusion_configs(profile, mt_a))
    baselines = frames.pop("baselines")
    parts = [method_rows(profile, baselines[baselines["regime"] == regime], regime) for regime in ("head", "full")]
    parts += [method_rows(profile, frame, method) for method, frame in frames.items()]
    rows = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    rows["method"] = pd.Categorical(rows["method"], METHODS, ordered=True)
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
    """The paper's headline (Fusion w/ ST-A beats ST-A and full fine-tuning on average) on our tasks."""
    means = summary(table).set_index("method")
    checks = []
    for other in ("st_a", "full"):
        ours = means.loc["fusion_st_a", "score"] - means.loc[other, "score"]
        paper = means.loc["fusion_st_a", "paper_score_same_tasks"] - means.loc[other, "paper_score_same_tasks"]
        verdict = "not measured" if math.isnan(ours) else cl.at_least(ours, min(paper, 0.0), slack=1.0)
        n = int(means.loc["fusion_st_a", "n_tasks"])
        checks.append(cl.check(
            f"t1_fusion_st_a_minus_{other}", ours, verdict,
            f"mean test score of fusion_st_a minus {other} over our {n} tasks{floor_count(table, n)}; "
            f"paper value: the same difference of Table 1 over the paper tasks ours stand in for; holds if ours "
            f">= min(paper, 0) (fusion does not lose), partly if within 1 point below", STUDY.name,
            paper_value=paper, description=f"Fusion w/ ST-A vs {other}: mean difference over the tasks",
            paper=STUDY.paper, source="Table 1"))
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
