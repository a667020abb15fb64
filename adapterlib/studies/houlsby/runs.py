"""What several Houlsby items share on the way from the run store to their tidy tables: finished runs of a grid,
one row per task and sweep point (hyperparameters chosen on dev), the tasks of Figures 4 and 6 and the model they
run on, and parameter totals as Tables 1 and 2 print them.

Every item asks the store for its configs; a config another item already ran is read, not retrained (same
``RunConfig``, same run id): that is how Figure 3 reuses Table 1's runs, and how Figures 4 and 6 do where one model
and training cap serve every role (cpu, smoke; on the paper profile they run on BERT-base, Table 1 on BERT-large; on
the gpu profile at Table 2's cap, Table 1 on all of GLUE).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from adapterlib.core.methods import METHOD_KEY
from adapterlib.core.params import ParamCount
from adapterlib.data.tasks import get_task
from adapterlib.runner.grid import METHOD_BY_KEY, run_grid, select_best
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import RunConfig
from adapterlib.runner.store import METHOD_POINT
from adapterlib.studies.common import tidy_rows

# Fig. 4 and Fig. 6 use MNLI and CoLA; offline, CoLA has no stand-in and SST-2's takes its place.
FIGURE_TASK_REFERENCES = ("MNLI-m", "CoLA", "SST-2")
# Their runs are BERT-base's, the additional tasks' model: "fine-tuning of only the top k layers of BERT_BASE" (Sec.
# 3.4, Fig. 4), "the experiment is performed on BERT_BASE" (Sec. 3.6, Fig. 6), not Table 1's BERT-large runs.
ANALYSIS_ROLE = "additional"
PARAM_FIELDS = [f.name for f in dataclasses.fields(ParamCount)]


def finished(profile: Profile, configs: Sequence[RunConfig]) -> pd.DataFrame:
    """The results of ``configs`` from the profile's run store, training only what is missing; failed runs
    dropped."""
    frame = run_grid(configs, profile.store()).frame
    return frame[frame["status"] == "ok"] if not frame.empty else frame


def point_name(row: pd.Series) -> str:
    """One name per point of a sweep: an adapter run's method names it (``method_point``: ``adapters_64``,
    ``lora_8``, ``ia3``), else ``top_k_<k>``, else the regime (``full``, ``layernorm``)."""
    if pd.notna(row.get(METHOD_POINT)):
        return str(row[METHOD_POINT])
    if row["regime"] == "top_k":
        return f"top_k_{int(row['top_k'])}"
    return str(row["regime"])


def series_name(row: pd.Series) -> str:
    """The family a point belongs to: its adapter method's (``AdapterMethod.family``), else its regime."""
    return METHOD_BY_KEY[row[METHOD_KEY]].family if pd.notna(row.get(METHOD_KEY)) else str(row["regime"])


def sweep_points(frame: pd.DataFrame, suite: str, paper: pd.DataFrame | None = None,
                 by: Sequence[str] = (METHOD_POINT, "top_k"),
                 name: Callable[[pd.Series], str] = point_name) -> pd.DataFrame:
    """One tidy row per task and sweep point (hyperparameters not in ``by`` chosen on dev, seeds averaged), with
    its ``regime``, ``series`` (``series_name``) and ``run_ids``. The default ``by`` gives one point per adapter
    method and size, and per top-k depth."""
    if frame.empty:
        return pd.DataFrame()
    group = ["task", "regime", *[c for c in by if c in frame.columns]]
    selected = select_best(frame, by=group, seeds="mean")
    names = selected.apply(name, axis=1)
    parts = [tidy_rows(rows, method, paper, suite=suite).assign(regime=rows["regime"].to_numpy(),
                                                                series=rows.apply(series_name, axis=1).to_numpy(),
                                                                run_ids=rows["run_ids"].to_numpy())
             for method, rows in selected.groupby(names, sort=False)]
    return pd.concat(parts, ignore_index=True)


def figure_tasks(profile: Profile, n: int = 2) -> list[str]:
    """The tasks of Figures 4 and 6: the profile's ``analysis_tasks`` if it names them (the cpu profile: learned
    stand-ins where MNLI's is not learned at its scale), else the stand-ins for MNLI-m and CoLA (else SST-2), filled
    up with the profile's other classification tasks of the GLUE role. The first takes the paper's MNLI claims (where
    an analysis task is left out, ``studies.base.left_out`` names it and the claims are not measured)."""
    if profile.analysis_tasks:  # a task the profile leaves out (``Profile.missing_tasks``) is dropped, not run
        trained = {t for role in ("glue", "additional") if role in profile.suites for t in profile.task_names(role)}
        return [t for t in profile.analysis_tasks if t in trained][:n]
    tasks = [t for t in profile.task_names("glue") if get_task(t).format != "regression"]
    chosen = [t for ref in FIGURE_TASK_REFERENCES for t in tasks if get_task(t).reference == ref]
    chosen += [t for t in tasks if t not in chosen]
    return list(dict.fromkeys(chosen))[:n]


def figure_suite(profile: Profile, task: str) -> str:
    """The suite whose view of ``task`` a figure reads: the GLUE role's, else the additional role's (a figure task
    of the cpu profile may be a Table 2 task)."""
    return next((profile.suites[role] for role in ("glue", "additional") if task in profile.task_names(role)),
                profile.suites["glue"])


def in_task_order(table: pd.DataFrame, tasks: Sequence[str]) -> pd.DataFrame:
    """Rows in the order of ``tasks`` (claims read the MNLI-like task first, as ``figure_tasks`` orders them)."""
    return table.sort_values("task", key=lambda s: s.map({t: i for i, t in enumerate(tasks)}), kind="stable",
                             ignore_index=True)


def exact_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Parameter counts as exact integers (NaN-able), so the CSV keeps every digit."""
    return table.assign(trained_params=pd.to_numeric(table["trained_params"]).round().astype("Int64"))


def total_params_x(profile: Profile, selected: pd.DataFrame, n_tasks: int) -> float:
    """Total parameters for ``n_tasks`` tasks (x base), as the paper prints it, from the mean per-task parameter
    counts of the ``selected`` runs (the first run of each row, as the run store recorded it); NaN if none."""
    if selected.empty:
        return float("nan")
    store = profile.store()
    counts = [store.get(list(ids)[0]).params for ids in selected["run_ids"]]
    if not counts:
        return float("nan")
    mean = ParamCount(**{k: float(np.mean([int(c[k]) for c in counts])) for k in PARAM_FIELDS})
    return mean.total_multiple(n_tasks)


def paper_only_rows(paper: pd.DataFrame, ours: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Paper rows for the paper's tasks (and mean row) that have no stand-in here: our score is NaN."""
    covered = set(ours["paper_task"].dropna())
    rows = paper[paper["method"].isin(methods) & ~paper["paper_task"].isin(covered)].copy()
    for column in ("task", "metric"):
        rows[column] = None
    rows[["score", "trained_params", "trained_pct"]] = float("nan")
    return rows
