"""Resume inside a run (issue 29): a run killed with SIGKILL in the middle of an epoch goes on from its last complete
epoch when the store runs it again, and ends exactly where the uninterrupted run ends, bit for bit on CPU: metrics,
history, per-example predictions and the saved weights. Dropout is on, so the RNG states must be restored too."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import adapterlib as al
from adapterlib.runner.settings import MultiTaskConfig, RunConfig

SMALL = dict(max_train=64, max_eval=32, max_test=32, batch_size=16, max_length=48, model_kwargs={"num_hidden_layers": 2})
CONFIGS = {  # 4 steps per epoch each: the kill comes at step 6, in the middle of epoch 2
    "adapters": RunConfig("rt_polarity", adapter=al.AdapterConfig.houlsby(16), lr=3e-3, epochs=3, **SMALL),
    "mt_a": MultiTaskConfig(tasks=("snli", "sst2_dev_split"), epochs=3, **{**SMALL, "max_train": 32}),
}
KILL_AT_STEP = 6
# what differs between two runs of one config by when and where they ran, not by what they computed
TIMING = {"wall_time", "examples_per_s", "train_time", "finished_at", "host", "git_revision", "versions", "files"}

WORKER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import transformers
transformers.logging.set_verbosity_error()
from adapterlib.runner import loop
from adapterlib.runner.store import RunStore
from test_resume import CONFIGS

kill_at = int(sys.argv[3])
if kill_at:  # the loop checks every step's gradient once: die there, with no chance to clean up
    checked, steps = loop.diverged, []
    def diverged(*args):
        steps.append(1)
        if len(steps) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return checked(*args)
    loop.diverged = diverged
RunStore(sys.argv[1]).run(CONFIGS[sys.argv[2]], progress=False)
"""


def run_worker(script: Path, store: Path, name: str, kill_at: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(script), str(store), name, str(kill_at)], env=env,
                          capture_output=True, text=True, timeout=300)


def recorded(store: Path, run_id: str) -> tuple[dict, dict[str, bytes]]:
    """The record without its timings, and every other file of the run by path."""
    record = json.loads((store / run_id / "record.json").read_text())
    files = {str(p.relative_to(store / run_id)): p.read_bytes() for p in sorted((store / run_id).rglob("*"))
             if p.is_file() and p.name != "record.json"}
    return {k: v for k, v in record.items() if k not in TIMING}, files


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_result(name, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=os.path.dirname(__file__)))
    run_id = CONFIGS[name].run_id

    whole = run_worker(script, tmp_path / "whole", name, 0)
    assert whole.returncode == 0, whole.stderr[-3000:]

    killed = run_worker(script, tmp_path / "killed", name, KILL_AT_STEP)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    kept = tmp_path / "killed" / f".{run_id}.resume"
    assert sorted(p.name for p in kept.iterdir()) == ["rng-0-e1.pt", "state-e1.pt"]  # epoch 1 done, epoch 2 not
    assert not (tmp_path / "killed" / run_id).exists()

    resumed = run_worker(script, tmp_path / "killed", name, 0)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not kept.exists()  # the checkpoint goes once the run is recorded
    assert recorded(tmp_path / "killed", run_id) == recorded(tmp_path / "whole", run_id)
