"""Task suites of Houlsby et al. 2019 and AdapterFusion (hub), and real offline stand-ins (registry packages).

    from adapterlib.data.tasks import list_tasks, load_task
    for task in list_tasks("glue_offline"):
        dd = load_task(task.name, max_train=2000)   # DatasetDict: train / validation / test (+ extra test splits)

Offline tasks are built once into $ADAPTERLIB_CACHE/tasks/<name> (`prepare`), then load from arrow in well
under a second. Paper tasks go through `datasets.load_dataset` (script repos from their parquet export) and fail
with a one-line TaskError naming the cause; the paper tasks that are not on the hub are read from
`<data dir>/<name>/` (docs/TASKS.md). `check_task` says whether a task will load without loading it. Only the
loaders import `datasets` (a reproduction extra), so the registry works without it.
"""
from __future__ import annotations

import json
import random
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from adapterlib.data.tasks.check import available_tasks, check_task
from adapterlib.data.tasks.registry import OFFLINE_SUITES, PAPER_SUITES, SUITES, Task, TaskError, get_task, list_tasks
from adapterlib.data.tasks import sources
from adapterlib.data.tasks.sources import SourceUnavailable, cache_dir

__all__ = ["Task", "TaskError", "SourceUnavailable", "get_task", "list_tasks", "load_task", "prepare", "task_meta",
           "truncated_share", "truncation_text", "check_task", "available_tasks", "SUITES", "OFFLINE_SUITES",
           "PAPER_SUITES"]

if TYPE_CHECKING:
    import datasets


def task_dir(name: str) -> Path:
    return cache_dir() / "tasks" / name


def task_meta(name: str) -> dict | None:
    """Build record of a prepared offline task (sizes, drops, label counts), or None if not prepared."""
    from adapterlib.data.tasks.offline import BUILD_VERSION

    path = task_dir(name) / "meta.json"
    if not path.exists():
        return None
    meta = json.loads(path.read_text())
    return meta if meta.get("build_version") == BUILD_VERSION else None


def truncated_share(task: Task, length: int) -> tuple[float, str] | None:
    """(the share of ``task``'s examples longer than ``length`` tokens, which encoding truncates; the offline task it
    was measured on), or None where no build here measured it. A hub task is measured on its registry copy, the same
    data in the same splits (``Task.offline_copy``), unless the copy's inputs have another form (``Task.copy_form``);
    a build measures only ``offline.MEASURED_LENGTHS``."""
    measured_on = _measured_on(task)
    meta = task_meta(measured_on) if measured_on else None
    shares = ((meta or {}).get("token_lengths") or {}).get("truncated_share", {})
    return (shares[str(length)], measured_on) if str(length) in shares else None


def truncation_text(task: Task, length: int) -> str:
    """What truncating ``task``'s inputs at ``length`` tokens costs, for a person choosing or checking a length: the
    measured share of examples cut, or why it is not known here (never a guess)."""
    from adapterlib.data.tasks.offline import MEASURED_LENGTHS

    if task.format == "span_qa":
        return "none truncated: a longer context is read in overlapping windows (doc stride)"
    measured = truncated_share(task, length)
    if measured is not None:
        share, measured_on = measured
        return f"{100 * share:.1f}% truncated" + ("" if measured_on == task.name else
                                                   f" (measured on its registry copy {measured_on})")
    measured_on = _measured_on(task)
    if measured_on is None:
        return "not measured offline" + (f" (its registry copy {task.offline_copy} has another form: "
                                         f"{task.copy_form})" if task.copy_form else "")
    if task_meta(measured_on) is None:
        return f"not measured: {measured_on} is not prepared here (`adapterlib data prepare`)"
    return f"not measured at {length} (builds measure {', '.join(map(str, MEASURED_LENGTHS))})"


def _measured_on(task: Task) -> str | None:
    """The offline task whose build measures ``task``'s token lengths: itself, or a hub task's registry copy where the
    copy's inputs are the hub's; None for a hub task without one."""
    if task.offline:
        return task.name
    return None if task.copy_form else task.offline_copy


def _build(task: Task) -> dict:
    """Build ``task`` into the cache, once even when several processes ask at the same time."""
    from adapterlib.data.tasks.offline import build

    with sources.cache_lock(f"task-{task.name}"):
        meta = task_meta(task.name)
        if meta is not None:  # another process built it while this one waited
            return meta
        out = task_dir(task.name)
        tmp = out.with_name(out.name + ".building")
        shutil.rmtree(tmp, ignore_errors=True)
        meta = build(task, tmp)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        return meta


def prepare(suite: str | None = None, *, tasks: list[str] | None = None, data_dir: str | Path | None = None) -> None:
    """Download, check, extract and build (idempotent). suite=None: every offline suite. A paper suite
    pre-downloads its hub datasets into the datasets cache (needs the hub) and reads and checks the local copies
    of its tasks that are not on the hub; one without its local folder is skipped with a note. An offline source
    its registry no longer serves leaves its tasks unbuilt while the others are built, then raises one
    SourceUnavailable naming them."""
    from adapterlib import progress

    if tasks is not None:
        names = list(dict.fromkeys(tasks))
    elif suite is None:
        names = list(dict.fromkeys(t.name for s in OFFLINE_SUITES.values() for t in list_tasks(s)))
    else:
        names = [t.name for t in list_tasks(suite)]
    names, missing = available_tasks(names, data_dir, leave_out_refused=False)
    for reason in missing.values():
        print(f"adapterlib: skipped {reason}", file=sys.stderr)
    refused: dict[str, list[str]] = {}  # the refusal -> its tasks
    start, before = time.perf_counter(), sum(sources.downloaded.values())
    for name in progress.iterate(names, desc=f"prepare {suite or 'offline suites'}", unit="task"):
        task = get_task(name)
        if task.offline:
            if task_meta(task.name) is None:
                try:
                    _build(task)
                except SourceUnavailable as err:  # the other sources' tasks are still built
                    refused.setdefault(str(err), []).append(name)
        else:
            load_task(task.name, data_dir=data_dir)
    fetched = sum(sources.downloaded.values()) - before
    if fetched:
        print(f"adapterlib: prepared {len(names) - sum(map(len, refused.values()))} of {len(names)} tasks in "
              f"{time.perf_counter() - start:.0f} s, downloading {fetched / 1e6:.1f} MB", file=sys.stderr)
    if refused:
        raise SourceUnavailable("; ".join(f"{', '.join(tasks)} not prepared: {err}" for err, tasks in refused.items()))


def _cap(ds: datasets.Dataset, n: int | None, seed: int) -> datasets.Dataset:
    """Seeded subsample of n rows, stratified by label where there is a discrete label."""
    if n is None or n >= len(ds):
        return ds
    rng = random.Random(seed)
    order = list(range(len(ds)))
    rng.shuffle(order)
    discrete = "label" in ds.column_names and ds.features["label"].dtype.startswith("int")
    if not discrete:
        return ds.select(sorted(order[:n]))
    labels = ds["label"][:]  # a plain list: indexing the lazy Column row by row is slow
    by_label = defaultdict(list)
    for i in order:
        by_label[labels[i]].append(i)
    # rank within its label / label size: taking the n smallest keeps the label proportions
    rank = {i: (k + 0.5) / len(idx) for idx in by_label.values() for k, i in enumerate(idx)}
    keep = sorted(order, key=rank.__getitem__)[:n]  # stable: ties keep the shuffled order
    return ds.select(sorted(keep))


def load_task(name: str, *, max_train: int | None = None, max_eval: int | None = None, max_test: int | None = None,
              seed: int = 0,
              path: str | Path | None = None, data_dir: str | Path | None = None) -> datasets.DatasetDict:
    """Splits train / validation / test (+ extra test splits). max_train caps train, max_eval the validation
    split and max_test the test splits (default: max_eval), seeded and label-stratified; nothing is capped unless
    asked. A paper task that is not on the hub
    (e.g. Argument mining) is read from `<data_dir>/<name>/`, data_dir defaulting to $ADAPTERLIB_DATA_DIR, else
    `<project root>/data`, so every caller gets the local copy; `path` reads a copy of any paper task elsewhere."""
    import datasets

    task = get_task(name)
    if task.offline:
        if task_meta(name) is None:
            print(f"adapterlib: preparing {name} (first use)", file=sys.stderr)
            _build(task)
        dd = datasets.load_from_disk(str(task_dir(name)))
    else:
        from adapterlib.data.tasks.hub import load_hub_task, registry_copy

        copy = registry_copy(task, path)
        if copy:
            print(f"adapterlib: {name}: the hub is out of reach; reading the same data from the registry copy "
                  f"{copy} ({get_task(copy).split})", file=sys.stderr)
            return load_task(copy, max_train=max_train, max_eval=max_eval, max_test=max_test, seed=seed)
        dd = load_hub_task(task, path, data_dir)
    caps = {"train": max_train, "validation": max_eval}
    test_cap = max_eval if max_test is None else max_test
    return datasets.DatasetDict({s: _cap(d, caps.get(s, test_cap), seed) for s, d in dd.items()})
