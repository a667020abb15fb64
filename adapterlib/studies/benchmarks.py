"""Performance beside AdapterHub `adapters`, `peft` and the FLOP limit (issue 8): the report on a measured frame.

``benchmarks/bench.py`` measures (worker processes, the peers in their own venv) and returns one row per library x
configuration x group, every ratio with a distribution-free interval for its median over the timed rounds; here
that frame becomes the table, the figure, the issue's targets as claim checks, and the closing text. A ratio that
misses its target but whose interval contains it is "partly" (within noise), one whose whole interval misses it
"does not hold".

    frame = bench.run("cpu")                 # benchmarks/bench.py
    checks = benchmarks.claims(frame)
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.outputs import results_dir
from adapterlib.reporting.statistics import line_fit, median_interval
from adapterlib.studies.base import Study, register

STUDY = register(Study(name="benchmarks", paper="benchmarks", title="Speed and memory beside adapters and peft"))
FUSION_N = (2, 4, 8, 16)  # fused adapters timed
FUSION = tuple(f"fusion{n}" for n in FUSION_N)
COLORS = {"adapterlib": "#1f77b4", "adapters": "#ff7f0e", "peft": "#2ca02c", "transformers": "#7f7f7f"}


def save(df: pd.DataFrame, profile: str, name: str = STUDY.name) -> Path:
    """results/<profile>/<name>.csv (default benchmarks.csv; the results directory honours $ADAPTERLIB_RESULTS)."""
    path = results_dir(profile) / f"{name}.csv"
    df.to_csv(path, index=False, float_format="%.5g")
    return path


def fusion_fit(df: pd.DataFrame, library: str, mode: str,
               resamples: int = 2000) -> tuple[float, float, float, float, float] | None:
    """Least squares time = a + b N through the median step times of the fusion rows of ``mode`` (one group per
    mode has them): (a, b, R^2, R^2 low, R^2 high). The interval is a 90% bootstrap over the timed rounds (each N's
    rounds resampled, medians refitted; fixed seed), so noise alone can be told from a bent line."""
    sub = df[(df.library == library) & (df["mode"] == mode) & df.config.str.startswith("fusion")]
    if sub.config.nunique() < 3:
        return None
    n = sub.config.str.removeprefix("fusion").astype(float).to_numpy()
    a, b, r2 = line_fit(n, sub.time_s.to_numpy())
    rounds = [np.array(r.split(), dtype=float) for r in sub.round_times_s]
    rng = np.random.default_rng(0)
    boot = [line_fit(n, np.array([np.median(rng.choice(r, len(r))) for r in rounds]))[2] for _ in range(resamples)]
    low, high = np.percentile(boot, [5, 95])
    return a, b, r2, low, high


def claims(df: pd.DataFrame) -> list[ClaimCheck]:
    """The issue's targets as claim checks. Each number is the worst case over the measured groups."""
    ours = df[df.library == "adapterlib"]
    train = ours[(ours["mode"] == "train") & (ours.model == "minilm-l6")]
    checks = []

    def target(claim, value, verdict, basis, bound, description):
        checks.append(cl.check(claim, value, verdict, basis, STUDY.name, paper_value=bound, description=description,
                               paper="benchmark", source="issue 8 target"))

    def bounded(claim, rows, column, bound, how, description, shift=0.0):
        """Worst verdict over ``rows`` of ratio ``column`` (minus ``shift``) against ``bound``, each row judged with
        its own confidence interval (see interval_verdict)."""
        values = rows[[column, f"{column}_lo", f"{column}_hi"]].dropna() - shift
        if values.empty:
            target(claim, np.nan, "not measured", f"not measured: no {column} in this run (peers=False?)", bound,
                   description)
            return
        verdict = cl.worst([cl.interval_verdict(v, (lo, hi), bound, at_most=True) for v, lo, hi in values.to_numpy()])
        own = f"{column}_own_base"

        def own_base(r) -> str:  # the ratio over each library's own base model, where both bases were timed
            v = getattr(r, own, np.nan)
            return "" if pd.isna(v) else f" (over own base: {v:.3f} [{getattr(r, own + '_lo'):.3f}, " \
                                         f"{getattr(r, own + '_hi'):.3f}])"

        where = ", ".join(f"{r.model} {r.mode} b{r.batch} s{r.seq_len} {r.config}: {v:.3f} [{lo:.3f}, {hi:.3f}]"
                          f"{own_base(r)}"
                          for r, (v, lo, hi) in zip(rows.loc[values.index].itertuples(), values.to_numpy()))
        target(claim, values[column].max(), verdict, f"{how} [low, high: distribution-free interval of the median over "
               f"the timed rounds, >= 90% coverage from 5 rounds]; {where}", bound, description)

    for config, label in (("houlsby64", "Houlsby (size 64)"), ("pfeiffer16", "Pfeiffer (reduction 16)")):
        rows = train[train.config == config]
        ideal = rows.ideal_ratio.max() if len(rows) else np.nan
        bounded(f"bench_{config}_step_vs_full", rows, "ratio_vs_baseline", 0.75,
                f"max over lengths of median step / our full step (ideal FLOPs ratio {ideal:.2f})",
                f"{label} adapter training step at most 0.75x the full fine-tuning step on MiniLM-L6")

    for configs, claim, label in ((("houlsby64",), "bench_houlsby_vs_adapters", "Houlsby vs DoubleSeqBn"),
                                  (("pfeiffer16",), "bench_pfeiffer_vs_adapters", "Pfeiffer vs SeqBn"),
                                  (FUSION, "bench_fusion_vs_adapters", "fusion vs AdapterHub Fuse")):
        bounded(claim, ours[(ours["mode"] == "train") & ours.config.isin(configs)], "ratio_vs_adapters", 1.0,
                "max of our median step / the adapters package's",
                f"{label}: our training step no slower than the adapters package's")

    bounded("bench_inference_overhead", ours[(ours["mode"] == "infer") & ours.config.isin(["houlsby64", "pfeiffer16"])],
            "ratio_vs_baseline", 0.10, "max over configs and groups of median latency / bare model - 1",
            "adapter inference latency overhead at most 10% over the bare model", shift=1.0)

    fits = {mode: f for mode in ("train", "infer") if (f := fusion_fit(ours, "adapterlib", mode))}
    r2 = min((f[2] for f in fits.values()), default=np.nan)
    verdict = cl.worst([cl.interval_verdict(f[2], f[3:], 0.98, at_most=False) for f in fits.values()])
    basis = "; ".join(f"{mode}: t = {f[0]:.3f} + {f[1]:.4f} N s, R^2 {f[2]:.3f} [90% bootstrap {f[3]:.3f}, "
                      f"{f[4]:.3f}]" for mode, f in fits.items())
    target("bench_fusion_linear", r2, verdict,
           f"min R^2 of a least-squares line through median fusion step time at N = {FUSION_N}; {basis}", 0.98,
           "fusion cost linear in the number of fused adapters N")
    return checks


def run_overhead_summary(runs: pd.DataFrame, baseline: str, config: str) -> pd.DataFrame:
    """Whole runs (benchmarks/run_overhead.py: one row per run, ``pair``, ``config``, ``wall_s``, ``train_s``):
    ``config`` over ``baseline`` end to end and in training steps, their difference (issue 19's goal: at most 0.05),
    and each one's share of wall time outside training steps. Ratios are taken within each back-to-back pair; each
    measure is the median over pairs with its distribution-free interval (and that interval's coverage)."""
    wide = runs.pivot(index="pair", columns="config", values=["wall_s", "train_s"])
    end_to_end, steps = wide.wall_s[config] / wide.wall_s[baseline], wide.train_s[config] / wide.train_s[baseline]
    measures = {"end-to-end ratio": end_to_end, "training-step ratio": steps,
                "end-to-end minus step ratio": end_to_end - steps,
                **{f"{name}: share outside training steps": 1 - wide.train_s[name] / wide.wall_s[name]
                   for name in (baseline, config)}}
    rows = []
    for measure, values in measures.items():
        low, high, coverage = median_interval(values.tolist())
        rows.append(dict(measure=measure, median=values.median(), low=low, high=high, coverage=coverage,
                         pairs=len(values)))
    return pd.DataFrame(rows)


def table(df: pd.DataFrame) -> pd.DataFrame:
    """Median milliseconds per batch by library, with our ratios: one row per group x configuration."""
    key = ["model", "mode", "batch", "seq_len", "config"]
    ms = df.pivot_table(index=key, columns="library", values="time_s", aggfunc="first") * 1000
    ours = df[df.library == "adapterlib"].set_index(key)[[
        "ratio_vs_baseline", "ratio_vs_baseline_lo", "ratio_vs_baseline_hi", "ideal_ratio", "ratio_vs_adapters",
        "ratio_vs_adapters_lo", "ratio_vs_adapters_hi", "peak_mib", "trainable_params"]]
    return ms.add_suffix(" ms").join(ours, how="left").round(3)


def findings(df: pd.DataFrame, checks: list[ClaimCheck]) -> str:
    """The closing text: how the run went and each target against the measured number."""
    versions = "; ".join(f"{lib} {v}" for lib, v in
                         df.groupby("library").apply(lambda x: f"{x.version.iloc[0]} (transformers "
                                                               f"{x.transformers.iloc[0]})", include_groups=False)
                         .items())
    worst_iqr = df.time_rel_iqr.max()
    lines = [f"Measured in {df.attrs.get('seconds', '?')} s with {df.threads.iloc[0]} torch thread(s) per worker; "
             f"load average at the end {df.attrs.get('loadavg', (float('nan'),))[0]:.1f} (other processes on the "
             f"machine inflate absolute times; the interleaved ratios suffer much less). Largest spread of the timed "
             f"steps of one configuration (interquartile range / median): {worst_iqr:.0%}. Versions: {versions}.",
             "", cl.describe(checks)]
    if (df.batch * df.seq_len).max() < 32 * 32:
        lines.insert(1, "\n**These shapes are tiny (smoke profile): the times measure Python overhead and noise, and "
                        "the verdicts below say nothing about the targets.**")
    return "\n".join(lines)


def _legend_below(ax, ncol: int) -> None:
    """The panel's legend under its axis labels: inside, the bars and lines fill every corner of some panel."""
    ax.legend(fontsize=8, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)


def _training_steps(ax, train: pd.DataFrame) -> None:
    """Training step per configuration and library at the length where head-only is measured, with the ideal."""
    length = train[train.config == "head"].seq_len.max()
    main = train[(train.seq_len == length) & ~train.config.str.startswith("fusion")]
    configs = list(dict.fromkeys(main[main.library == "adapterlib"].config))
    libs = [lib for lib in COLORS if lib in set(main.library)]
    width = 0.8 / len(libs)
    for i, lib in enumerate(libs):
        sub = main[main.library == lib].set_index("config")
        x = [j for j, c in enumerate(configs) if c in sub.index or (lib == "peft" and c == "houlsby64")]
        y = [sub.time_s.get(c, sub.time_s.get("lora_qv64")) for c in (configs[j] for j in x)]
        ax.bar(np.array(x) + i * width, y, width, color=COLORS[lib], label=lib + (" (LoRA r=64 at houlsby64)"
                                                                               if lib == "peft" else ""))
    ours = main[main.library == "adapterlib"].set_index("config")
    if "full" in ours.index:
        ax.scatter(np.arange(len(configs)), ours.time_s["full"] * ours.ideal_ratio.reindex(configs), marker="_",
                   s=300, color="black", zorder=3, label="ideal: FLOPs ratio x our full step")
    ax.set_xticks(np.arange(len(configs)) + 0.4 - width / 2, configs, rotation=30, fontsize=8)
    if len(main):
        r = main.iloc[0]
        ax.set_title(f"training step, {r.model}, batch {r.batch}, length {r.seq_len} (median s)", fontsize=9)
    _legend_below(ax, ncol=3)


def _adapter_over_full(ax, train: pd.DataFrame) -> None:
    """Adapter step / own full step by length, with intervals and the FLOPs ratio."""
    for (lib, config), sub in train[train.config.isin(["houlsby64", "pfeiffer16", "lora_qv64"])].groupby(
            ["library", "config"]):
        sub = sub.sort_values("seq_len")
        ax.errorbar(sub.seq_len, sub.ratio_vs_baseline, yerr=[sub.ratio_vs_baseline - sub.ratio_vs_baseline_lo,
                                                              sub.ratio_vs_baseline_hi - sub.ratio_vs_baseline],
                    marker="o", color=COLORS[lib], capsize=3, ls="-" if "houlsby" in config or "lora" in config else "--",
                    label=f"{lib} {config}")
        if lib == "adapterlib":
            ax.plot(sub.seq_len, sub.ideal_ratio, color="black", lw=0.8, ls="-" if "houlsby" in config else "--",
                    label=f"ideal (FLOPs) {config}")
    ax.axhline(0.75, color="red", lw=0.8, ls=":", label="target 0.75")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("sequence length")
    ax.set_ylabel("step / own full fine-tuning step")
    ax.set_title("adapter training step relative to full fine-tuning (MiniLM-L6; bars: interval of the median)",
                 fontsize=9)
    _legend_below(ax, ncol=3)


def _fusion_cost(ax, df: pd.DataFrame) -> None:
    fusion = df[df.config.str.startswith("fusion")]
    fusion = fusion.assign(n=fusion.config.str.removeprefix("fusion").astype(int)).sort_values("n")
    for (lib, mode), sub in fusion.groupby(["library", "mode"]):
        ax.plot(sub.n, sub.time_s, marker="o", color=COLORS[lib], ls="-" if mode == "train" else "--",
                label=f"{lib} {mode}")
    ax.set_xlabel("adapters fused (N)")
    ax.set_ylabel("median s per batch")
    ax.set_title("fusion cost vs N (linear axes: a line means linear cost)", fontsize=9)
    _legend_below(ax, ncol=4)


def _inference_overhead(ax, df: pd.DataFrame) -> None:
    infer = df[(df["mode"] == "infer") & ~df.config.isin(["bare"])]
    labels = []
    for i, r in enumerate(infer.sort_values(["model", "seq_len", "config", "library"]).itertuples()):
        ax.bar(i, 100 * (r.ratio_vs_baseline - 1), color=COLORS[r.library])
        labels.append(f"{r.config} {r.model.split('-')[0]} s{r.seq_len}")
    ax.axhline(10, color="red", ls=":", lw=0.8)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylabel("latency over own bare model (%)")
    ax.set_title("inference overhead (red: 10% target; colours as above)", fontsize=9)


def plot(df: pd.DataFrame) -> Figure:
    """Four panels: training steps by configuration, adapter/full ratio vs the ideal by length, fusion time vs N,
    inference overhead."""
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    train = df[(df["mode"] == "train") & (df.model == "minilm-l6")]
    _training_steps(axes[0, 0], train)
    _adapter_over_full(axes[0, 1], train)
    _fusion_cost(axes[1, 0], df)
    _inference_overhead(axes[1, 1], df)
    fig.tight_layout()
    return fig
