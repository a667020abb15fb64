"""`adapterlib data list` and `adapterlib data prepare [--suite NAME]`.

The top-level CLI calls `add_data_commands(subparsers)`; each leaf parser sets `func(args) -> int`.
"""
from __future__ import annotations

import argparse
import sys

from adapterlib.data.tasks import list_tasks, prepare, task_meta
from adapterlib.data.tasks.registry import SUITES, TaskError


def sizes(task) -> str:
    """Split sizes of a prepared offline task; "not prepared" / "hub" / "local path" otherwise."""
    if not task.offline:
        return "local path" if task.local_only else "hub"
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
            print(f"  {t.name:<24} {role:<38} {t.format:<15} {t.metric:<9} {sizes(t)}")
            print(f"  {'':<24} source: {t.source} | licence: {t.licence}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    try:
        prepare(args.suite)
    except TaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def add_data_commands(subparsers) -> argparse.ArgumentParser:
    data = subparsers.add_parser("data", help="list and prepare the task suites")
    sub = data.add_subparsers(dest="data_command", required=True)
    ls = sub.add_parser("list", help="every task: suite, stand-in, format, metric, split sizes, source, licence")
    ls.add_argument("--suite", choices=SUITES)
    ls.set_defaults(func=cmd_list)
    prep = sub.add_parser("prepare", help="download, check and build the offline suites (idempotent)")
    prep.add_argument("--suite", choices=SUITES, help="default: every offline suite")
    prep.set_defaults(func=cmd_prepare)
    return data
