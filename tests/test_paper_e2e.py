"""`adapterlib reproduce --profile paper` (and `--profile gpu`, the same suites on one GPU) end to end, as a user
with the hub would run it, on a fake hub.

Every paper task is served from schema fixtures in its real hub format (tests/fake_hub.py: files in the dataset's
exact columns and feature types, read through its real id, config and revision, in the notebook kernels too), the
model is a random tiny BERT (conftest.save_tiny_bert) and every grid is cut to its first point by ``--overrides``:
what runs is the profile's whole pipeline (loaders, label checks, the plan, every run kind, every study notebook,
SUMMARY.md, the gpu profile's per-role training caps), not its scale. No number it produces means anything.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from typing import Any

import datasets
import pandas as pd
import pytest
from conftest import save_tiny_bert
from fake_hub import fake_hub, fake_hub_files  # noqa: F401 -- fixtures

from adapterlib.cli import main
from adapterlib.data.tasks import get_task
from adapterlib.paths import DATA_ENV
from adapterlib.reproduce import notebooks
from adapterlib.runner.profiles import ROLES, get_profile


def first_point(grid: Mapping[str, Any]) -> dict[str, Any]:
    """An override cutting every numeric axis of ``grid`` to its first value (per regime where an axis is given per
    regime), but adapter size 64 where the grid has it (Table 1's fixed-size row and Figs. 4 and 6 read that size);
    axes of adapter configs are left out, so the profile's stay (grid overrides merge axis by axis)."""
    def first(axis, values):
        if isinstance(values, Mapping):
            return {regime: first(axis, v) for regime, v in values.items()}
        return [64] if axis == "size" and 64 in values else list(values)[:1]
    return {axis: first(axis, values) for axis, values in grid.items() if axis != "adapter"}


def tiny_overrides(model: str, profile: str = "paper") -> dict[str, Any]:
    """``profile`` on ``model`` with every grid at one point, one epoch, one seed and short sequences."""
    return {"models": {role: model for role in ROLES}, "seeds": [0], "batch_size": 4, "max_length": 32,
            "qa_max_length": 64, "doc_stride": 32, "precision": "fp32",
            "grids": {name: {**first_point(grid), "epochs": [1]} for name, grid in get_profile(profile).grids.items()}}


def test_plan_reports_an_unreachable_dataset_and_a_bad_label_before_training(fake_hub, tmp_path, monkeypatch, capsys):
    served = datasets.load_dataset_builder  # the fake hub's; GLUE's repo now fails as it does without a network

    def builder(path, *args, **kwargs):
        if path == get_task("cola").hub_id:
            raise ConnectionError(f"Couldn't reach '{path}' on the Hub (ConnectError)")
        return served(path, *args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset_builder", builder)
    data = shutil.copytree(fake_hub.data_dir, tmp_path / "data")  # a user's local copy with a typo in a label
    test_csv = data / "cf_disasters" / "test.csv"
    test_csv.write_text(test_csv.read_text().replace("not_relevant", "not_relevnt", 1))
    monkeypatch.setenv(DATA_ENV, str(data))
    runs = tmp_path / "runs"
    overrides = json.dumps(tiny_overrides(save_tiny_bert(tmp_path / "tiny-bert")))
    assert main(["plan", "--profile", "paper", "--overrides", overrides, "--runs-dir", str(runs),
                 "--only", "houlsby_table1_glue", "houlsby_table2_additional"]) == 1
    out, err = capsys.readouterr()
    lines = err[err.index("adapterlib: error:"):].splitlines()  # a short line per cause
    assert "houlsby_table2_additional" in out and all(len(line) <= 200 for line in lines)
    assert any("cola" in line and "): not in the local cache (HF_HUB_OFFLINE is set" in line for line in lines)
    assert any("(cf_disasters): labels ['not_relevnt'] are not among" in line for line in lines)
    assert main(["reproduce", "--profile", "paper", "--overrides", overrides, "--runs-dir", str(runs),
                 "--results-dir", str(tmp_path / "results"), "--only", "houlsby_table2_additional"]) == 2
    assert not list(runs.glob("paper/*/record.json"))  # stopped before anything trained


# The gpu profile reads the paper profile's suites, every task of which the paper case loads and trains: it trains a
# few per role (MNLI and CoLA for Figs. 4 and 6, three fusion tasks for MT-A and the fusions), enough for every
# notebook to run on its own settings (grids, per-role training caps) at a fraction of the paper case's CI time.
GPU_TASKS = {"tasks": {"glue": ("mnli", "cola"), "additional": ("newsgroups20", "sms_spam_uci"),
                       "fusion": ("cb", "rte", "commonsense_qa")}, "curve_tasks": ["mnli"]}


@pytest.mark.slow
@pytest.mark.parametrize("name, tasks", [("paper", {}), ("gpu", GPU_TASKS)], ids=["paper", "gpu"])
def test_a_hub_profile_reproduces_end_to_end_against_a_fake_hub(name, tasks, fake_hub, tmp_path, monkeypatch):
    fake_hub.install_in_subprocesses(monkeypatch)
    model = save_tiny_bert(tmp_path / "tiny-bert")
    overrides = {**tiny_overrides(model, name), **tasks}
    profile = get_profile(name, **overrides)
    results, runs = tmp_path / "results", tmp_path / "runs"
    studies = [study for study in notebooks() if study != "benchmarks"]  # timing protocol: test_benchmarks covers it
    assert main(["reproduce", "--profile", name, "--overrides", json.dumps(overrides),
                 "--results-dir", str(results), "--runs-dir", str(runs), "--only", *studies]) == 0

    out = results / name
    assert sorted(p.stem for p in out.glob("*.ipynb")) == sorted(studies)
    summary = (out / "SUMMARY.md").read_text()
    assert name in summary and len(list((out / "claims").glob("*.csv"))) >= len(studies) - 1
    # every task the profile trains reached training: each task of every role has a finished run in the store
    records = [json.loads(p.read_text()) for p in (runs / name).glob("*/record.json")]
    trained = {r["config"]["task"] for r in records if "task" in r["config"]}
    for role in ROLES:
        assert set(profile.task_names(role)) <= trained, role
    # each role's runs train on its role's cap (gpu: Table 2's and AdapterFusion's sets capped, GLUE's whole)
    for role in ("additional", "fusion"):
        own = set(profile.task_names(role)) - set(profile.task_names("glue"))
        caps = {r["config"]["max_train"] for r in records if r["config"].get("task") in own}
        assert caps == {profile.caps_for(role)["max_train"]}, role
    # and a rerun finds everything done: the plan has nothing left to train
    assert main(["plan", "--profile", name, "--overrides", json.dumps(overrides), "--runs-dir", str(runs)]) == 0
    table1 = pd.read_csv(out / "houlsby_table1_glue.csv")
    assert table1["score"].notna().any()
