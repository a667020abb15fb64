"""Houlsby Figure 4: adapter sizes vs fine-tuning the top k layers vs LayerNorm-only, on the MNLI-m and CoLA
stand-ins (``runs.figure_tasks``), as test score minus full fine-tuning's.

Full fine-tuning and the adapter sizes of Table 1's grid are Table 1's runs; the top-k points are shared with
Figure 3. The paper's in-text points (BERT-base, MNLI-m) stand on the MNLI-like task.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import BERT_BASE_PARAMS, HOULSBY_FIG4_TRAINED_PARAMS
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import RunConfig
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.common import floor_reason
from adapterlib.studies.houlsby.report import gap_check
from adapterlib.studies.houlsby.runs import exact_counts, figure_tasks, finished, in_task_order, sweep_points

STUDY = register(Study(name="houlsby_fig4_size_sweep", paper="houlsby",
                       title="Figure 4: adapter size vs top-k vs LayerNorm-only", roles=("glue",),
                       grids=("houlsby_glue", "size_sweep"), depends=("houlsby_table1_glue",)))


@declares_runs(STUDY)
def runs(profile: Profile, tasks: Sequence[str] | None = None) -> list[RunConfig]:
    """Full fine-tuning (Table 1's runs) and the size sweep's adapters, top-k and LayerNorm-only on ``tasks``
    (default: ``runs.figure_tasks``)."""
    tasks = list(tasks or figure_tasks(profile))
    return (profile.configs("houlsby_glue", tasks, regime=["full"])
            + profile.configs("size_sweep", tasks, regime=["adapters", "top_k", "layernorm"]))


def table(profile: Profile, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Every point of the size sweep per task (two by default) with ``delta`` to full fine-tuning; the paper's
    Fig. 4 points on the MNLI-like task."""
    tasks = list(tasks or figure_tasks(profile))
    points = sweep_points(finished(profile, runs(profile, tasks)), profile.suites["glue"])
    full = points[points["method"] == "full"].set_index("task")["score"]
    points["delta"] = points["score"] - points["task"].map(full)
    known = paper_claims()
    paper = {"full": known.loc["fig4_full", "value"], "top_k_1": known.loc["fig4_top1", "value"],
             "adapters_64": known.loc["fig4_adapter64", "value"],
             "layernorm": known.loc["fig4_full", "value"] + known.loc["fig4_layernorm_drop_mnli", "value"]}
    points["paper_score"] = np.where(points["paper_task"] == "MNLI-m", points["method"].map(paper), np.nan)
    return exact_counts(in_task_order(points, tasks))


def plot(saved: pd.DataFrame) -> Figure:
    """Score minus full fine-tuning vs trained parameters (% of the base model, log x), one panel per task; the
    paper's in-text points (BERT-base, MNLI-m) as crosses on the MNLI-like panel."""
    tasks = list(dict.fromkeys(saved["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False, sharey=True)
    style = {"adapters": ("o-", "tab:orange", "adapters (sizes)"), "top_k": ("s-", "tab:blue", "fine-tune top k"),
             "layernorm": ("D", "tab:green", "LayerNorm only"), "full": ("*", "black", "full fine-tuning")}
    for ax, task in zip(axes[0], tasks):
        part = saved[saved["task"] == task].sort_values("trained_pct")
        for regime, (marker, color, label) in style.items():
            rows = part[part["regime"] == regime]
            ax.plot(rows["trained_pct"], rows["delta"], marker, color=color, label=label, markersize=8)
            if regime == "adapters":
                for _, r in rows.iterrows():
                    ax.annotate(r["method"].split("_")[-1], (r["trained_pct"], r["delta"]), fontsize=7,
                                textcoords="offset points", xytext=(3, 3))
        paper = part.dropna(subset=["paper_score"])
        if len(paper):
            full = paper.loc[paper["method"] == "full", "paper_score"].iloc[0]
            x = [100 * HOULSBY_FIG4_TRAINED_PARAMS[m] / BERT_BASE_PARAMS for m in paper["method"]]
            ax.plot(x, paper["paper_score"] - full, "x", color="red", markersize=9, mew=2,
                    label="paper, BERT-base MNLI-m (in-text points)")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("trained parameters per task (% of base model)")
        ref = part["paper_task"].dropna()
        ax.set_title(f"{task}" + (f" (stand-in for {ref.iloc[0]})" if len(ref) else ""))
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("test score minus full fine-tuning (points)")
    fig.tight_layout()
    return fig


def claims(saved: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """fig4_*: the paper's MNLI-m points as gaps to full fine-tuning, checked on the MNLI-like task (the first);
    the CoLA LayerNorm claim on the second task. A task not learned at this scale leaves its claims unjudged."""
    tasks = list(dict.fromkeys(saved["task"]))
    known = paper_claims()
    full_paper, a64_paper, top1_paper = (known.loc[c, "value"] for c in ("fig4_full", "fig4_adapter64", "fig4_top1"))

    def delta(task: str | None, method: str) -> float:
        hit = saved.loc[(saved["task"] == task) & (saved["method"] == method), "delta"]
        return float(hit.iloc[0]) if len(hit) else float("nan")

    first, second = (tasks + [None, None])[:2]
    top1, a64 = -delta(first, "top_k_1"), -delta(first, "adapters_64")
    others = saved[(saved["task"] == first) & (saved["method"] != "full")]["delta"]
    best_other = float(others.max()) if len(others) else float("nan")
    checks = [
        gap_check("fig4_adapter64", a64, round(full_paper - a64_paper, 2),
                  f"full minus size-64 adapters on {first} (test)", csv,
                  description=f"adapter size 64 within {full_paper - a64_paper:.1f} points of full fine-tuning "
                  f"(MNLI-m {a64_paper:g} vs {full_paper:g})"),
        cl.check("fig4_top1", top1, "not measured" if math.isnan(top1) else
                 "holds" if top1 >= 3 else "partly" if top1 > 1 else "does not hold",
                 f"full minus top-1-layer fine-tuning on {first} (test); holds if top-1 loses at least 3 points, "
                 "partly if more than 1", csv, paper_value=round(full_paper - top1_paper, 2),
                 description=f"fine-tuning only the top layer loses {full_paper - top1_paper:.1f} points "
                 f"(MNLI-m {top1_paper:g} vs {full_paper:g})"),
        cl.check("fig4_full", best_other, "not measured" if math.isnan(best_other) else
                 cl.at_most(best_other, 1.0, slack=2.0),
                 f"best score of any other point minus full fine-tuning on {first}; holds if none beats full "
                 "fine-tuning by more than 1 point, partly by at most 3", csv, paper_value=0.0,
                 description=f"full fine-tuning is the top of the curve (MNLI-m {full_paper:g})"),
    ]
    for claim, task in (("fig4_layernorm_drop_mnli", first), ("fig4_layernorm_drop_cola", second)):
        drop, paper_drop = delta(task, "layernorm"), known.loc[claim, "value"]
        verdict = ("not measured" if math.isnan(drop) else "holds" if abs(drop - paper_drop) <= 2
                   else "partly" if drop < 0 else "does not hold")
        checks.append(cl.check(claim, drop, verdict, f"LayerNorm-only minus full fine-tuning on {task} (test); holds "
                               "if within 2 points of the paper's drop, partly if it still loses", csv))
    on_task = {check.claim: first for check in checks} | {"fig4_layernorm_drop_cola": second}
    return [_unless_unlearned(check, saved, on_task[check.claim]) for check in checks]


def _unless_unlearned(check: ClaimCheck, saved: pd.DataFrame, task: str | None) -> ClaimCheck:
    """``check``, or "not measured" with the reason if ``task`` sits at its majority-class floor in ``saved``."""
    reason = floor_reason(saved, task)
    return check if reason is None else dataclasses.replace(check, verdict="not measured",
                                                            basis=f"{check.basis}; {reason}")
