"""The notebooks' output contract: tidy CSVs and PNG+SVG figures under ``results/<profile>/`` (see ``paths``).

Every table row puts our score beside the paper's and says what produced it (model, data, scale), because our
model (MiniLM-L6, a sentence encoder) and data (offline stand-ins) differ from the papers'.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd

from adapterlib.paths import RESULTS_ENV, results_root
from adapterlib.runner.store import EXAMPLE_FIELDS

__all__ = ["RESULTS_ENV", "TABLE_COLUMNS", "results_dir", "save_figure", "save_table"]
TABLE_COLUMNS = ("task", "paper_task", "method", "metric", "score", "paper_score", "trained_params", "trained_pct")


def left_out_note(profile: str, brief: bool = False) -> str | None:
    """"Left out (data not available here): <tasks>: <why>" for the tasks the named profile's run cannot have here
    (a refused data source, a paper task without its local copy: ``Profile.missing_tasks``), or None. Every table
    and figure of an incomplete run carries it, so a file read on its own still says what is missing. ``brief``
    (figures): a refusal shortened to its first words ("x==1.0 is not served by PyPI any more"); the whole reason,
    with where a copy of the file goes, is in the CSV and SUMMARY.md."""
    from adapterlib.data.tasks.check import by_cause
    from adapterlib.runner.profiles import PROFILES

    missing = PROFILES[profile].left_out() if profile in PROFILES else {}
    return f"Left out (data not available here): {by_cause(missing, brief)}" if missing else None


def results_dir(profile: str) -> Path:
    path = results_root() / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_table(df: pd.DataFrame, profile: str, name: str) -> Path:
    """Write ``df`` as ``results/<profile>/<name>.csv`` after checking it has the documented columns. Per-example
    columns (``EXAMPLE_FIELDS``) stay out: they are in ``predictions.parquet``, not in a readable table."""
    missing = [c for c in TABLE_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"table {name!r} lacks the documented columns {missing}")
    note = left_out_note(profile)
    df = df.assign(left_out=note) if note else df
    ordered = list(TABLE_COLUMNS) + [c for c in df.columns if c not in TABLE_COLUMNS and c not in EXAMPLE_FIELDS]
    path = results_dir(profile) / f"{name}.csv"
    df[ordered].to_csv(path, index=False, float_format="%.4g")
    return path


def save_figure(fig, profile: str, name: str) -> list[Path]:
    """Write a matplotlib figure as PNG (for the README and notebooks) and SVG (for papers and zooming); an incomplete
    run's figure says below it what was left out (``left_out_note``)."""
    note = left_out_note(profile, brief=True)
    if note:
        fig.text(0.01, 0.0, textwrap.fill(note, 160), ha="left", va="top", fontsize=8, color="firebrick")
    paths = [results_dir(profile) / f"{name}.{ext}" for ext in ("png", "svg")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Date": None} if path.suffix == ".svg" else None)
    return paths
