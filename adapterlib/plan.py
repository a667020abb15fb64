"""`adapterlib plan` and `adapterlib fill`: what the notebooks of a profile need before anything trains, and
training it outside the notebooks (under `accelerate launch` / `torchrun` on several GPUs).

The runs come from the studies themselves (``studies.base.declares_runs``: the same function each table calls),
so the plan counts exactly what the notebooks would train. Per notebook: runs done / to do (from the run store),
estimated GPU-hours of the runs to do and the disk of all of them (``costs``), and every dataset checked without
downloading it (``data.tasks.check_task``). ``reproduce`` prints the plan first and stops with one line when a
dataset the runs need is unreachable. A task the profile leaves out (an offline task whose source was refused, a
local-only task without its folder: ``Profile.missing_tasks``) has no runs in the plan; the plan lists it as left out.

``fill`` trains the to-do runs in rounds: a run starts once the runs it needs are finished (a fusion's source
adapters), and a provisional run (the trade-offs' other methods, LoRA and (IA)³: needed only on tasks full
fine-tuning learned) waits until its deciding runs are in the store and the study lists its runs again. Under a
launcher every process takes part in every run (data parallel, ``RunStore.run``), so each run trains once and the
main process records it.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adapterlib.costs import REFERENCE_GPU, UTILISATION, RunCost, human_bytes, run_cost
from adapterlib.data.tasks import SourceUnavailable, check_task, list_tasks, load_task, prepare
from adapterlib.data.tasks.check import brief_cause_lines, by_cause, cause_lines
from adapterlib.paths import pinned_output_dirs
from adapterlib.runner.profiles import PROFILES, Profile, get_profile, profile_overrides
from adapterlib.runner.settings import MT_A, MultiTaskConfig, RunConfig


LINE_WIDTH = 200  # the longest line the plan prints without --verbose (causes are cut to it, indent included)


@dataclass
class NotebookPlan:
    """One notebook's share of the plan; ``runs``: its planned runs (``studies.base.PlannedRun``), ``costs``: each
    one's estimate by run id; ``problems``: its unreachable datasets, ``left_out``: the tasks its claims rest on that
    the profile leaves out (``studies.base.left_out``), each with why."""

    name: str
    runs: list
    done: set[str]
    costs: dict[str, RunCost]
    gpu_hours: float
    untimed: int
    disk_bytes: int
    problems: dict[str, str]
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def todo(self) -> list:
        return [run for run in self.runs if run.config.run_id not in self.done]


def run_tasks(config: RunConfig | MultiTaskConfig) -> tuple[str, ...]:
    return config.tasks if isinstance(config, MultiTaskConfig) else (config.task,)


def make_plan(profile: Profile, only: Sequence[str] | None = None, *, keep_weights: bool = False) -> list[NotebookPlan]:
    """The plan of every notebook (or ``only`` those), in the order ``reproduce`` runs them. Local-only tasks are
    looked for where training reads them (``$ADAPTERLIB_DATA_DIR``, else ``<project>/data``: ``paths.data_root``)."""
    from adapterlib.studies import STUDIES, order
    from adapterlib.studies.base import left_out, planned_runs

    unknown = sorted(set(only or ()) - set(STUDIES))
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; available: {', '.join(STUDIES)}")
    store, checked, estimates, recorded = profile.store(), {}, {}, {}  # each run costed and looked up once
    plans = []
    for study in [s for s in order(STUDIES.values()) if not only or s.name in only]:
        runs = planned_runs(study, profile)
        for run in runs:
            run_id = run.config.run_id
            if run_id not in estimates:
                estimates[run_id] = run_cost(run.config, keep_weights=keep_weights)
                recorded[run_id] = store.get(run_id) is not None
        done = {run.config.run_id for run in runs if recorded[run.config.run_id]}
        costs = {run.config.run_id: estimates[run.config.run_id] for run in runs}
        todo_hours = [costs[run.config.run_id].gpu_hours for run in runs if run.config.run_id not in done]
        tasks = sorted({task for run in runs for task in run_tasks(run.config)})
        for task in tasks:
            if task not in checked:
                checked[task] = check_task(task)
        plans.append(NotebookPlan(study.name, runs, done, costs, sum(h for h in todo_hours if h is not None),
                                  sum(h is None for h in todo_hours), sum(c.disk_bytes for c in costs.values()),
                                  {t: checked[t] for t in tasks if checked[t]}, left_out(profile, study)))
    return plans


def format_plan(profile: Profile, plans: Sequence[NotebookPlan], verbose: bool = False) -> str:
    """The plan as a compact table with a total row (runs shared by notebooks are counted once in the total), and
    the tasks it leaves out: a short line per cause, or with ``verbose`` each cause whole, then each task's sequence
    length and the share of its examples truncated there (``length_lines``)."""
    header = f"{'notebook':<28} {'runs':>6} {'done':>6} {'to do':>6} {'GPU-h to do':>12} {'disk':>9}  datasets"
    lines = [f"plan for profile {profile.name!r}: GPU-hours on one {REFERENCE_GPU} at {UTILISATION:.0%} of peak "
             "(computed from training FLOPs, see adapterlib/costs.py); disk: what the run store keeps", header]
    for plan in plans:
        hours = f"{plan.gpu_hours:.3g}" + (f" +{plan.untimed}?" if plan.untimed else "")
        lines.append(f"{plan.name:<28} {len(plan.runs):>6} {len(plan.done):>6} {len(plan.todo):>6} {hours:>12} "
                     f"{human_bytes(plan.disk_bytes):>9}  "
                     + ("ok" if not plan.problems else f"{len(plan.problems)} unreachable")
                     + (f", {len(plan.left_out)} left out" if plan.left_out else ""))
    unique = {run.config.run_id: (run, plan) for plan in plans for run in plan.runs}
    todo = [(run, plan) for run, plan in unique.values() if run.config.run_id not in plan.done]
    hours = [plan.costs[run.config.run_id].gpu_hours for run, plan in todo]
    provisional = sum(run.provisional for run, _ in todo)
    total_disk = sum(plan.costs[run.config.run_id].disk_bytes for run, plan in unique.values())
    untimed = sum(h is None for h in hours)
    lines.append(f"{'total (each run once)':<28} {len(unique):>6} {len(unique) - len(todo):>6} {len(todo):>6} "
                 f"{sum(h for h in hours if h is not None):>12.3g} {human_bytes(total_disk):>9}")
    if untimed:
        lines.append(f"?: {untimed} runs to do on tasks without a known training size (no GPU-hours counted)")
    if provisional:
        lines.append(f"{provisional} of the runs to do are provisional (only needed where earlier runs decide)")
    left_out = profile.left_out()
    if left_out:
        causes = cause_lines(left_out) if verbose else brief_cause_lines(left_out, width=LINE_WIDTH - 2)
        lines += [f"left out, not run ({len(left_out)} tasks):", *(f"  {line}" for line in causes)]
    copies = profile.registry_copies()
    if copies:
        lines += [f"the hub is out of reach: {len(copies)} tasks read from their registry copies (the same data in "
                  "the same splits; docs/TASKS.md):", *(f"  {task} <- {copy}" for task, copy in copies.items())]
    if verbose:
        lines += ["sequence length per task (the tokens its runs read; a longer example is truncated):",
                  *length_lines(plans)]
    return "\n".join(lines)


def task_lengths(plans: Sequence[NotebookPlan]) -> dict[tuple[str, int], Counter[str]]:
    """(task, tokens) -> how many of the plan's runs (each run once) of each kind (regime, or ``mt_a``) read ``task``
    at that sequence length: the profile's ``max_length``, or the task's own where it needs more (``Task.max_length``),
    or span QA's window; an MT-A run reads each task at its own (``MultiTaskConfig.max_length_of``). A task read at
    two lengths has an entry for each."""
    unique = {run.config.run_id: run.config for plan in plans for run in plan.runs}
    kinds: dict[tuple[str, int], Counter[str]] = {}
    for config in unique.values():
        for task in run_tasks(config):
            kinds.setdefault((task, config.max_length_of(task)), Counter())[
                MT_A if isinstance(config, MultiTaskConfig) else config.regime] += 1
    return dict(sorted(kinds.items()))


def length_lines(plans: Sequence[NotebookPlan]) -> list[str]:
    """One line per task and length of ``task_lengths`` (its runs by kind), with the share of the task's examples
    truncated at that length where a build here measured it, else why not (``data.tasks.truncation_text``)."""
    from adapterlib.data.tasks import get_task, truncation_text

    def runs(kinds: Counter[str]) -> str:
        total = sum(kinds.values())
        return f"{total:,} run{'s' * (total > 1)}: " + ", ".join(f"{kind} {n:,}" for kind, n in kinds.most_common())

    return [f"  {task:<26} {length:>4} tokens ({runs(kinds)}): {truncation_text(get_task(task), length)}"
            for (task, length), kinds in task_lengths(plans).items()]


def plan_table(plans: Sequence[NotebookPlan]) -> str:
    """Every run of the plan, done or not, as the Markdown table the docs carry (docs/PAPER_PROFILE.md): per notebook its runs, their GPU-hours (``+n?``: runs on tasks of unknown training size) and
    disk; the total counts each run once. ``adapterlib plan --markdown`` prints it; a test keeps the docs equal."""

    def row(name: str, costs: list[RunCost]) -> str:
        hours = [c.gpu_hours for c in costs if c.gpu_hours is not None]
        untimed = len(costs) - len(hours)
        total = sum(hours)
        return (f"| {name} | {len(costs):,} | {f'{total:,.0f}' if total >= 100 else f'{total:.3g}'}"
                f"{f' +{untimed:,}?' if untimed else ''} | "
                f"{human_bytes(sum(c.disk_bytes for c in costs))} |")

    unique = {run_id: cost for plan in plans for run_id, cost in plan.costs.items()}
    return "\n".join([f"| notebook | runs | {REFERENCE_GPU} hours | disk |", "|---|---:|---:|---:|",
                      *(row(plan.name, list(plan.costs.values())) for plan in plans),
                      row("total (each run once)", list(unique.values()))])


def missing_line(plans: Sequence[NotebookPlan]) -> str | None:
    """One line listing every unreachable dataset and its cause, or None when all are reachable. Tasks with the same
    cause (one data source refused for all of them) share it: "a, b: cause"."""
    problems = {task: problem for plan in plans for task, problem in plan.problems.items()}
    if not problems:
        return None
    return f"{len(problems)} dataset(s) unreachable: {by_cause(problems)}"


def missing_report(plans: Sequence[NotebookPlan], verbose: bool = False) -> str | None:
    """What a person reads when datasets are unreachable, or None when none is: a first line with how many, then one
    line per cause of at most ``LINE_WIDTH`` characters (``brief_cause_lines``), or with ``verbose`` one line per task with its
    whole cause and, for a hub task, the offline task to load in its place where one of its format exists."""
    from adapterlib.data.tasks import get_task
    from adapterlib.data.tasks.hub import with_alternative

    problems = {task: problem for plan in plans for task, problem in plan.problems.items()}
    if not problems:
        return None
    if verbose:
        lines = [with_alternative(get_task(task), problems[task]) if get_task(task).hub_id else problems[task]
                 for task in sorted(problems)]
    else:
        lines = [*brief_cause_lines(problems, width=LINE_WIDTH - 2), "(each task with its whole cause and what to load instead: "
                 "`adapterlib plan --verbose`)"]
    return "\n".join([f"{len(problems)} dataset(s) unreachable:", *(f"  {line}" for line in lines)])


def prepare_offline_data(profile: Profile) -> None:
    """Build the offline tasks of ``profile``'s suites (cached: at most once). A source its registry refuses is
    reported in one line; its tasks are then left out of the runs (``Profile.missing_tasks``), the others run."""
    offline = [task.name for suite in sorted(set(profile.suites.values())) if suite.endswith("_offline")
               for task in list_tasks(suite)]
    if offline:
        try:
            prepare(tasks=offline)
        except SourceUnavailable as err:
            print(f"adapterlib: {err}", file=sys.stderr)


def fill(profile: Profile, only: Sequence[str] | None = None, *, keep_weights: bool = False, workers: int = 1) -> int:
    """Train every to-do run of the plan (see the module docstring); returns how many were trained. ``workers`` > 1
    trains each round's runs that many at a time, each in a process of its own (``runner.workers``)."""
    from adapterlib.runner.loop import process_state
    from adapterlib.runner.workers import check_workers, train_at_once

    state, store, trained = process_state(), profile.store(), 0
    if check_workers(workers) > 1 and state.num_processes > 1:
        raise ValueError(f"fill --workers {workers} under a launcher: each run already takes all its processes")
    with state.main_process_first():  # the data cache is built once, then read by the other processes
        prepare_offline_data(profile)
    while True:
        plans = make_plan(profile, only, keep_weights=keep_weights)
        problem = missing_report(plans)
        if problem:
            raise ValueError(problem)
        pending = list({run.config.run_id: run for plan in plans for run in plan.todo}.values())
        ready = [run for run in pending if not run.provisional
                 and all(store.get(need) is not None for need in run.needs)]
        if not ready:
            if pending and state.is_main_process:
                print(f"fill: {len(pending)} runs left that wait on runs not in the store", file=sys.stderr)
            return trained
        # built once, then read by the other processes: whole datasets (a run's caps subsample what it loads)
        with state.main_process_first():
            for task in sorted({task for run in ready for task in run_tasks(run.config)}):
                load_task(task)
        if workers > 1:
            trained += train_at_once(store, [run.config for run in ready], workers, keep_weights=keep_weights)
        for run in ready if workers == 1 else ():
            store.run(run.config, keep_weights=keep_weights, progress=state.is_main_process)
            trained += 1


def add_plan_commands(subparsers: argparse._SubParsersAction) -> None:
    for name, help_text in (("plan", "list the runs, GPU-hours, disk and datasets every notebook needs"),
                            ("fill", "train the plan's to-do runs into the run store (accelerate launch-able)")):
        p = subparsers.add_parser(name, help=help_text)
        p.add_argument("--profile", default="cpu", choices=tuple(PROFILES))
        p.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="a subset of the notebooks (default: all)")
        p.add_argument("--runs-dir", type=Path, help="parent of the run store runs/<profile>/ (default: ./runs, "
                       "or $ADAPTERLIB_RUNS)")
        p.add_argument("--overrides", type=profile_overrides, default={}, metavar="JSON",
                       help="Profile fields over the profile's, as JSON or @file.json (as for reproduce)")
        p.add_argument("--keep-weights", action="store_true",
                       help="also keep the weights of full, top-k, LayerNorm and head runs (no study reads them)")
        if name == "fill":
            p.add_argument("--workers", type=int, default=1, help="runs at once, each in a process of cores/N threads")
        if name == "plan":
            p.add_argument("--verbose", action="store_true", help="every unreachable dataset on its own line, with "
                           "its whole cause and the offline task to load in its place; each task's sequence length "
                           "and the share of its examples truncated there")
            p.add_argument("--markdown", action="store_true", help="print every run of the plan, done or not, as "
                           "the Markdown table the docs carry (and nothing else)")
            p.add_argument("--gflops", type=float, metavar="RATE", help="also the training minutes of the runs to "
                           "do at RATE GFLOP/s (2 cores with native bf16 here: 376, docs/BUDGET.md)")
        p.set_defaults(func=_plan_command if name == "plan" else _fill_command)


def _plan_command(args: argparse.Namespace) -> int:
    profile = get_profile(args.profile, **args.overrides)
    with pinned_output_dirs(runs=args.runs_dir):
        plans = make_plan(profile, args.only, keep_weights=args.keep_weights)
    if args.markdown:
        print(plan_table(plans))
        return 0
    print(format_plan(profile, plans, verbose=args.verbose))
    if args.gflops:
        from adapterlib.studies.machine import training_minutes

        print(training_minutes(plans, args.gflops))
    problem = missing_report(plans, verbose=args.verbose)
    if problem:
        print(f"adapterlib: error: {problem}", file=sys.stderr)
        return 1
    return 0


def _fill_command(args: argparse.Namespace) -> int:
    with pinned_output_dirs(runs=args.runs_dir):
        trained = fill(get_profile(args.profile, **args.overrides), args.only, keep_weights=args.keep_weights,
                       workers=args.workers)
    print(f"fill: {trained} runs trained", file=sys.stderr)
    return 0
