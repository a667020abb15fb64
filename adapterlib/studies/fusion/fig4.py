"""AdapterFusion Figures 4 and 6: the attention each target task's fusion layers give the source adapters.

The trained Fusion w/ ST-A runs of Table 1 (reused through the run store) are read out with
``recording_fusion_attention`` on each run's dev split, the softmax weights averaged over every real token. The
paper finds the small tasks leaning on the large NLI task's adapter, and the last layer's attention most diffuse.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from datasets import Dataset
from matplotlib.figure import Figure
from transformers import PreTrainedTokenizerBase

from adapterlib.core.fusion import recording_fusion_attention
from adapterlib.data.encoding import encode
from adapterlib.data.tasks import get_task, load_task
from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import FUSION_NLI_SOURCE, FUSION_SMALL_TASKS
from adapterlib.runner.evaluate import predict
from adapterlib.runner.fusion_attention import FusionAttention
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import DATA_SEED, MultiTaskConfig
from adapterlib.runner.settings import RunConfig
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.fusion import table1
from adapterlib.studies.fusion.report import claims_section
from adapterlib.studies.fusion.runs import fusion_configs, mt_a_configs, results, st_a_configs

# A source's attention counts as moved when it differs from the uniform share 1/N by more than this fraction of it:
# below that, which layer is "most diffuse" is a ranking of rounding noise (the attention of an untrained fusion).
MOVED_SHARE = 0.1

STUDY = register(Study(name="fusion_fig4_attention", paper="fusion", title="Figures 4 and 6: fusion attention",
                       roles=("fusion",), grids=("fusion_st_a", "fusion"), stand_ins=True,
                       depends=(table1.STUDY.name,)))


def mean_attention(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, task: str, dataset: Dataset,
                   max_length: int, batch_size: int = 64) -> pd.DataFrame:
    """Fusion attention of ``model`` averaged over every real token of ``dataset``: one row per layer, site and
    source adapter (``layer`` 1-based as in the paper's figures)."""
    spec = get_task(task)
    features = encode(spec, dataset, tokenizer, max_length, train=False)
    with recording_fusion_attention(model) as layers:
        attention = FusionAttention(layers)
        predict(model, spec, features, batch_size, on_batch=attention.add)
    return pd.DataFrame([{"layer": index + 1, "site": kind, "source": source, "attention": float(value)}
                         for (index, kind), means in sorted(attention.means().items())
                         for source, value in zip(layers[(index, kind)].adapters, means)])


@declares_runs(STUDY)
def runs(profile: Profile, sources: str = "st_a") -> list[RunConfig | MultiTaskConfig]:
    """The source runs (ST-A, or MT-A) and the fusions over them of seed ``profile.seeds[0]`` (sources first)."""
    table_sources = st_a_configs(profile) if sources == "st_a" else mt_a_configs(profile)
    return [*table_sources, *[c for c in fusion_configs(profile, table_sources) if c.seed == profile.seeds[0]]]


def table(profile: Profile, sources: str = "st_a", split: str = "validation") -> pd.DataFrame:
    """For every Fusion w/ ST-A (or w/ MT-A) run of seed ``profile.seeds[0]``, the attention its fusion layers give
    each source adapter, averaged over the target task's ``split``. Trains what is missing."""
    planned = runs(profile, sources)
    results(profile, planned)  # the sources come first in the list, so they are trained before their fusions
    configs = [c for c in planned if isinstance(c, RunConfig) and c.regime == "fusion"]
    store, rows = profile.store(), []
    for cfg in configs:
        model, tokenizer = store.load_trained(cfg)
        data = load_task(cfg.task, **cfg.caps, seed=DATA_SEED)
        params = store.get(cfg).params
        frame = mean_attention(model, tokenizer, cfg.task, data[split], cfg.max_length)
        reference = get_task(cfg.task, profile.suites["fusion"]).reference
        rows.append(frame.assign(task=cfg.task, paper_task=reference, method=f"fusion_{sources}",
                                 metric=f"mean fusion attention ({split})", trained_params=params["trainable"],
                                 trained_pct=params["trainable_pct"]))
    attention = pd.concat(rows, ignore_index=True).rename(columns={"attention": "score"})
    attention["paper_score"] = float("nan")  # the paper's attention is in a figure, not a table
    return attention


def deviation(table: pd.DataFrame) -> pd.Series:
    """Each row's attention minus the uniform share 1/N of its site (N: the sources that site fuses)."""
    n = table.groupby(["task", "layer", "site"])["source"].transform("nunique")
    return table["score"] - 1 / n


def attention_statistics(table: pd.DataFrame) -> pd.DataFrame:
    """Per layer: the largest |attention - 1/N| of any target and source, and the entropy of each target's
    token-averaged attention (mean over targets) beside the uniform entropy log N."""
    frame = table.assign(deviation=deviation(table), h=-table["score"] * np.log(table["score"].clip(1e-12)))
    per_target = frame.groupby(["layer", "site", "task"]).agg(entropy=("h", "sum"), n=("source", "nunique"))
    return pd.DataFrame({
        "max_abs_deviation": frame.groupby("layer")["deviation"].apply(lambda d: d.abs().max()),
        "entropy": per_target.groupby("layer")["entropy"].mean(),
        "uniform_entropy": np.log(per_target.groupby("layer")["n"].max()),
    }).reset_index()


CELL_INCHES = 0.6  # a heatmap cell's width: its number at 8 pt fits
ANNOTATED_SOURCES = 8  # more source adapters (the paper profile's 16): colour only, the numbers are in the table


def plot(table: pd.DataFrame) -> Figure:
    """Target task x source adapter heatmap per layer (the paper's Fig. 4 and 6), drawn as the deviation from the
    uniform share 1/N on one diverging scale centred on 0, with each layer's statistics in its title. The scale
    reaches at least ``MOVED_SHARE`` of 1/N, so an attention that never moved stays pale instead of its noise
    being stretched over the whole colour range. Each cell carries its number at 8 pt up to ``ANNOTATED_SOURCES``
    sources."""
    import seaborn as sns

    layers = sorted(table["layer"].unique())
    stats = attention_statistics(table).set_index("layer")
    cols = min(len(layers), 3)
    rows = math.ceil(len(layers) / cols)
    n_sources, n_targets = table["source"].nunique(), table["task"].nunique()
    limit = max(float(stats["max_abs_deviation"].max()), MOVED_SHARE / n_sources)
    annotate = n_sources <= ANNOTATED_SOURCES
    # annotated panels grow with the grid, so that a cell holds its number at 8 pt ("+0.123" is about 0.4 in wide)
    cell = CELL_INCHES if annotate else 0
    width, height = max(3.6, cell * n_sources), max(3.6, 0.75 * cell * n_targets)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols + 3, height * rows + 1), squeeze=False,
                             layout="constrained")
    frame = table.assign(deviation=deviation(table))
    for index, (ax, layer) in enumerate(zip(axes.flat, layers)):
        grid = frame[frame["layer"] == layer].pivot_table(index="task", columns="source", values="deviation")
        first_column, bottom_row = index % cols == 0, index + cols >= len(layers)
        sns.heatmap(grid, ax=ax, vmin=-limit, vmax=limit, center=0, cmap="RdBu_r", annot=annotate, fmt="+.3f",
                    cbar=False, annot_kws={"fontsize": 8}, xticklabels=bottom_row, yticklabels=first_column)
        row = stats.loc[layer]
        ax.set_title(f"layer {layer}: max |dev| {row['max_abs_deviation']:.3f}\n"
                     f"entropy {row['entropy']:.3f} (log N = {row['uniform_entropy']:.3f})", fontsize=9)
        ax.set_xlabel("source adapter" if bottom_row else "")
        ax.set_ylabel("target task" if first_column else "")
    for ax in list(axes.flat)[len(layers):]:
        ax.axis("off")
    fig.suptitle("fusion attention minus the uniform share 1/N (dev tokens)")
    fig.colorbar(axes.flat[0].collections[0], ax=axes, shrink=0.6,
                 label=f"attention - 1/N (scale at least {MOVED_SHARE:.0%} of 1/N)")
    return fig


def nli_reliance(table: pd.DataFrame, suite: str) -> pd.DataFrame:
    """Per small target task: attention on the large NLI adapter (MNLI stand-in) averaged over layers, its
    share relative to uniform (1/N), and the rank of the NLI adapter among the sources other than the target's own."""
    nli = [t for t in table["source"].unique() if get_task(t, suite).reference == FUSION_NLI_SOURCE]
    rows = []
    for task, part in table[table["paper_task"].isin(FUSION_SMALL_TASKS)].groupby("task"):
        by_source = part.groupby("source")["score"].mean()
        others = by_source.drop(task, errors="ignore").sort_values(ascending=False)
        for source in nli:
            rows.append({"task": task, "nli_adapter": source, "attention": by_source[source],
                         "uniform": 1 / len(by_source), "times_uniform": by_source[source] * len(by_source),
                         "own_adapter": by_source.get(task, float("nan")),
                         "rank_among_others": int(list(others.index).index(source)) + 1 if source in others else None,
                         "top_other_source": others.index[0] if len(others) else None})
    return pd.DataFrame(rows)


def attention_moved(table: pd.DataFrame) -> tuple[bool, float, float]:
    """(whether the attention left its uniform start, the largest |attention - 1/N| of any cell, 1/N): moved means
    that largest deviation is at least ``MOVED_SHARE`` of 1/N."""
    uniform_share = 1 / table["source"].nunique()
    largest = float(attention_statistics(table)["max_abs_deviation"].max())
    return largest >= MOVED_SHARE * uniform_share, largest, uniform_share


def claims(table: pd.DataFrame, reliance: pd.DataFrame) -> list[ClaimCheck]:
    """Fig. 4: the small targets give the NLI adapter more than the uniform share of their attention, region
    (1, inf) in multiples of 1/N. Under the one learning rule a share needs an interval, and the attention is
    recorded only as token averages (no per-example values to resample), so the claim is "not measured" with our
    number beside the reason; where the attention never left its uniform start the reason says so, since a share
    above 1x uniform is then noise."""
    ours = float(reliance["times_uniform"].mean()) if not reliance.empty else float("nan")
    moved, largest, uniform_share = attention_moved(table) if not table.empty else (False, float("nan"), float("nan"))
    why = ("not measured: no small target with the large NLI adapter among its sources here" if reliance.empty else
           f"not measured: the attention never left its uniform start (largest |attention - 1/N| {largest:.3f}, "
           f"under {MOVED_SHARE:.0%} of 1/N = {uniform_share:.3f}), so a share above 1x uniform is noise"
           if not moved else "not measured: the attention is recorded as token averages only, so a share has no "
           "interval over dev examples")
    check = cl.learning_check(
        "fig4_small_tasks_attend_nli", None, (1.0, math.inf),
        "attention on the NLI adapter above the uniform share 1/N (the paper's Fig. 4 shows it visibly above)",
        f"attention on the large NLI adapter averaged over layers and dev tokens, as a multiple of the uniform share "
        f"1/N, mean over the small targets {sorted(reliance['task']) if len(reliance) else '(none here)'}",
        STUDY.name, not_measured=why, paper_value=1.0, paper=STUDY.paper, source="Fig. 4",
        description=f"small tasks ({', '.join(FUSION_SMALL_TASKS)}) lean on the large NLI adapter: attention share "
                    "above uniform (paper value 1 = the uniform share; the paper shows it visibly above)")
    return [dataclasses.replace(check, our_value=ours)]


def findings(table: pd.DataFrame, reliance: pd.DataFrame, checks: Sequence[ClaimCheck]) -> str:
    """Whether the attention left its uniform start and, where it did, whether the small tasks lean on the large NLI
    adapter and which layer attends most diffusely."""
    stats = attention_statistics(table).set_index("layer")
    moved, largest, uniform_share = attention_moved(table)
    if reliance.empty:
        text = (f"This profile's fusion tasks have no large NLI source adapter ({FUSION_NLI_SOURCE} stand-in) or no "
                f"small target ({', '.join(FUSION_SMALL_TASKS)} stand-in), so the paper's finding cannot be checked "
                "here.")
    else:
        parts = [f"`{r['task']}` gives the NLI adapter `{r['nli_adapter']}` {r['attention']:.3f} of its attention "
                 f"({r['times_uniform']:.2f}x the uniform share {r['uniform']:.3f}; its own adapter "
                 f"{r['own_adapter']:.3f}; rank {r['rank_among_others']} among the other sources, top: "
                 f"`{r['top_other_source']}`)" for _, r in reliance.iterrows()]
        leans = bool((reliance["times_uniform"] > 1).all())
        text = ("Averaged over layers and dev tokens, " + "; ".join(parts) + ". So "
                + ("whether the small tasks lean on the large NLI adapter is **not measured**: these shares are the "
                   "uniform start plus noise." if not moved else
                   "the small tasks **do** lean on the large NLI adapter here, as in the paper." if leans else
                   "the small tasks **do not** clearly lean on the large NLI adapter here, unlike the paper."))
    text += ("\n\nEntropy of the token-averaged attention per layer (higher = more diffuse; uniform = "
             f"{stats['uniform_entropy'].max():.3f}): "
             + ", ".join(f"layer {int(k)}: {v:.3f}" for k, v in stats["entropy"].items()) + ". ")
    if not moved:
        text += (f"No cell of any layer is further than {largest:.3f} from the uniform share {uniform_share:.3f} "
                 f"(under {MOVED_SHARE:.0%} of it): the attention has not left its uniform start, so which layer is "
                 "most diffuse (the paper: the last) is not measured here.")
    else:
        most, last = int(stats["entropy"].idxmax()), int(stats.index.max())
        text += (f"The paper finds the last layer most diffuse; here the most diffuse layer is {most}"
                 + (" (the last)." if most == last else f", not the last ({last})."))
    return text + "\n\n" + claims_section(checks)
