"""Houlsby Figure 6's claims (ablation, init std, section 3.6's sizes) under the one learning rule
(``claims.learning_check``): each is a paired interval over evaluation examples against the claim's region, and
*not measured* where the model the claim is about has not learned its task.

The reference model of the ablation and the init-std sweep is the intact size-64 adapter model (the paper's own
reference in Fig. 6): a claim on a task where it is not clearly above the majority class (by its interval and by 5
points) is not measured. The tables come from ``fig6.table()`` itself: the intervals need the per-example
predictions, which the saved CSV leaves out.
"""
from __future__ import annotations

import dataclasses
import math
from collections import Counter

import pandas as pd

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.reporting.statistics import (Interval, TaskRuns, mean_difference_interval, paired_difference_interval,
                                             score_interval)
from adapterlib.studies.common import paired_mean_difference

SIZES = (8, 64, 256)  # section 3.6's adapter sizes
ALL_REMOVED = ("fig6_all_removed_mnli", "fig6_all_removed_cola")  # judged on our first and second task, in order
LEARNED_MARGIN = 5.0  # points above the majority class, as ``common.floor_reason`` asks of full fine-tuning


def claims(table: pd.DataFrame, csv: str) -> list[ClaimCheck]:
    """fig6_* and sec36_* from ``fig6.table()``."""
    return [*ablation_checks(table, csv), *init_checks(table, csv), *size_checks(table, csv)]


def not_learned(task: str, predictions: list | None, references: list | None, majority: float,
                what: str) -> str | None:
    """Why ``what`` (the reference model) has not learned ``task`` ("not measured: ..."), None if it has; also
    "not measured" without predictions."""
    if predictions is None:
        return f"not measured: {what} on {task} has no per-example predictions"
    score = score_interval(task, predictions, references)
    if score.low > majority and score.estimate - majority >= LEARNED_MARGIN:
        return None
    return (f"not measured: {what} scores {score.estimate:.1f} (95% interval from {score.low:.1f}) on {task}, not "
            f"clearly above its majority class ({majority:.1f}) by {LEARNED_MARGIN:g} points: not learned at this scale")


def _worst(checks: list[ClaimCheck], note: str) -> ClaimCheck:
    """One claim checked in several settings: the least favourable check, with the worst verdict of all."""
    decisive = max(checks, key=lambda c: (cl.VERDICTS.index(c.verdict), -math.inf if math.isnan(c.our_value)
                                          else c.our_value))
    return dataclasses.replace(decisive, verdict=cl.worst([c.verdict for c in checks]),
                               basis=f"{decisive.basis}; the least favourable of {len(checks)} {note}")


def ablation_checks(saved: pd.DataFrame, csv: str) -> list[ClaimCheck]:
    """fig6_single_layer_max_drop: intact minus one layer's adapters removed, paired on dev, within the paper's 2
    points (``claims.on_par_bound``), for every layer of every learned task; fig6_all_removed_*: every adapter
    removed, the score within 5 points of the majority class (our first task, then the second: ``ALL_REMOVED``)."""
    part = saved[(saved["panel"] == "ablation") & saved["task"].notna()]  # not the paper's own rows
    tasks = list(dict.fromkeys(part["task"]))
    paper_bound = float(paper_claims().loc["fig6_single_layer_max_drop", "value"])
    bound = cl.on_par_bound(paper_bound)  # "at most 2" on the edge of its own region could never be decided
    region_text = (f"intact minus one layer's adapters removed below {bound:g} points: the paper's \"at most "
                   f"{paper_bound:g}\" (Fig. 6, MNLI and CoLA) plus our {cl.ON_PAR_MARGIN:g}-point margin for "
                   "\"within\"")
    drops, reasons = [], []
    for task in tasks:
        rows = part[part["task"] == task]
        intact = rows[rows["first_layer"].isna()].iloc[0]
        reason = not_learned(task, intact.get("predictions"), intact.get("references"), float(intact["majority"]),
                             "the intact size-64 adapter model (dev)")
        if reason:
            reasons.append(reason)
            continue
        for _, single in rows[rows["first_layer"] == rows["last_layer"]].iterrows():
            interval = paired_difference_interval(task, intact["predictions"], single["predictions"],
                                                  intact["references"])
            drops.append(cl.learning_check(
                "fig6_single_layer_max_drop", interval, (-math.inf, bound), region_text,
                f"intact minus layer {int(single['first_layer'])}'s adapters removed on {task} (dev)", csv))
    if drops:
        checks = [_worst(drops, f"single-layer removals over the learned of {', '.join(tasks)}")]
    else:
        checks = [cl.learning_check("fig6_single_layer_max_drop", None, (-math.inf, bound), region_text,
                                    f"largest single-layer drop over {', '.join(tasks)} (dev)", csv,
                                    not_measured="; ".join(reasons) or "not measured: no ablation rows")]
    for claim, task in zip(ALL_REMOVED, tasks):
        rows = part[part["task"] == task]
        n = int(rows["n_layers"].iloc[0])
        intact = rows[rows["first_layer"].isna()].iloc[0]
        gone = rows[(rows["first_layer"] == 0) & (rows["last_layer"] == n - 1)].iloc[0]
        majority = float(intact["majority"])
        reason = not_learned(task, intact.get("predictions"), intact.get("references"), majority,
                             "the intact size-64 adapter model (dev)")
        interval = None
        if gone.get("predictions") is not None:  # paired with always predicting the majority class, as in Fig. 6
            constant = [Counter(gone["references"]).most_common(1)[0][0]] * len(gone["references"])
            interval = paired_difference_interval(task, gone["predictions"], constant, gone["references"])
        checks.append(cl.learning_check(
            claim, interval, (-5.0, 5.0),
            f"every adapter removed scores within 5 points of always predicting the majority class (Fig. 6: "
            f"{paper_claims().loc[claim, 'value']:g}%, the majority class)",
            f"{task} dev score with every adapter removed ({gone['score']:.1f}; intact {intact['score']:.1f}) minus "
            f"the majority class's ({majority:.1f}), paired", csv, not_measured=reason,
            description=f"{paper_claims().loc[claim, 'description']} (values: removed minus majority class, points)",
            paper_value=0.0))
    return checks


def init_checks(saved: pd.DataFrame, csv: str) -> list[ClaimCheck]:
    """fig6_init_robust_below, "robust for init std below 1e-2, degrades above": the smallest swept std minus 1e-2
    within 2 points, and the largest below 1e-2's score (a diverged run counts as degraded), paired on test; the
    worse of the two (none if not swept)."""
    init = saved[saved["panel"] == "init_std"].sort_values("init_std")
    if not len(init):
        return []
    task = init["task"].iloc[0]
    reference_std = float(paper_claims().loc["fig6_init_robust_below", "value"])
    given = {"paper_value": 0.0, "description": "performance robust for init std below 1e-2 and degrades above "
             "(values: the decisive paired difference, points)"}
    at = {float(r["init_std"]): r for _, r in init.iterrows()}
    reference = at.get(reference_std)
    stds = ", ".join(f"{v:g}" for v in at)
    if reference is None or not isinstance(reference.get("predictions"), list):
        return [cl.learning_check("fig6_init_robust_below", None, (-2.0, 2.0), "init std sweep", f"on {task}", csv,
                                  not_measured=f"not measured: no run at init std {reference_std:g} with predictions",
                                  **given)]
    reason = not_learned(task, reference["predictions"][0], reference["references"], float(reference["majority"]),
                         f"size-64 adapters at init std {reference_std:g} (test)")
    smallest, largest = min(at), max(at)

    def difference(std: float) -> Interval | None:
        row = at[std]
        if not isinstance(row.get("predictions"), list):
            return None
        return mean_difference_interval([TaskRuns(task, reference["references"], row["predictions"],
                                                  reference["predictions"])])

    robust = cl.learning_check(
        "fig6_init_robust_below", difference(smallest), (-2.0, 2.0),
        f"init std {smallest:g} within 2 points of {reference_std:g} (Fig. 6: robust below 1e-2)",
        f"init std {smallest:g} minus {reference_std:g} on {task} (test; swept {stds})", csv, not_measured=reason,
        **given)
    degraded = difference(largest)
    if degraded is None and at[largest].get("status") == "failed":  # diverged: degraded by definition
        degrades = dataclasses.replace(robust, basis=f"init std {largest:g} diverged on {task}: degraded")
    else:
        degrades = cl.learning_check(
            "fig6_init_robust_below", degraded, (-math.inf, 0.0),
            f"init std {largest:g} scores below {reference_std:g} (Fig. 6: degrades above 1e-2)",
            f"init std {largest:g} minus {reference_std:g} on {task} (test)", csv, not_measured=reason,
            **{**given, "paper_value": math.nan})  # the paper prints no size for the degradation, only its sign
    return [_worst([robust, degrades], f"parts (std {smallest:g} robust, std {largest:g} degraded)")]


def size_checks(table: pd.DataFrame, csv: str) -> list[ClaimCheck]:
    """Section 3.6, "adapters are robust to their size": the paper's mean validation accuracies by size lie within
    half a point of each other. Each claim sec36_size<s> is size s minus the next of the paper's sizes (8 - 64,
    64 - 256, 256 - 8, so every pair is judged once) on test, paired, over the tasks full fine-tuning learned, with
    the paper's spread plus the house margin as the region (``claims.either_way_within``)."""
    sizes = table[table["panel"] == "size"]
    known = paper_claims()
    paper = {size: float(known.loc[f"sec36_size{size}", "value"]) for size in SIZES}
    spread = round(max(paper.values()) - min(paper.values()), 2)
    means = " / ".join(f"{value:g}" for value in paper.values())
    n = sizes["task"].nunique()
    checks = []
    for size, other in zip(SIZES, SIZES[1:] + SIZES[:1]):
        interval, tasks, why = paired_mean_difference(sizes, f"adapters_{size}", f"adapters_{other}")
        checks.append(cl.learning_check(
            f"sec36_size{size}", interval, cl.either_way_within(spread),
            f"size {size} minus size {other} within {cl.on_par_bound(spread):g} points either way: the spread of the "
            f"paper's Sec. 3.6 means over eight tasks (sizes {' / '.join(map(str, SIZES))}: {means}) plus our "
            f"{cl.ON_PAR_MARGIN:g}-point margin for \"within\"",
            f"test score of size-{size} minus size-{other} adapters (other settings chosen on dev), paired, mean "
            f"over the {len(tasks)} learned of our {n} GLUE-role classification tasks", csv, not_measured=why,
            tasks=tasks,
            paper_value=round(paper[size] - paper[other], 2),
            description=f"adapters of size {size} within {spread:g} points of size {other} (Sec. 3.6 means "
            f"{paper[size]:g} vs {paper[other]:g}: robust to adapter size)"))
    return checks
