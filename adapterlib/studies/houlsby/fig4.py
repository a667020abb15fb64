"""Houlsby Figure 4: adapter sizes vs fine-tuning the top k layers vs LayerNorm-only, on the MNLI-m and CoLA
stand-ins (``runs.figure_tasks``), as test score minus full fine-tuning's.

The runs are BERT-base's as in the paper (``runs.ANALYSIS_ROLE``): on the cpu profile, where one model serves every
role, full fine-tuning and the adapter sizes of Table 1's grid are Table 1's runs and the top-k points Figure 3's.
Our first task is compared with the paper's MNLI-m panel, the second with its CoLA panel (``PAPER_PANELS``), whatever
task each stands in for. The paper's numbers sit in the table under the paper task and method it printed them for
(``paper_points``): on our row where our task stands in for that paper task, else on a row of their own.
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
from adapterlib.studies.common import floor_reason, paired_task_difference
from adapterlib.studies.houlsby.runs import (ANALYSIS_ROLE, exact_counts, figure_suite, figure_tasks, finished,
                                             in_task_order, sweep_points)

# The paper's Fig. 4 panels, in the order of ``runs.figure_tasks``: our first task is drawn and judged against MNLI-m
# (the paper's scores and its LayerNorm drop), the second against CoLA (its LayerNorm drop).
PAPER_PANELS = ("MNLI-m", "CoLA")
# What Fig. 4's in-text numbers are, by claim id of in_text_claims.csv: scores the paper prints (BERT-base,
# validation) and the LayerNorm-only results it gives only as a loss against full fine-tuning, never as a score.
PAPER_SCORES = {"fig4_full": "full", "fig4_adapter64": "adapters_64", "fig4_top1": "top_k_1"}
PAPER_DELTAS = {"fig4_layernorm_drop_mnli": "layernorm", "fig4_layernorm_drop_cola": "layernorm"}

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


def paper_points() -> pd.DataFrame:
    """Fig. 4's numbers as the paper prints them, one row per paper task and method: ``paper_score`` for the scores
    (MNLI-m: full fine-tuning, size-64 adapters, the top layer), ``paper_delta`` for the LayerNorm-only losses the
    paper gives only against full fine-tuning (MNLI-m, CoLA). Nothing derived: a LayerNorm score was never printed."""
    known = paper_claims()
    rows = [{"paper_task": known.loc[claim, "task"], "method": method, "paper_score": known.loc[claim, "value"],
             "paper_delta": np.nan} for claim, method in PAPER_SCORES.items()]
    rows += [{"paper_task": known.loc[claim, "task"], "method": method, "paper_score": np.nan,
              "paper_delta": known.loc[claim, "value"]} for claim, method in PAPER_DELTAS.items()]
    return pd.DataFrame(rows)


def table(profile: Profile, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Every point of the size sweep per task (two by default) with ``delta`` to full fine-tuning and
    ``compared_with``, the paper panel it is drawn against; the paper's points where ``with_paper`` puts them."""
    tasks = list(tasks or figure_tasks(profile))
    frame = finished(profile, runs(profile, tasks))
    points = pd.concat([sweep_points(frame[frame["task"] == task], figure_suite(profile, task)) for task in tasks],
                       ignore_index=True)
    full = points[points["method"] == "full"].set_index("task")["score"]
    points["delta"] = points["score"] - points["task"].map(full)
    points["compared_with"] = points["task"].map(dict(zip(tasks, PAPER_PANELS)))
    return exact_counts(with_paper(in_task_order(points, tasks)))


def with_paper(points: pd.DataFrame) -> pd.DataFrame:
    """``points`` with the paper's numbers (``paper_points``) on the row of the paper task and method they were
    printed for (the paper profile's MNLI and CoLA), and a row of their own (no task, no score) for each number
    whose paper task none of ours stands in for: an MNLI-m number never sits under another task's name."""
    paper = paper_points()
    keys = ["paper_task", "method"]
    printed = paper.set_index(keys)
    ours = pd.MultiIndex.from_frame(points[keys])
    points = points.assign(**{c: printed[c].reindex(ours).to_numpy() for c in ("paper_score", "paper_delta")})
    alone = paper[~pd.MultiIndex.from_frame(paper[keys]).isin(ours)].assign(task=None)
    return pd.concat([points, alone], ignore_index=True)


def plot(saved: pd.DataFrame) -> Figure:
    """Score minus full fine-tuning vs trained parameters (% of the base model, log x), one panel per task, titled
    with our task, the paper task it stands in for, the paper panel it is compared with, and, where full
    fine-tuning has not learned the task (``common.floor_reason``), that its differences are noise; that panel's
    printed points (BERT-base, validation) as crosses: the scores minus the paper's full fine-tuning, the LayerNorm
    loss as printed."""
    tasks = list(saved["task"].dropna().unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 5.2), squeeze=False, sharey=True)
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
        panel = part["compared_with"].iloc[0]
        paper = _paper_deltas(saved, panel) if isinstance(panel, str) else pd.DataFrame()
        if len(paper):
            x = [100 * HOULSBY_FIG4_TRAINED_PARAMS[m] / BERT_BASE_PARAMS for m in paper["method"]]
            ax.plot(x, paper["delta"], "x", color="red", markersize=9, mew=2, zorder=1.5,  # under ours
                    label=f"paper, BERT-base {panel} (validation, printed points)")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("trained parameters per task (% of base model)")
        ref = part["paper_task"].dropna()
        ours = f"ours: {task}" + (f" (stand-in for {ref.iloc[0]})" if len(ref) else "")
        compared = f"\ncompared with the paper's {panel} panel" if isinstance(panel, str) else ""
        floor = "\nnot learned: full fine-tuning at the majority class" if floor_reason(saved, task) else ""
        ax.set_title(ours + compared + floor)
    axes[0][0].set_ylabel("score minus full fine-tuning (points)\nours: test; paper: validation")
    legend = {}  # one legend under the panels, so that none covers a point
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.legend(legend.values(), legend.keys(), loc="lower center", ncol=3, fontsize=9, frameon=False)
    return fig


def _paper_deltas(saved: pd.DataFrame, paper_task: str) -> pd.DataFrame:
    """The paper's points of ``paper_task`` as differences to its full fine-tuning (``method``, ``delta``): a printed
    score minus the printed full fine-tuning score of the same task (none without one), a printed loss as is."""
    rows = saved[saved["paper_task"] == paper_task]
    full = rows.loc[rows["method"] == "full", "paper_score"].dropna()
    delta = rows["paper_delta"].fillna(rows["paper_score"] - (full.iloc[0] if len(full) else np.nan))
    return rows.assign(delta=delta).dropna(subset=["delta"])[["method", "delta"]]


def claims(table: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """fig4_*: the paper's MNLI-m points as differences to full fine-tuning on our first task, the CoLA LayerNorm
    claim on the second (``PAPER_PANELS``), each under the one learning rule (paired test intervals; not measured
    on a task full fine-tuning has not learned). Where the paper states a size (the top layer's 6.6-point loss, the
    LayerNorm losses), the region is that size give or take the house margin (``claims.about``), not just its
    sign. From ``table()`` itself: the intervals need its per-example predictions, which the saved CSV leaves out."""
    tasks = list(table["task"].dropna().unique())
    known = paper_claims()
    full_paper, a64_paper, top1_paper = (known.loc[c, "value"] for c in ("fig4_full", "fig4_adapter64", "fig4_top1"))
    first, second = (tasks + [None, None])[:2]
    label = _label(table, first, PAPER_PANELS[0])
    top1_loss, a64_gap = round(full_paper - top1_paper, 2), round(full_paper - a64_paper, 2)
    a64_bound = cl.on_par_bound(a64_gap)
    checks = [
        _difference_check("fig4_adapter64", table, first, "full", "adapters_64", (-math.inf, a64_bound),
                          f"full fine-tuning minus size-64 adapters below {a64_bound:g} points: the paper's gap "
                          f"(Fig. 4, MNLI-m: {full_paper:g} vs {a64_paper:g}) plus our {cl.ON_PAR_MARGIN:g}-point "
                          "margin for \"within\"", csv, label=label, paper_value=a64_gap,
                          description=f"adapter size 64 within {a64_gap:g} points of full fine-tuning "
                          f"(MNLI-m {a64_paper:g} vs {full_paper:g})"),
        _difference_check("fig4_top1", table, first, "full", "top_k_1", cl.about(top1_loss),
                          f"full fine-tuning minus top-1-layer fine-tuning {top1_loss:g} +- {cl.ON_PAR_MARGIN:g} "
                          f"points (Fig. 4, MNLI-m: {top1_paper:g} vs {full_paper:g}; \"about\" read with our "
                          f"{cl.ON_PAR_MARGIN:g}-point margin)",
                          csv, label=label, paper_value=top1_loss,
                          description=f"fine-tuning only the top layer loses {top1_loss:g} points "
                          f"(MNLI-m {top1_paper:g} vs {full_paper:g})"),
        _top_of_curve_check(table, first, csv, full_paper, label),
    ]
    for claim, task, panel in (("fig4_layernorm_drop_mnli", first, PAPER_PANELS[0]),
                               ("fig4_layernorm_drop_cola", second, PAPER_PANELS[1])):
        drop = known.loc[claim, "value"]
        checks.append(_difference_check(
            claim, table, task, "layernorm", "full", cl.about(drop),
            f"LayerNorm-only minus full fine-tuning {drop:g} +- {cl.ON_PAR_MARGIN:g} points (Fig. 4, {panel}: "
            f"loses about {-drop:g}; \"about\" read with our {cl.ON_PAR_MARGIN:g}-point margin)",
            csv=csv, label=_label(table, task, panel), paper_value=drop))
    return checks


def _label(table: pd.DataFrame, task: str | None, panel: str) -> str | None:
    """``task`` as a claim's basis names it: with the paper task it stands in for and the paper panel it is
    compared with, where the two differ (a learned task in place of the panel's stand-in, or no stand-in)."""
    refs = table.loc[table["task"] == task, "paper_task"].dropna()
    if task is None or (len(refs) and refs.iloc[0] == panel):
        return task
    stands_in = f"stand-in for {refs.iloc[0]}; " if len(refs) else ""
    return f"{task} ({stands_in}compared with the paper's {panel})"


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
    # the paper prints no difference for the curve's top, only that full fine-tuning is it
    given = {"paper_value": math.nan,
             "description": f"full fine-tuning is the top of the curve (MNLI-m {full_paper:g})"}
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
