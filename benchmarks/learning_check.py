"""Does MiniLM learn the GLUE-role stand-ins? Full fine-tuning and size-64 adapters vs the majority class (issue 4).

    .venv/bin/python benchmarks/learning_check.py [--max-train 256 2000] [--tasks vitaminc qnli_squad ...]
                                                  [--full-lr 1e-4] [--epochs 3]

The cpu profile trains on 256 examples per task, where the sentence-pair tasks stay at the majority-class score
(see results/cpu/houlsby_table1_glue.csv, column `majority`). This runs the cpu profile's Table 1 settings (lr,
epochs, length, batch) with larger training caps, through the cpu run store (so a rerun only prints), prints each
test score beside the majority-class score of its task and writes the table to results/cpu/learning_check.csv.
Each cap is one seed of a 3-epoch run per method: about 1 s per step of 32 examples on 2 cores (2,000 examples:
3-6 min a run).
"""
from __future__ import annotations

import argparse

import pandas as pd

import adapterlib as al
from adapterlib.grid import run_grid
from adapterlib.profiles import get_profile
from adapterlib.results import results_dir
from adapterlib.studies.common import majority_score
from adapterlib.tasks import get_task

CSV = "learning_check"


def check(max_train: int, tasks: list[str] | None, full_lr: float | None, epochs: int | None) -> pd.DataFrame:
    """Test scores of full fine-tuning and size-64 adapters at one training cap, beside each task's majority class."""
    profile = get_profile("cpu", max_train=max_train)
    grid = {**profile.grids["houlsby_glue"], "size": [64]}
    if full_lr is not None:
        grid["lr"] = {**grid["lr"], "full": [full_lr]}
    if epochs is not None:
        grid["epochs"] = [epochs]
    report = run_grid(profile.configs(grid, tasks or profile.task_names("glue"), regime=["full", "adapters"]),
                      profile.store())
    frame = report.frame
    test, dev = (frame[frame["split"] == split].set_index("run_id") for split in ("test", "validation"))
    return pd.DataFrame({
        "task": test["task"], "stands_in_for": test["task"].map(lambda t: get_task(t).reference or ""),
        "method": test["regime"], "max_train": max_train, "lr": test["lr"], "epochs": test["epochs"],
        "score": test["score"].round(2), "dev_score": dev["score"].round(2),
        "majority": test["task"].map(majority_score).round(2)}).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-train", type=int, nargs="+", default=[1000], help="training caps, one table row each")
    parser.add_argument("--tasks", nargs="+", help="GLUE-role tasks (default: all of the cpu profile's)")
    parser.add_argument("--full-lr", type=float, help="full fine-tuning's learning rate (default: the cpu profile's)")
    parser.add_argument("--epochs", type=int, help="epochs for both methods (default: the cpu profile's)")
    args = parser.parse_args()
    table = pd.concat([check(cap, args.tasks, args.full_lr, args.epochs) for cap in args.max_train])
    table["above_majority"] = (table["score"] - table["majority"]).round(2)
    table = table.sort_values(["task", "method", "max_train"])
    path = results_dir("cpu") / f"{CSV}.csv"
    table.to_csv(path, index=False)
    print(table.to_string(index=False))
    print(f"adapterlib {al.__version__}; model {get_profile('cpu').models['glue']}; one seed; wrote {path}")


if __name__ == "__main__":
    main()
