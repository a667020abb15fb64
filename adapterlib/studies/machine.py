"""How fast this machine trains, for the notebooks' first cell (``preflight``): the rate it reached on the runs it
recorded in a profile's run store (training FLOPs from ``adapterlib.costs`` over their ``wall_time``: training and
evaluation), or, before it recorded any, the rate of a short matrix-multiply probe (rough); and whether bf16, which
the cpu profile trains in, is slower here than fp32 (a CPU without native bf16 emulates it). ``training_minutes``:
a plan's training minutes at a given rate (``adapterlib plan --gflops``).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
import platform
import time
from pathlib import Path

from adapterlib.runner.profiles import Profile

# Training rate (``costs`` FLOPs over wall time) / probe rate. Measured on 2 busy EPYC cores: 0.7-1.5 (training
# reaches less of the peak than one matrix product, but ``costs`` counts every example at max_length, padding
# included), so the probe's rate is taken as it is: a rough figure until the store holds runs of this machine.
PROBE_EFFICIENCY = 1.0
CALIBRATION_RUNS = 40  # the most recent runs of this machine in the store that the rate is taken from


def training_flops(config, gpu_hours: float | None) -> float | None:
    """The training FLOPs behind a run's estimate (``costs.run_cost`` divides them by the reference GPU's rate)."""
    from adapterlib.costs import PEAK_FLOPS, UTILISATION

    if gpu_hours is None:
        return None
    return gpu_hours * 3600 * PEAK_FLOPS["fp32" if config.precision == "fp32" else "mixed"] * UTILISATION


def machine_rate(profile: Profile, precision: str) -> tuple[float, str]:
    """(FLOPs per second this machine trains at, where that comes from): from the latest runs this machine
    (``platform.node()``) recorded in ``profile``'s run store, FLOPs over wall time; else the probe's rate times
    ``PROBE_EFFICIENCY``."""
    recorded = recorded_rate(profile.store().root, platform.node())
    if recorded is not None:
        rate, n = recorded
        return rate, f"at the speed of its {n} latest run(s) in the store"
    return probe_rate(precision) * PROBE_EFFICIENCY, "rough: none of its runs in the store yet"


def recorded_rate(store_root: Path, host: str, limit: int = CALIBRATION_RUNS) -> tuple[float, int] | None:
    """(training FLOPs per second of wall time, runs) over the ``limit`` latest records of ``host`` under
    ``store_root`` with a known size, or None if there are none. Only runs trained with this process's CPU threads
    count (a record without ``threads`` predates it and counts): a run that ``fill --workers`` trained on one thread
    beside another took about 1.7x the wall time a notebook's run, on every core, takes (``runner.workers``)."""
    import torch

    from adapterlib.costs import run_cost
    from adapterlib.runner.settings import MULTITASK, MultiTaskConfig, RunConfig

    records = sorted(store_root.glob("*/record.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    flops = seconds = 0.0
    n = 0
    for path in records:
        try:
            record = json.loads(path.read_text())
            if (record.get("host") != host or record.get("status", "ok") != "ok" or not record.get("wall_time")
                    or record.get("threads", torch.get_num_threads()) != torch.get_num_threads()):
                continue
            config = (MultiTaskConfig if record.get("kind") == MULTITASK else RunConfig).from_dict(record["config"])
            work = training_flops(config, run_cost(config).gpu_hours)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if work:
            flops, seconds, n = flops + work, seconds + float(record["wall_time"]), n + 1
        if n >= limit:
            break
    return (flops / seconds, n) if n and seconds > 0 else None


def probe_rate(precision: str = "fp32", seconds: float = 0.2) -> float:
    """Matrix-multiply FLOPs per second here (the GPU if there is one), in ``precision`` (bf16/fp16/auto: bf16
    autocast), timed for about ``seconds``: MiniLM/BERT-sized products."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    size = 2048 if device == "cuda" else 384
    a, b = torch.randn(512, size, device=device), torch.randn(size, 4 * size, device=device)
    dtype = None if precision == "fp32" else torch.bfloat16
    with torch.autocast(device, dtype=dtype, enabled=dtype is not None), torch.no_grad():
        torch.mm(a, b)  # warm-up
        reps, start = 0, time.perf_counter()
        while True:
            torch.mm(a, b)
            reps += 1
            if device == "cuda":
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
    return 2 * 512 * size * 4 * size * reps / elapsed


def emulated_bf16(precision: str) -> str | None:
    """A line for a profile training in bf16 on a CPU where bf16 is slower than fp32 (no native bf16, e.g. AVX2
    only: torch emulates it, measured 10x slower per training step on such a machine): the probe's two rates and
    the override that trains in fp32. None where bf16 is not asked for, runs on a GPU, or is not slower."""
    import torch

    if precision != "bf16" or torch.cuda.is_available():
        return None
    bf16, fp32 = probe_rate("bf16"), probe_rate("fp32")
    if bf16 >= fp32:
        return None
    return (f"this CPU computes bf16 slower than fp32 ({bf16 / 1e9:.1f} vs {fp32 / 1e9:.1f} GFLOP/s: no native bf16, "
            "so autocast emulates it); fp32 trains faster here: overrides={\"precision\": \"fp32\"} in the "
            "parameters cell, or `--overrides '{\"precision\": \"fp32\"}'` for adapterlib reproduce (other run ids: "
            "nothing is reused from bf16 runs)")


def training_minutes(plans: Sequence, gflops: float) -> str:
    """The training minutes of the runs to do of ``plans`` (``plan.NotebookPlan``), per notebook and in total (each
    run once), at ``gflops`` GFLOP/s of training FLOPs (``costs``): what a CPU profile's plan costs on a machine of
    that rate, before anything runs (``adapterlib plan --gflops``). Evaluation and set-up are not counted (on 2
    cores here they added about a quarter: docs/BUDGET.md)."""

    def minutes(runs: Sequence) -> float:
        flops = (training_flops(run.config, plan_costs[run.config.run_id].gpu_hours) for run in runs)
        return sum(f or 0.0 for f in flops) / (gflops * 1e9) / 60

    plan_costs = {run_id: cost for plan in plans for run_id, cost in plan.costs.items()}
    unique = list({run.config.run_id: run for plan in plans for run in plan.todo}.values())
    total = f"training minutes of the runs to do at {gflops:g} GFLOP/s: {minutes(unique):.1f} (each run once)"
    return "\n".join([total, *(f"  {plan.name:<28} {minutes(plan.todo):6.1f}" for plan in plans if plan.todo)])
