"""The `adapterlib` command: `adapterlib data list|prepare`, `adapterlib plan`, `adapterlib fill`,
`adapterlib reproduce`, `adapterlib grid`, `adapterlib export` (a run as AdapterHub `adapters` or peft files).

`adapterlib grid` fills the run store with one of a profile's grids outside the notebooks, e.g. on several GPUs:
``accelerate launch --multi_gpu -m adapterlib.cli grid --profile paper --grid houlsby_glue --role glue
--regime full adapters``; the notebooks then find those runs done and only tabulate them. `adapterlib fill` does the same for every run the
notebooks need (single, top-k, MT-A, fusion), as `adapterlib plan` lists them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapterlib.paths import pinned_output_dirs


def main(argv: list[str] | None = None) -> int:
    try:
        from adapterlib.export import add_export_command
        from adapterlib.plan import add_plan_commands
        from adapterlib.reproduce import add_reproduce_command
    except ModuleNotFoundError as err:  # a core-only install: the commands are the reproduction's
        print(f"adapterlib: error: {err}: the commands need the reproduction extra, "
              f"pip install 'adapterlib[reproduce]'", file=sys.stderr)
        return 2
    from adapterlib.data.tasks.cli import add_data_commands

    parser = argparse.ArgumentParser(prog="adapterlib", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_data_commands(subparsers)
    add_plan_commands(subparsers)
    add_reproduce_command(subparsers)
    add_grid_command(subparsers)
    add_export_command(subparsers)
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, RuntimeError) as err:  # our own clear errors: one line, no traceback
        print(f"adapterlib: error: {err}", file=sys.stderr)
        return 2


def add_grid_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("grid", help="run one of a profile's grids into its run store (accelerate launch-able)")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--grid", required=True, help="a grid name of the profile (see adapterlib/runner/profiles.py)")
    p.add_argument("--role", required=True, help="which suite: glue, additional, squad or fusion")
    p.add_argument("--regime", nargs="+", default=["adapters"], help="regimes to run (default: adapters)")
    p.add_argument("--tasks", nargs="+", help="a subset of the role's tasks (default: all of the profile's)")
    p.add_argument("--runs-dir", type=Path, help="parent of the run store runs/<profile>/ (default: ./runs, or "
                   "$ADAPTERLIB_RUNS)")
    p.set_defaults(func=_run_grid)


def _run_grid(args: argparse.Namespace) -> int:
    from adapterlib.runner.grid import run_grid
    from adapterlib.runner.profiles import get_profile
    from adapterlib.runner.loop import process_state

    profile = get_profile(args.profile)
    configs = profile.configs(args.grid, args.tasks or profile.task_names(args.role), role=args.role,
                              regime=args.regime)
    with pinned_output_dirs(runs=args.runs_dir):
        report = run_grid(configs, profile.store(), progress=process_state().is_main_process)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
