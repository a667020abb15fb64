"""Does MiniLM learn the GLUE-role stand-ins? Full fine-tuning and size-64 adapters vs the majority class (issue 4).

    .venv/bin/python benchmarks/learning_check.py [--max-train 256 2000] [--tasks snli qnli_squad ...]
                                                  [--full-lr 1e-4] [--adapter-lr 3e-4] [--epochs 3]
                                                  [--methods adapters]

The cpu profile trains on 256 examples per task, where the sentence-pair tasks stay at the majority-class score
(see results/cpu/houlsby_table1_glue.csv, column `majority`). This runs the cpu profile's Table 1 settings (lr,
epochs, length, batch) with larger training caps, through the cpu run store (so a rerun only prints), prints each
test score beside the majority-class score of its task and adds the rows to results/cpu/learning_check.csv.
Each cap is one seed of one run per method (3 epochs unless --epochs): about 1 s per step of 32 examples on 2 cores
(2,000 examples: 2-5 min a run; 8,000 sentence pairs: 14-17 min, 46 min for adapters over 10 epochs, as measured
on VitaminC, the MNLI stand-in before SNLI).
"""
from __future__ import annotations

import argparse

import pandas as pd

import adapterlib as al
from adapterlib.runner.grid import run_grid, select_best
from adapterlib.runner.profiles import get_profile
from adapterlib.reporting.paper import houlsby_glue
from adapterlib.reporting.outputs import results_dir, save_table
from adapterlib.studies.common import tidy_rows

CSV = "learning_check"
METHODS = {"full": "full", "adapters": "adapters_64"}  # our regime -> the paper's Table 1 row
KEY = ["task", "method", "max_train", "lr", "epochs"]


def check(max_train: int, tasks: list[str] | None, lrs: dict[str, float | None], epochs: int | None,
          regimes: list[str]) -> pd.DataFrame:
    """Houlsby Table 1's full fine-tuning and/or size-64 adapter rows at one training cap, in the documented table
    columns (with the paper's numbers and each task's majority-class score)."""
    profile = get_profile("cpu", max_train=max_train)
    grid = {**profile.grids["houlsby_glue"], "size": [64]}
    grid["lr"] = {**grid["lr"], **{regime: [lr] for regime, lr in lrs.items() if lr is not None}}
    if epochs is not None:
        grid["epochs"] = [epochs]
    report = run_grid(profile.configs(grid, tasks or profile.task_names("glue"), regime=regimes),
                      profile.store())
    selected = select_best(report.frame, by=["task", "regime"], seeds="best")
    rows = [tidy_rows(selected[selected["regime"] == regime], method, houlsby_glue(), suite=profile.suites["glue"])
            for regime, method in METHODS.items() if regime in regimes]
    return pd.concat(rows, ignore_index=True).assign(max_train=max_train)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-train", type=int, nargs="+", default=[1000], help="training caps, one table row each")
    parser.add_argument("--tasks", nargs="+", help="GLUE-role tasks (default: all of the cpu profile's)")
    parser.add_argument("--full-lr", type=float, help="full fine-tuning's learning rate (default: the cpu profile's)")
    parser.add_argument("--adapter-lr", type=float, help="the adapters' learning rate (default: the cpu profile's)")
    parser.add_argument("--epochs", type=int, help="epochs for every method trained (default: the cpu profile's)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                        help="which regimes to train (default: both)")
    args = parser.parse_args()
    lrs = {"full": args.full_lr, "adapters": args.adapter_lr}
    table = pd.concat([check(cap, args.tasks, lrs, args.epochs, args.methods) for cap in args.max_train])
    table["above_majority"] = table["score"] - table["majority"]
    path = results_dir("cpu") / f"{CSV}.csv"
    if path.is_file():  # rows accumulate over invocations; a rerun of the same setting replaces its row
        table = pd.concat([pd.read_csv(path), table]).drop_duplicates(KEY, keep="last")
    table = table.sort_values(["task", "method", "max_train", "lr"])
    save_table(table, "cpu", CSV)
    columns = ["task", "paper_task", "method", "max_train", "lr", "epochs", "score", "dev_score", "majority",
               "above_majority", "paper_score"]
    print(table[columns].round({c: 2 for c in ("score", "dev_score", "majority", "above_majority")})
          .to_string(index=False))
    print(f"adapterlib {al.__version__}; model {get_profile('cpu').models['glue']}; one seed; wrote {path}")


if __name__ == "__main__":
    main()
