"""Houlsby Figures 1 and 3: score minus full fine-tuning's against trained parameters per task, adapters (every
size) vs fine-tuning the top k layers, and LoRA (Hu et al. 2021, a few ranks: what readers choose today), as
20th/50th/80th percentiles across the tasks full fine-tuning has learned.

GLUE points come from Table 1's runs plus top-k runs (shared with Figure 4), additional-task points from Table 2's
runs; the GLUE top-k runs and the LoRA runs (only on learned tasks: elsewhere every method sits at the majority
class and the curve would be noise) are trained here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import HOULSBY_MEAN_ROW, houlsby_additional, houlsby_glue
from adapterlib.runner.profiles import Profile
from adapterlib.studies.base import Study, register
from adapterlib.studies.houlsby.report import PAPER
from adapterlib.studies.common import LEARNED_MARGIN, learned_tasks
from adapterlib.studies.houlsby.runs import exact_counts, finished, sweep_points

STUDY = register(Study(name="houlsby_fig3_tradeoff", paper="houlsby",
                       title="Figures 1 and 3: accuracy vs trained parameters", roles=("glue", "additional"),
                       grids=("houlsby_glue", "size_sweep", "houlsby_additional", "lora"),
                       depends=("houlsby_table1_glue", "houlsby_table2_additional")))
# Per role: the grids whose points are drawn, each with its regimes (Table 1's or 2's runs, plus top-k on GLUE).
GRIDS = {"glue": (("houlsby_glue", ["full", "adapters"]), ("size_sweep", ["top_k"])),
         "additional": (("houlsby_additional", ["full", "top_k", "adapters"]),)}
SWEEP = ("size", "top_k", "r")  # one point per adapter size, top-k depth and LoRA rank
# Per role: the paper's table and its adapters column (size chosen on dev), compared with its "full" column.
PAPER_TABLES = {"glue": (houlsby_glue, "adapters_best_size"), "additional": (houlsby_additional, "adapters")}


def table(profile: Profile) -> pd.DataFrame:
    """Every adapter size and every top-k point per task, with ``delta`` (score minus full fine-tuning's) and
    ``suite`` (the role)."""
    parts = []
    for role, grids in GRIDS.items():
        tasks, suite = profile.task_names(role), profile.suites[role]
        configs = [cfg for grid, regimes in grids for cfg in profile.configs(grid, tasks, regime=regimes)]
        points = sweep_points(finished(profile, configs), suite, PAPER_TABLES[role][0](), by=SWEEP)
        learned = learned_tasks(points)
        if learned:
            lora = finished(profile, profile.configs("lora", learned, regime=["adapters"]))
            points = pd.concat([points, sweep_points(lora, suite, by=SWEEP)], ignore_index=True)
        full = points[points["method"] == "full"].set_index("task")["score"]
        points["delta"] = points["score"] - points["task"].map(full)
        parts.append(points.assign(suite=role, learned=points["task"].isin(learned)))
    return exact_counts(pd.concat(parts, ignore_index=True))


def family(method: pd.Series) -> pd.Series:
    """The series a point belongs to: ``adapters``, ``lora``, ``top_k`` or ``full``."""
    return method.str.replace(r"_\d+$", "", regex=True)


def percentiles(saved: pd.DataFrame, q: Sequence[float] = (20, 50, 80)) -> pd.DataFrame:
    """Per suite and point: the 20th/50th/80th percentile of ``delta`` across the learned tasks, median trained
    params."""
    rows = []
    saved = saved[saved["learned"].astype(bool)]
    for (suite, method), part in saved.groupby(["suite", "method"], sort=False):
        deltas = part["delta"].dropna()
        rows.append({"suite": suite, "method": method, "family": family(part["method"]).iloc[0], "n_tasks": len(deltas),
                     "trained_params": part["trained_params"].median(), "trained_pct": part["trained_pct"].median(),
                     **{f"p{int(p)}": np.percentile(deltas, p) if len(deltas) else float("nan") for p in q}})
    columns = ["suite", "method", "family", "n_tasks", "trained_params", "trained_pct", *[f"p{int(p)}" for p in q]]
    return pd.DataFrame(rows, columns=columns).sort_values(["suite", "family", "trained_params"], ignore_index=True)


def plot(saved: pd.DataFrame) -> Figure:
    """Score minus full fine-tuning's vs trained parameters per task (log x): median line and 20-80th percentile
    band across the learned tasks, adapters vs LoRA vs top-k fine-tuning, one panel per suite (the paper's Figures
    1 and 3, plus LoRA)."""
    stats = percentiles(saved)
    suites = list(dict.fromkeys(saved["suite"]))
    fig, axes = plt.subplots(1, len(suites), figsize=(6 * len(suites), 4), squeeze=False)
    for ax, suite in zip(axes[0], suites):
        n = int(stats.loc[stats["suite"] == suite, "n_tasks"].max()) if (stats["suite"] == suite).any() else 0
        of = saved.loc[saved["suite"] == suite, "task"].nunique()
        ax.set_title(f"{suite} role: {n} of {of} tasks learned (band: 20th-80th percentile)", fontsize=10)
        if not n:  # nothing to draw: every task at the majority-class floor
            ax.text(0.5, 0.5, "no task learned at this scale", ha="center", transform=ax.transAxes)
            continue
        for families, color, label in ((["adapters"], "tab:orange", "Houlsby adapters, sizes"),
                                       (["lora"], "tab:green", "LoRA, ranks"),
                                       (["top_k", "full"], "tab:blue", "fine-tune top k (up to all: full)")):
            part = stats[(stats["suite"] == suite) & stats["family"].isin(families)].sort_values("trained_params")
            ax.plot(part["trained_params"], part["p50"], "o-", color=color, label=f"{label} (median)")
            ax.fill_between(part["trained_params"], part["p20"], part["p80"], color=color, alpha=0.2)
        full = stats[(stats["suite"] == suite) & (stats["family"] == "full")]
        ax.plot(full["trained_params"], full["p50"], "k*", markersize=12, label="full fine-tuning")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("trained parameters per task")
        ax.set_ylabel("score minus full fine-tuning (points)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def claims(saved: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """Adapters reach full fine-tuning's level with far fewer trained parameters, on each suite: median over tasks
    of (best adapter size on dev minus full), against the same median in the paper's Table 1/2."""
    checks = []
    for suite, (paper_table, adapters_m) in PAPER_TABLES.items():
        part = saved[(saved["suite"] == suite) & (family(saved["method"]) == "adapters") & saved["learned"].astype(bool)]
        best = part.loc[part.groupby("task")["dev_score"].idxmax()] if len(part) else part
        ours = float(best["delta"].median()) if len(best) else float("nan")
        full_params = saved[(saved["suite"] == suite) & (saved["method"] == "full")].set_index("task")["trained_params"]
        ratio = float((best["trained_params"] / best["task"].map(full_params)).median()) if len(best) else float("nan")
        paper = paper_table()
        wide = paper[paper["method"].isin(["full", adapters_m])].pivot_table(
            index="paper_task", columns="method", values="paper_score").drop(index=HOULSBY_MEAN_ROW[suite])
        paper_delta = float((wide[adapters_m] - wide["full"]).median())
        verdict = cl.at_least(ours, paper_delta - 1, slack=2.0) if not math.isnan(ours) else "not measured"
        checks.append(cl.check(
            f"fig3_{suite}_adapters", ours, verdict,
            f"median over our {len(best)} learned {suite}-role tasks (full fine-tuning at least {LEARNED_MARGIN:g} points above the "
            f"majority class) of adapters (size chosen on dev) minus full fine-tuning, "
            f"at a median {100 * ratio:.2g}% of full fine-tuning's trained parameters; holds if at least the "
            "paper's median minus 1 point, partly if within 2 more", csv, paper_value=round(paper_delta, 2),
            paper=PAPER, source="Fig. 1/3 (medians from Table 1/2)",
            description=f"adapters near full fine-tuning with far fewer trained parameters ({suite} tasks)"))
    return checks
