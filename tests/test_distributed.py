"""`torchrun --nproc_per_node=2` (gloo, CPU): evaluation counts every example once, and training an adapter, or an
MT-A run, on two processes matches the single-process run (dropout off, so only the floating-point summation order
differs)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from accelerate import Accelerator

import adapterlib as al
from adapterlib.data.tasks import load_task
from adapterlib.runner.evaluate import evaluate
from adapterlib.runner.multitask import train_multitask
from adapterlib.runner.settings import MultiTaskConfig, RunConfig
from adapterlib.runner.single import build_model, train_and_evaluate

NO_DROPOUT = {"num_hidden_layers": 2, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
# 100 train examples with batch 32: the last global batch (4) splits 2 + 2; 75 eval examples: uneven shards.
CFG = RunConfig("rt_polarity", adapter=al.AdapterConfig.houlsby(16), lr=3e-3, epochs=3, max_train=100, max_eval=75,
                max_length=64, model_kwargs=NO_DROPOUT)
# 50 train examples per task with batch 16: every pass ends in a batch of 2, one example per process.
MT_A = MultiTaskConfig(tasks=("snli", "sst2_dev_split"), lr=1e-4, epochs=2, batch_size=16, max_train=50, max_eval=40,
                       max_test=40, max_length=48, model_kwargs=NO_DROPOUT)

WORKER = """
import json, sys
import transformers
transformers.logging.set_verbosity_error()
from adapterlib.runner.loop import make_accelerator
sys.path.insert(0, {tests!r})
from test_distributed import CFG, untrained_metrics
accelerator = make_accelerator()
untrained = untrained_metrics(accelerator)
from adapterlib.runner.single import train_and_evaluate
from adapterlib.runner.multitask import train_multitask
from test_distributed import MT_A
result, multitask = train_and_evaluate(CFG, progress=False), train_multitask(MT_A, progress=False)
if accelerator.is_main_process:
    json.dump({{"untrained": untrained, "result": result.to_dict(), "mt_a": multitask.to_dict()}},
              open(sys.argv[1], "w"))
"""


def untrained_metrics(accelerator: Accelerator | None = None) -> dict:
    model, tokenizer = build_model(CFG)
    dev = load_task(CFG.task, max_eval=CFG.max_eval)["validation"]
    return evaluate(model, tokenizer, CFG.task, dev, max_length=CFG.max_length, batch_size=8, accelerator=accelerator)


def test_two_gloo_processes_match_one(tmp_path):
    script, out = tmp_path / "worker.py", tmp_path / "out.json"
    script.write_text(WORKER.format(tests=os.path.dirname(__file__)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(out)], env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads(out.read_text())
    assert two["untrained"] == untrained_metrics()  # sharded evaluation: every example exactly once

    one = train_and_evaluate(CFG, progress=False)
    assert two["result"]["processes"] == 2 and one.processes == 1
    for epoch_one, epoch_two in zip(one.history, two["result"]["history"]):
        assert epoch_two["train_loss"] == pytest.approx(epoch_one["train_loss"], abs=2e-3)
    for split in ("validation", "test"):
        assert abs(two["result"]["metrics"][split]["score"] - one.metrics[split]["score"]) <= 100 / 75 + 1e-9

    # MT-A: the same task and batch every step on both processes, each taking half of it
    one = train_multitask(MT_A, progress=False)
    assert two["mt_a"]["processes"] == 2 and one.processes == 1
    for epoch_one, epoch_two in zip(one.history, two["mt_a"]["history"]):
        assert epoch_two["steps"] == epoch_one["steps"]
        for task in MT_A.tasks:
            assert epoch_two["train_loss"][task] == pytest.approx(epoch_one["train_loss"][task], abs=2e-3)
    for task in MT_A.tasks:
        for split in ("validation", "test"):  # each example counted once: one prediction apart at most
            assert abs(two["mt_a"]["metrics"][task][split]["score"] - one.metrics[task][split]["score"]) <= 100 / 40 + 1e-9
