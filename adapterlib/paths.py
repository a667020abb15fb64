"""Where a reproduction reads and writes: a project root, never the installed package's directory.

The project root is ``$ADAPTERLIB_PROJECT``, else the working directory, except inside a ``notebooks/`` folder
(where a notebook's kernel runs), which means its parent. Results go to ``<root>/results`` (or
``$ADAPTERLIB_RESULTS``), the run store to ``<root>/runs`` (or ``$ADAPTERLIB_RUNS``), local copies of paper tasks
that are not on the hub are read from ``<root>/data`` (or ``$ADAPTERLIB_DATA_DIR``), and ``adapterlib reproduce``
reads ``<root>/notebooks``. Read at each call, so a test or a command line option can move them. A module of its
own, with no third-party imports, so the command line and the run store can use it without pandas.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOTEBOOKS = "notebooks"
PROJECT_ENV = "ADAPTERLIB_PROJECT"
RESULTS_ENV = "ADAPTERLIB_RESULTS"
RUNS_ENV = "ADAPTERLIB_RUNS"
DATA_ENV = "ADAPTERLIB_DATA_DIR"


def project_root() -> Path:
    if os.environ.get(PROJECT_ENV):
        return Path(os.environ[PROJECT_ENV]).resolve()
    cwd = Path.cwd().resolve()
    return cwd.parent if cwd.name == NOTEBOOKS else cwd


def results_root() -> Path:
    """Parent of ``results/<profile>/``."""
    return Path(os.environ.get(RESULTS_ENV) or project_root() / "results")


def runs_root() -> Path:
    """Parent of the run stores ``runs/<profile>/``."""
    return Path(os.environ.get(RUNS_ENV) or project_root() / "runs")


def data_root() -> Path:
    """Parent of the local task folders ``data/<task>/`` (the paper tasks that are not on the hub)."""
    return Path(os.environ.get(DATA_ENV) or project_root() / "data")


def notebooks_root() -> Path:
    return project_root() / NOTEBOOKS


@contextmanager
def pinned_output_dirs(results: str | Path | None = None, runs: str | Path | None = None) -> Iterator[None]:
    """Set the environment to absolute project, results, run-store and local-data paths (``results``/``runs`` if given,
    else the current ones) while inside, so the notebook kernels started here, whose working directory is the
    notebooks folder, write to the same places as this process."""
    wanted = {PROJECT_ENV: project_root(), RESULTS_ENV: Path(results or results_root()).resolve(),
              RUNS_ENV: Path(runs or runs_root()).resolve(), DATA_ENV: data_root().resolve()}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update({key: str(path) for key, path in wanted.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
