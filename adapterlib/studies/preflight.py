"""The first cell of a study's notebook (``common.setup(profile, study)``): what the notebook will run, and a stop
in one line when the data it needs is missing, before anything trains.

From the plan (``adapterlib.plan.make_plan`` for the one notebook): its tasks, its runs (how many are already in the
run store, how many it will train), and the time those will take *on this machine*. The plan's time is GPU-hours
on a reference GPU, computed from training FLOPs (``adapterlib.costs``); here those FLOPs are divided by the rate
this machine reached (``machine.machine_rate``: on the runs it recorded in the profile's run store, or, before it
recorded any, a short matrix-multiply probe).

A dataset the runs need that cannot be loaded here (an offline task not prepared, the hub out of reach, a local
copy missing) stops the notebook with ``DataMissing``, which IPython and papermill render as its one line (its
``_render_traceback_``) naming what is missing and the command that fixes it. Tasks the profile leaves out (a
source its registry refused, ``Profile.missing_tasks``) have no runs: they are named and the notebook goes on,
their claims *not measured* (``studies.base.mark_left_out``).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from adapterlib.runner.profiles import Profile
from adapterlib.studies.machine import emulated_bf16, machine_rate, training_flops

FIX = "`adapterlib data prepare` (or `make data`)"


class NotReady(RuntimeError):
    """Something a notebook needs is not on this machine. In a notebook (IPython, papermill) it shows as its one
    line, no traceback: what is missing and the command that fixes it."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class DataMissing(NotReady):
    """A dataset the notebook's runs (or its measurements) read cannot be loaded here."""


class PeersMissing(NotReady):
    """The benchmarks notebook is to time the peer libraries, whose virtualenv is not made (``make peers``)."""


@dataclass
class Preflight:
    """What one notebook will do at one profile: ``minutes`` None where no estimate can be made (runs on tasks of
    unknown training size only); ``basis``: where the minutes come from; ``problem``: the one line of missing data."""

    study: str
    profile: str
    tasks: list[str]
    runs: int
    done: int
    todo: int
    provisional: int
    untimed: int
    gpu_hours: float
    minutes: float | None
    basis: str
    left_out: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    slow_precision: str | None = None

    def text(self) -> str:
        """A few short lines for the notebook's first cell."""
        from adapterlib.costs import REFERENCE_GPU
        from adapterlib.data.tasks.check import by_cause

        lines = [f"plan of {self.study} at profile {self.profile!r} (adapterlib plan --profile {self.profile} "
                 f"--only {self.study})"]
        lines.append("  tasks: " + (", ".join(self.tasks) if self.tasks else "none from the task suites"))
        if not self.runs:
            lines.append("  runs: none in the run store (this notebook measures, it trains nothing there)"
                         + (f"; {self.basis}" if self.basis else ""))
        else:
            extra = f", {self.provisional} of them only if earlier runs decide" if self.provisional else ""
            lines.append(f"  runs: {self.runs}: {self.done} already in the run store, {self.todo} to train{extra}")
            if self.todo:
                unknown = f" (+{self.untimed} runs of unknown size)" if self.untimed else ""
                estimate = "unknown" if self.minutes is None else _minutes(self.minutes)
                lines.append(f"  time: {estimate} on this machine{unknown} ({self.basis}); "
                             f"{_duration(self.gpu_hours * 3600)} on one {REFERENCE_GPU}")
        if self.slow_precision:
            lines.append(f"  note: {self.slow_precision}")
        if self.left_out:
            lines.append(f"  left out ({len(self.left_out)}, not run; the claims resting on them are not measured): "
                         + tidy_paths(by_cause(self.left_out, brief=True)))
        return "\n".join(lines)  # a missing dataset is the one line of the DataMissing raised after it


def recorded_time(profile: str, study: str) -> str:
    """How long ``study``'s notebook took in the last reproduction recorded for ``profile`` (its run_info.json),
    or "" if none is recorded."""
    from adapterlib.paths import results_root
    from adapterlib.reporting.summary import RUN_INFO

    path = results_root() / profile / RUN_INFO  # read where it is, creating no results folder
    info = json.loads(path.read_text()) if path.is_file() else {}
    seconds = info.get("notebooks", {}).get(study)
    if seconds is None:
        return ""
    machine = f" on {info['machine']}" if info.get("machine") else ""
    return f"{_minutes(seconds / 60)} in the last recorded reproduction{machine} (results/{profile}/run_info.json)"


def check_benchmarks(profile: str, peers: bool | None = None, out: TextIO | None = None) -> None:
    """The benchmarks notebook's first cell: what it measures, and a one-line stop (``PeersMissing``) when it is
    to time the peer libraries (``peers``; None: every profile but smoke, as ``benchmarks/bench.py``) and their
    virtualenv is not made."""
    from adapterlib.paths import project_root

    peers = profile != "smoke" if peers is None else peers
    when = recorded_time(profile, "benchmarks")
    lines = [f"plan of benchmarks at profile {profile!r}",
             "  tasks: none (timed on fixed random token batches)",
             "  runs: none in the run store (training and inference steps are timed, ours"
             + (" beside the peer libraries `adapters` and `peft`)" if peers else " alone)"),
             f"  time: {when or 'not recorded yet for this profile'}"]
    print("\n".join(lines), file=out or sys.stdout, flush=True)
    if peers and not (project_root() / "benchmarks" / ".venv-peers" / ".installed").is_file():  # bench.peers_ready
        raise PeersMissing("benchmarks stopped before measuring: the peer libraries' virtualenv "
                           "benchmarks/.venv-peers is not made: run `make peers`, or set peers = False to time "
                           "ours alone")


def _minutes(minutes: float) -> str:
    return "under a minute" if minutes < 1 else f"about {minutes:.0f} min" if minutes < 90 else \
        f"about {minutes / 60:.1f} h"


def _duration(seconds: float) -> str:
    return f"{seconds:.2g} s" if seconds < 60 else f"{seconds / 60:.0f} min" if seconds < 5400 else \
        f"{seconds / 3600:.1f} h"


def tidy_paths(text: str) -> str:
    """``text`` with the project root written as a relative path and the home directory as ``~``, so a notebook's
    output names no absolute path of the machine it ran on."""
    from adapterlib.paths import project_root

    root, home = str(project_root()), str(Path.home())
    text = text.replace(root + os.sep, "").replace(root, ".")
    return text.replace(home + os.sep, "~" + os.sep) if len(home) > 1 else text


def preflight(profile: Profile, study: str) -> Preflight:
    """The plan of ``study``'s notebook at ``profile`` (see the module docstring); reads the store, trains nothing."""
    from adapterlib.data.tasks import check_task
    from adapterlib.plan import make_plan, missing_line, run_tasks

    (plan,) = make_plan(profile, [study])
    todo = plan.todo
    flops = [training_flops(run.config, plan.costs[run.config.run_id].gpu_hours) for run in todo]
    timed = [f for f in flops if f is not None]
    minutes, basis = None, ""
    slow = None
    if timed:
        rate, basis = machine_rate(profile, todo[0].config.precision)
        minutes = sum(timed) / rate / 60
        slow = emulated_bf16(todo[0].config.precision)
    problems, extra = dict(plan.problems), reads(study)
    for task in extra:
        why = None if task in problems else check_task(task)
        if why:
            problems[task] = why
    problem = missing_line([replace(plan, problems=problems)])
    if not plan.runs and not basis:
        basis = recorded_time(profile.name, study)
    return Preflight(study=study, profile=profile.name,
                     tasks=sorted({task for run in plan.runs for task in run_tasks(run.config)} | set(extra)),
                     runs=len(plan.runs), done=len(plan.done), todo=len(todo),
                     provisional=sum(run.provisional for run in todo), untimed=len(flops) - len(timed),
                     gpu_hours=plan.gpu_hours, minutes=minutes, basis=basis, left_out=dict(plan.left_out),
                     problem=None if problem is None else stop_line(problem, problems), slow_precision=slow)


def reads(study: str) -> list[str]:
    """Tasks ``study``'s notebook reads outside its runs (Fusion cost times batches of one task's real text)."""
    if study == "fusion_cost":
        from adapterlib.studies.fusion.cost import TASK

        return [TASK]
    return []


def stop_line(problem: str, problems: dict[str, str]) -> str:
    """The one line a notebook stops with: what is missing and the command that fixes it (the checks name their
    command for an offline task not prepared; otherwise ``adapterlib data prepare --suite ...`` is added)."""
    from adapterlib.data.tasks import get_task

    line = " ".join(tidy_paths(problem).split())  # one line, whatever the causes' text holds
    tasks = [get_task(task) for task in problems]
    suites = sorted({task.suite for task in tasks})
    if "`" not in line:
        line += (f"; fix: `adapterlib data prepare --suite {suites[0]}` where the data can be reached"
                 if len(suites) == 1 else f"; fix: {FIX} where the data can be reached")
    elif all(task.offline for task in tasks):
        line += " (or `make data`)"
    return f"stopped before training: {line}"


def check(profile: Profile, study: str, out: TextIO | None = None) -> Preflight:
    """Print ``study``'s plan (``Preflight.text``) and raise ``DataMissing`` with its one line if data is missing."""
    found = preflight(profile, study)
    print(found.text(), file=out or sys.stdout, flush=True)
    if found.problem:
        raise DataMissing(found.problem)
    return found
