"""`adapterlib reproduce --profile paper` end to end, as a user with the hub would run it, on a fake hub.

Every paper task is served from schema fixtures in its real hub format (tests/fake_hub.py: files in the dataset's
exact columns and feature types, read through its real id, config and revision, in the notebook kernels too), the
model is a random tiny BERT (conftest.save_tiny_bert) and every grid is cut to its first point by ``--overrides``:
what runs is the paper profile's whole pipeline (loaders, label checks, the plan, every run kind, every notebook,
SUMMARY.md), not its scale. No number it produces means anything.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pytest
from conftest import save_tiny_bert
from fake_hub import fake_hub, fake_hub_files  # noqa: F401 -- fixtures

from adapterlib.cli import main
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


@pytest.mark.slow
def test_paper_profile_reproduces_end_to_end_against_a_fake_hub(fake_hub, tmp_path, monkeypatch):
    fake_hub.install_in_subprocesses(monkeypatch)
    model = save_tiny_bert(tmp_path / "tiny-bert")
    paper = get_profile("paper")
    overrides = {"models": {role: model for role in ROLES}, "seeds": [0], "role_seeds": {},
                 "batch_size": 4, "max_length": 32, "qa_max_length": 64, "doc_stride": 32, "precision": "fp32",
                 "grids": {name: {**first_point(grid), "epochs": [1]} for name, grid in paper.grids.items()}}
    results, runs = tmp_path / "results", tmp_path / "runs"
    assert main(["reproduce", "--profile", "paper", "--overrides", json.dumps(overrides),
                 "--results-dir", str(results), "--runs-dir", str(runs)]) == 0

    out = results / "paper"
    assert sorted(p.stem for p in out.glob("*.ipynb")) == sorted(notebooks())
    summary = (out / "SUMMARY.md").read_text()
    assert "paper" in summary and len(list((out / "claims").glob("*.csv"))) >= len(notebooks()) - 1
    # every paper task reached training: each trained task of every role has a finished run in the store
    records = [json.loads(p.read_text()) for p in (runs / "paper").glob("*/record.json")]
    trained = {r["config"]["task"] for r in records if "task" in r["config"]}
    for role in ROLES:
        assert set(paper.task_names(role)) <= trained, role
    # and a rerun finds everything done: the plan has nothing left to train
    assert main(["plan", "--profile", "paper", "--overrides", json.dumps(overrides), "--runs-dir", str(runs)]) == 0
    table1 = pd.read_csv(out / "houlsby_table1_glue.csv")
    assert table1["score"].notna().any()
