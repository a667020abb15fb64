"""Speed and memory of adapterlib beside AdapterHub `adapters`, `peft` and the arithmetic limit (issue 8).

    .venv/bin/python benchmarks/bench.py --profile smoke|cpu [--no-peers] [--threads N]

Two worker processes: ours (this venv, transformers 5.x) and the peers' (benchmarks/.venv-peers, made by
`bash benchmarks/peers.sh`: `adapters` 1.3.0 needs transformers 4.57.6). For each group (model, mode, batch,
sequence length) both workers build every configuration, count its FLOPs and warm it up; then the driver asks for
single timed steps, round after round, in a shuffled order. Only one worker computes at a time, and background load
on the shared machine falls on every configuration alike; each ratio is the median over rounds of the two steps'
ratio in that round, so it is far steadier than the absolute times. Every ratio carries a distribution-free
confidence interval for that median (order statistics of the rounds' ratios, ``median_interval``), and the target
verdicts use it: a ratio that misses its target but whose interval contains it is "partly" (within noise), one whose
whole interval misses it "does not hold". What one step is and how memory is counted: see _common.py.

Writes results/<profile>/benchmarks.csv, benchmarks.png/.svg and claims/benchmarks.csv (the issue's targets);
notebooks/benchmarks.ipynb calls the same functions.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402

PEERS_VENV = HERE / ".venv-peers"
FUSION_N = (2, 4, 8, 16)
FUSION = tuple(f"fusion{n}" for n in FUSION_N)
TRAIN = ("full", "houlsby64", "pfeiffer16", "layernorm", "head", *FUSION)  # ours; "full" is the baseline
INFER = ("bare", "houlsby64", "pfeiffer16", *FUSION)  # "bare" is the baseline
ADAPTERS_HAS = ("houlsby64", "pfeiffer16", *FUSION)  # AdapterHub equivalents (same names)
CSV = "benchmarks"


@dataclass(frozen=True)
class Group:
    """One model/mode/batch/length; every configuration in it is timed ``reps`` times, interleaved."""

    model: str
    mode: str  # train | infer
    batch: int
    seq_len: int
    configs: tuple[str, ...]
    reps: int
    memory: bool = False
    peer_extras: bool = True  # False: only AdapterHub's equivalents and the peers' baseline, not LoRA (saves time)


# torch threads per worker: smoke runs beside other jobs (tests), where two OpenMP threads on two busy cores stall
# at every barrier (measured here: 4x slower); cpu is the main job on a quiet machine: every core (torch default).
THREADS = {"smoke": 1, "cpu": None}


def groups(profile: str) -> list[Group]:
    """What each profile measures (cpu: meant for about 9 minutes on 2 idle cores with the peers)."""
    if profile == "smoke":  # seconds; tiny shapes measure Python overhead more than arithmetic
        return [Group("minilm-l6", "train", 4, 16, TRAIN[:-1], reps=3, memory=True),
                Group("minilm-l6", "infer", 4, 16, INFER[:-1], reps=3, memory=True)]
    if profile == "cpu":  # fusion at length 32: AdapterHub's fusion over 16 adapters costs ~3x a full step
        core = ("houlsby64", "pfeiffer16")
        return [
            # Rounds: with 3, one slow round moved a ratio by 30% (Houlsby at length 128: 1.00x full with 3 rounds,
            # 0.76x with 5) and bent the fusion line (R^2 0.87 with 3 rounds, 0.997 with 7); with 5-7 the intervals of
            # the medians still spanned 0.5-0.9x. 9-11 rounds (the interval then drops 1-2 extreme rounds at each
            # end) cost about 3 more minutes.
            Group("minilm-l6", "train", 32, 64, TRAIN[:5], reps=11, memory=True),
            Group("minilm-l6", "train", 32, 32, ("full", *core, *FUSION), reps=11, memory=True),
            Group("minilm-l6", "train", 32, 128, ("full", *core), reps=9, peer_extras=False),
            Group("minilm-l6", "infer", 32, 64, ("bare", *core), reps=11, memory=True),
            Group("minilm-l6", "infer", 32, 32, ("bare", *FUSION), reps=11),
            Group("bert-base", "train", 32, 32, ("full", "houlsby64"), reps=5, peer_extras=False),
            Group("bert-base", "infer", 32, 32, ("bare", "houlsby64"), reps=5),
        ]
    raise ValueError(f"unknown benchmark profile {profile!r} (smoke or cpu)")


def median_interval(samples: list[float], level: float = 0.9) -> tuple[float, float, float]:
    """Confidence interval for the median of ``samples`` without assuming a distribution: the order statistics
    (x_(k), x_(n+1-k)) with the largest k whose coverage 1 - 2 P(Binomial(n, 1/2) < k) is still >= ``level``.
    Returns (low, high, coverage). Below 5 samples no interval reaches 90%: the full range, with its coverage."""
    x, n = sorted(samples), len(samples)
    coverage = lambda k: 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n  # noqa: E731
    k = max((k for k in range(1, (n + 1) // 2 + 1) if coverage(k) >= level), default=1)
    return x[k - 1], x[n - k], coverage(k)


def peer_configs(config: str) -> list[str]:
    """The peer worker's configurations compared with our ``config``."""
    if config in ("full", "bare"):
        return [config]
    return ([f"adapters/{config}"] if config in ADAPTERS_HAS else []) + (
        ["peft/lora_qv64"] if config == "houlsby64" else [])


# ----------------------------------------------------------------------------------------------------------------
# Our worker
# ----------------------------------------------------------------------------------------------------------------
def load_ours(name: str):
    """MiniLM through our public loader, as a user gets it; BERT-base from its config, as the peers build it."""
    import adapterlib as al

    if name != "minilm-l6":
        return C.plain_model(name)
    model, _ = al.load_model(name, num_labels=C.NUM_LABELS)
    assert model.config._attn_implementation == "sdpa", model.config._attn_implementation
    return model


def build_ours(bases: C.BaseModels, model_name: str, config: str, batch: int, seq_len: int, mode: str):
    import adapterlib as al

    model = bases.get(model_name)
    loss_extra = None
    if config in ("full", "layernorm", "head"):
        al.set_trainable(model, config)
    elif config in ("houlsby64", "pfeiffer16"):
        cfg = al.AdapterConfig.houlsby(size=64) if config == "houlsby64" else al.AdapterConfig.pfeiffer(16)
        al.add_adapter(model, "a", cfg)
        al.set_trainable(model, "adapters", adapter="a")
    elif config.startswith("fusion"):
        names = [f"f{i}" for i in range(int(config.removeprefix("fusion")))]
        for name in names:
            al.add_adapter(model, name, al.AdapterConfig.pfeiffer(16))
        al.add_fusion(model, names)
        al.set_trainable(model, "fusion")
        loss_extra = lambda: al.fusion_regularization(model)  # noqa: E731
    elif config != "bare":
        raise ValueError(f"ours: no configuration {config!r}")
    return C.Setup(model, batch, seq_len, mode, loss_extra), "adapterlib"


def serve_ours() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers

    import adapterlib

    transformers.logging.set_verbosity_error()
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "adapterlib": adapterlib.__version__}
    bases = C.BaseModels(load_ours)
    C.serve(versions, lambda *args: build_ours(bases, *args))


# ----------------------------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------------------------
class Worker:
    def __init__(self, name: str, cmd: list[str], log: Path, threads: int | None) -> None:
        self.name, self.log = name, open(log, "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), BENCH_THREADS=str(threads))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     bufsize=1, env=env)
        hello = self._read()
        self.versions, self.threads = hello["versions"], hello["threads"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.name} died; see {self.log.name}")
        return json.loads(line)

    def call(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        out = self._read()
        if not out["ok"]:
            raise RuntimeError(f"benchmark worker {self.name}, {cmd}: {out['error']} (log: {self.log.name})")
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps(dict(op="quit")) + "\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def peers_ready() -> bool:
    return (PEERS_VENV / ".installed").is_file()


def measure(group: Group, workers: dict[str, Worker], rng: random.Random) -> list[dict]:
    """Build, warm up, then time every (worker, configuration) of ``group`` in shuffled interleaved rounds."""
    pairs = [("ours", c) for c in group.configs]
    if "peers" in workers:
        pairs += [("peers", p) for c in group.configs for p in peer_configs(c)
                  if group.peer_extras or p.startswith("adapters/") or p == c]  # p == c: the peers' full / bare
    shape = dict(model=group.model, mode=group.mode, batch=group.batch, seq_len=group.seq_len)
    built = {p: workers[p[0]].call(op="setup", config=p[1], warmup=1, **shape) for p in pairs}
    times: dict[tuple, list[dict]] = {p: [] for p in pairs}
    for _ in range(group.reps):
        rng.shuffle(pairs)
        for worker, config in pairs:
            times[(worker, config)].append(workers[worker].call(op="step", config=config))
    peaks = {p: workers[p[0]].call(op="memory", config=p[1])["peak_mib"] for p in pairs} if group.memory else {}
    for worker in workers.values():
        worker.call(op="teardown")

    steps = {p: [t["step"] for t in ts] for p, ts in times.items()}

    def ratios(p: tuple, q: tuple) -> list[float]:
        """time(p) / time(q) round by round: each round's two steps ran close together, so drifts in background
        load cancel better than in a ratio of medians."""
        return [a / b for a, b in zip(steps[p], steps[q])] if p in steps and q in steps else []

    def median_with_interval(values: list[float]) -> tuple[float, float, float]:
        return (statistics.median(values), *median_interval(values)[:2]) if values else (np.nan,) * 3

    baseline = "full" if group.mode == "train" else "bare"
    rows = []
    for worker, config in sorted(pairs):
        w, info, ts, step = workers[worker], built[(worker, config)], times[(worker, config)], steps[(worker, config)]
        library, base = info["library"], (worker, baseline)
        median = statistics.median(step)
        q1, _, q3 = statistics.quantiles(step, n=4) if len(step) > 1 else (median,) * 3
        row = dict(library=library, version=w.versions.get(library, ""), transformers=w.versions["transformers"],
                   worker=worker, threads=w.threads, **shape, config=config.rpartition("/")[2], reps=len(step),
                   time_s=median, time_rel_iqr=(q3 - q1) / median, throughput=group.batch / median,
                   round_times_s=" ".join(f"{t:.5g}" for t in step))
        for part in ("fwd", "bwd", "opt"):
            row[f"{part}_s"] = statistics.median(t[part] for t in ts) if group.mode == "train" else np.nan
        # time over the same worker's full step / bare model; the same for FLOPs (the arithmetic limit)
        over_base = ratios((worker, config), base)
        vs_base = median_with_interval(over_base)
        peer = ("peers", f"adapters/{config}")
        vs_adapters = median_with_interval(ratios((worker, config), peer) if worker == "ours" else [])
        # the same with each library's step over its own base model's (transformers 5.x here, 4.57.6 there), so a
        # speed difference between the two transformers versions cancels
        vs_adapters_own_base = median_with_interval(
            [a / b for a, b in zip(over_base, ratios(peer, ("peers", baseline)))] if worker == "ours" else [])
        row.update(
            peak_mib=peaks.get((worker, config), np.nan), gflops=info["flops"] / 1e9,
            trainable_params=info["trainable_params"],
            ratio_vs_baseline=vs_base[0], ratio_vs_baseline_lo=vs_base[1], ratio_vs_baseline_hi=vs_base[2],
            ideal_ratio=info["flops"] / built[base]["flops"] if base in built else np.nan,
            ratio_vs_adapters=vs_adapters[0], ratio_vs_adapters_lo=vs_adapters[1], ratio_vs_adapters_hi=vs_adapters[2],
            ratio_vs_adapters_own_base=vs_adapters_own_base[0], ratio_vs_adapters_own_base_lo=vs_adapters_own_base[1],
            ratio_vs_adapters_own_base_hi=vs_adapters_own_base[2],
        )
        rows.append(row)
    return rows


def run(profile: str, peers: bool = True, threads: int | None = None, seed: int = 0,
        log_dir: Path | None = None) -> pd.DataFrame:
    """Measure the profile's groups and return the tidy frame (one row per library x configuration x group).

    ``peers=True`` needs benchmarks/.venv-peers and fails if it is missing (make peers). ``threads``: torch threads
    per worker (default: THREADS[profile]; None = torch's default, every core)."""
    threads = threads if threads is not None else THREADS[profile]
    if peers and not peers_ready():
        raise FileNotFoundError(f"peer venv {PEERS_VENV} is missing or incomplete: run `make peers` "
                                "(bash benchmarks/peers.sh), or measure ours alone with peers=False")
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="adapterlib-bench-"))  # the workers' stderr
    log_dir.mkdir(parents=True, exist_ok=True)
    workers = {"ours": Worker("ours", [sys.executable, __file__, "--serve"], log_dir / "bench-ours.log", threads)}
    rows, rng, start = [], random.Random(seed), time.perf_counter()
    try:
        if peers:
            workers["peers"] = Worker("peers", [str(PEERS_VENV / "bin" / "python"), str(HERE / "bench_peers.py")],
                                      log_dir / "bench-peers.log", threads)
        for group in groups(profile):
            t0 = time.perf_counter()
            rows += measure(group, workers, rng)
            print(f"{group.model} {group.mode} batch {group.batch} length {group.seq_len}: "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        for worker in workers.values():
            worker.close()
    df = pd.DataFrame(rows)
    df.attrs.update(seconds=round(time.perf_counter() - start), loadavg=os.getloadavg())
    return df


def save(df: pd.DataFrame, profile: str) -> Path:
    """results/<profile>/benchmarks.csv (the results directory honours $ADAPTERLIB_RESULTS)."""
    from adapterlib.reporting.outputs import results_dir

    path = results_dir(profile) / f"{CSV}.csv"
    df.to_csv(path, index=False, float_format="%.5g")
    return path


# ----------------------------------------------------------------------------------------------------------------
# Targets (issue 8) as claim checks, and the figure
# ----------------------------------------------------------------------------------------------------------------
def _line(n: np.ndarray, t: np.ndarray) -> tuple[float, float, float]:
    b, a = np.polyfit(n, t, 1)
    return a, b, 1 - ((t - (a + b * n)) ** 2).sum() / ((t - t.mean()) ** 2).sum()


def fusion_fit(df: pd.DataFrame, library: str, mode: str,
               resamples: int = 2000) -> tuple[float, float, float, float, float] | None:
    """Least squares time = a + b N through the median step times of the fusion rows of ``mode`` (one group per
    mode has them): (a, b, R^2, R^2 low, R^2 high). The interval is a 90% bootstrap over the timed rounds (each N's
    rounds resampled, medians refitted; fixed seed), so noise alone can be told from a bent line."""
    sub = df[(df.library == library) & (df["mode"] == mode) & df.config.str.startswith("fusion")]
    if sub.config.nunique() < 3:
        return None
    n = sub.config.str.removeprefix("fusion").astype(float).to_numpy()
    a, b, r2 = _line(n, sub.time_s.to_numpy())
    rounds = [np.array(r.split(), dtype=float) for r in sub.round_times_s]
    rng = np.random.default_rng(0)
    boot = [_line(n, np.array([np.median(rng.choice(r, len(r))) for r in rounds]))[2] for _ in range(resamples)]
    low, high = np.percentile(boot, [5, 95])
    return a, b, r2, low, high


def claims(df: pd.DataFrame) -> list:
    """The issue's four targets as claim checks. Each number is the worst case over the measured groups."""
    from adapterlib.reporting import claims as cl

    ours = df[df.library == "adapterlib"]
    train = ours[(ours["mode"] == "train") & (ours.model == "minilm-l6")]
    checks = []

    def target(claim, value, verdict, basis, bound, description):
        checks.append(cl.check(claim, value, verdict, basis, CSV, paper_value=bound, description=description,
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


def table(df: pd.DataFrame) -> pd.DataFrame:
    """Median milliseconds per batch by library, with our ratios: one row per group x configuration."""
    key = ["model", "mode", "batch", "seq_len", "config"]
    ms = df.pivot_table(index=key, columns="library", values="time_s", aggfunc="first") * 1000
    ours = df[df.library == "adapterlib"].set_index(key)[[
        "ratio_vs_baseline", "ratio_vs_baseline_lo", "ratio_vs_baseline_hi", "ideal_ratio", "ratio_vs_adapters",
        "ratio_vs_adapters_lo", "ratio_vs_adapters_hi", "peak_mib", "trainable_params"]]
    return ms.add_suffix(" ms").join(ours, how="left").round(3)


def findings(df: pd.DataFrame, checks: list) -> str:
    """The closing text: how the run went and each target against the measured number."""
    from adapterlib.reporting import claims as cl

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


COLORS = {"adapterlib": "#1f77b4", "adapters": "#ff7f0e", "peft": "#2ca02c", "transformers": "#7f7f7f"}


def plot(df: pd.DataFrame):
    """Four panels: training steps by configuration (at the length where head-only is measured), adapter/full ratio
    vs the ideal by length, fusion time vs N, inference overhead."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    train = df[(df["mode"] == "train") & (df.model == "minilm-l6")]
    length = train[train.config == "head"].seq_len.max()
    main = train[(train.seq_len == length) & ~train.config.str.startswith("fusion")]
    ax = axes[0, 0]
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
    ax.legend(fontsize=7)

    ax = axes[0, 1]
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
    ax.legend(fontsize=7)

    ax = axes[1, 0]
    fusion = df[df.config.str.startswith("fusion")]
    fusion = fusion.assign(n=fusion.config.str.removeprefix("fusion").astype(int)).sort_values("n")
    for (lib, mode), sub in fusion.groupby(["library", "mode"]):
        ax.plot(sub.n, sub.time_s, marker="o", color=COLORS[lib], ls="-" if mode == "train" else "--",
                label=f"{lib} {mode}")
    ax.set_xlabel("adapters fused (N)")
    ax.set_ylabel("median s per batch")
    ax.set_title("fusion cost vs N (linear axes: a line means linear cost)", fontsize=9)
    ax.legend(fontsize=7)

    ax = axes[1, 1]
    infer = df[(df["mode"] == "infer") & ~df.config.isin(["bare"])]
    labels = []
    for i, r in enumerate(infer.sort_values(["model", "seq_len", "config", "library"]).itertuples()):
        ax.bar(i, 100 * (r.ratio_vs_baseline - 1), color=COLORS[r.library])
        labels.append(f"{r.config} {r.model.split('-')[0]} s{r.seq_len}")
    ax.axhline(10, color="red", ls=":", lw=0.8)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylabel("latency over own bare model (%)")
    ax.set_title("inference overhead (red: 10% target; colours as above)", fontsize=9)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["smoke", "cpu"], default="smoke")
    parser.add_argument("--no-peers", action="store_true", help="ours alone (no peer venv needed)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per worker (default: 1 for smoke, all cores for cpu)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # our worker process
    args = parser.parse_args(argv)
    if args.serve:
        serve_ours()
        return
    from adapterlib.reporting import claims as cl
    from adapterlib.reporting.outputs import save_figure

    df = run(args.profile, peers=not args.no_peers, threads=args.threads)
    path = save(df, args.profile)
    save_figure(plot(df), args.profile, CSV)
    checks = claims(df)
    cl.save_claims(checks, args.profile, CSV)
    cols = ["library", "model", "mode", "batch", "seq_len", "config", "time_s", "ratio_vs_baseline", "ideal_ratio",
            "ratio_vs_adapters", "peak_mib", "trainable_params"]
    print(df[cols].round(3).to_string(index=False))
    print(cl.describe(checks))
    print(f"wrote {path} in {df.attrs['seconds']} s (load average {df.attrs['loadavg'][0]:.1f})")


if __name__ == "__main__":
    main()
