"""AdapterFusion's methods on the parameter-vs-accuracy trade-off (not a figure of the paper: its Table 1 and
Table 3 put on the axes of Houlsby's Figure 3): head only, ST-A at reduction factors 2 / 16 / 64, ST-A Houlsby,
MT-A, Fusion w/ ST-A and w/ MT-A, full fine-tuning, and every other registered method (``tradeoff.OTHER_METHODS``:
LoRA, (IA)³) as in Houlsby's Figure 3.

The paper's methods' points are runs of Table 1 or Table 3, read from the run store through their ``table``
functions; the other methods' runs are trained here, on the fusion tasks full fine-tuning learned (elsewhere every
method sits at the majority class), each on its own grid (``tradeoff.method_configs``). A fusion's parameters per
target task are its fusion layers and head plus the adapters it fuses (trained by their own runs, stored once for
the suite); MT-A trains the encoder with the adapters, so its point sits at the full model's size. The paper's points
are its Table 1 (and Table 3 means) at counts made on BERT-base.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from functools import cache

import pandas as pd
from matplotlib.figure import Figure
from transformers import BertConfig, BertForSequenceClassification

from adapterlib.core.config import AdapterConfig
from adapterlib.core.inject import add_adapter
from adapterlib.core.methods import METHOD_KEY
from adapterlib.core.params import count_parameters
from adapterlib.core.trainable import set_trainable
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import claim_value, fusion_n_tasks, fusion_table1, paper_score
from adapterlib.runner.grid import METHOD_BY_KEY
from adapterlib.runner.profiles import Profile, get_profile
from adapterlib.runner.scale_grids import ST_A
from adapterlib.runner.settings import MultiTaskConfig, RunConfig
from adapterlib.runner.store import METHOD_POINT
from adapterlib.studies.base import PlannedRun, Study, declares_runs, register
from adapterlib.studies.common import learned_tasks
from adapterlib.studies.fusion import table1, table3
from adapterlib.studies.fusion.cost import fusion_parameters
from adapterlib.studies.fusion.report import claims_section
from adapterlib.studies.fusion.runs import TABLE1_GRIDS, method_rows, results
from adapterlib.studies.tradeoff import (CAPTION, METHOD_GRIDS, OTHER_METHODS, Series, median_gap_check,
                                         method_configs, method_series, plot_tradeoff, summary, task_params,
                                         tradeoff_frame)

STUDY = register(Study(name="fusion_tradeoff", paper="fusion", title="Trade-off: accuracy vs trained parameters",
                       roles=("fusion",), grids=(*TABLE1_GRIDS, "reduction_factors", *METHOD_GRIDS),
                       depends=(table1.STUDY.name, table3.STUDY.name)))
# The paper's methods (a Table 1 row's series is its method; Table 3's factors are ST-A's), then the other
# registered methods as they register themselves (the papers' own adapters are ST-A and ST-A Houlsby here).
SERIES = (Series("head", "head only", "tab:gray"),
          Series("st_a", "ST-A, reduction factor 64 / 16 / 2", "tab:orange"),
          Series("st_a_houlsby", "ST-A Houlsby", "tab:brown"),
          Series("mt_a", "MT-A", "tab:red"),
          Series("fusion_st_a", "Fusion w/ ST-A", "tab:cyan"),
          Series("fusion_mt_a", "Fusion w/ MT-A", "tab:blue"),
          *method_series(OTHER_METHODS),
          Series("full", "full fine-tuning", "black"))
CLAIMED = ("st_a", "fusion_st_a")  # the paper's parameter-efficient methods checked against full fine-tuning
PAPER_LABELS = {"fusion": "paper (Tables 1 and 3, BERT-base)"}
FIGURE_CAPTION = (CAPTION + "; a fusion's parameters per target task: its fusion layers and head plus every adapter "
                  "it fuses, the same for Fusion w/ ST-A and w/ MT-A (so they sit side by side); the paper's rf 2 / 64 "
                  "points are Table 3's means minus full fine-tuning's Table 1 mean (it gives no per-task numbers); "
                  "its x positions are counted on BERT-base")


@declares_runs(STUDY)
def runs(profile: Profile) -> list[RunConfig | MultiTaskConfig | PlannedRun]:
    """Table 1's and Table 3's runs (this study tabulates both), and the other methods' runs on the fusion tasks
    full fine-tuning learned: known once Table 1's full runs are in the store; until then on every fusion task,
    provisional (an upper bound)."""
    return [*table1.runs(profile), *table3.runs(profile),
            *table3.on_learned_tasks(profile, method_configs(profile, profile.task_names("fusion"), role="fusion"))]


def point_rows(profile: Profile, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per task and point of the other methods' runs in ``frame`` (its ``method_point``: ``lora_8``,
    ``ia3``; its learning rate chosen on dev), its ``series`` its method's family."""
    if frame.empty:
        return pd.DataFrame()
    return pd.concat([method_rows(profile, part, point).assign(series=METHOD_BY_KEY[part[METHOD_KEY].iloc[0]].family)
                      for point, part in frame.groupby(METHOD_POINT, sort=False)], ignore_index=True)


def table(profile: Profile) -> pd.DataFrame:
    """Every method of Table 1, the reduction factors 2 and 64 of Table 3 and the other methods' points, per task,
    as ``tradeoff.COLUMNS`` (``learned``: full fine-tuning learned the task)."""
    methods = table1.table(profile)
    factors = table3.table(profile)
    learned = learned_tasks(methods)
    others = point_rows(profile, results(profile, method_configs(profile, learned, role="fusion")))
    rows = pd.concat([methods.assign(series=methods["method"]),
                      factors[factors["reduction_factor"] != 16].assign(series="st_a"),  # rf 16 is ST-A
                      others], ignore_index=True)
    return tradeoff_frame(rows.assign(suite="fusion", learned=rows["task"].isin(learned)), profile.store())


@cache
def paper_counts() -> dict[str, int]:
    """Parameters trained per task for each method on a randomly initialised BERT-base (the count does not depend
    on the weights), with this library's regimes; fusions over the paper's 16 adapters."""
    houlsby_size = get_profile("paper").grids["fusion_st_a_houlsby"]["size"][0]
    adapters = {"st_a": ST_A, "st_a_rf2": AdapterConfig.pfeiffer(2), "st_a_rf64": AdapterConfig.pfeiffer(64),
                "st_a_houlsby": AdapterConfig.houlsby(houlsby_size)}
    counts = {}
    for method, config in {"head": None, "full": None, **adapters}.items():
        model = BertForSequenceClassification(BertConfig())
        if config is not None:
            add_adapter(model, method, config)
        set_trainable(model, method if config is None else "adapters", adapter=method if config else None)
        counts[method] = task_params(dataclasses.asdict(count_parameters(model)))
    fused = fusion_parameters(n_adapters=fusion_n_tasks())
    counts["mt_a"] = counts["full"] + fused["adapters"]  # MT-A trains the encoder and all adapters jointly
    counts["fusion_st_a"] = counts["fusion_mt_a"] = fused["fusion"] + fused["adapters"] + counts["head"]
    return counts


def paper_points() -> pd.DataFrame:
    """The paper's points: Table 1 per task minus its Full column, Table 3's means for reduction factors 2 and 64
    minus Full's mean, at ``paper_counts``."""
    paper, counts = fusion_table1(), paper_counts()
    tasks = paper[(paper["paper_task"] != "Mean") & paper["method"].isin(counts)].copy()
    full = tasks[tasks["method"] == "full"].set_index("paper_task")["paper_score"]
    tasks["relative"] = tasks["paper_score"] - tasks["paper_task"].map(full)
    means = pd.DataFrame([{"method": f"st_a_rf{rf}", "paper_task": "Mean (Table 3)",
                           "relative": claim_value(f"t3_rf{rf}") - paper_score(paper, "Mean", "full")}
                          for rf in (2, 64)])
    points = pd.concat([tasks[["method", "paper_task", "relative"]].assign(series=tasks["method"]),
                        means.assign(series="st_a")], ignore_index=True)
    return points.assign(suite="fusion", trained_params=points["method"].map(counts), total_x=float("nan"))


def tradeoff_summary(saved: pd.DataFrame) -> pd.DataFrame:
    """Per method, ours then the paper's: medians and the parameters to serve every task (``tradeoff.summary``)."""
    return summary(saved, paper_points(), PAPER_LABELS)


def claims(table: pd.DataFrame) -> list[ClaimCheck]:
    """ST-A and Fusion w/ ST-A reach full fine-tuning's level at a fraction of its parameters per task: median over
    the learned tasks of the method minus full fine-tuning (``tradeoff.median_gap_check``), against the paper's
    median on the same stand-in tasks. From ``table()`` itself: the intervals need its per-example predictions,
    which the saved CSV leaves out."""
    checks = []
    full = table[table["method"] == "full"].set_index("task")["trained_params"]
    for method in CLAIMED:
        rows = table[(table["method"] == method) & table["learned"].astype(bool)]
        paper = float(table.loc[table["method"] == method, "paper_relative"].median())
        share = float((rows["trained_params"] / rows["task"].map(full)).median()) if len(rows) else math.nan
        checks.append(median_gap_check(
            f"tradeoff_{method}_vs_full", table[table["method"].isin(["full", method])], method, paper,
            "the same median of the paper's Table 1 over the tasks ours stand in for",
            f"test score of {method} minus full fine-tuning at a median {100 * share:.2g}% of full fine-tuning's "
            "trained parameters per task, paired", STUDY.name,
            description=f"{method} at full fine-tuning's level with a fraction of its parameters per task",
            paper=STUDY.paper, source="Table 1 (on Fig. 3's axes)"))
    return checks


def findings(saved: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """Per method: trained parameters per task, median points over full fine-tuning, the total to serve every
    task, ours beside the paper's; then the claims."""
    totals = tradeoff_summary(saved)
    ours, paper = totals[totals["source"] == "ours"], totals[totals["source"] != "ours"].set_index("method")
    lines = ["| method | ours: trained per task (% of base) | ours: median points over full (learned tasks) | "
             "paper: trained per task (BERT-base) | paper: median points over full | "
             "ours: total for all tasks (x base) |",
             "|---|---|---|---|---|---|"]
    for _, r in ours.iterrows():
        theirs = paper.loc[r["method"]] if r["method"] in paper.index else None
        median = "no task learned" if math.isnan(r["p50"]) else f"{r['p50']:+.2f}"
        lines.append(f"| {r['method']} | {r['trained_pct']:.2f}% | {median} | "
                     + ("- | -" if theirs is None else f"{theirs['trained_params'] / 1e6:.2f}M | {theirs['p50']:+.2f}")
                     + f" | {r['score']:.2f}x ({r['task']}) |")
    return "\n".join(lines) + "\n\n" + claims_section(checks)


def plot(saved: pd.DataFrame) -> Figure:
    """Score minus full fine-tuning's vs trained parameters per task, every method, the paper's points beside."""
    return plot_tradeoff(saved, paper_points(), SERIES, {"fusion": "fusion tasks"}, PAPER_LABELS,
                         caption=FIGURE_CAPTION)
