"""Where a training step's time goes: full fine-tuning vs Houlsby adapters on MiniLM-L6 (issue 8's profile).

    .venv/bin/python benchmarks/profile_step.py [--seq-len 128] [--rounds 7]

Prints torch.profiler's top operators of three steps of each, then interleaved step times and their median ratio
to full fine-tuning for Houlsby's regime as the paper trains it (adapters + every LayerNorm) and with the
LayerNorms frozen (adapters only), which shows what training the LayerNorms costs: a trainable embedding
LayerNorm carries the backward pass through every layer down to the embeddings.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from torch.profiler import ProfilerActivity, profile  # noqa: E402

import _common as C  # noqa: E402
import bench  # noqa: E402
from adapterlib.reporting.statistics import median_interval  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    bases = C.BaseModels(bench.load_ours)
    def build(config: str):
        return bench.build_ours(bases, "minilm-l6", config, args.batch, args.seq_len, "train")[0]

    setups = {"full": build("full"), "houlsby64": build("houlsby64"), "houlsby64 (LayerNorms frozen)": build("houlsby64")}
    for name, parameter in setups["houlsby64 (LayerNorms frozen)"].model.named_parameters():
        if "LayerNorm" in name:
            parameter.requires_grad_(False)
    for setup in setups.values():
        setup.step()  # warm-up
    for config in ("full", "houlsby64"):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                setups[config].step()
        print(f"== {config}, batch {args.batch}, length {args.seq_len}: top operators over 3 steps")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))
    times = {config: [] for config in setups}
    for _ in range(args.rounds):
        for config, setup in setups.items():
            start = time.perf_counter()
            setup.step()
            times[config].append(time.perf_counter() - start)
    for config, steps in times.items():
        ratios = [t / f for t, f in zip(steps, times["full"])]
        low, high, coverage = median_interval(ratios)
        print(f"{config:<32} median step {statistics.median(steps):.3f} s, {statistics.median(ratios):.3f}x full "
              f"[{low:.3f}, {high:.3f}: {coverage:.0%} interval of the median over {args.rounds} rounds]")


if __name__ == "__main__":
    main()
