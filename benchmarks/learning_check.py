"""Does MiniLM learn the GLUE-role stand-ins? Full fine-tuning and size-64 adapters vs the majority class (issue 4).

    .venv/bin/python benchmarks/learning_check.py [--max-train 1000] [--tasks vitaminc qnli_squad ...] [--full-lr 1e-4]

The cpu profile trains on 256 examples per task, where the sentence-pair tasks stay at the majority-class score
(see results/cpu/houlsby_table1_glue.csv, column `majority`). This runs the cpu profile's Table 1 settings (lr,
epochs, length, batch) with a larger training cap, through the cpu run store (so a rerun only prints), and prints
each test score beside the majority-class score of its task.
"""
from __future__ import annotations

import argparse

import pandas as pd

import adapterlib as al
from adapterlib.grid import run_grid
from adapterlib.profiles import get_profile
from adapterlib.studies.common import majority_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-train", type=int, default=1000)
    parser.add_argument("--tasks", nargs="+", help="GLUE-role tasks (default: all of the cpu profile's)")
    parser.add_argument("--full-lr", type=float, help="full fine-tuning's learning rate (default: the cpu profile's)")
    args = parser.parse_args()
    profile = get_profile("cpu", max_train=args.max_train)
    tasks = args.tasks or profile.task_names("glue")
    grid = {**profile.grids["houlsby_glue"], "size": [64]}
    if args.full_lr is not None:
        grid["lr"] = {**grid["lr"], "full": [args.full_lr]}
    report = run_grid(profile.configs(grid, tasks, regime=["full", "adapters"]), profile.store())
    test = report.frame[report.frame["split"] == "test"]
    table = pd.DataFrame({"task": test["task"], "method": test["regime"], "max_train": args.max_train,
                          "score": test["score"].round(2), "majority": test["task"].map(majority_score).round(2)})
    table["above_majority"] = (table["score"] - table["majority"]).round(2)
    print(table.sort_values(["task", "method"]).to_string(index=False))
    print(f"adapterlib {al.__version__}; model {profile.models['glue']}; one seed ({profile.seeds[0]})")


if __name__ == "__main__":
    main()
