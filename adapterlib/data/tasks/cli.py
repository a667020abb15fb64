"""`adapterlib data list | prepare | check [--suite NAME] [--data-dir DIR]`.

The top-level CLI calls `add_data_commands(subparsers)`; each leaf parser sets `func(args) -> int`.
"""
from __future__ import annotations

import argparse
import sys

from adapterlib.data.tasks import check_task, list_tasks, prepare, task_meta, truncated_share
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


def role(task: Task) -> str:
    """What a table row of ``task`` is: the paper task itself ("="), a look-alike in its slot ("~"), or neither."""
    if not task.offline:
        return f"= {task.paper_name}"
    if task.own_data:
        return f"= {task.paper_name} (the paper's own data)"
    return f"~ {task.stands_in_for} (stand-in)" if task.stands_in_for else "~ (no paper task)"


def lengths(task: Task, profile_length: int = 128) -> str | None:
    """Token lengths of a prepared offline task and the share truncated at the length its runs use."""
    meta = task_meta(task.name) if task.offline else None
    measured = (meta or {}).get("token_lengths")
    if not measured:
        return None
    length = max(profile_length, task.max_length or 0)
    own, default = truncated_share(task, length), truncated_share(task, profile_length)
    at = f"{100 * own[0]:.1f}% truncated at {length}" if own else ""
    if length != profile_length and default:
        at += f" (the task's own length; {100 * default[0]:.1f}% at {profile_length})"
    return f"tokens: median {measured['p50']}, 95th percentile {measured['p95']}; {at}"


def cmd_list(args: argparse.Namespace) -> int:
    suites = [args.suite] if args.suite else SUITES
    for suite in suites:
        tasks = list_tasks(suite)
        own = sum(t.own_data for t in tasks)
        print(f"\n[{suite}] {len(tasks)} tasks" + (f", {own} of them the paper's own data" if own else ""))
        for t in tasks:
            print(f"  {t.name:<24} {role(t):<44} {t.format:<15} {t.metric:<9} {sizes(t, args.data_dir)}")
            for line in (f"split: {t.split}" if t.split else None, lengths(t),
                         f"source: {t.source} | licence: {t.licence}"):
                if line:
                    print(f"  {'':<24} {line}")
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
