"""Resume inside a run: at each epoch's end the run keeps what it needs to go on, so an interrupted run (a killed
process, a preempted GPU) resumes from its last complete epoch instead of from zero.

What an epoch's end keeps, in the run's checkpoint folder (``RunStore``: ``<store>/.<run id>.resume/``):

    state-e<epoch>.pt      the main process's: trainable weights, optimizer, scheduler and loss-scaler states, the
                           history, the best epoch so far (its score and weights), step and throughput counters, and
                           the run kind's own state (its batch-order generator, its recorded dev evaluations)
    rng-<rank>-e<epoch>.pt each process's global RNG states (torch CPU and CUDA, numpy, random: dropout draws)

Every file is written to a temporary name and renamed into place; the RNG files are written before the state file
and the older epochs are removed only after it, so an epoch whose state file exists is complete. A run resumes only
with the number of processes it was checkpointed with (each process has its own dropout stream); otherwise it starts
again. ``RunStore`` removes the folder once the run is recorded. On CPU the resumed run equals an uninterrupted one
bit for bit (tests/test_resume.py).
"""
from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator

STATE = "state-e{epoch}.pt"
RNG = "rng-{rank}-e{epoch}.pt"


def rng_states() -> dict[str, Any]:
    """This process's global random states: what dropout and any other unseeded draw read next."""
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "random": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["random"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _write(value: Any, path: Path) -> None:
    """``torch.save`` under a temporary name, then one rename: a killed write leaves no file under ``path``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(value, tmp)
    os.replace(tmp, path)


@dataclass(frozen=True)
class EpochCheckpoint:
    """The checkpoint folder of one run (see the module docstring); every process of the run holds the same one."""

    directory: Path

    def save(self, epoch: int, state: Callable[[], dict[str, Any]], accelerator: Accelerator) -> None:
        """Keep epoch ``epoch``'s end: ``state()`` (called on the main process only) and every process's RNG
        states. Collective: every process of the run calls it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _write(rng_states(), self.directory / RNG.format(rank=accelerator.process_index, epoch=epoch))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            _write({**state(), "epoch": epoch, "processes": accelerator.num_processes},
                   self.directory / STATE.format(epoch=epoch))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            for old in self.directory.iterdir():
                kept = re.search(r"-e(\d+)\.pt$", old.name)
                if kept and int(kept.group(1)) < epoch:
                    old.unlink(missing_ok=True)

    def load(self, accelerator: Accelerator) -> dict[str, Any] | None:
        """The last complete epoch's state with this process's RNG states already restored, or None (nothing kept,
        or kept by another number of processes: that is removed and the run starts again). Collective."""
        epochs = sorted(int(m.group(1)) for p in self.directory.glob("state-e*.pt")
                        if (m := re.fullmatch(r"state-e(\d+)\.pt", p.name))) if self.directory.is_dir() else []
        if not epochs:
            return None
        state = torch.load(self.directory / STATE.format(epoch=epochs[-1]), weights_only=False)
        if state["processes"] != accelerator.num_processes:
            accelerator.wait_for_everyone()  # every process has read it before it goes
            if accelerator.is_main_process:
                self.remove()
            return None
        set_rng_states(torch.load(self.directory / RNG.format(rank=accelerator.process_index, epoch=state["epoch"]),
                                  weights_only=False))
        return state

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
