"""Houlsby Figure 4: adapter sizes vs fine-tuning the top k layers vs LayerNorm-only, on the MNLI-m and CoLA
stand-ins (``runs.figure_tasks``), as test score minus full fine-tuning's.

The runs are BERT-base's as in the paper (``runs.ANALYSIS_ROLE``): on the cpu profile, where one model serves every
role, full fine-tuning and the adapter sizes of Table 1's grid are Table 1's runs and the top-k points Figure 3's.
The paper's in-text points (BERT-base, MNLI-m) stand on the MNLI-like task.
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
from adapterlib.studies.common import paired_task_difference
from adapterlib.studies.houlsby.runs import (ANALYSIS_ROLE, exact_counts, figure_suite, figure_tasks, finished,
                                             in_task_order, sweep_points)

STUDY = register(Study(name="houlsby_fig4_size_sweep", paper="houlsby",
                       title="Figure 4: adapter size vs top-k vs LayerNorm-only", roles=("glue",),
                       model_roles=(ANALYSIS_ROLE,), grids=("houlsby_glue", "size_sweep"),
                       depends=("houlsby_table1_glue",)))


@declares_runs(STUDY)
def runs(profile: Profile, tasks: Sequence[str] | None = None) -> list[RunConfig]:
    """Full fine-tuning (Table 1's runs) and the size sweep's adapters, top-k and LayerNorm-only on ``tasks``
    (default: ``runs.figure_tasks``)."""
    tasks = list(tasks or figure_tasks(profile))
    return (profile.configs("houlsby_glue", tasks, role=ANALYSIS_ROLE, regime=["full"])
            + profile.configs("size_sweep", tasks, role=ANALYSIS_ROLE, regime=["adapters", "top_k", "layernorm"]))


def table(profile: Profile, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Every point of the size sweep per task (two by default) with ``delta`` to full fine-tuning; the paper's
    Fig. 4 points on the MNLI-like task."""
    tasks = list(tasks or figure_tasks(profile))
    frame = finished(profile, runs(profile, tasks))
    points = pd.concat([sweep_points(frame[frame["task"] == task], figure_suite(profile, task)) for task in tasks],
                       ignore_index=True)
    full = points[points["method"] == "full"].set_index("task")["score"]
    points["delta"] = points["score"] - points["task"].map(full)
    known = paper_claims()
    paper = {"full": known.loc["fig4_full", "value"], "top_k_1": known.loc["fig4_top1", "value"],
             "adapters_64": known.loc["fig4_adapter64", "value"],
             "layernorm": known.loc["fig4_full", "value"] + known.loc["fig4_layernorm_drop_mnli", "value"]}
    points["paper_score"] = np.where(points["task"] == tasks[0], points["method"].map(paper), np.nan)
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
                    ax.annotate(f"{r['size']:g}", (r["trained_pct"], r["delta"]), fontsize=8,
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


def claims(table: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """fig4_*: the paper's MNLI-m points as differences to full fine-tuning on the MNLI-like task (the first), the
    CoLA LayerNorm claim on the second, each under the one learning rule (paired test intervals; not measured on a
    task full fine-tuning has not learned). From ``table()`` itself: the intervals need its per-example
    predictions, which the saved CSV leaves out."""
    tasks = list(dict.fromkeys(table["task"]))
    known = paper_claims()
    full_paper, a64_paper, top1_paper = (known.loc[c, "value"] for c in ("fig4_full", "fig4_adapter64", "fig4_top1"))
    first, second = (tasks + [None, None])[:2]
    stand_in = table.loc[table["task"] == first, "paper_task"]
    label = first if stand_in.eq("MNLI-m").any() or first is None else \
        f"{first} (a learned task in place of MNLI-m's stand-in: the profile's analysis_tasks)"
    top1_loss, a64_gap = round(full_paper - top1_paper, 2), round(full_paper - a64_paper, 2)
    checks = [
        _difference_check("fig4_adapter64", table, first, "full", "adapters_64", (-math.inf, a64_gap),
                          f"full fine-tuning minus size-64 adapters below {a64_gap:g} points (Fig. 4, MNLI-m: "
                          f"{full_paper:g} vs {a64_paper:g})", csv, label=label, paper_value=a64_gap,
                          description=f"adapter size 64 within {a64_gap:g} points of full fine-tuning "
                          f"(MNLI-m {a64_paper:g} vs {full_paper:g})"),
        _difference_check("fig4_top1", table, first, "full", "top_k_1", (0.0, math.inf),
                          f"top-1-layer fine-tuning scores below full fine-tuning (Fig. 4, MNLI-m: {top1_paper:g} vs "
                          f"{full_paper:g}, {top1_loss:g} points lower)", csv, label=label, paper_value=top1_loss,
                          description=f"fine-tuning only the top layer loses {top1_loss:g} points "
                          f"(MNLI-m {top1_paper:g} vs {full_paper:g})"),
        _top_of_curve_check(table, first, csv, full_paper, label),
    ]
    for claim, task, where in (("fig4_layernorm_drop_mnli", first, label), ("fig4_layernorm_drop_cola", second, second)):
        paper_drop = known.loc[claim, "value"]
        checks.append(_difference_check(claim, table, task, "layernorm", "full", (-math.inf, 0.0),
                                        f"LayerNorm-only scores below full fine-tuning (Fig. 4: {paper_drop:g} "
                                        f"points on {known.loc[claim, 'task']})", csv=csv, label=where))
    return checks


def _difference_check(claim: str, table: pd.DataFrame, task: str | None, method: str, baseline: str,
                      region: tuple[float, float], region_text: str, csv: str, label: str | None = None,
                      **given) -> ClaimCheck:
    """``claim`` on ``method`` minus ``baseline`` on ``task`` (test, named ``label`` in the basis), by
    ``claims.learning_check``."""
    interval, why = paired_task_difference(table, task, method, baseline)
    return cl.learning_check(claim, interval, region, region_text, f"{method} minus {baseline} on {label or task} (test)",
                             csv, not_measured=why, **given)


def _top_of_curve_check(table: pd.DataFrame, task: str | None, csv: str, full_paper: float,
                        label: str | None = None) -> ClaimCheck:
    """fig4_full, "full fine-tuning is the top of the curve": every other point minus full fine-tuning below 0 on
    ``task``. It holds only if it holds at every point; the record is the point least favourable to the claim
    (worst verdict, then highest difference)."""
    region, text = (-math.inf, 0.0), f"no point of the curve scores above full fine-tuning (Fig. 4, MNLI-m: full " \
                                     f"fine-tuning's {full_paper:g} is the highest)"
    given = {"paper_value": 0.0, "description": f"full fine-tuning is the top of the curve (MNLI-m {full_paper:g})"}
    others = [m for m in dict.fromkeys(table.loc[table["task"] == task, "method"]) if m != "full"]
    if not others:
        return cl.learning_check("fig4_full", None, region, text, f"the curve on {task}", csv,
                                 not_measured=f"not measured: no point besides full fine-tuning on {task}", **given)
    checks = [_difference_check("fig4_full", table, task, method, "full", region, text, csv, label, **given)
              for method in others]
    decisive = max(checks, key=lambda c: (cl.VERDICTS.index(c.verdict), c.our_value))
    return dataclasses.replace(decisive, verdict=cl.worst([c.verdict for c in checks]),
                               basis=f"{decisive.basis}; the least favourable of {len(checks)} points "
                               f"({', '.join(others)})")
