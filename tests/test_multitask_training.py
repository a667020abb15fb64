"""MT-A training through the run store: recorded, resumed, per-task rows, and its adapters fused (issue 6)."""
from __future__ import annotations

import pytest
from safetensors.torch import load_file

import adapterlib as al
from adapterlib.core.fusion import FUSION_WEIGHTS_FILE
from adapterlib.runner.grid import select_best
from adapterlib.runner.multitask import ADAPTERS_DIR
from adapterlib.runner.settings import MultiTaskConfig, MultiTaskResult, RunConfig
from adapterlib.runner.store import RunStore
from adapterlib.runner.single import FUSION_DIR, SHARED_BASE
from conftest import assert_predictions_give_metrics

SMALL = dict(max_train=32, max_eval=16, batch_size=16, max_length=48, model_kwargs={"num_hidden_layers": 2})
TASKS = ("snli", "sst2_dev_split", "winogrande_offline")  # pair (3 labels), single, multiple choice


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    cfg = MultiTaskConfig(tasks=TASKS, epochs=2, **SMALL)
    return store, cfg, store.run(cfg, progress=False)


def test_config_is_hashed_sorted_and_validated():
    a = MultiTaskConfig(tasks=("sst2_dev_split", "snli"))
    b = MultiTaskConfig(tasks=("snli", "sst2_dev_split"))
    assert a.run_id == b.run_id and a.run_id.startswith("mt_a-")
    assert MultiTaskConfig.from_dict(a.to_dict()) == a
    assert a.adapter_ids == [f"{a.run_id}/snli", f"{a.run_id}/sst2_dev_split"]
    assert MultiTaskConfig(tasks=a.tasks, lr=1e-4).run_id != a.run_id
    for bad in (dict(tasks=("sst2_dev_split",)), dict(tasks=("sst2_dev_split", "squad_v1_dev")),
                dict(tasks=("sst2_dev_split", "snli"), epochs=0)):
        with pytest.raises(ValueError):
            MultiTaskConfig(**bad)


def test_multitask_run_is_recorded_per_task_and_resumed(trained):
    store, cfg, result = trained
    assert isinstance(result, MultiTaskResult) and result.status == "ok"
    assert sorted(result.metrics) == sorted(TASKS)
    for task in TASKS:
        assert {"validation", "test"} <= set(result.metrics[task])
        assert 0 <= result.metrics[task]["test"]["score"] <= 100
    assert len(result.history) == 2 and all(set(h["validation"]) == set(TASKS) for h in result.history)
    steps = sum(result.history[0]["steps"].values())
    assert steps == sum(-(-min(32, n) // 16) for n in (32, 32, 32))  # one pass over every task's batches
    best = result.history[result.best_epoch - 1]["dev_score"]
    assert best == max(h["dev_score"] for h in result.history)
    again = store.get(cfg)  # a rerun reads the record
    assert isinstance(again, MultiTaskResult) and again.metrics == result.metrics
    assert store.run(cfg, progress=False).wall_time == result.wall_time
    frame = store.to_frame([cfg.run_id])
    assert set(frame["regime"]) == {"mt_a"} and sorted(frame["task"].unique()) == sorted(TASKS)
    assert set(frame["run_id"]) == set(cfg.adapter_ids)
    chosen = select_best(frame, by=["task", "regime"])
    assert len(chosen) == len(TASKS)
    assert (frame["trainable"] > frame["base"]).all()  # the encoder is trained too
    for task_result in again.per_task():
        assert_predictions_give_metrics(task_result, SMALL["max_eval"])


def test_multitask_adapters_are_fusable_on_the_multitask_encoder(trained, minilm, tmp_path):
    store, cfg, _ = trained
    root = store.run_dir(cfg.run_id) / ADAPTERS_DIR
    assert (root / SHARED_BASE).is_file()
    base = load_file(root / SHARED_BASE)
    fusion = RunConfig(task="snli", regime="fusion", fusion=tuple(cfg.adapter_ids), epochs=1, **SMALL)
    result = store.run(fusion, progress=False)
    assert result.status == "ok" and result.params["trainable"] < result.params["total"]
    assert_predictions_give_metrics(store.get(fusion), SMALL["max_eval"])
    (curve,) = result.history  # one epoch: its attention statistics beside loss and dev score
    assert 0 < curve["attention_entropy"] <= curve["attention_uniform_entropy"] + 1e-9
    assert 0 <= curve["attention_max_deviation"] < 1
    model, _ = store.load_trained(fusion)
    assert al.fused_adapters(model) == TASKS
    saved = load_file(store.run_dir(fusion.run_id) / FUSION_DIR / FUSION_WEIGHTS_FILE)  # the trained fusion, not a fresh one
    reloaded = load_file(al.save_fusion(model, tmp_path / "reloaded") / FUSION_WEIGHTS_FILE)
    assert saved.keys() == reloaded.keys() and all(saved[k].equal(reloaded[k]) for k in saved)
    name = "encoder.layer.1.attention.self.query.weight"
    assert dict(model.base_model.named_parameters())[name].equal(base[name])  # the MT-A encoder, not MiniLM's
    fresh, _ = minilm("pair", 3, num_hidden_layers=2)
    assert not dict(fresh.base_model.named_parameters())[name].equal(base[name])


def test_fusing_adapters_of_different_bases_fails(trained):
    store, cfg, _ = trained
    single = RunConfig(task="sst2_dev_split", adapter=al.AdapterConfig.pfeiffer(), epochs=1, **SMALL)
    store.run(single, progress=False)
    mixed = RunConfig(task="sst2_dev_split", regime="fusion", fusion=(single.run_id, cfg.adapter_ids[0]), epochs=1,
                      **SMALL)
    with pytest.raises(ValueError, match="different base"):
        store.run(mixed, progress=False)
    with pytest.raises(ValueError, match="MT-A"):
        store.adapter_dir(f"{cfg.run_id}/rte_dev_split")  # not one of the run's tasks


def test_each_task_is_read_at_the_length_of_its_single_task_runs():
    """BoolQ's passages and RTE's and CB's premises need 256 tokens (``Task.max_length``): MT-A reads them there, as
    their ST-A runs do, and the others at the profile's 128. A config without per-task lengths keeps the run id it had before them."""
    from adapterlib.runner.profiles import get_profile
    from adapterlib.studies.fusion.runs import mt_a_configs

    cpu = get_profile("cpu")
    for mt_a in mt_a_configs(cpu):
        assert mt_a.max_length == 128 and mt_a.task_max_length == {
            "boolq_offline": 256, "cb_dev_split": 256, "rte_dev_split": 256}
        for task in mt_a.tasks:
            assert mt_a.max_length_of(task) == cpu.run_config(task, "head", role="fusion").max_length
        rows = MultiTaskResult(mt_a.run_id, mt_a.to_dict(), "ok", {}, 1, [], {}, 0.0, 0.0).per_task()
        assert {r.config["task"]: r.config["max_length"] for r in rows} == {t: mt_a.max_length_of(t) for t in mt_a.tasks}
    plain = MultiTaskConfig(tasks=("snli", "sst2_dev_split"))
    assert "task_max_length" not in plain.to_dict() and MultiTaskConfig.from_dict(plain.to_dict()) == plain
    with pytest.raises(ValueError, match="task_max_length names 'cb_dev_split'"):
        MultiTaskConfig(tasks=("snli", "sst2_dev_split"), task_max_length={"cb_dev_split": 256})
    with pytest.raises(ValueError, match=r"task_max_length\['snli'\] must be an int >= 16"):
        MultiTaskConfig(tasks=("snli", "sst2_dev_split"), task_max_length={"snli": 8})
