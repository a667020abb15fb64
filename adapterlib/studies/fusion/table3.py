"""AdapterFusion Table 3: ST-A with reduction factors 2, 16 and 64 (the paper: the factor matters little).

Reduction factor 16 is Table 1's ST-A run (reused through the run store); the paper gives per-task numbers only
for that one (Table 1), Table 3 only means.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import claim_value, fusion_n_tasks
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import RunConfig
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.fusion import table1
from adapterlib.studies.fusion.report import claims_section
from adapterlib.studies.common import paired_mean_difference
from adapterlib.studies.fusion.runs import method_rows, results, st_a_configs

STUDY = register(Study(name="fusion_table3_reduction", paper="fusion", title="Table 3: ST-A reduction factor",
                       roles=("fusion",), grids=("reduction_factors",), depends=(table1.STUDY.name,)))
FACTORS = (2, 16, 64)  # the reduction factors of the paper's Table 3


def _paper_means() -> dict[int, float]:
    return {rf: claim_value(f"t3_rf{rf}") for rf in FACTORS}


@declares_runs(STUDY)
def runs(profile: Profile, tasks: Sequence[str] | None = None) -> list[RunConfig]:
    """ST-A at each reduction factor of the ``reduction_factors`` grid (rf 16 is Table 1's ST-A)."""
    return st_a_configs(profile, "reduction_factors", tasks)


def table(profile: Profile, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """ST-A with reduction factors from the ``reduction_factors`` grid: one row per task x factor
    (``st_a_rf<rf>``); the paper's per-task number only for rf 16 (Table 1's ST-A column; Table 3 gives means).
    ``tasks``: a subset of the profile's fusion tasks (default: all of them)."""
    frame = results(profile, runs(profile, tasks))
    parts = []
    for rf, factor_runs in frame.groupby("reduction_factor"):
        rows = method_rows(profile, factor_runs, f"st_a_rf{rf:g}", "st_a")
        if rf != 16:  # Table 3 gives only means
            rows["paper_score"] = float("nan")
        parts.append(rows.assign(reduction_factor=rf))
    return pd.concat(parts, ignore_index=True)


def plot(table: pd.DataFrame) -> Figure:
    """Test accuracy against the reduction factor, per task and on average."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for task, rows in table.groupby("task"):
        rows = rows.sort_values("reduction_factor")
        ax.plot(rows["reduction_factor"], rows["score"], marker="o", label=task)
    means = table.groupby("reduction_factor")["score"].mean()
    ax.plot(means.index, means.values, "k--", marker="s", linewidth=2, label="mean (ours)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("reduction factor (bottleneck = d / rf)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def claims(table: pd.DataFrame, reference: pd.DataFrame | None = None) -> list[ClaimCheck]:
    """t3_rf2, t3_rf64 by the one learning rule: the paper's point is that the factor matters little (its Table 3
    means lie within ``spread`` points of each other), so the region of rf minus rf 16 is (-spread, spread), on the
    tasks full fine-tuning learned (its rows come from ``reference``, Table 1's table). t3_rf16 is the paper's
    absolute mean, of BERT-base on the full data: not comparable with MiniLM at our scale, so not measured."""
    paper = _paper_means()
    spread = max(paper.values()) - min(paper.values())
    rows = table if reference is None else pd.concat([table, reference[reference["method"] == "full"]])
    n = table["task"].nunique()
    checks = [cl.check("t3_rf16", float("nan"), "not measured",
                       f"not measured: an absolute mean of BERT-base on the paper's full data ({paper[16]:.2f}) says "
                       "nothing about MiniLM on capped stand-ins; the factor's effect is t3_rf2 and t3_rf64",
                       STUDY.name, description=f"ST-A with reduction factor 16: the {fusion_n_tasks()}-task mean")]
    for rf in (2, 64):
        paper_delta = round(paper[rf] - paper[16], 2)
        interval, tasks, why = paired_mean_difference(rows, f"st_a_rf{rf}", "st_a_rf16")
        checks.append(cl.learning_check(
            f"t3_rf{rf}", interval, (-spread, spread),
            f"rf {rf} minus rf 16 within {spread:.2f} points, the spread of the paper's Table 3 means "
            f"({' / '.join(f'{v:.2f}' for v in paper.values())})",
            f"test score of ST-A rf {rf} minus rf 16, paired, mean over the {len(tasks)} learned of our {n} tasks",
            STUDY.name, not_measured=why, paper_value=paper_delta,
            description=f"ST-A reduction factor {rf} vs 16: the factor matters little (paper: {paper_delta:+.2f})"))
    return checks


def findings(table: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """Our means by reduction factor and their spread beside the paper's, then the claims."""
    means = table.groupby("reduction_factor")["score"].mean()
    spread = means.max() - means.min()
    paper = list(_paper_means().values())
    return ("Our mean test accuracy by reduction factor: "
            + ", ".join(f"rf {rf:g}: {v:.2f}" for rf, v in means.items())
            + f" (spread {spread:.2f} points; the paper's spread is {max(paper) - min(paper):.2f} points over "
            + " / ".join(f"{v:.2f}" for v in paper) + "). The paper's point, that the bottleneck size matters little, "
            + ("**holds** here" if spread <= 1.0 else "**does not hold** here" if spread > 3.0 else "holds only "
               "**partly** here") + " (within 1 point: holds; above 3: does not).\n\n" + claims_section(checks))
