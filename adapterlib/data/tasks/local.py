"""The local layout of the paper tasks that are not on the hub: `<data dir>/<task name>/{train,validation,test}.<ext>`.

The data dir is the `data_dir` argument, else $ADAPTERLIB_DATA_DIR, else `<project root>/data` (paths.py), so
every code path that calls `load_task` finds the same copy. Only file names are looked at here (no `datasets`), so
a profile can leave out an absent task cheaply; hub.py reads the files.
"""
from __future__ import annotations

from pathlib import Path

from adapterlib.data.tasks.registry import Task
from adapterlib.paths import data_root

LOCAL_FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
LOCAL_SPLITS = {"train": "train", "validation": "validation", "dev": "validation", "val": "validation", "test": "test"}
LOCAL_COLUMNS = {"single": "text,label", "pair": "text,text_pair,label"}  # the formats of the local-only tasks


def local_dir(task: Task, data_dir: str | Path | None = None) -> Path:
    return Path(data_dir or data_root()) / task.name


def local_files(path: Path) -> dict[str, Path]:
    """Split -> file among the train/validation (dev, val)/test files of a local task folder."""
    found: dict[str, Path] = {}
    for f in sorted(path.iterdir()) if path.is_dir() else ():
        split = LOCAL_SPLITS.get(f.name.split(".")[0])
        if split and f.suffix in LOCAL_FORMATS:
            found.setdefault(split, f)
    return found


def needs_local_data(task: Task, where: Path) -> str:
    return (f"{task.name} ({task.paper_name}): not on the hub: needs local data at {where}/ (train.csv, optionally "
            f"validation and test; {', '.join(sorted(LOCAL_FORMATS))}; columns "
            f"{LOCAL_COLUMNS.get(task.format, '?')}; see docs/TASKS.md), or set --data-dir / $ADAPTERLIB_DATA_DIR")
