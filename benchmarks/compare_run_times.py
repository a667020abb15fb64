"""Was the machine slower, or the profile costlier? The same runs' wall times in two run stores (issue 28's timed runs).

    .venv/bin/python benchmarks/compare_run_times.py NEW OLD          # NEW's time over OLD's, on the runs both trained
    .venv/bin/python benchmarks/compare_run_times.py runs/cpu --export docs/timed_runs/<revision>.csv

Each side is a run store (``runs/<profile>/``: one ``record.json`` per run) or a CSV that ``--export`` wrote from one
(``run_id,wall_time``). A run id hashes the run's whole config, and runs are deterministic, so a run id trained in both
stores did the same work in both: the ratio of their wall times is the machine's speed between the two, whatever the
two profiles' other runs were. A timed ``make reproduce`` that came in slow can so be split into "the machine was
slower" and "the profile costs more". The per-run ratios are summarised by their median, with its distribution-free
90% interval (``median_interval``): one slow minute on a shared machine moves a sum, not a median.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from adapterlib.reporting.statistics import median_interval


def wall_times(source: Path) -> pd.Series:
    """Wall seconds by run id: from a run store's records, or from a CSV that ``--export`` wrote."""
    if source.is_file():
        frame = pd.read_csv(source)
        return frame.set_index("run_id")["wall_time"].astype(float)
    if not source.is_dir():
        raise SystemExit(f"compare_run_times: {source} is neither a run store directory nor a CSV")
    records = [json.loads(path.read_text()) for path in sorted(source.glob("*/record.json"))]
    times = {r["run_id"]: float(r["wall_time"]) for r in records if r.get("wall_time") is not None}
    if not times:
        raise SystemExit(f"compare_run_times: no run records under {source} (expected {source}/<run_id>/record.json)")
    return pd.Series(times, name="wall_time").rename_axis("run_id")


def compare(new: pd.Series, old: pd.Series) -> dict[str, float]:
    """NEW over OLD on the run ids both hold: their count, summed minutes, ratio of sums, median per-run ratio."""
    shared = new.index.intersection(old.index)
    if shared.empty:
        raise SystemExit("compare_run_times: the two sides share no run id (different profiles or revisions?)")
    ratios = (new[shared] / old[shared]).sort_values()
    low, high, coverage = median_interval(list(ratios))
    return {"shared_runs": len(shared), "new_minutes": new[shared].sum() / 60, "old_minutes": old[shared].sum() / 60,
            "ratio_of_sums": new[shared].sum() / old[shared].sum(), "median_ratio": ratios.median(),
            "median_low": low, "median_high": high, "coverage": coverage,
            "min_ratio": ratios.iloc[0], "max_ratio": ratios.iloc[-1]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", type=Path, help="run store or exported CSV")
    parser.add_argument("old", type=Path, nargs="?", help="run store or exported CSV to compare against")
    parser.add_argument("--export", type=Path, help="write NEW's wall times as a CSV (run_id,wall_time)")
    args = parser.parse_args(argv)
    new = wall_times(args.new)
    if args.export:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        new.sort_index().round(3).to_frame().to_csv(args.export)
        print(f"{len(new)} runs' wall times -> {args.export}")
    if args.old is None:
        if not args.export:
            parser.error("give OLD to compare against, or --export")
        return
    s = compare(new, wall_times(args.old))
    print(f"{s['shared_runs']} runs in both: {s['new_minutes']:.1f} min ({args.new}) against {s['old_minutes']:.1f} "
          f"({args.old}), ratio {s['ratio_of_sums']:.2f}; per run median {s['median_ratio']:.2f} "
          f"[{s['median_low']:.2f}, {s['median_high']:.2f}] ({s['coverage']:.0%} interval), "
          f"range {s['min_ratio']:.2f}-{s['max_ratio']:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
