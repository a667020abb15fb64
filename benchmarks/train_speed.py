"""Training throughput of full fine-tuning vs adapters on MiniLM-L6, through the real training loop.

    python benchmarks/train_speed.py [--task rt_polarity] [--examples 320] [--batch-size 32] [--max-length 128]

Both regimes run the same examples, batches and optimizer (fused AdamW) for one epoch; evaluation is excluded
from examples/s. Adapter training should be faster per step: the frozen encoder needs no weight gradients (only
the gradients flowing through it to the adapters below) and the optimizer updates ~3% of the parameters.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import transformers  # noqa: E402

import adapterlib as al  # noqa: E402
from adapterlib.runner.settings import RunConfig  # noqa: E402
from adapterlib.runner.single import train_and_evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="rt_polarity")
    parser.add_argument("--examples", type=int, default=320, help="training examples (one epoch)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    common = dict(task=args.task, epochs=1, max_train=args.examples, max_eval=32, batch_size=args.batch_size,
                  max_length=args.max_length)
    runs = {
        "full fine-tuning": RunConfig(regime="full", lr=1e-4, **common),
        "adapters (Houlsby, size 64)": RunConfig(adapter=al.AdapterConfig.houlsby(64), lr=1e-3, **common),
        "adapters (Pfeiffer, rf 16)": RunConfig(adapter=al.AdapterConfig.pfeiffer(16), lr=1e-3, **common),
    }
    print(f"{args.task}: {args.examples} examples, batch {args.batch_size}, max length {args.max_length}, "
          f"torch threads {__import__('torch').get_num_threads()}")
    print(f"{'regime':<30}{'trained params':>16}{'examples/s':>12}{'s/step':>9}")
    speeds = {}
    for name, cfg in runs.items():
        result = train_and_evaluate(cfg, progress=False)
        speeds[name] = result.examples_per_s
        print(f"{name:<30}{result.params['trainable']:>16,}{result.examples_per_s:>12.1f}"
              f"{args.batch_size / result.examples_per_s:>9.3f}")
    full = speeds.pop("full fine-tuning")
    for name, speed in speeds.items():
        print(f"{name}: {speed / full:.2f}x the full fine-tuning speed per step")


if __name__ == "__main__":
    main()
