"""`adapterlib reproduce`: run every notebook through papermill for one profile, in dependency order, then write
``SUMMARY.md``.

Executed copies go to ``results/<profile>/``; the notebooks write their own CSVs, figures and claim records there.
The plan (``adapterlib.plan``) is printed first; an unreachable dataset the runs need stops the run there, before
anything trains. A task the profile leaves out (an offline task whose pinned source its registry refused, a local-only
task without its folder) costs only itself: every notebook runs on the other tasks, its claims resting on a left-out
task are *not measured: data not available*, ``run_info.json`` and ``SUMMARY.md`` list the left-out tasks and why, and
the run ends with a line saying it is incomplete and exit status ``INCOMPLETE`` (3; 0 when complete). Runs are
shared through the run store (``runs/<profile>/``), so a rerun, or a rerun after an interruption (or after a copy of a
refused file was put where its line says), only trains what is missing; ``run_info.json`` records the git revision,
package versions and each notebook's wall time. On a CPU-only machine the runs are first trained two at a time, one
thread each (``--workers``, ``runner.workers``: about 1.2x sooner on 2 cores), and the notebooks read them.
``notebooks/``, ``results/`` and ``runs/`` are under the project root (the working directory), see ``paths``.

The notebooks run in the project's Jupyter kernel, ``adapterlib`` (``make setup`` registers it in the virtualenv;
without it the command stops in one line saying how to register it), with progress in log mode
(``adapterlib.progress``: a line per finished run, nothing that redraws), each cell's stream outputs merged into
one, and the executed copy's papermill paths relative to the project root: no path of this machine in it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from adapterlib import progress
from adapterlib.paths import notebooks_root, pinned_output_dirs, project_root, results_root
from adapterlib.runner.profiles import PROFILES, Profile, get_profile, profile_overrides
from adapterlib.reporting.outputs import results_dir
from adapterlib.reporting.predictions import save_predictions
from adapterlib.reporting.summary import read_run_info, write_run_info, write_summary
from adapterlib.runner.workers import check_workers, cpu_cores, default_workers

if TYPE_CHECKING:
    from adapterlib.plan import NotebookPlan

INCOMPLETE = 3  # exit status of a run that left tasks out (0: complete; 2: stopped by an error)
KERNEL = "adapterlib"  # the project's kernel, named in every notebook's kernelspec
KERNEL_DISPLAY = "adapterlib (.venv)"


class Reproduction(NamedTuple):
    """What ``run_notebooks`` did: the executed copies, and the tasks their studies left out (task -> why)."""

    notebooks: list[Path]
    left_out: dict[str, str]

    @property
    def complete(self) -> bool:
        return not self.left_out


def notebooks() -> list[str]:
    """Every study's notebook, each after the studies whose runs it reads (``studies.base.order`` over the
    registry: the order is declared by the studies, not kept here)."""
    from adapterlib.studies import STUDIES, order

    return [study.name for study in order(STUDIES.values())]


def run_notebooks(
    profile: str, only: list[str] | None = None, *, kernel: str = KERNEL, notebooks_dir: str | Path | None = None,
    results: str | Path | None = None, runs: str | Path | None = None, overrides: dict[str, Any] | None = None,
    workers: int = 1,
) -> Reproduction:
    """Execute the notebooks (all, or ``only``) of ``notebooks_dir`` with ``profile``, record run information,
    write SUMMARY.md and return the executed copies with the tasks left out. ``results``/``runs`` move the results
    and the run store (for this call and its kernels). ``overrides``: Profile fields every notebook applies
    (``get_profile``), checked here first. Offline profiles build their task data first (cached, so at most once).
    ``workers`` > 1: the runs are trained that many at a time before the notebooks (``_fill_first``)."""
    names = notebooks()
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; available: {', '.join(names)}")
    get_profile(profile, **(overrides or {}))  # a bad profile or override fails here, before anything runs
    check_workers(workers)
    check_kernel(kernel)
    source = Path(notebooks_dir or notebooks_root()).resolve()
    selected = [n for n in names if not only or n in only]
    missing = [n for n in selected if not (source / f"{n}.ipynb").is_file()]
    if missing:
        raise ValueError(f"{source} has no notebook {', '.join(missing)}: run from the project directory or pass "
                         f"--notebooks-dir")
    with pinned_output_dirs(results, runs):
        return _execute(profile, selected, source, kernel, partial=bool(only), overrides=overrides or {},
                        workers=workers)


def check_kernel(name: str) -> dict[str, str]:
    """The kernelspec metadata of the Jupyter kernel ``name``. Stops in one line if none is registered (saying how
    to register it); notes in one line a kernel that runs another Python than this one (the notebooks would then
    import another adapterlib)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        display = KERNEL_DISPLAY if name == KERNEL else name
        raise ValueError(f"no Jupyter kernel named {name!r} is registered: `make setup` registers it, or run "
                         f"`{sys.executable} -m ipykernel install --sys-prefix --name {name} --display-name "
                         f"\"{display}\"`") from None
    python = spec.argv[0] if spec.argv else ""
    if os.path.isabs(python) and os.path.abspath(python) != os.path.abspath(sys.executable):
        print(f"adapterlib: note: kernel {name!r} runs {python}, not this Python ({sys.executable})", file=sys.stderr)
    return {"display_name": spec.display_name, "language": spec.language, "name": name}


def shown_path(path: Path, outside: Path) -> str:
    """``path`` as a committed file may name it: relative to the project root, or, outside the project, to
    ``outside`` (e.g. ``results/smoke/x.ipynb`` for results moved elsewhere)."""
    path = Path(path).resolve()
    for base in (project_root(), Path(outside).resolve()):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.name


def portable_metadata(executed: Path, notebook: Path, kernelspec: dict[str, str] | None = None) -> None:
    """Make the executed copy's papermill ``input_path``/``output_path`` relative (``shown_path``): papermill
    records the absolute paths it was given. ``kernelspec``: the kernel it ran in, recorded as its kernelspec."""
    if not executed.is_file():
        return
    nb = json.loads(executed.read_text(encoding="utf-8"))
    if kernelspec:
        nb.setdefault("metadata", {})["kernelspec"] = kernelspec
    papermill_meta = nb.setdefault("metadata", {}).setdefault("papermill", {})
    papermill_meta["input_path"] = shown_path(notebook, notebook.parent.parent)
    papermill_meta["output_path"] = shown_path(executed, results_root().parent)
    text = json.dumps(nb, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)  # as nbformat writes
    executed.write_text(text + "\n", encoding="utf-8")


def _fill_first(profile: Profile, selected: list[str], workers: int) -> dict[str, Any] | None:
    """With ``workers`` > 1, train the notebooks' runs that many at a time before the first notebook starts
    (``plan.fill``, ``runner.workers``); the notebooks then read them from the run store. Returns what the run
    information records of it (workers, runs, seconds), or None with one worker: the notebooks train their runs."""
    from adapterlib.plan import fill

    if workers == 1:
        return None
    start = time.perf_counter()
    trained = fill(profile, selected, workers=workers)
    seconds = round(time.perf_counter() - start, 1)
    progress.echo(f"fill: {trained} runs in {seconds / 60:.1f} min, {workers} at once")
    return {"workers": workers, "runs": trained, "seconds": seconds}


def _execute(profile: str, selected: list[str], source: Path, kernel: str, *, partial: bool,
             overrides: dict[str, Any], workers: int = 1) -> Reproduction:
    import papermill

    from adapterlib.data.tasks.check import by_cause
    from adapterlib.plan import prepare_offline_data
    from adapterlib.runner.store import environment

    chosen = get_profile(profile, **overrides)
    prepare_offline_data(chosen)
    plans = check_plan(profile, selected, overrides or {})
    left_out = {task: why for plan in plans for task, why in plan.left_out.items()}
    out_dir = results_dir(profile)
    info = read_run_info(profile)
    times = info.get("notebooks", {}) if partial else {}
    recorded = {**info.get("left_out", {}), **left_out} if partial else left_out  # as the notebooks not rerun had it
    written = []
    kernelspec = check_kernel(kernel)
    filled = _fill_first(chosen, selected, workers)
    each = progress.iterate(selected, desc=f"notebooks ({profile})", unit="nb")  # in this process's mode
    saved_env = {key: os.environ.get(key) for key in progress.kernel_environment()}
    os.environ.update(progress.kernel_environment())  # the kernels started below inherit it
    try:
        for name in each:
            start = time.perf_counter()
            notebook, out = source / f"{name}.ipynb", out_dir / f"{name}.ipynb"
            try:
                parameters = {"profile": profile, **({"overrides": overrides} if overrides else {})}
                papermill.execute_notebook(str(notebook), str(out), parameters=parameters, cwd=str(source),
                                           kernel_name=kernel, progress_bar=False, coalesce_streams=True)
            except papermill.PapermillExecutionError as err:
                raise RuntimeError(f"notebook {name} failed in cell {err.exec_count}: {err.ename}: {err.evalue} "
                                   f"(executed copy with the traceback: {out}; finished runs are kept, rerun to "
                                   f"resume)") from None
            finally:
                portable_metadata(out, notebook, kernelspec)
            times[name] = round(time.perf_counter() - start, 1)
            progress.echo(f"{name}: {times[name]:.0f} s -> {shown_path(out, results_root().parent)}")
            written.append(out)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    env = environment()
    write_run_info(profile, {"profile": profile, **({"overrides": overrides} if overrides else {}), "git_revision": env["git_revision"], "versions": env["versions"],
                             "machine": f"{platform.machine()}, {cpu_cores()} CPUs, {platform.system()}",
                             "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                             **({"fill": filled} if filled else {}),
                             "notebooks": {n: times[n] for n in notebooks() if n in times},
                             **({"left_out": recorded} if recorded else {})})
    summary = write_summary(profile)
    predictions = save_predictions(profile)  # so intervals can be recomputed from the results without training
    fill_text = f"{filled['runs']} runs filled in {filled['seconds'] / 60:.1f} min, " if filled else ""
    print(f"{fill_text}{len(written)} notebooks in {sum(times[n] for n in selected) / 60:.1f} min; summary: {summary}; "
          f"predictions: {predictions}")
    if left_out:  # the last line, so that a log's tail says it
        print(f"adapterlib: incomplete run: {len(left_out)} task(s) left out, their claims not measured "
              f"(exit status {INCOMPLETE}): {by_cause(left_out)}", flush=True)
    return Reproduction(written, left_out)


def check_plan(profile: str, selected: list[str], overrides: dict[str, Any]) -> list[NotebookPlan]:
    """Print the plan of the ``selected`` notebooks and return it; stop, before anything trains, if a dataset their
    runs need is unreachable (a task the profile leaves out has no runs: the plan lists it as left out)."""
    from adapterlib.plan import format_plan, make_plan, missing_report

    chosen = get_profile(profile, **overrides)
    plans = make_plan(chosen, selected)
    print(format_plan(chosen, plans))
    problem = missing_report(plans)
    if problem:
        raise ValueError(f"nothing was trained: {problem}")
    return plans


def add_reproduce_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("reproduce", help="run every notebook for a profile (default: cpu), then SUMMARY.md")
    p.add_argument("--profile", default="cpu", choices=tuple(PROFILES))
    p.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="a subset of the notebooks (default: all, in dependency order)")
    p.add_argument("--notebooks-dir", type=Path, help="where the notebooks are (default: ./notebooks)")
    p.add_argument("--results-dir", type=Path,
                   help="parent of results/<profile>/ (default: ./results, or $ADAPTERLIB_RESULTS)")
    p.add_argument("--runs-dir", type=Path,
                   help="parent of the run store runs/<profile>/ (default: ./runs, or $ADAPTERLIB_RUNS)")
    p.add_argument("--overrides", type=profile_overrides, metavar="JSON",
                   help='Profile fields over the profile\'s, as JSON or @file.json, e.g. \'{"max_train": 1000}\' '
                        '(grids merge key by key: \'{"grids": {"squad": {"epochs": [1]}}}\')')
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="runs trained at once before the notebooks, each in a process of cores/N threads (default: "
                        "2 on a CPU-only machine of 2 or more cores, else 1: the notebooks train their runs)")
    p.set_defaults(func=_reproduce_command)


def _reproduce_command(args: argparse.Namespace) -> int:
    """0 for a complete run, ``INCOMPLETE`` where tasks were left out (errors: 2, from ``cli.main``)."""
    done = run_notebooks(args.profile, args.only, notebooks_dir=args.notebooks_dir, results=args.results_dir,
                         runs=args.runs_dir, overrides=args.overrides, workers=args.workers)
    return 0 if done.complete else INCOMPLETE

