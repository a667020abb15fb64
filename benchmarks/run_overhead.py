"""A run costs its training steps: end-to-end wall time of an adapter run over a full fine-tuning run, beside the
ratio of their training steps, and each run's share of time outside its steps (issue 19).

    .venv/bin/python benchmarks/run_overhead.py [--profile cpu] [--task rt_polarity] [--pairs 3] [--out PATH]

Each pair is a full fine-tuning run and a Houlsby size-64 adapter run of the profile's scale (its learning rates
and epochs of ``houlsby_glue``), back to back and alternating which goes first, so load from other processes on a
shared machine falls on both alike; the ratios are taken within each pair and reported as the median over pairs with
its distribution-free interval (``median_interval``). What a process shares between runs (imports, the encoded task)
is warmed first, untimed, as every run of a grid but its first finds it. What is outside the training steps (model
building, the dev evaluation after every epoch, the test evaluation; nothing is saved here) is the same work for
both regimes, so the larger its share, the closer it pulls the end-to-end ratio to 1.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402
import transformers  # noqa: E402

import adapterlib as al  # noqa: E402
from adapterlib.runner.cache import encoded_splits  # noqa: E402
from adapterlib.runner.profiles import get_profile  # noqa: E402
from adapterlib.runner.settings import DATA_SEED  # noqa: E402
from adapterlib.runner.single import build_model, train_and_evaluate  # noqa: E402
from adapterlib.studies.benchmarks import run_overhead_summary  # noqa: E402

REGIMES = {"full": {"regime": "full"}, "houlsby64": {"regime": "adapters", "adapter": al.AdapterConfig.houlsby(64)}}


def measure(profile_name: str, task: str, pairs: int) -> pd.DataFrame:
    """One row per timed run: pair, regime, wall and training-step seconds, test score."""
    profile = get_profile(profile_name)
    grid = profile.grids["houlsby_glue"]
    configs = {name: profile.run_config(task, lr=grid["lr"][fields["regime"]][0], epochs=grid["epochs"][0],
                                        **fields) for name, fields in REGIMES.items()}
    warm = configs["full"]  # untimed: what a grid's later runs find ready (the encoded task, the weights read once)
    _, tokenizer = build_model(warm)
    encoded_splits(task, tokenizer, max_train=warm.max_train, max_eval=warm.max_eval, seed=DATA_SEED,
                   max_length=warm.max_length, doc_stride=warm.doc_stride)
    rows = []
    for pair in range(pairs):
        order = list(configs) if pair % 2 == 0 else list(configs)[::-1]
        for name in order:
            result = train_and_evaluate(configs[name], progress=False)
            rows.append(dict(pair=pair, config=name, task=task, wall_s=result.wall_time, train_s=result.train_time,
                             test_score=result.metrics["test"]["score"]))
            print(f"pair {pair} {name:<10} wall {result.wall_time:6.1f} s, training steps {result.train_time:6.1f} s, "
                  f"test {result.metrics['test']['score']:.2f}", flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--task", default="rt_polarity")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", help="CSV of the timed runs (default: print only)")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    runs = measure(args.profile, args.task, args.pairs)
    if args.out:
        runs.to_csv(args.out, index=False, float_format="%.4g")
    print(run_overhead_summary(runs, "full", "houlsby64").to_string(index=False, float_format="%.3f"))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine inflates "
          f"absolute times; the per-pair ratios much less)")


if __name__ == "__main__":
    main()
