"""The one progress policy (adapterlib.progress): a bar per grid where someone watches, one plain line per finished
run (bounded) where the output is kept (papermill, logs), nothing with ``off``; and the mode reproduce's kernels get."""
from __future__ import annotations

import re

import pytest

from adapterlib import progress
from adapterlib.runner.grid import expand, run_grid
from adapterlib.runner.store import RunStore

TINY = dict(model_kwargs={"num_hidden_layers": 2}, max_train=32, max_eval=16, epochs=2, batch_size=16, max_length=48)
RUN_LINE = re.compile(r"^\[(\d+)/(\d+)\] (.+): (dev -?\d+\.\d|failed \(.+\)|no dev score), \d+ s$")


@pytest.fixture
def mode(monkeypatch):
    def set_mode(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv(progress.ENV, raising=False)
        else:
            monkeypatch.setenv(progress.ENV, value)
    return set_mode


def test_the_mode_comes_from_the_environment_else_from_where_the_code_runs(mode, monkeypatch):
    for value in progress.MODES:
        mode(value)
        assert progress.mode() == value
    mode("bars")
    with pytest.raises(ValueError, match="ADAPTERLIB_PROGRESS='bars': expected one of bar, log, off"):
        progress.mode()
    mode(None)
    assert progress.mode() == "log"  # pytest captures stderr: not a terminal, not a kernel
    monkeypatch.setattr(progress, "in_kernel", lambda: True)
    monkeypatch.setattr(progress, "has_widgets", lambda: True)
    assert progress.mode() == "bar"  # JupyterLab with ipywidgets: the notebook bar
    monkeypatch.setattr(progress, "has_widgets", lambda: False)
    assert progress.mode() == "log"  # no widgets: tqdm's text bar would store every redraw in the notebook
    mode("bar")
    assert progress.mode() == "log"


def test_log_mode_writes_one_plain_line_per_finished_run(mode, capsys):
    mode("log")
    with progress.grid(7, done=2) as grid:
        for i in range(5):
            run = progress.Run(f"task{i} adapters(houlsby, 8) lr=0.001", steps=10)
            for _ in range(10):
                run.step(0.5)
            run.epoch(1, 1, 71.25)
            run.failed("non-finite loss at epoch 1, step 3") if i == 3 else run.finished(71.25)
            grid.advance()
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and "\x1b" not in err
    assert lines[0] == "grid: training 5 of 7 runs (2 already in the run store)"
    runs = [RUN_LINE.match(line) for line in lines[1:]]
    assert all(runs) and len(runs) == 5
    assert [(m[1], m[2]) for m in runs] == [(str(i), "5") for i in range(1, 6)]
    assert runs[0][3] == "task0 adapters(houlsby, 8) lr=0.001" and runs[0][4] == "dev 71.2"
    assert runs[3][4] == "failed (non-finite loss at epoch 1, step 3)"


def test_a_large_grid_logs_a_bounded_number_of_lines(mode, capsys):
    mode("log")
    with progress.grid(1000) as grid:
        for i in range(1000):
            progress.Run(f"run {i}", steps=1).finished(50.0)
            grid.advance()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("a line every 100 runs")
    numbers = [int(RUN_LINE.match(line)[1]) for line in lines[1:]]
    assert numbers[0] == 1 and numbers[-1] == 1000 and len(numbers) <= progress.LOG_LINES + 2


def test_a_run_alone_logs_one_line_and_off_writes_nothing(mode, capsys):
    mode("log")
    progress.Run("rte full lr=1e-05", steps=3).finished(60.0)
    assert re.fullmatch(r"rte full lr=1e-05: dev 60\.0, \d+ s\n", capsys.readouterr().err)
    mode("off")
    with progress.grid(3) as grid:
        progress.Run("rte full", steps=3).finished(60.0)
        grid.advance()
    progress.line("anything")
    assert capsys.readouterr() == ("", "")
    mode("log")
    with progress.grid(3, enabled=False):  # run_grid(progress=False)
        progress.Run("rte full", steps=3).finished(60.0)
    assert capsys.readouterr() == ("", "")


def test_bar_mode_has_one_bar_per_grid_and_none_per_run(mode, monkeypatch):
    mode("bar")
    made = []

    class FakeBar:
        def __init__(self, **kwargs):
            self.kwargs, self.n, self.postfix, self.closed = kwargs, kwargs.get("initial", 0), "", False
            made.append(self)

        def update(self, n=1):
            self.n += n

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

        def set_postfix(self, refresh=True, **kwargs):
            self.postfix = str(kwargs)

        def close(self):
            self.closed = True

    monkeypatch.setattr(progress, "_bar", FakeBar)
    with progress.grid(4, done=1) as grid:
        for i in range(3):
            run = progress.Run(f"run {i}", steps=5)
            for _ in range(5):
                run.step(0.1)
            run.epoch(1, 2, 55.0)
            run.finished(55.0)
            grid.advance()
    assert len(made) == 1 and made[0].kwargs["total"] == 4 and made[0].n == 4 and made[0].closed
    assert made[0].postfix == "run 2: epoch 1/2, dev 55.0"
    alone = progress.Run("run alone", steps=5)  # outside a grid: one bar of its own, gone when the run ends
    alone.step(0.1)
    alone.finished(55.0)
    assert len(made) == 2 and made[1].n == 1 and made[1].kwargs["leave"] is False and made[1].closed


def test_reproduce_starts_its_kernels_in_log_mode_with_tqdm_off(mode):
    mode("bar")
    assert progress.kernel_environment() == {progress.ENV: "log", "TQDM_DISABLE": "1"}
    mode("off")
    assert progress.kernel_environment()[progress.ENV] == "off"


def test_a_real_grid_in_log_mode_writes_a_line_per_trained_run_and_no_redraws(mode, tmp_path, capsys):
    mode("log")
    configs = expand({"lr": [1e-3, 3e-3]}, task="rt_polarity", size=8, **TINY)
    report = run_grid(configs, RunStore(tmp_path))
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    runs = [line for line in lines if RUN_LINE.match(line)]
    assert len(runs) == report.trained == 2
    assert all(line.startswith(f"[{i}/2] rt_polarity adapters(") for i, line in zip((1, 2), runs))
    assert lines[0] == "grid: training 2 of 2 runs (0 already in the run store)"
    assert lines[-1] == "grid: 2 runs: 0 already in the store, 2 trained (0 failed)"
    assert len(lines) == 4  # nothing else: no per-epoch bar, no step redraws
    run_grid(configs, RunStore(tmp_path))  # all in the store: no run line, only the counts
    assert capsys.readouterr().err.splitlines() == ["grid: 2 runs: 2 already in the store, 0 trained (0 failed)"]
