"""`adapterlib reproduce`: run every notebook through papermill for one profile, in dependency order, then write
``SUMMARY.md``.

Executed copies go to ``results/<profile>/``; the notebooks write their own CSVs, figures and claim records there.
Runs are shared through the run store (``runs/<profile>/``), so a rerun, or a rerun after an interruption, only
trains what is missing; ``run_info.json`` records the git revision, package versions and each notebook's wall time.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from adapterlib.runner.profiles import PROFILES, get_profile
from adapterlib.reporting.outputs import REPO, results_dir
from adapterlib.reporting.summary import read_run_info, write_run_info, write_summary

NOTEBOOKS_DIR = REPO / "notebooks"

# Dependency order: later notebooks reuse the runs of earlier ones from the run store (Table 1's runs feed
# Figures 3, 4 and 6; the ST-A runs of the fusion Table 1 feed every fusion notebook).
NOTEBOOKS: tuple[str, ...] = (
    "houlsby_table1_glue",
    "houlsby_table2_additional",
    "houlsby_fig3_tradeoff",
    "houlsby_fig4_size_sweep",
    "houlsby_fig5_squad",
    "houlsby_fig6_ablation",
    "fusion_table1",
    "fusion_table2_counts",
    "fusion_table3_reduction",
    "fusion_fig3_relative",
    "fusion_fig4_attention",
    "fusion_cost",
    "benchmarks",
)


def run_notebooks(profile: str, only: list[str] | None = None, *, kernel: str = "python3") -> list[Path]:
    """Execute the notebooks (all, or ``only``) with ``profile``, record run information, write SUMMARY.md and
    return the executed copies. Offline profiles build their task data first (cached, so at most once)."""
    import papermill
    from tqdm.auto import tqdm

    from adapterlib.runner.store import environment
    from adapterlib.data.tasks import prepare

    unknown = sorted(set(only or ()) - set(NOTEBOOKS))
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; available: {', '.join(NOTEBOOKS)}")
    chosen = get_profile(profile)  # a bad profile fails here, before anything runs
    for suite in sorted(set(chosen.suites.values())):
        if suite.endswith("_offline"):
            prepare(suite)
    selected = [n for n in NOTEBOOKS if not only or n in only]
    out_dir = results_dir(profile)
    info = read_run_info(profile)
    times = info.get("notebooks", {}) if only else {}
    written = []
    bar = tqdm(selected, desc=f"notebooks ({profile})", unit="nb", file=sys.stdout)
    for name in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        out = out_dir / f"{name}.ipynb"
        try:
            papermill.execute_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), parameters={"profile": profile},
                                       cwd=str(NOTEBOOKS_DIR), kernel_name=kernel, progress_bar=False)
        except papermill.PapermillExecutionError as err:
            raise RuntimeError(f"notebook {name} failed in cell {err.exec_count}: {err.ename}: {err.evalue} "
                               f"(executed copy with the traceback: {out}; finished runs are kept, rerun to resume)"
                               ) from None
        times[name] = round(time.perf_counter() - start, 1)
        tqdm.write(f"{name}: {times[name]:.0f} s -> {out}")
        written.append(out)
    env = environment()
    write_run_info(profile, {"profile": profile, "git_revision": env["git_revision"], "versions": env["versions"],
                             "machine": f"{platform.machine()}, {_cpus()} CPUs, {platform.system()}",
                             "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                             "notebooks": {n: times[n] for n in NOTEBOOKS if n in times}})
    summary = write_summary(profile)
    print(f"{len(written)} notebooks in {sum(times[n] for n in selected) / 60:.1f} min; summary: {summary}")
    return written


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def add_reproduce_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("reproduce", help="run every notebook for a profile (default: cpu), then SUMMARY.md")
    p.add_argument("--profile", default="cpu", choices=tuple(PROFILES))
    p.add_argument("--only", nargs="+", metavar="NOTEBOOK", help=f"a subset of: {', '.join(NOTEBOOKS)}")
    p.set_defaults(func=lambda args: run_notebooks(args.profile, args.only) and 0)
