"""bf16 against fp32 on CPU: the same runs of the cpu profile in both precisions, the test-score difference with a
95% paired bootstrap interval over test examples (issue 19, before bf16 may become the cpu default).

    .venv/bin/python benchmarks/precision_check.py [--tasks sst2_dev_split sms_spam medmcqa_subject]
                                                   [--out /tmp/precision_check.csv] [--max-eval 1000]

For every task x method (full fine-tuning; Houlsby size-64 adapters, each at its ``houlsby_glue`` learning rate
and epochs) both runs share the seed, data and schedule and differ only in ``precision`` (bf16: torch.autocast for
training and evaluation). The difference bf16 - fp32 is paired over the test examples
(``reporting.statistics.paired_difference_interval``, on the runs' recorded per-example predictions). Each row also
has both runs' wall and training-step seconds: without native bf16 arithmetic (``torch.backends.cpu.
get_cpu_capability()`` below AVX512, e.g. this project's AVX2 machine) bf16 is emulated and slower than fp32.
It reads ``RunResult.predictions`` / ``.references``, the per-example records that branch ``stats`` adds to runs.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

import adapterlib as al  # noqa: E402
from adapterlib.reporting.statistics import paired_difference_interval  # noqa: E402
from adapterlib.runner.profiles import get_profile  # noqa: E402
from adapterlib.runner.single import train_and_evaluate  # noqa: E402

METHODS = {"full": {"regime": "full"}, "adapters_64": {"regime": "adapters", "adapter": al.AdapterConfig.houlsby(64)}}
PRECISIONS = ("fp32", "bf16")


def compare(profile_name: str, tasks: list[str], max_eval: int | None = None) -> pd.DataFrame:
    """One row per task x method: both test scores, bf16 - fp32 with its paired interval, both runs' times
    (``max_eval``: the evaluation cap, default the profile's)."""
    profile = get_profile(profile_name, **({} if max_eval is None else {"max_eval": max_eval}))
    grid = profile.grids["houlsby_glue"]
    rows = []
    for task in tasks:
        for method, fields in METHODS.items():
            results = {precision: train_and_evaluate(
                profile.run_config(task, lr=grid["lr"][fields["regime"]][0], epochs=grid["epochs"][0],
                                   precision=precision, **fields), progress=False) for precision in PRECISIONS}
            fp32, bf16 = results["fp32"], results["bf16"]
            difference = paired_difference_interval(task, bf16.predictions["test"], fp32.predictions["test"],
                                                    fp32.references["test"])
            rows.append(dict(task=task, method=method, fp32=fp32.metrics["test"]["score"],
                             bf16=bf16.metrics["test"]["score"], bf16_minus_fp32=difference.estimate,
                             ci_low=difference.low, ci_high=difference.high, n_test=difference.n,
                             fp32_wall_s=fp32.wall_time, bf16_wall_s=bf16.wall_time, fp32_train_s=fp32.train_time,
                             bf16_train_s=bf16.train_time, seed=fp32.config["seed"]))
            print(pd.DataFrame(rows[-1:]).round(2).to_string(index=False, header=len(rows) == 1), flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--tasks", nargs="+", default=["sst2_dev_split", "sms_spam", "medmcqa_subject"])
    parser.add_argument("--out", default="/tmp/precision_check.csv")
    parser.add_argument("--max-eval", type=int, default=None, help="evaluation cap (default: the profile's)")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads")
    table = compare(args.profile, args.tasks, args.max_eval)
    table.to_csv(args.out, index=False, float_format="%.4g")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
