"""Houlsby Table 1 (GLUE): full fine-tuning, adapters with the size chosen on dev, and adapters of size 64.

As in the paper the best run on dev wins per task and method, seeds included. Figures 3, 4 and 6 reuse these
runs from the run store.

    ours = table1.table(profile)
    results.save_table(ours, profile.name, table1.STUDY.name)
    checks = table1.claims(ours)       # the table itself: its per-example predictions give the intervals
"""
from __future__ import annotations

import pandas as pd

from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import BERT_LARGE_PARAMS, HOULSBY_GLUE_N_TASKS, HOULSBY_MEAN_ROW, houlsby_glue
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.runner.grid import select_best
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import RunConfig
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.common import floor_count, split_columns, tidy_rows
from adapterlib.studies.houlsby.report import (PAPER, base_size_note, mean_over_tasks, paired_gap_check, paper_mean,
                                              share_check)
from adapterlib.studies.houlsby.runs import exact_counts, finished, paper_only_rows, total_params_x

STUDY = register(Study(name="houlsby_table1_glue", paper="houlsby", title="Table 1: GLUE", roles=("glue",),
                       grids=("houlsby_glue",)))


@declares_runs(STUDY)
def runs(profile: Profile) -> list[RunConfig]:
    """Full fine-tuning and adapters over the ``houlsby_glue`` grid on every GLUE-role task."""
    return profile.configs("houlsby_glue", profile.task_names("glue"), regime=["full", "adapters"])


def table(profile: Profile) -> pd.DataFrame:
    """One row per GLUE-role task and method (``full``, ``adapters_best_size``, ``adapters_64``), MNLI-mm from the
    MNLI runs (chosen on dev, scored on the mismatched set: not trained again), plus the paper's tasks without a
    stand-in. Extra columns: ``total_params_x`` (parameters to store for the paper's 9 tasks, x
    base, from the mean per-task counts of ours) and the paper's two parameter columns."""
    suite = profile.suites["glue"]
    frame = finished(profile, runs(profile))
    paper = houlsby_glue()
    adapters = frame[frame["regime"] == "adapters"]
    chosen = {"full": frame[frame["regime"] == "full"], "adapters_best_size": adapters,
              "adapters_64": adapters[adapters["size"] == 64]}
    parts = []
    for method, method_runs in chosen.items():
        selected = pd.concat([select_best(method_runs, by=["task", "regime"], seeds="best"), *[  # MNLI-mm: MNLI's
            select_best(method_runs[method_runs["task"] == task.scored_from[0]], by=["task", "regime"], seeds="best",
                        report=task.scored_from[1]).assign(task=task.name) for task in profile.scored_from("glue")]],
            ignore_index=True)
        rows = tidy_rows(selected, method, paper, suite=suite)
        rows["total_params_x"] = total_params_x(profile, selected, HOULSBY_GLUE_N_TASKS)
        parts.append(rows)
    ours = pd.concat(parts, ignore_index=True)
    ours = pd.concat([ours, paper_only_rows(paper, ours, list(chosen))], ignore_index=True)
    per_method = paper.drop_duplicates("method").set_index("method")
    ours["paper_total_params_x"] = ours["method"].map(per_method["paper_total_params_x"])
    ours["paper_trained_pct"] = ours["method"].map(per_method["paper_trained_pct"])
    return exact_counts(split_columns(ours, suite, "houlsby_table1"))


def claims(table: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """glue_gap, glue_trained_pct and the size-64 gap, from ``table()`` itself (the gaps' paired intervals need
    its per-example predictions, which the saved CSV leaves out)."""
    total = HOULSBY_MEAN_ROW["glue"]
    paper_full, paper_best, paper_64 = (paper_mean(table, m, total) for m in ("full", "adapters_best_size",
                                                                              "adapters_64"))
    pct = mean_over_tasks(table, "adapters_best_size", "trained_pct")
    n = int(table.loc[(table["method"] == "full") & table["task"].notna(), "score"].notna().sum())
    basis = f"test score of full minus the adapters on our {n} GLUE-role tasks{floor_count(table, n)}"
    known = paper_claims()
    paper_gap64 = round(paper_full - paper_64, 2)
    return [
        paired_gap_check("glue_gap", table, "adapters_best_size", float(known.loc["glue_gap", "value"]),
                         f"Table 1 means: {paper_full:g} vs {paper_best:g}", f"{basis} (size chosen on dev)", csv),
        paired_gap_check("t1_adapters64_gap", table, "adapters_64", paper_gap64,
                         f"Table 1 means: {paper_full:g} vs {paper_64:g}", f"{basis} (size 64)", csv,
                         description=f"adapters of size 64 within {paper_gap64:.1f} points of full fine-tuning on "
                         "GLUE", paper=PAPER, source="Table 1"),
        share_check("glue_trained_pct", pct, float(known.loc["glue_trained_pct", "value"]), csv,
                    base_size_note(table, BERT_LARGE_PARAMS, "BERT-large")),
    ]
