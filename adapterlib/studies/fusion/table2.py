"""AdapterFusion Table 2: per comparison of a fusion with a baseline, the tasks it improves, leaves the same, worsens.

Computed from Table 1's runs (reused through the run store). Ours are counted from per-task paired intervals:
*improved* where the 95% interval of fusion minus baseline lies above 0, *worse* below 0, *same* across it (our test
sets cannot tell the two apart). The paper has no intervals, so its side keeps its own rule (a 0.3-point threshold),
on the same tasks. Only tasks full fine-tuning learned are counted, on both sides (``floor_reason``): on a floor
task "same" would mean both predict the majority class.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import FUSION_SAME_THRESHOLD, claim_value, fusion_n_tasks
from adapterlib.reporting.statistics import Interval
from adapterlib.runner.profiles import Profile
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.common import paired_task_difference
from adapterlib.studies.fusion import table1
from adapterlib.studies.fusion.report import claims_section
from adapterlib.studies.fusion.runs import TABLE1_GRIDS

STUDY = register(Study(name="fusion_table2_counts", paper="fusion", title="Table 2: tasks improved, same, worse",
                       roles=("fusion",), grids=TABLE1_GRIDS, stand_ins=True, depends=(table1.STUDY.name,)))
COMPARISONS = {  # Table 2's four comparisons -> (claim ids: improved, same or better)
    ("fusion_st_a", "st_a"): ("t2_fst_vs_st_improved", "t2_fst_vs_st_same_or_better"),
    ("fusion_st_a", "mt_a"): ("t2_fst_vs_mt_improved", None),
    ("fusion_mt_a", "st_a"): ("t2_fmt_vs_st_improved", None),
    ("fusion_mt_a", "mt_a"): ("t2_fmt_vs_mt_improved", "t2_fmt_vs_mt_same_or_better"),
}
OUTCOMES = ("improved", "same", "worse")
NOT_COUNTED = "not counted"  # a task full fine-tuning has not learned, or a row without predictions


def outcome(difference: float, threshold: float = FUSION_SAME_THRESHOLD) -> str:
    """The paper's Table 2 rule (for its numbers, which have no intervals): "improved" above +threshold points,
    "worse" below -threshold, else "same"."""
    if math.isnan(difference):
        return "n/a"
    return "improved" if difference > threshold else "worse" if difference < -threshold else "same"


def interval_outcome(interval: Interval) -> str:
    """Our rule: "improved" if the paired 95% interval lies above 0, "worse" if below, else "same"."""
    return "improved" if interval.low > 0 else "worse" if interval.high < 0 else "same"


def compare(table1_rows: pd.DataFrame) -> pd.DataFrame:
    """Per task and comparison (fusion method vs baseline) of a Table 1 frame (``table1.table``, with per-example
    predictions): our paired difference with its interval and outcome, the paper's difference and outcome.
    ``score``/``paper_score`` hold the differences in points; a task that is not counted (``why``) has outcome
    ``NOT_COUNTED`` on both sides, so both count the same tasks."""
    rows = []
    for fused, base in COMPARISONS:
        a, b = (table1_rows[table1_rows["method"] == m].set_index("task") for m in (fused, base))
        for task in a.index.intersection(b.index):
            interval, why = paired_task_difference(table1_rows, task, fused, base)
            paper_diff = a.at[task, "paper_score"] - b.at[task, "paper_score"]
            counted = interval is not None and why is None
            rows.append({"task": task, "paper_task": a.at[task, "paper_task"], "method": f"{fused}_vs_{base}",
                         "metric": f"{a.at[task, 'metric']} difference",
                         "score": a.at[task, "score"] - b.at[task, "score"],
                         "ci_low": interval.low if counted else math.nan,
                         "ci_high": interval.high if counted else math.nan,
                         "n_test": interval.n if counted else math.nan, "paper_score": paper_diff,
                         "trained_params": a.at[task, "trained_params"], "trained_pct": a.at[task, "trained_pct"],
                         "outcome": interval_outcome(interval) if counted else NOT_COUNTED,
                         "paper_outcome": outcome(paper_diff) if counted else NOT_COUNTED, "why": why})
    return pd.DataFrame(rows)


declares_runs(STUDY)(table1.runs)  # this study tabulates Table 1's runs


def table(profile: Profile) -> pd.DataFrame:
    """Table 2's rows on the profile's Table 1 (trains what the run store lacks)."""
    return compare(table1.table(profile))


def counts(rows: pd.DataFrame, column: str = "outcome") -> pd.DataFrame:
    """Improved / same / worse counts per comparison (Table 2's layout), over the counted tasks only."""
    if rows.empty:
        return pd.DataFrame(columns=["method", *OUTCOMES, "n_tasks"])
    out = (rows.groupby("method")[column].value_counts().unstack(fill_value=0)
           .reindex(columns=list(OUTCOMES), fill_value=0))
    out["n_tasks"] = out.sum(axis=1)
    return out.reset_index()


def plot(rows: pd.DataFrame) -> Figure:
    """Improved / same / worse counts per comparison, ours (paired intervals) beside the paper's (0.3-point
    threshold) on the same learned tasks; the legend right of the panels, off the bars."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.2), sharex=True, sharey=True)
    titles = ("ours (95% paired interval vs 0)", "paper (0.3-point threshold), same tasks")
    for ax, column, title in zip(axes, ("outcome", "paper_outcome"), titles):
        c = counts(rows, column).set_index("method")[list(OUTCOMES)]
        c.plot.barh(stacked=True, ax=ax, color=["tab:green", "tab:gray", "tab:red"], legend=False)
        ax.set_title(title)
        ax.set_xlabel("learned tasks")
        ax.set_ylabel("")
    axes[1].legend(*axes[0].get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def claims(rows: pd.DataFrame) -> list[ClaimCheck]:
    """t2_*: for each named comparison, how many of our learned tasks improved (interval above 0; or came out the
    same or better) against how many of the *same* tasks did in the paper's Table 1 numbers: one task set on both
    sides, where the paper's 16-task count (in the description) would compare a share of our few tasks with a share
    of its 16."""
    ours, paper = counts(rows).set_index("method"), counts(rows, "paper_outcome").set_index("method")
    checks = []
    for (fused, base), ids in COMPARISONS.items():
        for claim, kinds in zip(ids, (("improved",), ("improved", "same"))):
            if claim is None:
                continue
            method, what = f"{fused}_vs_{base}", " or ".join(kinds)
            n = int(ours.at[method, "n_tasks"]) if method in ours.index else 0
            count = float(sum(ours.at[method, k] for k in kinds)) if n else float("nan")
            paper_count = float(sum(paper.at[method, k] for k in kinds)) if n else float("nan")
            verdict = "not measured" if not n else cl.at_least(count / n, paper_count / n, slack=0.2)
            left = int((rows["method"] == method).sum()) - n
            basis = (f"{fused} vs {base}: {what} tasks, ours (improved: 95% paired interval above 0) out of our {n} "
                     f"learned tasks against the paper's Table 1 numbers on the same {n} tasks (its threshold, "
                     f"{FUSION_SAME_THRESHOLD} points); holds if our share is at least the paper's, partly if within "
                     "20 percentage points")
            if left:
                basis += f"; {left} task(s) not counted (full fine-tuning did not learn them, or no predictions)"
            if not n:
                basis += "; not measured: no learned task to count"
            checks.append(cl.check(
                claim, count, verdict, basis, STUDY.name, paper_value=paper_count,
                description=f"{fused} vs {base}: tasks {what} (paper Table 2: {claim_value(claim):g} of "
                f"{fusion_n_tasks()}; compared here on the same stand-in tasks)"))
    return checks


def findings(rows: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """Our counts beside the paper's on the same tasks and on all of its tasks, then the claims."""
    ours, paper = counts(rows).set_index("method"), counts(rows, "paper_outcome").set_index("method")
    lines = ["| comparison | ours: improved / same / worse | paper on the same tasks | "
             f"paper, {fusion_n_tasks()} tasks (Table 2) |", "|---|---|---|---|"]
    for (fused, base), (improved, same_or_better) in COMPARISONS.items():
        m = f"{fused}_vs_{base}"
        if m not in ours.index:
            continue
        paper_all = f"{claim_value(improved):g} improved" + (
            f", {claim_value(same_or_better):g} same or better" if same_or_better else "")
        lines.append(f"| {m} | {ours.at[m, 'improved']} / {ours.at[m, 'same']} / {ours.at[m, 'worse']} of "
                     f"{ours.at[m, 'n_tasks']} | {paper.at[m, 'improved']} / {paper.at[m, 'same']} / "
                     f"{paper.at[m, 'worse']} | {paper_all} |")
    return "\n".join(lines) + "\n\n" + claims_section(checks)
