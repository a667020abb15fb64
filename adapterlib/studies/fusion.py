"""Pfeiffer et al. 2021, *AdapterFusion*: every table and figure as functions of a profile.

The runs build on each other through the profile's run store: the ST-A runs (Pfeiffer adapters, reduction factor
16) are trained once and every Fusion w/ ST-A run fuses all of them; the MT-A run (one multi-task run over the
profile's fusion tasks) gives the adapters and encoder of every Fusion w/ MT-A run; Table 3's reduction factor 16
is ST-A itself; Full shares Houlsby Table 1's full fine-tuning runs and ST-A Houlsby its size-64 adapter runs.
Hyperparameters are chosen on dev and scores reported on test (the paper reports dev: it has no test labels).

    table = fusion.table1(profile)
    results.save_table(table, profile.name, "fusion_table1")
    counts = fusion.table2(table)
"""
from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from transformers import BertConfig, BertForSequenceClassification

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.data.encoding import MODEL_INPUTS, collate, encode, length_sorted_batches
from adapterlib.core.bottleneck import fusion_parameter_names
from adapterlib.core.fusion import add_fusion, recording_fusion_attention
from adapterlib.runner.grid import run_grid, select_best
from adapterlib.core.inject import add_adapter
from adapterlib.core.methods import added_parameter_names
from adapterlib.core.models import load_model
from adapterlib.core.params import count_named_parameters, count_parameters
from adapterlib.runner.multitask import MultiTaskConfig
from adapterlib.runner.profiles import ST_A, Profile
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.reporting.paper import fusion_table1
from adapterlib.core.trainable import set_trainable
from adapterlib.data.tasks import get_task, load_task
from adapterlib.runner.single import DATA_SEED, RunConfig, make_optimizer
from adapterlib.studies.common import floor_count, majority_note, tidy_rows

PAPER = "fusion"
METHODS = ("head", "full", "st_a", "mt_a", "fusion_st_a", "fusion_mt_a", "st_a_houlsby")  # Table 1's columns
THRESHOLD = 0.3  # Table 2: a difference of at most 0.3 points counts as "same"
COMPARISONS = {  # Table 2's four comparisons -> (claim ids: improved, same or better)
    ("fusion_st_a", "st_a"): ("t2_fst_vs_st_improved", "t2_fst_vs_st_same_or_better"),
    ("fusion_st_a", "mt_a"): ("t2_fst_vs_mt_improved", None),
    ("fusion_mt_a", "st_a"): ("t2_fmt_vs_st_improved", None),
    ("fusion_mt_a", "mt_a"): ("t2_fmt_vs_mt_improved", "t2_fmt_vs_mt_same_or_better"),
}
PAPER_N_TASKS = 16
NLI_SOURCE = "MNLI"  # the large NLI task whose adapter small tasks lean on (Fig. 4)
SMALL_TASKS = ("RTE", "CB", "MRPC")  # the paper's small (<5k) target tasks of Fig. 4
COST_N = (1, 2, 4, 8, 16)  # numbers of fused adapters timed by the cost study


# ---------------------------------------------------------------------------------------------------- runs
def describe_setup(profile: Profile) -> str:
    """Markdown stating model, tasks and scale of this run, for a notebook's intro (generated, never hand-typed)."""
    tasks = profile.task_names("fusion")
    suite = profile.suites["fusion"]
    stand_ins = ", ".join(f"`{t}` ({get_task(t, suite).reference or 'no paper task'})" for t in tasks)
    epochs = sorted({e for g in ("fusion_st_a", "fusion_full", "fusion", "mt_a") for e in profile.grids[g]["epochs"]})
    model = profile.models.get("fusion", profile.models["glue"])
    return "\n".join([
        f"- **profile** `{profile.name}`: {profile.description}",
        f"- **model**: {model}" + ("" if profile.name == "paper" else " (the paper: BERT-base-uncased)")
        + (f", config overrides {dict(profile.model_kwargs)}" if profile.model_kwargs else ""),
        f"- **tasks** ({len(tasks)} of suite `{suite}`; paper task in brackets): {stand_ins}",
        f"- **scale**: train cap {profile.max_train or 'none'}, eval cap {profile.max_eval or 'none'}, max length "
        f"{profile.max_length}, epochs {epochs}, seeds {list(profile.seeds)}"
        + (" (one seed: no spread over seeds)" if len(profile.seeds) == 1 else "")])


def _claim_lines(checks: Sequence[ClaimCheck]) -> str:
    return "**Claims at this scale**\n\n" + cl.describe(checks)


def _frame(profile: Profile, configs: Sequence[RunConfig | MultiTaskConfig]) -> pd.DataFrame:
    """The results of ``configs`` from the profile's run store, training only what is missing."""
    frame = run_grid(configs, profile.store()).frame
    return frame[frame["status"] == "ok"] if not frame.empty else frame


def st_a_configs(profile: Profile, grid: str = "fusion_st_a", tasks: Sequence[str] | None = None) -> list[RunConfig]:
    """Single-task adapter runs of ``grid`` on ``tasks`` (default: the profile's fusion tasks)."""
    return profile.configs(grid, tasks or profile.task_names("fusion"), role="fusion", regime="adapters")


def mt_a_configs(profile: Profile) -> list[MultiTaskConfig]:
    """One MT-A run over all of the profile's fusion tasks per point of the ``mt_a`` grid and seed."""
    tasks = profile.task_names("fusion")
    scale = profile.run_config(tasks[0], "head", role="fusion")  # the profile's model, caps and lengths
    grid = profile.grids["mt_a"]
    return [MultiTaskConfig(tasks=tuple(tasks), model=scale.model, adapter=ST_A, lr=lr, epochs=epochs,
                            batch_size=scale.batch_size, max_length=scale.max_length, seed=seed,
                            max_train=scale.max_train, max_eval=scale.max_eval, model_kwargs=scale.model_kwargs)
            for lr, epochs, seed in itertools.product(grid["lr"], grid["epochs"], profile.seeds)]


def fusion_configs(profile: Profile, sources: Sequence[RunConfig | MultiTaskConfig]) -> list[RunConfig]:
    """For every target task and seed: one fusion of all source adapters of that seed (ST-A runs of one
    hyperparameter point, or one MT-A run), as in the paper (each target fuses all 16 adapters)."""
    configs = []
    for seed in profile.seeds:
        mine = [s for s in sources if s.seed == seed]
        groups = ([m.adapter_ids for m in mine] if mine and isinstance(mine[0], MultiTaskConfig)
                  else [[s.run_id for s in mine]])
        for ids, task in itertools.product(groups, profile.task_names("fusion")):
            configs += profile.configs("fusion", [task], role="fusion", regime="fusion", fusion=[tuple(ids)],
                                       seed=[seed])
    return configs


def _tidy(profile: Profile, frame: pd.DataFrame, method: str, paper_method: str | None = None) -> pd.DataFrame:
    """One row per task for ``method``: hyperparameters chosen on dev (seeds averaged), the paper's number of
    ``paper_method`` (default ``method``) from Table 1 beside ours."""
    if frame.empty:
        return pd.DataFrame()
    selected = select_best(frame, by=["task", "regime"], seeds="mean")
    rows = tidy_rows(selected, method, fusion_table1(), paper_method, suite=profile.suites["fusion"])
    return rows.assign(run_ids=selected["run_ids"].to_numpy())


# ---------------------------------------------------------------------------------------------------- Table 1
def table1(profile: Profile) -> pd.DataFrame:
    """AdapterFusion Table 1 on the profile's fusion tasks: one row per task x method (``METHODS``), our test score
    (mean over seeds, hyperparameters chosen on dev) beside the paper's dev score for the task it stands in for."""
    st_a = st_a_configs(profile)
    mt_a = mt_a_configs(profile)
    frames = {
        "baselines": _frame(profile, profile.configs("fusion_full", profile.task_names("fusion"), role="fusion",
                                                     regime=["head", "full"])),
        "st_a": _frame(profile, st_a),
        "st_a_houlsby": _frame(profile, st_a_configs(profile, "fusion_st_a_houlsby")),
        "mt_a": _frame(profile, mt_a),
    }
    frames["fusion_st_a"] = _frame(profile, fusion_configs(profile, st_a))
    frames["fusion_mt_a"] = _frame(profile, fusion_configs(profile, mt_a))
    baselines = frames.pop("baselines")
    parts = [_tidy(profile, baselines[baselines["regime"] == regime], regime) for regime in ("head", "full")]
    parts += [_tidy(profile, frame, method) for method, frame in frames.items()]
    table = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    table["method"] = pd.Categorical(table["method"], METHODS, ordered=True)
    return table.sort_values(["method", "task"]).assign(method=lambda t: t["method"].astype(str)).reset_index(drop=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: our mean over our tasks, the paper's mean over the same stand-in tasks and over its 16."""
    paper = fusion_table1()
    rows = []
    for method in METHODS:
        mine = table[table["method"] == method]
        rows.append({"method": method, "n_tasks": int(mine["score"].notna().sum()), "score": mine["score"].mean(),
                     "paper_score_same_tasks": mine["paper_score"].mean(),
                     "paper_score_all_tasks": _paper_value(paper, "Mean", method),
                     "trained_pct": mine["trained_pct"].mean()})
    return pd.DataFrame(rows)


def _paper_value(paper: pd.DataFrame, paper_task: str, method: str) -> float:
    hit = paper.loc[(paper["paper_task"] == paper_task) & (paper["method"] == method), "paper_score"]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def plot_table1(table: pd.DataFrame) -> Figure:
    """Our test score per task and method beside the paper's dev score (Table 1)."""
    methods = [m for m in METHODS if m in set(table["method"])]
    tasks = sorted(table["task"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(13, 4), sharey=True)
    width = 0.8 / len(methods)
    for ax, column, title in zip(axes, ("score", "paper_score"), ("ours (test)", "paper (dev, BERT-base)")):
        for i, method in enumerate(methods):
            values = table[table["method"] == method].set_index("task")[column].reindex(tasks)
            ax.bar(np.arange(len(tasks)) + i * width, values, width, label=method)
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=30, ha="right")
        ax.set_title(title)
    axes[0].set_ylabel("accuracy")
    axes[1].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def claims_table1(table: pd.DataFrame, csv: str = "fusion_table1") -> list[ClaimCheck]:
    """The paper's headline (Fusion w/ ST-A beats ST-A and full fine-tuning on average) on our tasks."""
    means = summary(table).set_index("method")
    checks = []
    for other in ("st_a", "full"):
        ours = means.loc["fusion_st_a", "score"] - means.loc[other, "score"]
        paper = means.loc["fusion_st_a", "paper_score_same_tasks"] - means.loc[other, "paper_score_same_tasks"]
        verdict = "not measured" if math.isnan(ours) else cl.at_least(ours, min(paper, 0.0), slack=1.0)
        n = int(means.loc["fusion_st_a", "n_tasks"])
        checks.append(cl.check(
            f"t1_fusion_st_a_minus_{other}", ours, verdict,
            f"mean test score of fusion_st_a minus {other} over our {n} tasks{floor_count(table, n)}; "
            f"paper value: the same difference of Table 1 over the paper tasks ours stand in for; holds if ours "
            f">= min(paper, 0) (fusion does not lose), partly if within 1 point below", csv,
            paper_value=paper, description=f"Fusion w/ ST-A vs {other}: mean difference over the tasks",
            paper=PAPER, source="Table 1"))
    return checks


# ---------------------------------------------------------------------------------------------------- Table 2
def outcome(difference: float, threshold: float = THRESHOLD) -> str:
    """Table 2's rule: "improved" above +threshold points, "worse" below -threshold, else "same"."""
    if math.isnan(difference):
        return "n/a"
    return "improved" if difference > threshold else "worse" if difference < -threshold else "same"


def table2(table: pd.DataFrame, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Per task and comparison (fusion method vs baseline): our difference and the paper's (Table 1) with their
    outcome under the threshold. ``score``/``paper_score`` hold the differences in points."""
    rows = []
    for (fused, base), _ in COMPARISONS.items():
        a, b = (table[table["method"] == m].set_index("task") for m in (fused, base))
        for task in a.index.intersection(b.index):
            diff = a.at[task, "score"] - b.at[task, "score"]
            paper_diff = a.at[task, "paper_score"] - b.at[task, "paper_score"]
            rows.append({"task": task, "paper_task": a.at[task, "paper_task"], "method": f"{fused}_vs_{base}",
                         "metric": f"{a.at[task, 'metric']} difference", "score": diff, "paper_score": paper_diff,
                         "trained_params": a.at[task, "trained_params"], "trained_pct": a.at[task, "trained_pct"],
                         "outcome": outcome(diff, threshold), "paper_outcome": outcome(paper_diff, threshold)})
    return pd.DataFrame(rows)


def counts(table2_rows: pd.DataFrame, column: str = "outcome") -> pd.DataFrame:
    """Improved / same / worse counts per comparison (Table 2's layout)."""
    if table2_rows.empty:
        return pd.DataFrame(columns=["method", "improved", "same", "worse", "n_tasks"])
    out = (table2_rows.groupby("method")[column].value_counts().unstack(fill_value=0)
           .reindex(columns=["improved", "same", "worse"], fill_value=0))
    out["n_tasks"] = out.sum(axis=1)
    return out.reset_index()


def claims_table2(rows: pd.DataFrame, csv: str = "fusion_table2_counts") -> list[ClaimCheck]:
    """t2_*: our share of improved (same or better) tasks against the paper's share of its 16 tasks."""
    ours = counts(rows).set_index("method")
    known = paper_claims()
    checks = []
    for (fused, base), ids in COMPARISONS.items():
        for claim, kinds in zip(ids, (("improved",), ("improved", "same"))):
            if claim is None:
                continue
            method = f"{fused}_vs_{base}"
            n = int(ours.at[method, "n_tasks"]) if method in ours.index else 0
            count = float(sum(ours.at[method, k] for k in kinds)) if n else float("nan")
            paper_share = float(known.at[claim, "value"]) / PAPER_N_TASKS
            verdict = "not measured" if not n else cl.at_least(count / n, paper_share, slack=0.2)
            checks.append(cl.check(
                claim, count, verdict,
                f"{' or '.join(kinds)} tasks of ours out of {n} ({count / n if n else float('nan'):.0%}) vs the "
                f"paper's {paper_share:.0%} of 16 (threshold {THRESHOLD} points); holds if our share is at least "
                f"the paper's, partly if within 20 percentage points", csv))
    return checks


# ---------------------------------------------------------------------------------------------------- Table 3
def table3(profile: Profile, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """ST-A with reduction factors from the ``reduction_factors`` grid: one row per task x factor
    (``st_a_rf<rf>``); the paper's per-task number only for rf 16 (Table 1's ST-A column; Table 3 gives means).
    ``tasks``: a subset of the profile's fusion tasks (default: all of them)."""
    frame = _frame(profile, st_a_configs(profile, "reduction_factors", tasks))
    parts = []
    for rf, runs in frame.groupby("reduction_factor"):
        rows = _tidy(profile, runs, f"st_a_rf{rf:g}", "st_a")
        if rf != 16:  # Table 3 gives only means
            rows["paper_score"] = float("nan")
        parts.append(rows.assign(reduction_factor=rf))
    return pd.concat(parts, ignore_index=True)


def plot_table3(table: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for task, rows in table.groupby("task"):
        rows = rows.sort_values("reduction_factor")
        ax.plot(rows["reduction_factor"], rows["score"], marker="o", label=task)
    means = table.groupby("reduction_factor")["score"].mean()
    ax.plot(means.index, means.values, "k--", marker="s", linewidth=2, label="mean (ours)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("reduction factor (bottleneck = d / rf)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def claims_table3(table: pd.DataFrame, csv: str = "fusion_table3_reduction") -> list[ClaimCheck]:
    """t3_rf*: the paper's means differ by less than 0.7 points; ours are checked on the difference to rf 16
    (different tasks and model: the absolute means are not comparable); rf 16 against the paper's ST-A mean over
    the paper tasks ours stand in for."""
    means = table.groupby("reduction_factor")["score"].mean()
    known = paper_claims()
    paper = {rf: float(known.at[f"t3_rf{rf}", "value"]) for rf in (2, 16, 64)}
    checks = []
    for rf in (2, 16, 64):
        ours = float(means.get(rf, float("nan")))
        if rf == 16:
            same = table[table["reduction_factor"] == 16]["paper_score"].mean()
            verdict = ("not measured" if math.isnan(ours) or math.isnan(same)
                       else cl.within(ours, same, holds=2.0, partly=5.0))
            checks.append(cl.check("t3_rf16", ours, verdict,
                                   f"our mean over {table['task'].nunique()} tasks vs the paper's ST-A mean over the "
                                   f"same stand-in tasks ({same:.2f}); holds within 2 points, partly within 5",
                                   csv, paper_value=same,
                                   description="ST-A with reduction factor 16: the paper's Table 1 mean over the "
                                               "same tasks (its 16-task Table 3 mean is 76.05)"))
            continue
        delta, paper_delta = ours - float(means.get(16, float("nan"))), paper[rf] - paper[16]
        verdict = "not measured" if math.isnan(delta) else cl.within(delta, paper_delta, holds=1.0, partly=3.0)
        checks.append(cl.check(f"t3_rf{rf}", ours, verdict,
                               f"our mean over {table['task'].nunique()} tasks; our difference to rf 16 is "
                               f"{delta:+.2f} points vs the paper's {paper_delta:+.2f}; holds if within 1 point of "
                               f"the paper's difference, partly within 3", csv))
    return checks


# ---------------------------------------------------------------------------------------------------- Figure 3
RELATIVE_METHODS = ("st_a", "mt_a", "fusion_st_a", "fusion_mt_a")


def relative(table: pd.DataFrame) -> pd.DataFrame:
    """Figure 3: each method's score minus full fine-tuning's, per task, ours and the paper's."""
    full = table[table["method"] == "full"].set_index("task")
    rows = table[table["method"].isin(RELATIVE_METHODS)].copy()
    rows["score"] = rows["score"] - rows["task"].map(full["score"])
    rows["paper_score"] = rows["paper_score"] - rows["task"].map(full["paper_score"])
    rows["metric"] = rows["metric"] + " minus full fine-tuning"
    return rows.drop(columns=["run_ids"], errors="ignore").reset_index(drop=True)


def plot_relative(rel: pd.DataFrame) -> Figure:
    tasks = sorted(rel["task"].unique())
    methods = [m for m in RELATIVE_METHODS if m in set(rel["method"])]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=False)
    width = 0.8 / max(len(methods), 1)
    for ax, column, title in zip(axes, ("score", "paper_score"), ("ours", "paper")):
        for i, method in enumerate(methods):
            values = rel[rel["method"] == method].set_index("task")[column].reindex(tasks)
            ax.bar(np.arange(len(tasks)) + i * width, values, width, label=method)
        ax.axhline(0, color="k", linewidth=0.8)
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=30, ha="right")
        ax.set_title(f"{title}: points over full fine-tuning")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def claims_relative(rel: pd.DataFrame, csv: str = "fusion_fig3_relative") -> list[ClaimCheck]:
    """Fig. 3: fusion gains most on the small tasks; checked on the mean gain of Fusion w/ ST-A over full
    fine-tuning on the stand-ins of the paper's small (<5k) tasks."""
    rows = rel[(rel["method"] == "fusion_st_a") & rel["paper_task"].isin(SMALL_TASKS)]
    ours, paper = float(rows["score"].mean()), float(rows["paper_score"].mean())
    verdict = "not measured" if math.isnan(ours) else cl.at_least(ours, min(paper, 1.0), slack=1.0)
    return [cl.check("fig3_small_task_gain", ours, verdict,
                     f"mean over {sorted(rows['task'])} of fusion_st_a minus full (test points); paper value: the "
                     f"same tasks in Table 1; holds if ours >= min(paper, 1), partly if within 1 point below", csv,
                     paper_value=paper, description="Fusion w/ ST-A gains over full fine-tuning on the small tasks",
                     paper=PAPER, source="Fig. 3")]


# ---------------------------------------------------------------------------------------------------- Figure 4
def mean_attention(model, tokenizer, task: str, dataset, max_length: int, batch_size: int = 64) -> pd.DataFrame:
    """Fusion attention of ``model`` averaged over every real token of ``dataset``: one row per layer, site and
    source adapter (``layer`` 1-based as in the paper's figures)."""
    spec = get_task(task)
    features = encode(spec, dataset, tokenizer, max_length, train=False)
    pad = model.config.pad_token_id or 0
    sums: dict[tuple[int, str], torch.Tensor] = {}
    tokens = 0.0
    with torch.no_grad(), recording_fusion_attention(model) as layers:
        for indices in length_sorted_batches(features, batch_size):
            batch = collate([features[i] for i in indices], pad)
            model(**{k: v for k, v in batch.items() if k in MODEL_INPUTS})
            mask = batch["attention_mask"].reshape(-1, batch["attention_mask"].shape[-1]).float()
            tokens += float(mask.sum())
            for key, layer in layers.items():
                weighted = (layer.last_attention * mask[..., None]).sum(dim=(0, 1))
                sums[key] = sums.get(key, 0) + weighted
        names = {key: layer.adapters for key, layer in layers.items()}
    return pd.DataFrame([{"layer": index + 1, "site": kind, "source": source, "attention": float(value / tokens)}
                         for (index, kind), total in sorted(sums.items())
                         for source, value in zip(names[(index, kind)], total)])


def attention(profile: Profile, sources: str = "st_a", split: str = "validation") -> pd.DataFrame:
    """Figure 4: for every Fusion w/ ST-A (or w/ MT-A) run of seed ``profile.seeds[0]``, the attention its fusion
    layers give each source adapter, averaged over the target task's ``split``. Trains what is missing."""
    table_sources = st_a_configs(profile) if sources == "st_a" else mt_a_configs(profile)
    _frame(profile, table_sources)
    configs = [c for c in fusion_configs(profile, table_sources) if c.seed == profile.seeds[0]]
    _frame(profile, configs)
    store, rows = profile.store(), []
    for cfg in configs:
        model, tokenizer = store.load_trained(cfg)
        data = load_task(cfg.task, max_train=cfg.max_train, max_eval=cfg.max_eval, seed=DATA_SEED)
        params = store.get(cfg).params
        frame = mean_attention(model, tokenizer, cfg.task, data[split], cfg.max_length)
        reference = get_task(cfg.task, profile.suites["fusion"]).reference
        rows.append(frame.assign(task=cfg.task, paper_task=reference, method=f"fusion_{sources}",
                                 metric=f"mean fusion attention ({split})", trained_params=params["trainable"],
                                 trained_pct=params["trainable_pct"]))
    table = pd.concat(rows, ignore_index=True).rename(columns={"attention": "score"})
    table["paper_score"] = float("nan")  # the paper's attention is in a figure, not a table
    return table


def plot_attention(table: pd.DataFrame) -> Figure:
    """Target task x source adapter heatmap per layer (the paper's Fig. 4 and 6)."""
    import seaborn as sns

    layers = sorted(table["layer"].unique())
    cols = min(len(layers), 3)
    rows = math.ceil(len(layers) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.8 * rows), squeeze=False)
    for ax, layer in zip(axes.flat, layers):
        grid = table[table["layer"] == layer].pivot_table(index="task", columns="source", values="score")
        sns.heatmap(grid, ax=ax, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f", cbar=False,
                    annot_kws={"fontsize": 7})
        ax.set_title(f"layer {layer}")
        ax.set_xlabel("source adapter")
        ax.set_ylabel("target task")
    for ax in list(axes.flat)[len(layers):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def nli_reliance(table: pd.DataFrame, suite: str) -> pd.DataFrame:
    """Per small target task: attention on the large NLI adapter (MNLI stand-in) averaged over layers, its
    share relative to uniform (1/N), and the rank of the NLI adapter among the sources other than the target's own."""
    nli = [t for t in table["source"].unique() if get_task(t, suite).reference == NLI_SOURCE]
    rows = []
    for task, part in table[table["paper_task"].isin(SMALL_TASKS)].groupby("task"):
        by_source = part.groupby("source")["score"].mean()
        others = by_source.drop(task, errors="ignore").sort_values(ascending=False)
        for source in nli:
            rows.append({"task": task, "nli_adapter": source, "attention": by_source[source],
                         "uniform": 1 / len(by_source), "times_uniform": by_source[source] * len(by_source),
                         "own_adapter": by_source.get(task, float("nan")),
                         "rank_among_others": int(list(others.index).index(source)) + 1 if source in others else None,
                         "top_other_source": others.index[0] if len(others) else None})
    return pd.DataFrame(rows)


def claims_attention(reliance: pd.DataFrame, csv: str = "fusion_fig4_attention") -> list[ClaimCheck]:
    ours = float(reliance["times_uniform"].mean()) if not reliance.empty else float("nan")
    top = bool(len(reliance)) and bool((reliance["rank_among_others"] == 1).all())
    verdict = ("not measured" if math.isnan(ours) else "holds" if ours > 1 and top
               else "partly" if ours > 1 else "does not hold")
    return [cl.check(
        "fig4_small_tasks_attend_nli", ours, verdict,
        f"attention on the large NLI adapter averaged over layers and dev tokens, as a multiple of the uniform share "
        f"1/N, mean over the small targets {sorted(reliance['task']) if len(reliance) else '(none here)'}; holds if "
        f"above 1 and the NLI adapter is each small task's most attended source besides its own, partly if only "
        f"above 1", csv, paper_value=1.0,
        description="small tasks (RTE, CB, MRPC) lean on the large NLI adapter: attention share above uniform "
                    "(paper value 1 = the uniform share; the paper shows it visibly above)",
        paper=PAPER, source="Fig. 4")]


# ---------------------------------------------------------------------------------------------------- cost
def fusion_parameters(config: BertConfig | None = None, n_adapters: int = 2) -> dict[str, int]:
    """Exact parameter counts of a fusion over ``n_adapters`` Pfeiffer rf 16 adapters on a randomly initialised
    model of ``config`` (default BERT-base: no download needed)."""
    model = BertForSequenceClassification(config or BertConfig())
    for i in range(n_adapters):
        add_adapter(model, f"a{i}", ST_A)
    add_fusion(model, [f"a{i}" for i in range(n_adapters)])
    fusion_names = fusion_parameter_names(model)
    fusion = count_named_parameters(model, fusion_names)
    adapters = count_named_parameters(model, added_parameter_names(model) - fusion_names)
    layers = model.config.num_hidden_layers
    base = count_parameters(model).base
    return {"n_adapters": n_adapters, "fusion": fusion, "fusion_per_layer": fusion // layers, "adapters": adapters,
            "base": base, "layers": layers, "hidden_size": model.config.hidden_size}


def cost(profile: Profile, n_adapters: Sequence[int] = COST_N, task: str = "rt_polarity", repeats: int = 5,
         batch_size: int | None = None) -> pd.DataFrame:
    """Training-step and inference time per batch of real ``task`` text on the profile's model with N random
    Pfeiffer adapters fused (N = ``n_adapters``) and with one plain adapter (N = 0 row), plus parameter counts.
    Times are the fastest of ``repeats`` after one warm-up (the least disturbed by other jobs on a shared
    machine); the adapters' weights do not affect the time."""
    scale = profile.run_config(task, "head", role="fusion")
    spec = get_task(task)
    data = load_task(task, max_train=scale.max_train, max_eval=scale.max_eval, seed=DATA_SEED)["train"]
    examples = data.select(range(min(batch_size or scale.batch_size, len(data))))
    rows = []
    for n in (0, *n_adapters):
        torch.manual_seed(0)
        model, tokenizer = load_model(scale.model, task_format=spec.format, num_labels=spec.num_labels,
                                      **scale.model_kwargs)
        names = [f"a{i}" for i in range(max(n, 1))]
        for name in names:
            add_adapter(model, name, ST_A)
        if n:
            add_fusion(model, names)
        set_trainable(model, "fusion" if n else "adapters", adapter=None if n else names[0])
        batch = collate(encode(spec, examples, tokenizer, scale.max_length, train=True), model.config.pad_token_id or 0)
        trainable = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
        optimizer, _ = make_optimizer(trainable, 1e-4, 0.0, 0.0, 1)

        def train_step() -> None:
            model.train()
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        def infer() -> None:
            model.eval()
            with torch.no_grad():
                model(**{k: v for k, v in batch.items() if k in MODEL_INPUTS})

        timings = {}
        for label, fn in (("train_s_per_batch", train_step), ("infer_s_per_batch", infer)):
            fn()
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - start)
            timings[label] = float(np.min(samples))
        fused = count_named_parameters(model, fusion_parameter_names(model))
        rows.append({"n_adapters": n, **timings, "fusion_params": fused,
                     "trainable_params": sum(p.numel() for _, p in trainable),
                     "batch": f"{len(batch['input_ids'])} x {batch['input_ids'].shape[-1]} tokens"})
    return pd.DataFrame(rows)


def cost_table(timings: pd.DataFrame, params: dict[str, int], task: str, model: str) -> pd.DataFrame:
    """The documented table: one row per N and quantity (train / inference seconds per batch on ``model``;
    the paper-scale fusion parameter count on BERT-base beside the paper's ~21M)."""
    paper_total = float(paper_claims().at["fusion_params_total", "value"])
    rows = []
    for _, r in timings.iterrows():
        method = "adapter" if r["n_adapters"] == 0 else "fusion"
        for metric in ("train_s_per_batch", "infer_s_per_batch"):
            rows.append({"task": task, "paper_task": None, "method": method, "metric": metric, "score": r[metric],
                         "paper_score": float("nan"), "trained_params": r["trainable_params"],
                         "trained_pct": float("nan"), "n_adapters": r["n_adapters"], "model": model})
    rows.append({"task": None, "paper_task": None, "method": "fusion", "metric": "fusion_params_bert_base",
                 "score": params["fusion"], "paper_score": paper_total, "trained_params": params["fusion"],
                 "trained_pct": 100 * params["fusion"] / params["base"], "n_adapters": params["n_adapters"],
                 "model": "bert-base (random init, counted)"})
    return pd.DataFrame(rows)


def plot_cost(timings: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    fused = timings[timings["n_adapters"] > 0]
    for column, label in (("train_s_per_batch", "training step"), ("infer_s_per_batch", "inference")):
        ax.plot(fused["n_adapters"], fused[column], marker="o", label=f"fusion: {label}")
        single = timings.loc[timings["n_adapters"] == 0, column]
        if len(single):
            ax.axhline(float(single.iloc[0]), linestyle=":", color=ax.lines[-1].get_color(),
                       label=f"one adapter: {label}")
    ax.set_xlabel("fused adapters N")
    ax.set_ylabel("seconds per batch")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def claims_cost(timings: pd.DataFrame, params: dict[str, int], csv: str = "fusion_cost") -> list[ClaimCheck]:
    """fusion_params_total (counted on BERT-base) and linear growth of the cost with N (R^2 of a line)."""
    total = params["fusion"]
    checks = [cl.check("fusion_params_total", total, cl.within(total / 1e6, 21.0, holds=1.0, partly=3.0),
                       f"exact count of Q, K, V (+ biases) over {params['layers']} layers of a randomly initialised "
                       f"BERT-base ({params['fusion_per_layer']:,} per layer); holds within 1M of 21M", csv)]
    fused = timings[timings["n_adapters"] > 0]
    for column in ("train_s_per_batch", "infer_s_per_batch"):
        x, y = fused["n_adapters"].to_numpy(float), fused[column].to_numpy(float)
        r2 = float(np.corrcoef(x, y)[0, 1] ** 2) if len(x) > 2 else float("nan")
        slope = float(np.polyfit(x, y, 1)[0]) if len(x) > 1 else float("nan")
        verdict = "not measured" if math.isnan(r2) else ("holds" if r2 >= 0.95 and slope > 0
                                                          else "partly" if slope > 0 else "does not hold")
        checks.append(cl.check(
            f"fusion_cost_linear_{column.split('_')[0]}", r2, verdict,
            f"R^2 of a straight line through {column} vs N = {[int(v) for v in x]} (slope {slope * 1e3:.1f} ms per "
            f"adapter); holds if R^2 >= 0.95 with a positive slope, partly if only the slope is positive", csv,
            paper_value=1.0, description=f"fusion cost ({column.split('_')[0]}) grows linearly with the number of "
            "fused adapters (paper value 1 = a perfect line)", paper=PAPER, source="Sec. 3"))
    return checks


# ---------------------------------------------------------------------------------------------------- generated text
def describe_table1(table: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """The closing text of the Table 1 notebook, from the numbers."""
    means = summary(table).set_index("method")
    best = means["score"].idxmax()
    lines = [f"Over our {int(means['n_tasks'].max())} tasks the best mean is **{best}** "
             f"({means.at[best, 'score']:.2f}); the paper's best on the same stand-in tasks is "
             f"**{means['paper_score_same_tasks'].idxmax()}** ({means['paper_score_same_tasks'].max():.2f}).",
             "", "| method | ours (mean test) | paper, same tasks | paper, 16 tasks | ours minus paper (same tasks) |",
             "|---|---|---|---|---|"]
    lines += [f"| {m} | {r['score']:.2f} | {r['paper_score_same_tasks']:.2f} | {r['paper_score_all_tasks']:.2f} | "
              f"{r['score'] - r['paper_score_same_tasks']:+.2f} |" for m, r in means.iterrows()]
    return "\n".join(lines) + "\n\n" + _claim_lines(checks) + "\n\n" + majority_note(table)


def plot_table2(rows: pd.DataFrame) -> Figure:
    """Improved / same / worse counts per comparison, ours beside the paper's on the same stand-in tasks."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharex=True)
    for ax, column, title in zip(axes, ("outcome", "paper_outcome"), ("ours", "paper (same stand-in tasks)")):
        c = counts(rows, column).set_index("method")[["improved", "same", "worse"]]
        c.plot.barh(stacked=True, ax=ax, color=["tab:green", "tab:gray", "tab:red"], legend=ax is axes[1])
        ax.set_title(title)
        ax.set_xlabel("tasks")
    fig.tight_layout()
    return fig


def describe_table2(rows: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    ours, paper = counts(rows).set_index("method"), counts(rows, "paper_outcome").set_index("method")
    lines = ["| comparison | ours: improved / same / worse | paper on the same tasks | paper, 16 tasks (Table 2) |",
             "|---|---|---|---|"]
    known = paper_claims()
    for (fused, base), (improved, same_or_better) in COMPARISONS.items():
        m = f"{fused}_vs_{base}"
        if m not in ours.index:
            continue
        paper16 = f"{known.at[improved, 'value']:g} improved" + (
            f", {known.at[same_or_better, 'value']:g} same or better" if same_or_better else "")
        lines.append(f"| {m} | {ours.at[m, 'improved']} / {ours.at[m, 'same']} / {ours.at[m, 'worse']} of "
                     f"{ours.at[m, 'n_tasks']} | {paper.at[m, 'improved']} / {paper.at[m, 'same']} / "
                     f"{paper.at[m, 'worse']} | {paper16} |")
    return "\n".join(lines) + "\n\n" + _claim_lines(checks)


def describe_table3(table: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    means = table.groupby("reduction_factor")["score"].mean()
    spread = means.max() - means.min()
    known = paper_claims()
    paper = [float(known.at[f"t3_rf{rf}", "value"]) for rf in (2, 16, 64)]
    return (f"Our mean test accuracy by reduction factor: "
            + ", ".join(f"rf {rf:g}: {v:.2f}" for rf, v in means.items())
            + f" (spread {spread:.2f} points; the paper's spread is {max(paper) - min(paper):.2f} points over "
            f"76.39 / 76.05 / 75.73). The paper's point, that the bottleneck size matters little, "
            + ("**holds** here" if spread <= 1.0 else "**does not hold** here" if spread > 3.0 else "holds only "
               "**partly** here") + " (within 1 point: holds; above 3: does not).\n\n" + _claim_lines(checks))


def describe_relative(rel: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    lines = ["| method | ours: mean points over full FT | paper, same tasks | ours, small tasks | paper, small tasks |",
             "|---|---|---|---|---|"]
    for method in RELATIVE_METHODS:
        part = rel[rel["method"] == method]
        small = part[part["paper_task"].isin(SMALL_TASKS)]
        lines.append(f"| {method} | {part['score'].mean():+.2f} | {part['paper_score'].mean():+.2f} | "
                     f"{small['score'].mean():+.2f} | {small['paper_score'].mean():+.2f} |")
    return "\n".join(lines) + "\n\n" + _claim_lines(checks)


def describe_attention(table: pd.DataFrame, reliance: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """Whether the small tasks lean on the large NLI adapter, from the attention numbers."""
    if reliance.empty:
        text = ("This profile's fusion tasks have no large NLI source adapter (MNLI stand-in) or no small target "
                "(RTE, CB, MRPC stand-in), so the paper's finding cannot be checked here.")
    else:
        parts = [f"`{r['task']}` gives the NLI adapter `{r['nli_adapter']}` {r['attention']:.3f} of its attention "
                 f"({r['times_uniform']:.2f}x the uniform share {r['uniform']:.3f}; its own adapter "
                 f"{r['own_adapter']:.3f}; rank {r['rank_among_others']} among the other sources, top: "
                 f"`{r['top_other_source']}`)" for _, r in reliance.iterrows()]
        leans = bool((reliance["times_uniform"] > 1).all())
        text = ("Averaged over layers and dev tokens, " + "; ".join(parts) + ". So the small tasks "
                + ("**do** lean on the large NLI adapter here, as in the paper." if leans else
                   "**do not** clearly lean on the large NLI adapter here, unlike the paper."))
    last = table["layer"].max()
    entropy = (table.assign(h=-table["score"] * np.log(table["score"].clip(1e-12)))
               .groupby(["layer", "task"])["h"].sum().groupby("layer").mean())
    uniform = math.log(table["source"].nunique())
    text += (f"\n\nMean attention entropy per layer (higher = more diffuse; uniform = {uniform:.2f}): "
             + ", ".join(f"layer {int(k)}: {v:.2f}" for k, v in entropy.items())
             + f". The paper finds the last layer most diffuse; here the most diffuse layer is {int(entropy.idxmax())}"
             + (" (the last)." if entropy.idxmax() == last else f", not the last ({int(last)})."))
    return text + "\n\n" + _claim_lines(checks)


def describe_cost(timings: pd.DataFrame, params: dict[str, int], checks: Sequence[ClaimCheck]) -> str:
    fused = timings[timings["n_adapters"] > 0].set_index("n_adapters")
    single = timings[timings["n_adapters"] == 0].iloc[0]
    lo, hi = fused.index.min(), fused.index.max()
    return (f"On BERT-base a fusion layer has {params['fusion_per_layer']:,} parameters per layer, "
            f"{params['fusion']:,} in all ({100 * params['fusion'] / params['base']:.1f}% of the {params['base']:,} "
            f"base parameters), against {params['adapters'] // params['n_adapters']:,} for one rf-16 adapter; the "
            f"paper says about 21M. Timing on our model: a training step takes "
            f"{fused.at[lo, 'train_s_per_batch']:.3f} s with N = {lo} and {fused.at[hi, 'train_s_per_batch']:.3f} s "
            f"with N = {hi} ({fused.at[hi, 'train_s_per_batch'] / single['train_s_per_batch']:.1f}x one plain "
            f"adapter's {single['train_s_per_batch']:.3f} s); inference {fused.at[lo, 'infer_s_per_batch']:.3f} s "
            f"to {fused.at[hi, 'infer_s_per_batch']:.3f} s.\n\n" + _claim_lines(checks))
