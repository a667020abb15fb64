"""Shared by every study: tidy output tables with the paper's number beside ours, and notebook set-up.

A study selects hyperparameters on dev with ``grid.select_best`` and turns the winners into rows of the documented
table (``results.TABLE_COLUMNS``) with ``tidy_rows``: one row per task x method, our test score, the paper's score for
the task it stands in for, and the trained parameters per task.
"""
from __future__ import annotations

import matplotlib
import pandas as pd

from ..profiles import Profile, get_profile
from ..reference import paper_score
from ..tasks import get_task


def setup(profile: str, **overrides) -> Profile:
    """The notebook's profile (fails at once on a bad name or value) and a consistent plot style."""
    import seaborn as sns

    chosen = get_profile(profile, **overrides)
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    sns.set_theme(context="notebook", style="whitegrid")
    return chosen


def tidy_rows(
    selected: pd.DataFrame, method: str, paper: pd.DataFrame | None = None, paper_method: str | None = None,
    *, suite: str | None = None,
) -> pd.DataFrame:
    """Rows of the documented table for one method from ``grid.select_best`` output (one row per task).

    ``paper``: a ``reference`` frame (``houlsby_glue()``, ``houlsby_additional()``, ``fusion_table1()``);
    ``paper_method``: the method's name there (default: ``method``); ``suite``: whose paper task a task stands in for
    when it sits in several suites (rt_polarity is SST-2 in glue_offline, SST in fusion_offline). Tasks without a paper counterpart, or methods
    the paper does not report, get NaN. Extra columns kept: chosen hyperparameters, dev score, spread over seeds.
    """
    rows = []
    for _, row in selected.iterrows():
        task = get_task(row["task"], suite)
        paper_value = (paper_score(paper, task.reference, paper_method or method)
                       if paper is not None and task.reference else float("nan"))
        extra = {k: row[k] for k in ("lr", "epochs", "size", "reduction_factor", "top_k", "init_std", "dev_score",
                                     "std", "sem", "n_seeds") if k in row.index}
        rows.append({"task": task.name, "paper_task": task.reference, "method": method, "metric": task.metric,
                     "score": row["score"], "paper_score": paper_value, "trained_params": row["trainable"],
                     "trained_pct": row["trainable_pct"], **extra})
    return pd.DataFrame(rows)
