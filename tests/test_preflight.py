"""A notebook checks before it trains: its first cell (``setup(profile, study)``) says what it will run and, with the
data missing, stops in one line naming what is missing and the command that fixes it, not in a training cell with a
deep traceback. Tasks the profile leaves out are named and the notebook goes on. No network: an empty data cache
is "not prepared", which the checks read from the file system."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch

from adapterlib.data import tasks
from adapterlib.data.tasks import members, prepare
from adapterlib.runner.profiles import get_profile
from adapterlib.studies import STUDIES
from adapterlib.studies import machine
from adapterlib.studies.common import setup
from adapterlib.studies.machine import recorded_rate
from adapterlib.studies.preflight import DataMissing, PeersMissing, check_benchmarks, preflight

REPO = Path(__file__).resolve().parents[1]
SMOKE = get_profile("smoke")
GLUE = SMOKE.tasks["glue"]  # Houlsby Table 1's tasks at smoke
REFUSAL = "x==1.0.0 is not served by PyPI any more (No matching distribution found for x==1.0.0)"


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ADAPTERLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ADAPTERLIB_RUNS", str(tmp_path / "runs"))
    return tmp_path


def test_with_the_data_cache_empty_setup_stops_in_one_line_naming_the_data_and_the_fix(empty_cache, capsys):
    with pytest.raises(DataMissing) as raised:
        setup("smoke", "houlsby_table1_glue")
    (line,) = raised.value._render_traceback_()  # what IPython and papermill show: this line, no traceback
    assert "\n" not in line and line.startswith("DataMissing: stopped before training: ")
    assert all(task in line for task in GLUE)
    assert "`adapterlib data prepare --suite glue_offline`" in line and "`make data`" in line
    plan = capsys.readouterr().out  # the plan is printed before the stop
    assert "plan of houlsby_table1_glue at profile 'smoke'" in plan and "tasks: " + ", ".join(sorted(GLUE)) in plan


def test_the_plan_counts_runs_and_estimates_minutes_without_training(empty_cache, monkeypatch):
    monkeypatch.setattr("adapterlib.studies.machine.probe_rate", lambda precision: 1e10)  # 10 GFLOP/s
    found = preflight(SMOKE, "houlsby_table1_glue")
    assert found.runs == found.todo > 0 and found.done == 0 and found.minutes > 0
    assert "rough" in found.basis and found.problem
    text = found.text()
    assert f"runs: {found.runs}: 0 already in the run store, {found.todo} to train" in text
    assert "on this machine" in text and "NVIDIA A100" in text
    assert str(empty_cache) not in text


def test_recorded_runs_of_this_machine_give_the_rate(tmp_path):
    import json
    import platform

    from adapterlib.costs import PEAK_FLOPS, UTILISATION, run_cost

    config = SMOKE.run_config(GLUE[0], "full", role="glue")
    flops = run_cost(config).gpu_hours * 3600 * PEAK_FLOPS["fp32" if config.precision == "fp32" else "mixed"] \
        * UTILISATION
    threads = torch.get_num_threads()
    for name, host, seconds, extra in (("here", platform.node(), 10.0, {}),
                                       ("here_same_threads", platform.node(), 30.0, {"threads": threads}),
                                       ("here_other_threads", platform.node(), 99.0, {"threads": threads + 1}),
                                       ("elsewhere", "elsewhere", 1.0, {})):
        run = tmp_path / f"{config.run_id}-{name}"
        run.mkdir()
        (run / "record.json").write_text(json.dumps({"host": host, "status": "ok", "wall_time": seconds,
                                                     "config": config.to_dict(), **extra}))
    rate, n = recorded_rate(tmp_path, platform.node())
    # a run trained on other threads (a fill worker's, beside another) is not this process's speed
    assert n == 2 and rate == pytest.approx(2 * flops / 40.0)
    assert recorded_rate(tmp_path, "nowhere") is None


def test_left_out_tasks_are_named_and_the_notebook_goes_on(tmp_path, monkeypatch, capsys):
    left_out = GLUE[1]
    kept = [t for t in GLUE if t != left_out]
    prepare(tasks=kept)  # in the real data cache (a refused source skips the test: conftest)
    built = {name: tasks.task_dir(name) for name in kept}
    monkeypatch.setenv("ADAPTERLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ADAPTERLIB_RUNS", str(tmp_path / "runs"))
    for name, path in built.items():
        tasks.task_dir(name).parent.mkdir(parents=True, exist_ok=True)
        tasks.task_dir(name).symlink_to(path, target_is_directory=True)
    monkeypatch.setattr(members, "refusal", lambda task: REFUSAL if task.name == left_out else None)
    profile = setup("smoke", "houlsby_table1_glue")  # no DataMissing: the left-out task is not needed
    out = capsys.readouterr().out
    assert profile.task_names("glue") == kept
    assert f"left out (1, not run; the claims resting on them are not measured): {left_out}: " in out
    assert "tasks: " + ", ".join(sorted(kept)) in out


def test_every_study_has_a_plan_and_the_benchmarks_check_names_make_peers(empty_cache, monkeypatch, capsys):
    monkeypatch.setattr("adapterlib.studies.machine.probe_rate", lambda precision: 1e10)
    for name in STUDIES:
        if name != "benchmarks":
            assert preflight(SMOKE, name).study == name
    check_benchmarks("smoke")  # smoke measures ours alone: no peers needed
    monkeypatch.setenv("ADAPTERLIB_PROJECT", str(empty_cache))  # a project without benchmarks/.venv-peers
    with pytest.raises(PeersMissing) as raised:
        check_benchmarks("cpu")
    (line,) = raised.value._render_traceback_()
    assert "`make peers`" in line and "peers = False" in line


def _kernel() -> str:
    """The project's kernel where it is registered (make setup), else the default one."""
    from jupyter_client.kernelspec import find_kernel_specs

    return "adapterlib" if "adapterlib" in find_kernel_specs() else "python3"


def test_a_notebook_run_with_the_data_cache_empty_fails_in_its_first_cell_with_one_line(empty_cache, monkeypatch):
    """As a user runs it: papermill on the stored notebook; the error is the cell right after the parameters."""
    import papermill

    monkeypatch.setenv("ADAPTERLIB_RESULTS", str(empty_cache / "results"))
    out = empty_cache / "executed.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as raised:
        papermill.execute_notebook(str(REPO / "notebooks" / "houlsby_table1_glue.ipynb"), str(out),
                                   parameters={"profile": "smoke"}, cwd=str(REPO / "notebooks"),
                                   kernel_name=_kernel(), progress_bar=False)
    err = raised.value
    assert err.ename == "DataMissing" and len(err.traceback) == 1 and "\n" not in err.traceback[0]
    assert "adapterlib data prepare" in err.traceback[0]
    executed = nbformat.read(out, as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"
            and not {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    errors = [o for o in code[0].outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].traceback == err.traceback  # the first code cell, and only there
    assert all(not c.outputs for c in code[1:])


def test_a_cpu_that_emulates_bf16_is_told_to_train_in_fp32(monkeypatch):
    """Without native bf16 (an AVX2-only CPU) autocast emulates it; measured here 1.2 vs 35.9 GFLOP/s."""
    rates = {"bf16": 1e9, "fp32": 30e9}
    monkeypatch.setattr(machine, "probe_rate", lambda precision="fp32", seconds=0.2: rates[precision])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = machine.emulated_bf16("bf16")
    assert "bf16 slower than fp32 (1.0 vs 30.0 GFLOP/s" in line and '{"precision": "fp32"}' in line
    assert machine.emulated_bf16("fp32") is None
    rates["bf16"] = 45e9  # native bf16 (AVX512-BF16, AMX): nothing to say
    assert machine.emulated_bf16("bf16") is None
