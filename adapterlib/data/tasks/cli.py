"""`adapterlib data list | prepare | check [--suite NAME] [--data-dir DIR]`.

The top-level CLI calls `add_data_commands(subparsers)`; each leaf parser sets `func(args) -> int`.
"""
from __future__ import annotations

import argparse
import sys

from adapterlib.data.tasks import check_task, list_tasks, prepare, task_meta
from adapterlib.data.tasks.local import local_dir, local_files
from adapterlib.data.tasks.registry import SUITES, Task, TaskError
from adapterlib.paths import DATA_ENV


def sizes(task: Task, data_dir: str | None = None) -> str:
    """Split sizes of a prepared offline task; "not prepared" / "hub[@revision]" / "local <dir> (absent)" else."""
    if task.local_only:
        where = local_dir(task, data_dir)
        return f"local {where}/" + ("" if "train" in local_files(where) else " (absent)")
    if not task.offline:
        return "hub" + (f"@{task.hub_revision}" if task.hub_revision else "")
    meta = task_meta(task.name)
    if meta is None:
        return "not prepared"
    return " ".join(f"{split}={n}" for split, n in meta["sizes"].items())


def cmd_list(args: argparse.Namespace) -> int:
    suites = [args.suite] if args.suite else SUITES
    for suite in suites:
        print(f"\n[{suite}]")
        for t in list_tasks(suite):
            role = f"~ {t.stands_in_for or '(no stand-in)'}" if t.offline else f"= {t.paper_name}"
            print(f"  {t.name:<24} {role:<38} {t.format:<15} {t.metric:<9} {sizes(t, args.data_dir)}")
            print(f"  {'':<24} source: {t.source} | licence: {t.licence}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    try:
        prepare(args.suite, data_dir=args.data_dir)
    except TaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """One line per task that cannot be loaded; exit status 1 if there is any."""
    suites = [args.suite] if args.suite else SUITES
    problems = [p for s in suites for t in list_tasks(s) if (p := check_task(t.name, args.data_dir))]
    for line in dict.fromkeys(problems):
        print(line)
    print(f"{len(set(problems))} task(s) cannot be loaded" if problems else "every task can be loaded",
          file=sys.stderr)
    return 1 if problems else 0


def add_data_commands(subparsers) -> argparse.ArgumentParser:
    data = subparsers.add_parser("data", help="list, prepare and check the task suites")
    sub = data.add_subparsers(dest="data_command", required=True)
    ls = sub.add_parser("list", help="every task: suite, stand-in, format, metric, split sizes, source, licence")
    ls.add_argument("--suite", choices=SUITES)
    ls.set_defaults(func=cmd_list)
    prep = sub.add_parser("prepare", help="download, check and build the offline suites (idempotent)")
    prep.add_argument("--suite", choices=SUITES, help="default: every offline suite")
    prep.set_defaults(func=cmd_prepare)
    check = sub.add_parser("check", help="say, without downloading data, which tasks cannot be loaded and why")
    check.add_argument("--suite", choices=SUITES, help="default: every suite")
    check.set_defaults(func=cmd_check)
    for command in (ls, prep, check):
        command.add_argument("--data-dir", help=f"folder of the local copies <DIR>/<task>/ of the paper tasks that "
                                                f"are not on the hub (default: ${DATA_ENV}, else ./data)")
    return data
