"""Pieces of figure and text that several AdapterFusion studies share."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck


def claims_section(checks: Sequence[ClaimCheck]) -> str:
    """The claim verdicts of a closing cell, under their heading."""
    return "**Claims at this scale**\n\n" + cl.describe(checks)


def bars_by_task(table: pd.DataFrame, methods: Sequence[str], titles: tuple[str, str], *,
                 figsize: tuple[float, float], sharey: bool) -> tuple[Figure, np.ndarray]:
    """Ours beside the paper's: two panels (``score``, ``paper_score``) of bars grouped by task, one bar per method
    of ``methods`` present in ``table``; the caller adds labels and legend."""
    methods = [m for m in methods if m in set(table["method"])]
    tasks = sorted(table["task"].unique())
    fig, axes = plt.subplots(1, 2, figsize=figsize, sharey=sharey)
    width = 0.8 / max(len(methods), 1)
    for ax, column, title in zip(axes, ("score", "paper_score"), titles):
        for i, method in enumerate(methods):
            values = table[table["method"] == method].set_index("task")[column].reindex(tasks)
            ax.bar(np.arange(len(tasks)) + i * width, values, width, label=method)
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=30, ha="right")
        ax.set_title(title)
    return fig, axes
