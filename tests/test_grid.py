"""Grids, selection on dev with seed statistics, kill-and-rerun, and profiles."""
from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time

import pandas as pd
import pytest

import adapterlib as al
from adapterlib.core.inject import METHODS
from adapterlib.runner.grid import GRIDS, HPARAMS, RUN_KEYS, expand, run_grid, select_best
from adapterlib.runner.profiles import ROLES, get_profile
from adapterlib.runner.store import RunStore, results_frame
from adapterlib.runner.settings import RunConfig, RunResult

TINY = dict(model_kwargs={"num_hidden_layers": 2}, max_train=32, max_eval=16, epochs=1, batch_size=16, max_length=48)
TIMING = ["wall_time", "examples_per_s"]


# ---------------------------------------------------------------- expansion
def test_houlsby_grid_expands_per_method_as_in_the_paper():
    configs = expand(GRIDS["houlsby_glue"], task="rt_polarity", regime=["full", "adapters"])
    full = [c for c in configs if c.regime == "full"]
    adapters = [c for c in configs if c.regime == "adapters"]
    assert len(full) == 3 * 2 and len(adapters) == 3 * 2 * 3  # size does not apply to full fine-tuning
    assert {c.adapter.size for c in adapters} == {8, 64, 256} and all(c.adapter.placement == "houlsby" for c in adapters)
    assert len({c.run_id for c in configs}) == len(configs)


def test_grid_values_per_regime_adapter_bases_and_errors():
    configs = expand({"lr": {"full": [1e-4], "adapters": [1e-3, 3e-3]}, "reduction_factor": [2, 16]},
                     task="rt_polarity", regime=["full", "adapters"], adapter=al.AdapterConfig.pfeiffer(), epochs=2)
    assert sorted((c.regime, c.lr, c.adapter and c.adapter.reduction_factor) for c in configs) == [
        ("adapters", 1e-3, 2), ("adapters", 1e-3, 16), ("adapters", 3e-3, 2), ("adapters", 3e-3, 16), ("full", 1e-4, None)]
    assert expand(GRIDS["fusion_st_a"], task="rte")[0].adapter == al.AdapterConfig.pfeiffer(reduction_factor=16)
    with pytest.raises(ValueError, match="unknown grid keys"):
        expand({"learning_rate": [1e-3]}, task="rt_polarity")
    with pytest.raises(ValueError, match="not for 'top_k'"):
        expand({"lr": {"full": [1e-4]}}, task="rt_polarity", regime="top_k", top_k=1)
    with pytest.raises(ValueError, match="lr must be"):
        expand({"lr": [3e-4, -1.0]}, task="rt_polarity", regime="full")


def one_line_error(grid: dict, **axes) -> str:
    with pytest.raises(ValueError) as error:
        expand(grid, task="rt_polarity", **axes)
    assert "\n" not in str(error.value)
    return str(error.value)


def test_a_grid_row_sets_the_fields_of_its_own_method_and_names_the_valid_ones_otherwise():
    lora = expand({"adapter": [al.LoRAConfig(alpha=16)], "r": [2, 8]}, task="rt_polarity")
    assert [c.adapter for c in lora] == [al.LoRAConfig(r=2, alpha=16), al.LoRAConfig(r=8, alpha=16)]
    by_key = expand({"method": [m.key for m in METHODS], "layers": [(0,)]}, task="rt_polarity")
    assert [c.adapter for c in by_key] == [m.config_type(layers=(0,)) for m in METHODS]  # each method's default
    assert expand({"size": [8]}, task="rt_polarity")[0].adapter == al.AdapterConfig.houlsby(8)  # the papers' default
    # keys of a method apply to adapter runs only, as the adapter keys always did
    assert [c.adapter for c in expand({"method": ["lora"], "r": [4]}, task="rt_polarity", regime="full")] == [None]
    error = one_line_error({"adapter": [al.LoRAConfig()], "size": [8]})  # was a raw TypeError from replace()
    assert error == ("grid keys ['size'] are not fields of method 'lora' (LoRAConfig); its fields: r, alpha, "
                     "dropout, target_modules, layers")
    assert one_line_error({"method": ["lora", "adapterdrop"]}).startswith(
        "unknown method 'adapterdrop' in a grid; methods: " + ", ".join(m.key for m in METHODS))
    assert "give one of them" in one_line_error({"method": ["lora"], "adapter": [al.AdapterConfig.pfeiffer()]})
    unknown = one_line_error({"rank": [8]})
    assert unknown.startswith("unknown grid keys ['rank']; RunConfig fields:")
    assert all(f"{m.key}: {', '.join(m.grid_keys)}" in unknown for m in METHODS)


def test_every_methods_fields_are_grid_keys_and_its_hparams_are_chosen_on_dev():
    assert all(not set(m.grid_keys) & RUN_KEYS for m in METHODS)  # a key means one thing in every grid
    assert HPARAMS[:3] == ("lr", "epochs", "method") and HPARAMS[-1] == "top_k"
    assert all(h in HPARAMS for m in METHODS for h in m.hparams)


# ---------------------------------------------------------------- selection
def fake_result(task: str, size: int, lr: float, seed: int, dev: float, test: float) -> RunResult:
    cfg = RunConfig(task, adapter=al.AdapterConfig.houlsby(size), lr=lr, seed=seed)
    return RunResult(cfg.run_id, cfg.to_dict(), "ok", {"validation": {"score": dev}, "test": {"score": test}}, 1,
                     [], {"trainable": size, "total": 1000, "trainable_pct": size / 10}, 1.0, 1.0)


def test_selection_on_dev_reports_test_mean_std_and_sem_over_seeds():
    results = [fake_result("rt_polarity", 8, 1e-3, s, dev, test) for s, dev, test in [(0, 80, 70), (1, 80, 74)]]
    results += [fake_result("rt_polarity", 64, 1e-3, s, dev, test) for s, dev, test in [(0, 90, 60), (1, 60, 62)]]
    frame = results_frame(results)
    mean = select_best(frame, by=["task", "regime"], seeds="mean").iloc[0]
    assert (mean["size"], mean["dev_score"], mean["score"], mean["n_seeds"]) == (8, 80, 72, 2)
    assert mean["std"] == pytest.approx(math.sqrt(8)) and mean["sem"] == pytest.approx(2.0)
    best = select_best(frame, by=["task", "regime"], seeds="best").iloc[0]
    assert (best["size"], best["dev_score"], best["score"]) == (64, 90, 60)  # the single best dev run
    per_size = select_best(frame, by=["task", "size"])
    assert list(per_size["score"]) == [72, 61]


def test_two_methods_without_a_size_are_never_pooled_as_one_setting():
    """A method is a hyperparameter of the selection: runs of two methods at the same lr are two settings even
    where no size column tells them apart."""
    results = [fake_result("rt_polarity", 8, 1e-3, 0, 80, 70)]
    for method, dev, test in (("lora", 70, 60), ("ia3", 90, 90)):
        cfg = RunConfig("rt_polarity", adapter=al.adapter_config_from_dict({"method": method}), lr=1e-3)
        results.append(RunResult(cfg.run_id, cfg.to_dict(), "ok", {"validation": {"score": dev},
                                                                    "test": {"score": test}}, 1, [],
                                 {"trainable": 1, "total": 1000, "trainable_pct": 0.1}, 1.0, 1.0))
    frame = results_frame(results).drop(columns=["size", "r"])  # nothing but the method tells them apart
    best = select_best(frame, by=["task", "regime"]).iloc[0]
    assert (best["method"], best["score"], best["n_seeds"]) == ("ia3", 90, 1)


def test_selection_carries_the_test_predictions_behind_each_score():
    results = [fake_result("rt_polarity", 8, 1e-3, s, dev, test) for s, dev, test in [(0, 80, 70), (1, 80, 74)]]
    results += [fake_result("rt_polarity", 64, 1e-3, 0, 90, 60)]
    for i, result in enumerate(results):
        result.predictions, result.references = {"test": [i, i]}, {"test": [1, 0]}
    frame = results_frame(results)
    mean = select_best(frame, by=["task", "size"], seeds="mean").set_index("size")
    assert sorted(mean.at[8, "predictions"]) == [[0, 0], [1, 1]] and mean.at[8, "references"] == [1, 0]  # both seeds
    best = select_best(frame, by=["task", "regime"], seeds="best").iloc[0]
    assert best["predictions"] == [[2, 2]]  # only the winning run
    results[0].predictions = {}  # a run recorded before predictions were kept: no predictions for its setting
    assert select_best(results_frame(results), by=["task", "size"]).set_index("size").at[8, "predictions"] is None


# ---------------------------------------------------------------- running, killing, rerunning
GRID_SCRIPT = """
import sys
from adapterlib.runner.grid import expand, run_grid
from adapterlib.runner.store import RunStore
import adapterlib as al
configs = expand({{"lr": [1e-3, 3e-3, 1e-2]}}, task="rt_polarity", size=8, **{tiny!r})
run_grid(configs, RunStore(sys.argv[1]), progress=False)
"""


def test_killed_grid_reruns_only_what_is_missing_and_gives_the_same_table(tmp_path, capsys):
    configs = expand({"lr": [1e-3, 3e-3, 1e-2]}, task="rt_polarity", size=8, **TINY)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", GRID_SCRIPT.format(tiny=TINY), str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (killed.is_dir() and any(not p.name.startswith(".") for p in killed.iterdir())):
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    finished = [p for p in killed.iterdir() if not p.name.startswith(".")]
    assert 1 <= len(finished) < 3, "the grid was not killed mid-run"

    resumed = run_grid(configs, RunStore(killed), progress=False)
    assert (resumed.skipped, resumed.trained, resumed.failed) == (len(finished), 3 - len(finished), 0)
    assert f"{len(finished)} already in the store" in capsys.readouterr().err
    again = run_grid(configs, RunStore(killed), progress=False)
    assert (again.skipped, again.trained) == (3, 0)
    uninterrupted = run_grid(configs, RunStore(tmp_path / "clean"), progress=False)
    pd.testing.assert_frame_equal(resumed.frame.drop(columns=TIMING), uninterrupted.frame.drop(columns=TIMING))
    pd.testing.assert_frame_equal(again.frame, resumed.frame)


# ---------------------------------------------------------------- profiles
def test_profiles_fail_at_once_on_unknown_names_and_bad_values():
    with pytest.raises(ValueError, match="unknown profile 'tpu'; choose from smoke, cpu, paper, cpu-long, gpu"):
        get_profile("tpu")
    with pytest.raises(ValueError, match="unknown profile override"):
        get_profile("cpu", max_trian=10)
    with pytest.raises(ValueError, match="max_eval must be"):
        get_profile("cpu", max_eval=-1)
    with pytest.raises(ValueError, match="not in suite"):
        get_profile("cpu", tasks={"glue": ("sst2_dev_split", "sms_spam")})
    with pytest.raises(ValueError, match=r"grid 'mine': unknown grid keys \['sizes'\]"):
        get_profile("cpu", grids={"mine": {"sizes": [8]}})


def test_profiles_expand_into_valid_runs_at_their_scale():
    cpu = get_profile("cpu", seeds=(0, 1))
    configs = cpu.configs("houlsby_glue", cpu.task_names("glue"), regime=["full", "adapters"])
    assert len(configs) == len(cpu.task_names("glue")) * (1 + 3) * 2
    assert {c.model for c in configs} == {"minilm-l6"} and {c.max_train for c in configs} == {cpu.max_train}
    squad = cpu.configs("squad", ["squad_v1_dev"], regime=["full", "adapters"])
    assert {c.max_length for c in squad} == {cpu.qa_max_length}
    paper = get_profile("paper")
    assert {c.model for c in paper.configs("houlsby_glue", ["rte"], regime="full")} == {"bert-large-uncased"}
    assert {c.model for c in paper.configs("fusion_st_a", ["rte"], role="fusion")} == {"bert-base-uncased"}
    smoke = get_profile("smoke")
    for name in smoke.grids:
        grid = smoke.grids[name]
        regimes = list(grid["lr"]) if isinstance(grid["lr"], dict) else ["adapters"]
        assert smoke.configs(name, smoke.task_names("glue")[:1], regime=regimes)


def test_a_roles_training_cap_caps_that_roles_runs_only():
    """The gpu profile caps Table 2's and AdapterFusion's training sets (``role_max_train``), GLUE's not; Figs. 4
    and 6 run MNLI in Table 2's role, so at its cap. One model, BERT-base, in every role."""
    gpu = get_profile("gpu")
    assert {c.max_train for c in gpu.configs("houlsby_glue", ["mnli"], regime="full")} == {None}
    assert {c.max_train for c in gpu.configs("houlsby_glue", ["mnli"], role="additional", regime="full")} == {10_000}
    assert {c.max_train for c in gpu.configs("fusion_st_a", ["mnli"], role="fusion")} == {10_000}
    assert gpu.caps_for("squad") == {"max_train": None, "max_eval": None, "max_test": None}
    assert {gpu.run_config("rte", "full", role=role).model for role in ROLES} == {"bert-base-uncased"}
    assert {c.seed for role in ROLES for c in gpu.configs("houlsby_glue", ["rte"], role=role, regime="full")} == {0}
    with pytest.raises(ValueError, match=r"role_max_train\['fusion'\] must be None or an int >= 1, got 0"):
        get_profile("gpu", role_max_train={"fusion": 0})
    with pytest.raises(ValueError, match="unknown role 'tables'"):
        get_profile("gpu", role_max_train={"tables": 10})


def test_a_task_read_shorter_is_read_shorter_in_every_run_of_it_and_nowhere_else():
    """The cpu profile reads BBC News (a headline task's stand-in) at 64 tokens: title and lead paragraph."""
    cpu = get_profile("cpu")
    assert {c.max_length for c in cpu.configs("houlsby_additional", ["bbc_news"], regime=["full", "adapters"])} == {64}
    assert {c.max_length for c in cpu.configs("houlsby_additional", ["sms_spam"], regime="full")} == {cpu.max_length}
    assert cpu.run_config("boolq_offline", "full", role="fusion").max_length == 256  # Task.max_length still applies
    assert get_profile("paper").task_max_length == {}
    with pytest.raises(ValueError, match=r"task_max_length\['bbc_news'\] must be an int >= 1, got 0"):
        get_profile("cpu", task_max_length={"bbc_news": 0})
    with pytest.raises(ValueError, match="task_max_length: unknown task 'bbc'"):
        get_profile("cpu", task_max_length={"bbc": 64})


def test_paper_profile_runs_in_mixed_precision_and_fp32_runs_keep_their_run_ids():
    paper, cpu = get_profile("paper"), get_profile("cpu")
    assert {c.precision for c in paper.configs("houlsby_glue", ["rte"], regime=["full", "adapters"])} == {"auto"}
    cpu_run = cpu.run_config("sst2_dev_split", "adapters", adapter=al.AdapterConfig.houlsby(size=64), lr=3e-3)
    assert cpu_run.precision == "bf16" and cpu_run.max_test == 1000
    old = dataclasses.replace(cpu_run, precision="fp32", max_test=None)
    assert "precision" not in old.to_dict() and "max_test" not in old.to_dict()  # defaults are not hashed
    assert old.run_id != cpu_run.run_id
    with pytest.raises(ValueError, match="precision must be one of"):
        get_profile("paper", precision="fp8")


def test_paper_profile_seeds_per_role_as_the_papers_report_them():
    paper = get_profile("paper")
    assert {c.seed for c in paper.configs("houlsby_glue", ["rte"], regime="full")} == {0, 1, 2, 3, 4}  # Sec. 3.2
    assert {c.seed for c in paper.configs("houlsby_additional", ["cf_airline"], regime="full")} == {0, 1, 2}
    assert {c.seed for c in paper.configs("squad", ["squad"], regime="full")} == {0, 1, 2}  # Fig. 5
    assert {c.seed for c in paper.configs("size_sweep", ["mnli"], role="additional", regime="layernorm")} == {0, 1, 2}
    one_seed = get_profile("paper", seeds=(7,))  # a seeds override means every role
    assert {c.seed for c in one_seed.configs("houlsby_additional", ["cf_airline"], regime="full")} == {7}
    with pytest.raises(ValueError, match=r"role_seeds\['glue'\] must be a non-empty"):
        get_profile("paper", role_seeds={"glue": ()})


def test_paper_squad_runs_bert_large_on_each_methods_own_grid():
    paper = get_profile("paper")
    full = paper.configs("squad", ["squad"], regime="full")
    adapters = paper.configs("squad", ["squad"], regime="adapters")
    assert {c.model for c in full + adapters} == {"bert-large-uncased"}
    assert {(c.lr, c.epochs) for c in full} == {(lr, ep) for lr in (3e-5, 5e-5, 1e-4) for ep in (2, 3, 5)}
    assert {(c.lr, c.epochs) for c in adapters} == {(lr, ep) for lr in (3e-5, 1e-4, 3e-4, 1e-3) for ep in (3, 10, 20)}
