"""Several runs at once on one machine's CPU cores (``adapterlib fill --workers N``, ``adapterlib reproduce``).

A run of the cpu profile's size (MiniLM, batches of 32 short sequences) is made of small matrix products, and two
threads on one run keep the two cores of this project's machine busy only part of the time. Measured there
(2026-12-07, bf16, the same three size-64 adapter runs on MRPC back to back): 9.7-10.1 s of training with 2 threads,
13.9-14.9 s with 1. So two runs side by side, one thread each, finish sooner than the two one after the other
with two threads each, if by less than that ratio suggests (two processes share the memory bandwidth): the first
8 runs of Houlsby Table 1, one by one and then two at once in the same minutes (``benchmarks/workers_speed.py``),
took 91.5 s against 74.7 s, 1.22x sooner.

Each worker is a process of its own (spawned, so no thread pool is inherited) that trains whole runs with
``cores // workers`` threads and records them as a notebook would (``RunStore.run``: a run is committed by one
atomic rename, so workers never share a run directory). Runs are handed out longest first (their estimated cost,
``costs.run_cost``), so the longest one does not start last. A run's record keeps its ``threads``: on a CPU the
float sums of a matrix product are split by thread, so one run trained with 1 thread and with 2 can differ, a little
on a task it learns steadily and more on one whose training is unstable.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path

import torch

from adapterlib import progress
from adapterlib.costs import run_cost
from adapterlib.runner.settings import MultiTaskConfig, RunConfig
from adapterlib.runner.store import RunStore


def cpu_cores() -> int:
    """The cores this process may run on (its affinity where the OS says, else every core)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_workers() -> int:
    """How many runs ``reproduce`` trains at once: 2 on a CPU-only machine with at least 2 cores (the measurement in
    the module docstring), else 1 (a GPU takes one run at a time, and the notebooks train it)."""
    return 2 if not torch.cuda.is_available() and cpu_cores() >= 2 else 1


def check_workers(workers: int) -> int:
    """``workers`` if this machine can run that many runs at once, else a one-line error."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if workers > cpu_cores():
        raise ValueError(f"--workers {workers} is more than this machine's {cpu_cores()} cores: each worker needs one")
    return workers


def _start_worker(threads: int, environment: dict[str, str]) -> None:
    os.environ.update(environment)  # the run store and data paths pinned by the parent (``paths.pinned_output_dirs``)
    torch.set_num_threads(threads)


def _train(root: Path, config: RunConfig | MultiTaskConfig, keep_weights: bool) -> tuple[str, float | None, float]:
    result = RunStore(root).run(config, keep_weights=keep_weights, progress=False)
    return result.run_id, (result.metrics.get("validation") or {}).get("score"), result.wall_time


def train_at_once(
    store: RunStore, configs: Sequence[RunConfig | MultiTaskConfig], workers: int, *, keep_weights: bool = False,
    report: Callable[[str], None] = progress.echo,
) -> int:
    """Train ``configs`` (none needing another) in ``workers`` processes, longest first; ``report`` gets one line
    per finished run (flushed, so that a log file shows it as it happens). The first run to fail stops the others (what they finished is kept) and raises its error."""
    threads = max(1, cpu_cores() // workers)
    order = sorted(configs, key=lambda c: run_cost(c, keep_weights=keep_weights).gpu_hours or 0.0, reverse=True)
    environment = {k: v for k, v in os.environ.items() if k.startswith(("ADAPTERLIB_", "HF_"))}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(threads, environment)) as pool:
        pending = {pool.submit(_train, store.root, config, keep_weights) for config in order}
        finished = 0
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()
                run_id, dev, seconds = future.result()
                finished += 1
                dev_text = f"dev {dev:.1f}, " if dev is not None else ""
                report(f"fill ({workers} at once, {threads} thread(s) each): {finished}/{len(order)} {run_id}: "
                       f"{dev_text}{seconds:.0f} s")
    return finished
