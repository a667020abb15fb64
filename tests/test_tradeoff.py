"""The trade-off figures' table: its columns, relative = score - full, the interval formula, and every point's
parameter count read from the run it comes from (a tiny run store trained here: head, full, adapter, fusion)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from adapterlib.core.config import AdapterConfig
from adapterlib.runner.grid import run_grid, select_best
from adapterlib.runner.settings import RunConfig
from adapterlib.runner.store import RunStore
from adapterlib.studies.common import tidy_rows
from adapterlib.studies.tradeoff import COLUMNS, difference_interval, summary, task_params, tradeoff_frame

TASK = "rt_polarity"
SMALL = dict(task=TASK, lr=1e-3, epochs=1, batch_size=16, max_length=32, max_train=32, max_eval=32,
             model_kwargs={"num_hidden_layers": 1})


def test_difference_interval_on_a_hand_made_case():
    # 60% vs 50% on 100 examples each: se = sqrt(.6*.4/100 + .5*.5/100) = 0.07 -> +-13.72 points
    low, high = difference_interval(60.0, 50.0, 100)
    assert low == pytest.approx(10 - 1.959964 * 7.0, abs=1e-3)
    assert high == pytest.approx(10 + 1.959964 * 7.0, abs=1e-3)
    assert difference_interval(50.0, 50.0, 400) == pytest.approx((-6.93, 6.93), abs=0.01)


def test_task_params_adds_the_frozen_adapters_a_fusion_uses():
    adapter_run = {"trainable": 700, "trainable_base": 100, "head": 50, "added": 550}  # all added trained
    assert task_params(adapter_run) == 700
    fusion_run = {"trainable": 450, "trainable_base": 100, "head": 50, "added": 1300}  # 300 fusion + 1000 frozen
    assert task_params(fusion_run) == 1450


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[RunStore, dict[str, list[RunConfig]]]:
    store = RunStore(tmp_path_factory.mktemp("runs"))
    adapter = RunConfig(**SMALL, regime="adapters", adapter=AdapterConfig.pfeiffer(16))
    configs = {"head": [RunConfig(**SMALL, regime="head")], "full": [RunConfig(**SMALL, regime="full")],
               "st_a": [adapter]}
    configs["fusion_st_a"] = [RunConfig(**SMALL, regime="fusion", fusion=(adapter.run_id,))]
    for group in configs.values():
        run_grid(group, store, progress=False)
    return store, configs


@pytest.fixture(scope="module")
def frame(store) -> pd.DataFrame:
    runs, configs = store
    rows = []
    for method, group in configs.items():
        selected = select_best(run_grid(group, runs, progress=False).frame)
        rows.append(tidy_rows(selected, method).assign(run_ids=selected["run_ids"].to_numpy()))
    rows = pd.concat(rows, ignore_index=True)
    return tradeoff_frame(rows.assign(suite="s", series=rows["method"], learned=True), runs)


def test_frame_has_the_documented_columns_and_relative_is_score_minus_full(frame):
    assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)
    for column in ("task", "method", "trained_params", "trained_pct", "score", "full_score", "relative", "ci_low",
                   "ci_high", "paper_relative"):
        assert column in frame.columns
    full = frame.loc[frame["method"] == "full", "score"].iloc[0]
    assert (frame["full_score"] == full).all()
    assert (frame["relative"] == frame["score"] - full).all()
    assert frame.loc[frame["method"] == "full", "relative"].iloc[0] == 0
    head = frame[frame["method"] == "head"].iloc[0]
    assert (head["ci_low"], head["ci_high"]) == pytest.approx(
        difference_interval(head["score"], full, head["n_test"]))
    assert frame.loc[frame["method"] == "full", ["ci_low", "ci_high"]].isna().all(axis=None)


def test_each_points_trained_params_is_the_parameter_count_of_its_run(store, frame):
    runs, configs = store
    for method, group in configs.items():
        record = runs.get(group[0]).params
        point = frame[frame["method"] == method].iloc[0]
        if method == "fusion_st_a":  # the fusion's own trained parameters plus the adapter it fuses
            adapter = runs.get(configs["st_a"][0]).params
            assert point["trained_params"] == record["trainable"] + adapter["added"]
            assert point["run_trainable"] == record["trainable"]
        else:
            assert point["trained_params"] == record["trainable"]
        assert point["trained_pct"] == pytest.approx(100 * record["trainable"] / record["base"]
                                                     if method != "fusion_st_a" else point["trained_params"] * 100
                                                     / record["base"])


def test_summary_totals_follow_total_multiple(store, frame):
    runs, configs = store
    totals = summary(frame, pd.DataFrame(columns=["suite", "series", "method", "paper_task", "trained_params",
                                                  "relative", "total_x"]), {"s": "paper"}).set_index("method")
    full = runs.get(configs["full"][0]).params
    # one task: full fine-tuning stores base + head once, i.e. (base - trained base + 1 x trainable) / base
    assert totals.at["full", "score"] == pytest.approx(
        (full["base"] - full["trainable_base"] + full["trainable"]) / full["base"])
    fusion = frame[frame["method"] == "fusion_st_a"].iloc[0]
    assert totals.at["fusion_st_a", "score"] == pytest.approx(
        (fusion["shared_params"] + fusion["run_trainable"]) / fusion["base_params"])
    assert not math.isnan(totals.at["st_a", "score"])
