"""Two runs at once, one thread each, against one run at a time on every core: the same runs, the same hour.

    .venv/bin/python benchmarks/workers_speed.py [--profile cpu] [--notebook houlsby_table1_glue] [--runs 8]
                                                 [--workers 2] [--out PATH]

Takes the first ``--runs`` runs of the notebook's plan that need no other run, and trains them twice into two
empty temporary run stores: one after the other in this process, with every core (as a notebook trains them), and
through ``runner.workers.train_at_once`` with ``--workers`` processes of cores/N threads (as ``adapterlib
reproduce`` now trains them on a CPU). The second arm goes first, so that the first arm's process does not start
with a warmer cache. Prints both wall times and their ratio, each run's wall time in both arms, and for how many
runs the test predictions are the same in both (a CPU splits a matrix product's float sums by thread, so they need
not be). Timed runs of the whole profile on different hours cannot separate the machine's speed from this ratio;
this can.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402

from adapterlib.data.tasks import load_task  # noqa: E402
from adapterlib.plan import make_plan, run_tasks  # noqa: E402
from adapterlib.runner.profiles import get_profile  # noqa: E402
from adapterlib.runner.store import RunStore  # noqa: E402
from adapterlib.runner.workers import check_workers, cpu_cores, train_at_once  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--notebook", default="houlsby_table1_glue")
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="CSV of each run's wall time in both arms")
    args = parser.parse_args()
    check_workers(args.workers)
    profile = get_profile(args.profile)
    (plan,) = make_plan(profile, [args.notebook])  # every run of the notebook, whatever the store holds
    configs = [run.config for run in plan.runs if not run.provisional and not run.needs][:args.runs]
    if not configs:
        raise SystemExit(f"workers_speed: {args.notebook} has no run that needs no other run")
    for task in sorted({task for config in configs for task in run_tasks(config)}):
        load_task(task)
    with tempfile.TemporaryDirectory() as at_once_dir, tempfile.TemporaryDirectory() as one_by_one_dir:
        start = time.perf_counter()
        train_at_once(RunStore(at_once_dir), configs, args.workers, report=lambda line: None)
        at_once = time.perf_counter() - start
        start = time.perf_counter()
        for config in configs:
            RunStore(one_by_one_dir).run(config, progress=False)
        one_by_one = time.perf_counter() - start
        rows = []
        for config in configs:
            a, b = RunStore(one_by_one_dir).get(config), RunStore(at_once_dir).get(config)
            rows.append({"run_id": config.run_id, "one_by_one_s": a.wall_time, "at_once_s": b.wall_time,
                         "same_test_predictions": a.predictions.get("test") == b.predictions.get("test"),
                         "test_score_one_by_one": a.metrics["test"]["score"],
                         "test_score_at_once": b.metrics["test"]["score"]})
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    per_run = statistics.median(frame.at_once_s / frame.one_by_one_s)
    print(f"\n{len(configs)} runs of {args.notebook} ({args.profile}), {cpu_cores()} cores: one by one with "
          f"{cpu_cores()} threads {one_by_one:.1f} s; {args.workers} at once, {max(1, cpu_cores() // args.workers)} "
          f"thread(s) each, {at_once:.1f} s: speed-up {one_by_one / at_once:.2f}x. Each run took {per_run:.2f}x as long "
          f"(median). Same test predictions in both arms: {int(frame.same_test_predictions.sum())} of {len(frame)} runs.")
    if args.out:
        frame.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
