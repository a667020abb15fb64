"""The run store: record once, skip on rerun, detect corrupt records, keep adapter weights, restore trained models."""
from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest
import torch

import adapterlib as al
import adapterlib.runner.store as store_module
from adapterlib.reporting.predictions import GOLD, predictions_frame
from adapterlib.runner.store import PREDICTIONS, RECORD, RunStore, default_root, git_revision, results_frame
from conftest import assert_predictions_give_metrics
from adapterlib.data.tasks import load_task
from adapterlib.runner.evaluate import evaluate
from adapterlib.core.inject import METHODS
from adapterlib.runner.settings import MultiTaskConfig, MultiTaskResult, RunConfig, RunResult

TINY = dict(model_kwargs={"num_hidden_layers": 2}, max_train=32, max_eval=24, epochs=2, batch_size=16, max_length=64)
ADAPTER_RUN = RunConfig("rt_polarity", adapter=al.AdapterConfig.pfeiffer(reduction_factor=32), lr=3e-3, **TINY)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A store holding one finished adapter run (trained once for the whole module)."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    return store, store.run(ADAPTER_RUN, progress=False)


@pytest.fixture
def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the store trained a run it already had")

    monkeypatch.setattr(store_module, "train_and_evaluate", fail)


def copy_store(store: RunStore, tmp_path) -> RunStore:
    import shutil

    shutil.copytree(store.root, tmp_path / "copy")
    return RunStore(tmp_path / "copy")


def test_a_finished_run_is_recorded_once_with_its_adapter_and_environment(filled, no_training):
    store, result = filled
    record = json.loads((store.run_dir(ADAPTER_RUN.run_id) / RECORD).read_text())
    assert record["run_id"] == ADAPTER_RUN.run_id and record["status"] == "ok"
    assert set(record["versions"]) >= {"adapterlib", "torch", "transformers", "datasets"}
    assert "adapter/adapter.safetensors" in record["files"] and "git_revision" in record
    assert store.run(ADAPTER_RUN) == result == store.get(ADAPTER_RUN)  # no retraining (no_training)
    assert store.adapter_dir(ADAPTER_RUN.run_id).joinpath("adapter_config.json").is_file()


def test_a_reloaded_model_goes_to_the_run_device(filled, monkeypatch):
    """Analyses (Fig. 6's ablation, fusion attention) evaluate where the runs train: the GPU when there is one.
    The meta device stands in for it here."""
    import torch

    from adapterlib.runner import store as store_module

    monkeypatch.setattr(store_module, "run_device", lambda: torch.device("meta"))
    model, _ = filled[0].load_trained(ADAPTER_RUN.run_id)
    assert {p.device.type for p in model.parameters()} == {"meta"} and not model.training


def test_predictions_are_recorded_beside_the_record_and_exported_with_gold_once(filled, tmp_path):
    store, result = filled
    record = json.loads((store.run_dir(ADAPTER_RUN.run_id) / RECORD).read_text())
    assert PREDICTIONS in record["files"] and "predictions" not in record
    assert_predictions_give_metrics(store.get(ADAPTER_RUN), TINY["max_eval"])
    frame = store.to_frame()
    test_row = frame[frame["split"] == "test"].iloc[0]
    assert test_row["predictions"] == result.predictions["test"] and test_row["references"] == result.references["test"]
    again = RunStore(tmp_path / "again").run(ADAPTER_RUN, progress=False)  # same run, other store: same predictions
    long = predictions_frame([result, again])
    gold = long[long["run_id"] == GOLD]
    assert len(gold) == 2 * TINY["max_eval"]  # once per split, not once per run
    assert list(gold[gold["split"] == "test"]["prediction"]) == result.references["test"]
    ours = long[(long["run_id"] == result.run_id) & (long["split"] == "validation")]
    assert len(ours) == 2 * TINY["max_eval"] and list(ours["prediction"])[:TINY["max_eval"]] == result.predictions["validation"]


def test_restored_model_reproduces_the_best_epoch_dev_score(filled):
    store, result = filled
    model, tokenizer = store.load_trained(ADAPTER_RUN.run_id)
    dev = load_task("rt_polarity", max_eval=TINY["max_eval"])["validation"]
    assert evaluate(model, tokenizer, "rt_polarity", dev, max_length=64) == result.metrics["validation"]


@pytest.mark.parametrize("damage", ["truncate_json", "edit_config", "truncate_weights", "delete_record"])
def test_corrupt_or_partial_records_are_detected_and_redone(filled, tmp_path, damage):
    store = copy_store(filled[0], tmp_path)
    run_dir = store.run_dir(ADAPTER_RUN.run_id)
    record_path, weights = run_dir / RECORD, run_dir / "adapter" / "adapter.safetensors"
    if damage == "truncate_json":
        record_path.write_text(record_path.read_text()[:100])
    elif damage == "edit_config":
        record = json.loads(record_path.read_text())
        record["config"]["lr"] = 0.5
        record_path.write_text(json.dumps(record))
    elif damage == "truncate_weights":
        weights.write_bytes(weights.read_bytes()[:1000])
    else:
        record_path.unlink()
    with pytest.warns(UserWarning, match="corrupt run"):
        assert store.get(ADAPTER_RUN) is None
        assert store.to_frame().empty


def test_redone_run_replaces_the_corrupt_one(filled, tmp_path, monkeypatch):
    store = copy_store(filled[0], tmp_path)
    (store.run_dir(ADAPTER_RUN.run_id) / RECORD).write_text("{")
    (store.root / f".{ADAPTER_RUN.run_id}.tmp-999").mkdir()  # left by a killed run
    fake = filled[1]
    monkeypatch.setattr(store_module, "train_and_evaluate",
                        lambda cfg, save_to, **kw: (save_to.mkdir(parents=True), fake)[1])
    with pytest.warns(UserWarning, match="corrupt run"):
        assert store.run(ADAPTER_RUN) == fake
    assert store.get(ADAPTER_RUN) == fake
    assert [p.name for p in store.root.iterdir()] == [ADAPTER_RUN.run_id]  # stale temporary directory removed


def test_failed_runs_are_recorded_and_not_retried(tmp_path, monkeypatch):
    import adapterlib.runner.single as train

    def poisoned(cfg, adapter_dir=None):
        model, tokenizer = build(cfg, adapter_dir)
        with torch.no_grad():
            model.classifier.weight.fill_(float("inf"))
        return model, tokenizer

    build = train.build_model
    monkeypatch.setattr(train, "build_model", poisoned)
    store = RunStore(tmp_path)
    cfg = RunConfig("rt_polarity", regime="head", **TINY)
    failed = store.run(cfg, progress=False)
    assert failed.status == "failed" and "non-finite" in failed.error
    assert store.get(cfg).status == "failed"
    frame = store.to_frame()
    assert len(frame) == 1 and frame.loc[0, "status"] == "failed" and frame["score"].isna().all()


def test_top_k_and_full_runs_keep_their_weights_only_when_asked(tmp_path):
    store = RunStore(tmp_path)
    top = RunConfig("rt_polarity", regime="top_k", top_k=1, lr=1e-4, **{**TINY, "epochs": 1})
    full = RunConfig("rt_polarity", regime="full", lr=1e-4, **{**TINY, "epochs": 1})
    store.run(top, progress=False, keep_weights=True)
    store.run(full, progress=False)
    model, _ = store.load_trained(top)
    assert model.bert.encoder.layer[1].output.dense.weight.shape[0] == 384
    with pytest.raises(ValueError, match="kept no weights"):
        store.load_trained(full)
    assert store.get(full).status == "ok" and not (store.run_dir(full.run_id) / "trained.safetensors").exists()
    frame = store.to_frame()
    assert set(frame["split"]) == {"validation", "test"} and len(frame) == 4
    assert {"run_id", "task", "regime", "lr", "seed", "score", "accuracy", "trainable", "trainable_pct",
            "wall_time"} <= set(frame.columns)


def test_the_runs_table_names_each_runs_method_from_the_registry_not_from_names():
    """``method`` is the registered key of the run's adapter config, ``method_point`` its method's name for the
    point (``AdapterMethod.point_name``); both empty for a run that trains no adapter of its own."""
    adapters = [al.AdapterConfig.houlsby(8), al.AdapterConfig.pfeiffer(16), al.LoRAConfig(r=8, layers=(0, 1)),
                *(m.config_type() for m in METHODS)]
    configs = [RunConfig("rt_polarity", adapter=a) for a in adapters] + [RunConfig("rt_polarity", regime="full")]
    mt_a = MultiTaskConfig(tasks=("rt_polarity", "sms_spam"))
    results = [RunResult(c.run_id, c.to_dict(), "failed", {}, None, [], {}, 0.0, 0.0) for c in configs]
    results.append(MultiTaskResult(mt_a.run_id, mt_a.to_dict(), "failed", {}, None, [], {}, 0.0, 0.0))
    frame = results_frame(results).set_index("run_id")
    named = [(frame.at[c.run_id, "method"], frame.at[c.run_id, "method_point"]) for c in configs[:3]]
    assert named == [("bottleneck", "adapters_8"), ("bottleneck", "adapters"), ("lora", "lora_8")]
    for method, config in zip(METHODS, configs[3:]):
        assert (frame.at[config.run_id, "method"], frame.at[config.run_id, "method_point"]) == (
            method.key, method.point_name(config.adapter))
        assert all(c in frame.columns for c in method.grid_keys)  # every field a grid may set is a column
    assert frame.at[configs[2].run_id, "layers"] == (0, 1) and pd.isna(frame.at[configs[2].run_id, "size"])
    assert frame.loc[configs[-1].run_id, ["method", "method_point", "size", "r"]].isna().all()  # full fine-tuning
    assert set(frame.loc[[f"{mt_a.run_id}/{t}" for t in mt_a.tasks], "method"]) == {"bottleneck"}  # MT-A's adapters


def test_default_root_is_per_profile_and_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ADAPTERLIB_RUNS", raising=False)
    assert default_root("smoke").parts[-2:] == ("runs", "smoke")
    monkeypatch.setenv("ADAPTERLIB_RUNS", str(tmp_path))
    assert default_root("cpu") == tmp_path / "cpu"


def test_git_revision_is_dirty_for_changed_code_but_not_for_rewritten_results(tmp_path):
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              capture_output=True, text=True, check=True).stdout.strip()

    (tmp_path / "results" / "cpu").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "cpu" / "table.csv").write_text("a\n1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    head = git("rev-parse", "HEAD")
    (tmp_path / "results" / "cpu" / "table.csv").write_text("a\n2\n")  # what a reproduce run does
    (tmp_path / "untracked.py").write_text("")
    assert git_revision(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_revision(tmp_path) == head + "-dirty"
    assert git_revision(tmp_path / "not-a-repo") is None
