"""AdapterFusion Table 3: ST-A with reduction factors 2, 16 and 64 (the paper: the factor matters little).

Reduction factor 16 is Table 1's ST-A run (reused through the run store); the paper gives per-task numbers only
for that one (Table 1), Table 3 only means. Tasks full fine-tuning did not learn (Table 1's full runs: ``learned``)
stay in the table but out of every mean and of the figure: there every factor sits at the majority class, and their
differences are noise that would pull the means together.
"""
from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import claim_value, fusion_n_tasks
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import RunConfig
from adapterlib.studies.base import PlannedRun, Study, declares_runs, register
from adapterlib.studies.fusion import table1
from adapterlib.studies.fusion.report import claims_section
from adapterlib.studies.common import learned_tasks, paired_mean_difference
from adapterlib.studies.fusion.runs import method_rows, results, scored, st_a_configs, table1_configs

STUDY = register(Study(name="fusion_table3_reduction", paper="fusion", title="Table 3: ST-A reduction factor",
                       roles=("fusion",), grids=("reduction_factors",), depends=(table1.STUDY.name,)))
FACTORS = (2, 16, 64)  # the reduction factors of the paper's Table 3


def _paper_means() -> dict[int, float]:
    return {rf: claim_value(f"t3_rf{rf}") for rf in FACTORS}


def full_configs(profile: Profile, tasks: Sequence[str] | None = None) -> list[RunConfig]:
    """Table 1's full fine-tuning runs (on ``tasks``, default every fusion task): they decide which tasks are
    learned."""
    return [cfg for cfg in table1_configs(profile)["baselines"]
            if cfg.regime == "full" and (tasks is None or cfg.task in tasks)]


def learned_fusion_tasks(profile: Profile, tasks: Sequence[str] | None = None) -> list[str] | None:
    """The fusion tasks (of ``tasks``, default all) full fine-tuning learned, from Table 1's full runs in the run
    store; None while any of them is still to train."""
    full, store = full_configs(profile, tasks), profile.store()
    if any(store.get(cfg) is None for cfg in full):
        return None
    return learned_tasks(method_rows(profile, scored(profile, store.to_frame(cfg.run_id for cfg in full)), "full"))


def on_learned_tasks(profile: Profile, configs: Sequence[RunConfig],
                     kept: Callable[[RunConfig], bool] = lambda cfg: False) -> list[RunConfig | PlannedRun]:
    """``configs`` on the fusion tasks full fine-tuning learned, and those ``kept`` anywhere: on a floor task every
    method sits at the majority class, and a floor task is out of every mean. Known once Table 1's full runs are
    stored (those of the configs' tasks); until then every config is listed, provisional (an upper bound)."""
    tasks = sorted({cfg.task for cfg in configs})
    if not tasks:
        return []
    learned = learned_fusion_tasks(profile, tasks)
    if learned is not None:
        return [cfg for cfg in configs if kept(cfg) or cfg.task in learned]
    after = tuple(cfg.run_id for cfg in full_configs(profile, tasks))
    return [cfg if kept(cfg) else PlannedRun(cfg, after, provisional=True) for cfg in configs]


@declares_runs(STUDY)
def runs(profile: Profile, tasks: Sequence[str] | None = None) -> list[RunConfig | PlannedRun]:
    """ST-A at each reduction factor of the ``reduction_factors`` grid: the factor nearest 16 (Table 1's ST-A) on
    every task, so a floor task keeps its row; the others only on the tasks full fine-tuning learned
    (``on_learned_tasks``)."""
    configs = st_a_configs(profile, "reduction_factors", tasks)
    anchor = min({cfg.adapter.reduction_factor for cfg in configs}, key=lambda rf: abs(math.log(rf / 16)),
                 default=None)
    return on_learned_tasks(profile, configs, kept=lambda cfg: cfg.adapter.reduction_factor == anchor)


def table(profile: Profile, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """ST-A with reduction factors from the ``reduction_factors`` grid: one row per task x factor
    (``st_a_rf<rf>``); the paper's per-task number only for rf 16 (Table 1's ST-A column; Table 3 gives means).
    ``learned``: full fine-tuning learned the task (Table 1's full runs, read from the run store); ``model`` and
    ``max_train``: the scale the figure names beside the paper's. ``tasks``: a subset of the profile's fusion tasks
    (default: all of them)."""
    learned = learned_tasks(method_rows(profile, results(profile, full_configs(profile, tasks)), "full"))
    configs = runs(profile, tasks)  # Table 1's full runs are stored now: nothing provisional
    factor = {cfg.run_id: cfg.adapter.reduction_factor for cfg in configs}
    # from the configs: a frame of rf-16 runs alone (no task learned) has no column for a grid axis it never varied
    frame = results(profile, configs)
    frame = frame.assign(reduction_factor=frame["run_id"].map(factor))
    parts = []
    for rf, factor_runs in frame.groupby("reduction_factor"):
        rows = method_rows(profile, factor_runs, f"st_a_rf{rf:g}", "st_a")
        if rf != 16:  # Table 3 gives only means
            rows["paper_score"] = float("nan")
        parts.append(rows.assign(reduction_factor=rf))
    rows = pd.concat(parts, ignore_index=True)
    scale = [profile.run_config(task, "head", role="fusion") for task in rows["task"]]  # the model and caps only
    return rows.assign(learned=rows["task"].isin(learned), model=[c.model for c in scale],
                       max_train=[c.max_train for c in scale])


def learned_means(table: pd.DataFrame) -> pd.Series:
    """Our mean score per reduction factor over the learned tasks only (empty when none is learned)."""
    return table[table["learned"].astype(bool)].groupby("reduction_factor")["score"].mean()


def floor_tasks(table: pd.DataFrame) -> list[str]:
    """The tasks of ``table`` full fine-tuning did not learn: left out of the means and the figure."""
    return sorted(set(table["task"]) - set(table.loc[table["learned"].astype(bool), "task"]))


def _scale(table: pd.DataFrame) -> str:
    """Our model and training data in words, for the legend beside the paper's BERT-base on full data."""
    caps = {f"train capped at {int(n):,}" if pd.notna(n) else "full train data" for n in table["max_train"]}
    return f"{', '.join(sorted(set(table['model'])))}, {', '.join(sorted(caps))}"


def plot(table: pd.DataFrame) -> Figure:
    """Accuracy against the reduction factor: ours per learned task and their mean (test), beside the paper's
    Table 3 means (BERT-base, full data, dev): only means, since the paper gives no per-task numbers for rf 2 and
    64. The absolute levels differ by model and data; the comparison is the slope across factors. Tasks full
    fine-tuning did not learn are left out and named under the figure."""
    learned = table[table["learned"].astype(bool)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 3]  # red is the paper's
    for (task, rows), color in zip(learned.groupby("task"), itertools.cycle(colors)):
        rows = rows.sort_values("reduction_factor")
        ax.plot(rows["reduction_factor"], rows["score"], marker="o", lw=1, alpha=0.7, color=color,
                label=f"ours: {task}")
    means = learned_means(table)
    if len(means):
        ax.plot(means.index, means.values, "k-", marker="o", ms=7, lw=2.5,
                label=f"ours: mean over {learned['task'].nunique()} learned tasks\n({_scale(table)}; test)")
    paper = _paper_means()
    ax.plot(list(paper), list(paper.values()), "--", color="tab:red", marker="s", mfc="none", ms=10, mew=2, lw=2,
            label=f"paper, Table 3: mean over {fusion_n_tasks()} tasks\n(BERT-base, full data; dev)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(FACTORS, [f"{rf}" for rf in FACTORS])
    ax.set_xlabel("reduction factor (bottleneck = d / rf)")
    ax.set_ylabel("accuracy")
    ax.set_title("ST-A by reduction factor: ours beside the paper's Table 3", fontsize=10)
    ax.legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    floor = floor_tasks(table)
    caption = (f"Left out (full fine-tuning did not learn them: every factor at the majority class), of the figure "
               f"and the mean: {', '.join(floor)}." if floor else "Every task was learned by full fine-tuning.")
    fig.text(0.01, 0.01, textwrap.fill(caption, 110), ha="left", va="bottom", fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
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
            f"t3_rf{rf}", interval, cl.either_way_within(spread),
            f"rf {rf} minus rf 16 within {cl.on_par_bound(spread):.2f} points either way: the spread of the paper's "
            f"Table 3 means ({' / '.join(f'{v:.2f}' for v in paper.values())}) plus our {cl.ON_PAR_MARGIN:g}-point "
            "margin for \"within\"",
            f"test score of ST-A rf {rf} minus rf 16, paired, mean over the {len(tasks)} learned of our {n} tasks",
            STUDY.name, not_measured=why, tasks=tasks, paper_value=paper_delta,
            description=f"ST-A reduction factor {rf} vs 16: the factor matters little (paper: {paper_delta:+.2f})"))
    return checks


def findings(table: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """Our means by reduction factor over the learned tasks and their spread beside the paper's, then the claims."""
    means = learned_means(table)
    paper = list(_paper_means().values())
    floor = floor_tasks(table)
    left_out = (f" Left out of the means, full fine-tuning not having learned them: {', '.join(floor)}."
                if floor else "")
    if means.empty:
        return (f"Full fine-tuning learned none of our {table['task'].nunique()} tasks: no mean by reduction factor "
                f"to set beside the paper's {' / '.join(f'{v:.2f}' for v in paper)}.{left_out}\n\n"
                + claims_section(checks))
    spread = means.max() - means.min()
    n = table.loc[table["learned"].astype(bool), "task"].nunique()
    return (f"Our mean test accuracy by reduction factor over the {n} learned tasks: "
            + ", ".join(f"rf {rf:g}: {v:.2f}" for rf, v in means.items())
            + f" (spread {spread:.2f} points; the paper's spread is {max(paper) - min(paper):.2f} points over "
            + " / ".join(f"{v:.2f}" for v in paper) + "). The paper's point, that the bottleneck size matters little, "
            + ("**holds** here" if spread <= 1.0 else "**does not hold** here" if spread > 3.0 else "holds only "
               "**partly** here") + f" (within 1 point: holds; above 3: does not).{left_out}\n\n"
            + claims_section(checks))
