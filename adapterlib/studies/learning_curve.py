"""Our figure, not the papers': full fine-tuning, Houlsby adapters (size 64) and LoRA (rank 8) as the training set
grows (``Profile.curve_sizes``) on a few tasks the model learns (``Profile.curve_tasks``), with intervals.

Houlsby et al. report adapters within 0.4 points of full fine-tuning with the full GLUE training sets; at 256
examples our adapters trail it. This is where the two meet or do not: for each size, every method's test score with
its 95% interval and its paired difference to full fine-tuning at the same size (the interval of Table 1's claims),
beside the paper's adapters-minus-full gap on the paper task the task stands in for (Houlsby Table 1 for a GLUE
task, the ST-A column of AdapterFusion Table 1 for one of its tasks; both on the full training sets). The claims:
"adapters within the paper's gap plus the house margin" at each size, over the tasks full fine-tuning learned at
that size. The runs are Table 1's settings, so the smallest size's points are Table 1's runs where the sizes meet.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from adapterlib.data.tasks import get_task
from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.reporting.paper import fusion_table1, houlsby_glue, paper_score
from adapterlib.runner.grid import METHOD_BY_KEY, select_best
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import RunConfig
from adapterlib.studies.base import Study, declares_runs, paper_task_text, register
from adapterlib.studies.common import learned_tasks, paired_mean_difference, tidy_rows
from adapterlib.studies.houlsby.runs import finished, point_name

STUDY = register(Study(name="learning_curve", paper="houlsby",
                       title="Learning curves: full fine-tuning, adapters and LoRA by training-set size",
                       grids=("learning_curve", "learning_curve_lora")))
METHODS = ("full", "adapters_64", "lora_8")
COLOURS = {"full": "black", "adapters_64": "tab:blue", "lora_8": METHOD_BY_KEY["lora"].colour}
# the paper's adapters-minus-full column per suite: Houlsby's size-64 adapters, AdapterFusion's ST-A
PAPER_ADAPTERS = {"glue_offline": (houlsby_glue, "adapters_64"), "glue": (houlsby_glue, "adapters_64"),
                  "fusion_offline": (fusion_table1, "st_a"), "fusion": (fusion_table1, "st_a")}


@declares_runs(STUDY)
def runs(profile: Profile) -> list[RunConfig]:
    """Full fine-tuning and size-64 adapters (the ``learning_curve`` grid) and rank-8 LoRA (``learning_curve_lora``)
    on each curve task at each curve size."""
    tasks, sizes = profile.curve_task_names(), list(profile.curve_sizes)
    return [*profile.configs("learning_curve", tasks, regime=["full", "adapters"], max_train=sizes),
            *profile.configs("learning_curve_lora", tasks, regime=["adapters"], method="lora", max_train=sizes)]


def paper_gap(task: str) -> float:
    """The paper's adapters minus full fine-tuning on the paper task ``task`` stands in for (NaN without one)."""
    spec = get_task(task)
    source = PAPER_ADAPTERS.get(spec.suite)
    if source is None or spec.reference is None:
        return math.nan
    frame, adapters = source[0](), source[1]
    return paper_score(frame, spec.reference, adapters) - paper_score(frame, spec.reference, "full")


def table(profile: Profile) -> pd.DataFrame:
    """One row per task x method x training size (``compare``); trains what the run store lacks."""
    frame = finished(profile, runs(profile))
    if frame.empty:
        return pd.DataFrame(columns=["task", "paper_task", "method", "max_train", "metric", "score", "paper_score"])
    frame = frame.assign(point=frame.apply(point_name, axis=1))
    selected = select_best(frame, by=["task", "max_train", "point"], seeds="mean")
    return compare(pd.concat([tidy_rows(part, method).assign(max_train=part["max_train"].to_numpy())
                              for method, part in selected.groupby("point", sort=False)], ignore_index=True))


def compare(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (``common.tidy_rows`` with ``max_train``, per-example predictions in memory) with, per task and
    size: whether full fine-tuning learned the task there (``learned``), ``relative`` (minus full fine-tuning at
    the same size; NaN where it did not learn: one floor rule) with its paired interval, and ``paper_relative``
    (the paper's adapters minus full on the full training set, on the adapters' rows)."""
    out = []
    for (task, _), group in rows.groupby(["task", "max_train"], sort=False):
        learned = bool(learned_tasks(group))
        full_score = group.loc[group["method"] == "full", "score"]
        for _, row in group.iterrows():
            compared = learned and len(full_score) > 0 and row["method"] != "full"
            interval = paired_mean_difference(group, row["method"], "full")[0] if compared else None
            out.append({**row, "learned": learned,
                        "relative": row["score"] - full_score.iloc[0] if compared else math.nan,
                        "rel_ci_low": interval.low if interval else math.nan,
                        "rel_ci_high": interval.high if interval else math.nan,
                        "paper_relative": paper_gap(task) if row["method"] == "adapters_64" else math.nan})
    order = {m: i for i, m in enumerate(METHODS)}
    return pd.DataFrame(out).sort_values(["task", "max_train", "method"], key=lambda c: c.map(order)
                                         if c.name == "method" else c).reset_index(drop=True)


def plot(table: pd.DataFrame) -> Figure:
    """One column per task: test score by training size (top) and the difference to full fine-tuning with its
    paired interval (bottom), the paper's adapters-minus-full gap (full training set) as a dashed line. Sizes where
    full fine-tuning has not learned the task are drawn hollow."""
    tasks = list(dict.fromkeys(table["task"]))
    fig, axes = plt.subplots(2, max(len(tasks), 1), figsize=(4.6 * max(len(tasks), 1), 6.4), squeeze=False,
                             sharex="col")
    for column, task in enumerate(tasks):
        rows = table[table["task"] == task]
        top, bottom = axes[0, column], axes[1, column]
        for method in METHODS:
            part = rows[rows["method"] == method].sort_values("max_train")
            if part.empty:
                continue
            colour = COLOURS[method]
            errors = [part["score"] - part["ci_low"], part["ci_high"] - part["score"]]
            top.errorbar(part["max_train"], part["score"], yerr=errors, color=colour, capsize=3,
                         label=method.replace("_", " "))
            learned = part["learned"].astype(bool)
            top.scatter(part["max_train"], part["score"], color=[colour if x else "white" for x in learned],
                        edgecolors=colour, zorder=3)
            if method != "full":
                errors = [part["relative"] - part["rel_ci_low"], part["rel_ci_high"] - part["relative"]]
                bottom.errorbar(part["max_train"], part["relative"], yerr=errors, color=colour, marker="o",
                                capsize=3)
        majority = rows["majority"].dropna()
        if len(majority):
            top.axhline(majority.iloc[0], color="grey", linestyle=":", linewidth=1, label="majority class")
        gap = rows["paper_relative"].dropna()
        if len(gap):
            bottom.axhline(gap.iloc[0], color=COLOURS["adapters_64"], linestyle="--", linewidth=1)
            bottom.set_title(f"paper, full training set: adapters {gap.iloc[0]:+.1f}", fontsize=9)
        bottom.axhline(0, color="black", linewidth=0.8)
        if rows["relative"].isna().all():
            bottom.text(0.5, 0.5, "full fine-tuning learned the task\nat none of these sizes: no difference",
                        transform=bottom.transAxes, ha="center", va="center", fontsize=9)
        top.set_title(f"{task}\n({paper_task_text(get_task(task))})")  # the paper's own data, or a stand-in
        top.set_ylabel("test score")
        bottom.set_ylabel("minus full fine-tuning (points)")
        bottom.set_xlabel("training examples")
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.set_xticks(sorted(rows["max_train"].unique()))
            ax.set_xticklabels([f"{n:,}" for n in sorted(rows["max_train"].unique())])
            ax.minorticks_off()
    if tasks:
        handles, labels = axes[0, -1].get_legend_handles_labels()
        paper = Line2D([], [], color=COLOURS["adapters_64"], linestyle="--", linewidth=1)
        axes[0, -1].legend([*handles, paper], [*labels, "paper: adapters minus full\n(full training set)"],
                           loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    fig.suptitle("Test score by training-set size (95% intervals; hollow: full fine-tuning not learned there)")
    fig.tight_layout()
    return fig


def claims(table: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """curve_adapters_<size>: full fine-tuning minus size-64 adapters, mean over the tasks full fine-tuning learned
    at that size, paired, against Houlsby's "within 0.4 points" read with the house margin (``on_par_bound``):
    the size, if any, at which the paper's headline shows at our scale."""
    known = paper_claims()
    paper_gap_glue = float(known.loc["glue_gap", "value"])
    checks = []
    for size, rows in table.groupby("max_train"):
        interval, tasks, why = paired_mean_difference(rows, "full", "adapters_64")
        bound = cl.on_par_bound(paper_gap_glue)
        checks.append(cl.learning_check(
            f"curve_adapters_{int(size)}", interval, (-math.inf, bound),
            f"full fine-tuning minus size-64 adapters below {bound:g} points: the paper's GLUE gap ({paper_gap_glue:g})"
            f" plus our {cl.ON_PAR_MARGIN:g}-point margin for \"within\"",
            f"test score of full minus size-64 adapters at {int(size):,} training examples, paired, mean over the "
            f"{len(tasks)} learned of our {rows['task'].nunique()} curve tasks ({', '.join(tasks) or 'none'})", csv,
            not_measured=why, tasks=tasks, paper_value=paper_gap_glue, paper="houlsby",
            source="Abstract (by training size)",
            description=f"adapters within {paper_gap_glue:g} points of full fine-tuning, at {int(size):,} training "
                        "examples per task"))
    return checks


def findings(table: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """The closing text: per size, the adapters' and LoRA's mean difference to full fine-tuning over the tasks
    learned there, then the claims."""
    lines = ["| training examples | learned tasks | adapters 64 minus full | LoRA 8 minus full |", "|---|---|---|---|"]
    for size, rows in table.groupby("max_train"):
        learned = rows[rows["learned"]]
        means = [learned.loc[learned["method"] == m, "relative"].mean() for m in ("adapters_64", "lora_8")]
        lines.append(f"| {int(size):,} | {learned['task'].nunique()} of {rows['task'].nunique()} | "
                     + " | ".join("—" if math.isnan(v) else f"{v:+.2f}" for v in means) + " |")
    return "\n".join(lines) + "\n\n" + cl.describe(checks)
