"""Houlsby Figures 1 and 3: score minus full fine-tuning's against trained parameters per task, adapters (every
size) vs fine-tuning the top k layers, LayerNorm-only, and every other registered method (``tradeoff.OTHER_METHODS``:
LoRA, Hu et al. 2021, at a few ranks, and (IA)³, Liu et al. 2022: what readers choose today), as 20th/50th/80th
percentiles across the tasks full fine-tuning has learned, the paper's Table 1 and 2 points beside ours (drawn by
``studies.tradeoff``, shared with AdapterFusion's trade-off).

GLUE points come from Table 1's runs plus top-k runs (shared with Figure 4), additional-task points from Table 2's
runs; the GLUE top-k runs and the other methods' runs (only on learned tasks: elsewhere every method sits at the
majority class and the curve would be noise) are trained here. LayerNorm-only is Figure 4's runs, on Figure 4's
tasks only. A point is named and drawn by its method (``AdapterMethod.point_name``, family, label, colour), never
by parsing its name.
"""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from adapterlib.core.inject import METHODS
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import (BERT_BASE_PARAMS, BERT_LARGE_PARAMS, HOULSBY_MEAN_ROW, houlsby_additional,
                                        houlsby_additional_params, houlsby_glue)
from adapterlib.runner.profiles import Profile
from adapterlib.studies import tradeoff
from adapterlib.runner.settings import RunConfig
from adapterlib.studies.base import PlannedRun, Study, declares_runs, register
from adapterlib.studies.houlsby.report import PAPER
from adapterlib.studies.common import learned_tasks
from adapterlib.studies.houlsby.runs import figure_tasks, finished, sweep_points

STUDY = register(Study(name="houlsby_fig3_tradeoff", paper="houlsby",
                       title="Figures 1 and 3: accuracy vs trained parameters", roles=("glue", "additional"),
                       grids=("houlsby_glue", "size_sweep", "houlsby_additional", *tradeoff.METHOD_GRIDS),
                       depends=("houlsby_table1_glue", "houlsby_table2_additional")))
# Per role: the grids whose points are drawn, each with its regimes (Table 1's or 2's runs, plus top-k on GLUE).
GRIDS = {"glue": (("houlsby_glue", ["full", "adapters"]), ("size_sweep", ["top_k"])),
         "additional": (("houlsby_additional", ["full", "top_k", "adapters"]),)}
# Per role: the paper's table and its adapters column (size chosen on dev), compared with its "full" column.
PAPER_TABLES = {"glue": (houlsby_glue, "adapters_best_size"), "additional": (houlsby_additional, "adapters")}
PAPER_MODELS = {"glue": ("BERT-large", BERT_LARGE_PARAMS), "additional": ("BERT-base", BERT_BASE_PARAMS)}
PAPER_LABELS = {suite: f"paper (Table {i}, {model})" for i, (suite, (model, _)) in enumerate(PAPER_MODELS.items(), 1)}
SERIES = (*tradeoff.method_series(METHODS),
          tradeoff.Series("top_k", "fine-tune top k layers, by k", "tab:blue"),
          tradeoff.Series("layernorm", "LayerNorm only (Fig. 4 tasks)", "tab:purple"),
          tradeoff.Series("full", "full fine-tuning", "black"))
# The paper's tables' methods and the series each belongs to (the paper's adapters are the papers' method's family).
PAPER_SERIES = {"full": "full", "top_k": "top_k",
                **dict.fromkeys(("adapters", "adapters_best_size", "adapters_64"), tradeoff.PAPERS_METHOD.family)}
CAPTION = (tradeoff.CAPTION + "; methods the paper does not have only on learned tasks, LayerNorm-only only on "
           "Figure 4's tasks (its runs)")


def role_configs(profile: Profile, role: str) -> list[RunConfig]:
    """The runs of ``GRIDS[role]``, plus (GLUE role) Figure 4's LayerNorm-only runs: the same configs, read or
    trained once."""
    tasks = profile.task_names(role)
    configs = [cfg for grid, regimes in GRIDS[role] for cfg in profile.configs(grid, tasks, regime=regimes)]
    if role == "glue":
        configs += profile.configs("size_sweep", [t for t in figure_tasks(profile) if t in tasks], regime=["layernorm"])
    return configs


@declares_runs(STUDY)
def runs(profile: Profile) -> list[RunConfig | PlannedRun]:
    """Every role's sweep runs, and the other methods' runs (``tradeoff.method_configs``) on the tasks full
    fine-tuning learned: known once that role's sweep runs are in the store; until then on every task of the role,
    provisional (an upper bound)."""
    store, listed = profile.store(), []
    for role in GRIDS:
        configs = role_configs(profile, role)
        listed += configs
        if all(store.get(cfg) is not None for cfg in configs):
            frame = store.to_frame(cfg.run_id for cfg in configs)
            points = sweep_points(frame[frame["status"] == "ok"], profile.suites[role])
            listed += tradeoff.method_configs(profile, learned_tasks(points) if not points.empty else [])
        else:
            after = tuple(cfg.run_id for cfg in configs)
            listed += [PlannedRun(cfg, after, provisional=True)
                       for cfg in tradeoff.method_configs(profile, profile.task_names(role))]
    return listed


def table(profile: Profile) -> pd.DataFrame:
    """Every adapter size, other method's point and top-k point per task, LayerNorm-only on Figure 4's tasks, as
    ``tradeoff.COLUMNS`` (``suite``: the role; ``series``: the point's method family, else its regime;
    ``learned``: full fine-tuning learned the task)."""
    parts = []
    for role in GRIDS:
        suite = profile.suites[role]
        points = sweep_points(finished(profile, role_configs(profile, role)), suite, PAPER_TABLES[role][0]())
        learned = learned_tasks(points)
        if learned:
            others = finished(profile, tradeoff.method_configs(profile, learned))
            points = pd.concat([points, sweep_points(others, suite)], ignore_index=True)
        parts.append(points.assign(suite=role, learned=points["task"].isin(learned)))
    return tradeoff.tradeoff_frame(pd.concat(parts, ignore_index=True), profile.store())


def paper_points() -> pd.DataFrame:
    """The paper's per-task points: Table 1 (BERT-large) and Table 2 (BERT-base) scores minus their full
    fine-tuning column, at the trained share of the base model the tables print (and their total parameters)."""
    parts = []
    additional = houlsby_additional().merge(houlsby_additional_params(), on="method")
    for suite, frame in (("glue", houlsby_glue()), ("additional", additional)):
        frame = frame[(frame["paper_task"] != HOULSBY_MEAN_ROW[suite]) & frame["method"].isin(PAPER_SERIES)]
        full = frame[frame["method"] == "full"].set_index("paper_task")["paper_score"]
        parts.append(pd.DataFrame({
            "suite": suite, "series": frame["method"].map(PAPER_SERIES), "method": frame["method"],
            "paper_task": frame["paper_task"], "relative": frame["paper_score"] - frame["paper_task"].map(full),
            "trained_params": frame["paper_trained_pct"] / 100 * PAPER_MODELS[suite][1],
            "total_x": frame["paper_total_params_x"]}))
    return pd.concat(parts, ignore_index=True)


def summary(saved: pd.DataFrame) -> pd.DataFrame:
    """Per role and method, ours then the paper's: medians and parameters to serve every task (``tradeoff.summary``)."""
    return tradeoff.summary(saved, paper_points(), PAPER_LABELS)


def plot(saved: pd.DataFrame) -> Figure:
    """Score minus full fine-tuning's vs trained parameters per task, one panel per role, the paper's points beside
    ours (the paper's Figures 1 and 3, plus the other methods and LayerNorm-only); see ``CAPTION``."""
    titles = {"glue": "GLUE role", "additional": "additional-task role"}
    return tradeoff.plot_tradeoff(saved, paper_points(), SERIES, titles, PAPER_LABELS, caption=CAPTION)


def claims(table: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """Adapters reach full fine-tuning's level with far fewer trained parameters, on each suite: median over the
    learned tasks of (best adapter size on dev minus full), paired (``tradeoff.median_gap_check``), against the same
    median in the paper's Table 1/2. From ``table()`` itself: the intervals need its per-example predictions,
    which the saved CSV leaves out."""
    checks = []
    for suite, (paper_table, adapters_m) in PAPER_TABLES.items():
        ours = table[table["suite"] == suite]
        part = ours[ours["series"] == tradeoff.PAPERS_METHOD.family]
        best = part.loc[part.groupby("task")["dev_score"].idxmax()] if len(part) else part
        full = ours[ours["method"] == "full"]
        ratio = (float((best["trained_params"] / best["task"].map(full.set_index("task")["trained_params"])).median())
                 if len(best) else float("nan"))
        paper = paper_table()
        wide = paper[paper["method"].isin(["full", adapters_m])].pivot_table(
            index="paper_task", columns="method", values="paper_score").drop(index=HOULSBY_MEAN_ROW[suite])
        checks.append(tradeoff.median_gap_check(
            f"fig3_{suite}_adapters", pd.concat([full, best.assign(method="adapters_best_size")]),
            "adapters_best_size", float((wide[adapters_m] - wide["full"]).median()),
            f"the same median of the paper's Table {1 if suite == 'glue' else 2}",
            f"test score of adapters (size chosen on dev per task) minus full fine-tuning on our {suite}-role tasks, "
            f"at a median {100 * ratio:.2g}% of full fine-tuning's trained parameters, paired", csv,
            paper=PAPER, source="Fig. 1/3 (medians from Table 1/2)",
            description=f"adapters near full fine-tuning with far fewer trained parameters ({suite} tasks)"))
    return checks
