"""`adapterlib reproduce`: run every notebook through papermill for one profile, in dependency order.

Executed copies go to ``results/<profile>/``; the notebooks write their own CSVs and figures there. Runs are shared
through the run store, so a rerun (or a rerun after an interruption) only trains what is missing.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .results import REPO, results_dir

NOTEBOOKS_DIR = REPO / "notebooks"

# Dependency order: later notebooks reuse the runs of earlier ones from the run store.
NOTEBOOKS: tuple[str, ...] = ("00_quickstart",)


def run_notebooks(profile: str, only: list[str] | None = None) -> list[Path]:
    """Execute the notebooks (all, or ``only``) with ``profile`` and return the executed copies."""
    import papermill
    from tqdm.auto import tqdm

    unknown = sorted(set(only or ()) - set(NOTEBOOKS))
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; available: {', '.join(NOTEBOOKS)}")
    selected = [n for n in NOTEBOOKS if not only or n in only]
    out_dir = results_dir(profile)
    written = []
    for name in tqdm(selected, desc=f"notebooks ({profile})", unit="nb"):
        start = time.time()
        out = out_dir / f"{name}.ipynb"
        papermill.execute_notebook(
            str(NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), parameters={"profile": profile},
            cwd=str(NOTEBOOKS_DIR), progress_bar=False,
        )
        tqdm.write(f"{name}: {time.time() - start:.0f} s -> {out.relative_to(REPO)}")
        written.append(out)
    return written


def add_reproduce_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("reproduce", help="run every notebook for a profile (default: cpu)")
    p.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "paper"))
    p.add_argument("--only", nargs="+", metavar="NOTEBOOK", help=f"a subset of: {', '.join(NOTEBOOKS)}")
    p.set_defaults(func=lambda args: run_notebooks(args.profile, args.only) and 0)
