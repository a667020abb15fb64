"""Speed and memory of adapterlib beside AdapterHub `adapters`, `peft` and the arithmetic limit (issue 8).

    .venv/bin/python benchmarks/bench.py --profile smoke|cpu [--no-peers] [--threads N] [--precision bf16]
                                         [--device cuda]

Two worker processes: ours (this venv, transformers 5.x) and the peers' (benchmarks/.venv-peers, made by
`bash benchmarks/peers.sh`: `adapters` 1.3.0 needs transformers 4.57.6). For each group (model, mode, batch,
sequence length) both workers build every configuration, count its FLOPs and warm it up; then the driver asks for
single timed steps, round after round, in a shuffled order. Only one worker computes at a time, and background load
on the shared machine falls on every configuration alike; each ratio is the median over rounds of the two steps'
ratio in that round, so it is far steadier than the absolute times. Every ratio carries a distribution-free
confidence interval for that median (order statistics of the rounds' ratios: ``reporting.statistics.median_interval``),
and the target verdicts use it: a ratio that misses its target but whose interval contains it is "partly" (within
noise), one whose whole interval misses it "does not hold". What one step is and how memory is counted: _common.py.

This file is the measuring protocol only; the report on its frame (table, figure, the issue's targets as claim checks,
closing text) is ``adapterlib.studies.benchmarks``. Run as a script it writes results/<profile>/benchmarks.csv,
benchmarks.png/.svg and claims/benchmarks.csv; notebooks/benchmarks.ipynb calls the same functions.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adapterlib.reporting.statistics import median_interval
from adapterlib.studies import benchmarks as report
from adapterlib.studies.benchmarks import FUSION

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402

PEERS_VENV = HERE / ".venv-peers"
TRAIN = ("full", "houlsby64", "pfeiffer16", "layernorm", "head", *FUSION)  # ours; "full" is the baseline
INFER = ("bare", "houlsby64", "pfeiffer16", *FUSION)  # "bare" is the baseline
ADAPTERS_HAS = ("houlsby64", "pfeiffer16", *FUSION)  # AdapterHub equivalents (same names)


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
# The cpu-long, paper and gpu profiles measure what cpu measures: the comparison is not a paper table, so it has no
# paper scale.
THREADS = {"smoke": 1, "cpu": None, "cpu-long": None, "paper": None, "gpu": None}


def groups(profile: str) -> list[Group]:
    """What each profile measures (cpu: meant for about 9 minutes on 2 idle cores with the peers)."""
    if profile == "smoke":  # seconds; tiny shapes measure Python overhead more than arithmetic
        return [Group("minilm-l6", "train", 4, 16, TRAIN[:-1], reps=3, memory=True),
                Group("minilm-l6", "infer", 4, 16, INFER[:-1], reps=3, memory=True)]
    if profile in THREADS:  # fusion at length 32: AdapterHub's fusion over 16 adapters costs ~3x a full step
        core = ("houlsby64", "pfeiffer16")
        return [
            # Rounds: with 3, one slow round moved a ratio by 30% (Houlsby at length 128: 1.00x full with 3 rounds,
            # 0.76x with 5) and bent the fusion line (R^2 0.87 with 3 rounds, 0.997 with 7); with 5-7 the intervals of
            # the medians still spanned 0.5-0.9x. 9 rounds (the interval then drops the extreme round at each end);
            # 7 at length 128, the costliest steps. 11 and 9 cost about 50 s more of the 90 minutes (2026-12-07).
            Group("minilm-l6", "train", 32, 64, TRAIN[:5], reps=9, memory=True),
            Group("minilm-l6", "train", 32, 32, ("full", *core, *FUSION), reps=9, memory=True),
            Group("minilm-l6", "train", 32, 128, ("full", *core), reps=7, peer_extras=False),
            Group("minilm-l6", "infer", 32, 64, ("bare", *core), reps=9, memory=True),
            Group("minilm-l6", "infer", 32, 32, ("bare", *FUSION), reps=9),
            Group("bert-base", "train", 32, 32, ("full", "houlsby64"), reps=5, peer_extras=False),
            Group("bert-base", "infer", 32, 32, ("bare", "houlsby64"), reps=5),
        ]
    raise ValueError(f"unknown benchmark profile {profile!r} ({', '.join(THREADS)})")


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
    def __init__(self, name: str, cmd: list[str], log: Path, threads: int | None, precision: str = "fp32",
                 device: str = "cpu") -> None:
        self.name, self.log = name, open(log, "w")
        # _common.precision_context and _common.bench_device read them
        env = dict(os.environ, PYTHONUNBUFFERED="1", BENCH_PRECISION=precision, BENCH_DEVICE=device)
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


def run(profile: str, peers: bool | None = None, threads: int | None = None, seed: int = 0,
        log_dir: Path | None = None, precision: str = "fp32", device: str = "cpu",
        measured: Sequence[Group] | None = None) -> pd.DataFrame:
    """Measure the profile's groups and return the tidy frame (one row per library x configuration x group).

    ``peers``: also measure the peer libraries (default: except at the smoke profile, whose tiny shapes say
    nothing about them); True needs benchmarks/.venv-peers and fails if it is missing (make peers). ``threads``:
    torch threads per worker (default: THREADS[profile]; None = torch's default, every core). ``precision``: every
    worker's forward passes ("bf16": autocast in ours and the peers' alike, so the ratios stay matched).
    ``device``: where every worker runs ("cpu", or a CUDA device: both workers' torch must see it). ``measured``:
    these groups instead of the profile's (benchmarks/gpu_check.py sizes its own)."""
    peers = profile != "smoke" if peers is None else peers
    threads = threads if threads is not None else THREADS[profile]
    if peers and not peers_ready():
        raise FileNotFoundError(f"peer venv {PEERS_VENV} is missing or incomplete: run `make peers` "
                                "(bash benchmarks/peers.sh), or measure ours alone with peers=False")
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="adapterlib-bench-"))  # the workers' stderr
    log_dir.mkdir(parents=True, exist_ok=True)
    workers = {"ours": Worker("ours", [sys.executable, __file__, "--serve"], log_dir / "bench-ours.log", threads,
                              precision, device)}
    rows, rng, start = [], random.Random(seed), time.perf_counter()
    try:
        if peers:
            workers["peers"] = Worker("peers", [str(PEERS_VENV / "bin" / "python"), str(HERE / "bench_peers.py")],
                                      log_dir / "bench-peers.log", threads, precision, device)
        for group in groups(profile) if measured is None else measured:
            t0 = time.perf_counter()
            rows += measure(group, workers, rng)
            print(f"{group.model} {group.mode} batch {group.batch} length {group.seq_len}: "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        for worker in workers.values():
            worker.close()
    df = pd.DataFrame(rows).assign(precision=precision)
    df.attrs.update(seconds=round(time.perf_counter() - start), loadavg=os.getloadavg())
    return df


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=list(THREADS), default="smoke")
    parser.add_argument("--no-peers", action="store_true", help="ours alone (no peer venv needed)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per worker (default: 1 for smoke, all cores for cpu)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="forward passes of every library in this precision")
    parser.add_argument("--device", default="cpu",
                        help="where every library runs: cpu (default) or a CUDA device, e.g. cuda. bf16 or a device "
                             "other than cpu writes benchmarks_[<device>_][bf16].csv only (the issue-8 targets and "
                             "the notebook are fp32 on CPU)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # our worker process
    args = parser.parse_args(argv)
    if args.serve:
        serve_ours()
        return
    from adapterlib.reporting import claims as cl
    from adapterlib.reporting.outputs import save_figure

    df = run(args.profile, peers=not args.no_peers, threads=args.threads, precision=args.precision,
             device=args.device)
    cols = ["library", "model", "mode", "batch", "seq_len", "config", "time_s", "ratio_vs_baseline", "ideal_ratio",
            "ratio_vs_adapters", "peak_mib", "trainable_params"]
    variant = "_".join(part for part in (args.device.replace(":", "") if args.device != "cpu" else "",
                                         args.precision if args.precision != "fp32" else "") if part)
    if variant:
        path = report.save(df, args.profile, f"{report.STUDY.name}_{variant}")
        print(df[cols].round(3).to_string(index=False))
        print(f"wrote {path} in {df.attrs['seconds']} s (load average {df.attrs['loadavg'][0]:.1f})")
        return
    path = report.save(df, args.profile)
    save_figure(report.plot(df), args.profile, report.STUDY.name)
    checks = report.claims(df)
    cl.save_claims(checks, args.profile, report.STUDY.name)
    print(df[cols].round(3).to_string(index=False))
    print(cl.describe(checks))
    print(f"wrote {path} in {df.attrs['seconds']} s (load average {df.attrs['loadavg'][0]:.1f})")


if __name__ == "__main__":
    main()
