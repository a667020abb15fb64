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

__all__ = ["FIGURE_DPI", "MIN_FONT_PT", "RESULTS_ENV", "TABLE_COLUMNS", "results_dir", "save_figure", "save_table",
           "small_text"]
TABLE_COLUMNS = ("task", "paper_task", "method", "metric", "score", "paper_score", "trained_params", "trained_pct")
FIGURE_DPI = 150  # PNG pixels per inch of the figure's size
MIN_FONT_PT = 8  # the smallest text a saved figure may carry, in points at its saved size (16.7 px at FIGURE_DPI)


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


def small_text(fig, minimum: float = MIN_FONT_PT) -> list[tuple[str, float]]:
    """(text, size in points) of every visible, non-empty text of ``fig`` smaller than ``minimum`` points at the
    figure's own size, which is the size it is saved at (``save_figure`` keeps the inches: ``bbox_inches="tight"``
    crops, it does not scale). Tick labels are read after a draw, so they are the ones shown."""
    from matplotlib.text import Text

    fig.canvas.draw()  # places the tick labels and lays out the figure as it will be saved

    def visible(artist):
        for child in artist.get_children():
            if child.get_visible():
                yield child
                yield from visible(child)

    return [(t.get_text(), t.get_fontsize()) for t in visible(fig)
            if isinstance(t, Text) and t.get_text().strip() and t.get_fontsize() < minimum]


def save_figure(fig, profile: str, name: str) -> list[Path]:
    """Write a matplotlib figure as PNG (for the README and notebooks) and SVG (for papers and zooming), at the
    figure's size and ``FIGURE_DPI``; an incomplete run's figure says below it what was left out
    (``left_out_note``). A figure with text under ``MIN_FONT_PT`` points at that size is refused (``small_text``):
    it would be unreadable where the PNG is shown."""
    small = small_text(fig)
    if small:
        shown = "; ".join(f"{text[:30]!r} {size:g} pt" for text, size in dict(small).items())
        raise ValueError(f"figure {name!r} has {len(small)} text(s) under {MIN_FONT_PT} pt at its saved size "
                         f"({fig.get_figwidth():g} x {fig.get_figheight():g} in): {shown[:300]}")
    note = left_out_note(profile, brief=True)
    if note:
        fig.text(0.01, 0.0, textwrap.fill(note, 160), ha="left", va="top", fontsize=MIN_FONT_PT, color="firebrick")
    paths = [results_dir(profile) / f"{name}.{ext}" for ext in ("png", "svg")]
    for path in paths:
        fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight",
                    metadata={"Date": None} if path.suffix == ".svg" else None)
    return paths
