"""The trade-off figures' table: its columns, relative = score - full, the interval formula, every point's
parameter count read from the run it comes from (a tiny run store trained here: head, full, adapter, fusion), the
paper's numbers under their own task and method, and the figure: every paper point visible, floor tasks out."""
from __future__ import annotations

import math
from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest

from adapterlib.core.config import AdapterConfig
from adapterlib.reporting.paper import fusion_n_tasks, fusion_table1, houlsby_glue, paper_score
from adapterlib.runner.grid import run_grid, select_best
from adapterlib.runner.settings import RunConfig
from adapterlib.runner.store import RunStore
from adapterlib.reporting.statistics import TaskRuns, mean_difference_interval
from adapterlib.studies.common import tidy_rows
from adapterlib.studies.fusion import tradeoff as fusion_tradeoff
from adapterlib.studies.tradeoff import COLUMNS, NUDGE, nudges, summary, task_params, tradeoff_frame

matplotlib.use("Agg")

TASK = "rt_polarity"
SMALL = dict(task=TASK, lr=1e-3, epochs=1, batch_size=16, max_length=32, max_train=32, max_eval=32,
             model_kwargs={"num_hidden_layers": 1})


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
    head, full_row = (frame[frame["method"] == m].iloc[0] for m in ("head", "full"))
    paired = mean_difference_interval([TaskRuns(head["task"], full_row["references"], head["predictions"],
                                                 full_row["predictions"])])  # Table 1's interval, the same numbers
    assert (head["ci_low"], head["ci_high"]) == (paired.low, paired.high)
    assert head["ci_low"] <= head["relative"] <= head["ci_high"]
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


class _Store:
    """A run store stand-in: every run id answers a record with the same parameter counts on its task."""

    def get(self, run_id: str) -> SimpleNamespace:
        task = run_id.split(":")[0]
        return SimpleNamespace(params={"trainable": 700, "trainable_base": 100, "head": 50, "added": 550,
                                       "base": 10_000}, config={"task": task, "max_train": 32, "max_eval": 32,
                                                                "max_test": 32})


# (suite, the paper's table, suite of our stand-ins, their tasks, our method -> the paper's column)
SUITES = [("fusion", fusion_table1, "fusion_offline", ("cb_dev_split", "sst2_dev_split", "rte_dev_split"),
           {"full": "full", "head": "head", "st_a": "st_a", "mt_a": "mt_a", "fusion_st_a": "fusion_st_a",
            "fusion_mt_a": "fusion_mt_a"}),
          ("glue", houlsby_glue, "glue_offline", ("sst2_dev_split", "snli", "rte_dev_split"),
           {"full": "full", "adapters_64": "adapters_64", "adapters_best_size": "adapters_best_size"})]


@pytest.mark.parametrize("suite, paper, stand_ins, tasks, methods", SUITES, ids=[s[0] for s in SUITES])
def test_paper_points_in_the_csv_sit_under_their_own_task_and_method(tmp_path, suite, paper, stand_ins, tasks,
                                                                      methods):
    """Each row's paper_score is the paper's number for that row's task x method, and paper_relative that minus the
    paper's full fine-tuning on the same task, after the rows are shuffled and the table is written to CSV and
    read back (the figure and the totals are drawn from the CSV)."""
    rows = []
    for i, method in enumerate(methods):
        selected = pd.DataFrame({"task": list(tasks), "score": [60.0 + i + j for j in range(len(tasks))],
                                 "trainable": 700, "trainable_pct": 7.0})
        rows.append(tidy_rows(selected, method, paper(), methods[method], suite=stand_ins)
                    .assign(run_ids=[(f"{task}:{method}",) for task in tasks]))
    rows = pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=0)
    path = tmp_path / "tradeoff.csv"
    tradeoff_frame(rows.assign(suite=suite, series=rows["method"], learned=True), _Store()).to_csv(path, index=False)
    saved = pd.read_csv(path)
    reference = paper()
    assert saved["paper_task"].notna().all()
    for row in saved.itertuples():
        number = paper_score(reference, row.paper_task, methods[row.method])
        assert row.paper_score == pytest.approx(number), (row.task, row.method)
        assert row.paper_relative == pytest.approx(number - paper_score(reference, row.paper_task, "full"))
    assert set(saved.groupby("method")["paper_task"].nunique()) == {len(tasks)}  # each method on every task once


def test_fusion_paper_points_and_their_medians_sit_under_their_own_method():
    """Every per-task paper point of the fusion trade-off is Table 1's number for its task and method minus Full;
    the totals' paper row of a method is the median of that method's points alone."""
    points, table = fusion_tradeoff.paper_points(), fusion_table1()
    per_task = points[points["paper_task"] != "Mean (Table 3)"]
    assert len(per_task) == 7 * fusion_n_tasks()  # every method of Table 1 with a count, on every task
    for row in per_task.itertuples():
        assert row.relative == pytest.approx(paper_score(table, row.paper_task, row.method)
                                             - paper_score(table, row.paper_task, "full")), (row.paper_task, row.method)
    ours = pd.DataFrame({"task": ["a"], "paper_task": ["SST-2"], "method": ["full"], "suite": ["fusion"],
                         "series": ["full"], "relative": [0.0], "learned": [True], "trained_params": [1], "trained_pct": [1.0],
                         "shared_params": [1], "run_trainable": [1], "base_params": [1]})
    totals = summary(ours, points, fusion_tradeoff.PAPER_LABELS)
    theirs = totals[totals["source"] != "ours"].set_index("method")
    for method, part in points.groupby("method"):
        assert theirs.at[method, "p50"] == pytest.approx(part["relative"].median()), method


def test_methods_at_one_count_are_nudged_apart_around_it():
    shift = nudges({"a": 100.0, "b": 100.5, "c": 1000.0, "d": 100.0})
    assert shift["c"] == 1.0
    assert [shift[m] for m in ("a", "b", "d")] == pytest.approx([NUDGE ** -1, 1.0, NUDGE])  # given order kept
    assert shift["a"] * shift["d"] == pytest.approx(1.0)  # centred on the true count


def _line(ax, label: str):
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line


def test_fusion_tradeoff_figure_shows_every_paper_point_and_leaves_floor_tasks_out():
    """The paper's two fusions train the same parameters and sit at nearly the same median: each keeps its own
    marker and x, both named in the legend; our rows of a task full fine-tuning did not learn are not drawn, nor
    those of a learned task without a paper counterpart (c): the medians beside the paper's are over paper tasks."""
    points = fusion_tradeoff.paper_points()
    ours = pd.DataFrame([{"task": task, "paper_task": paper, "method": method, "suite": "fusion", "series": method,
                          "relative": rel, "learned": task != "b", "trained_params": params, "base_params": 1000}
                         for task, paper, rel in (("a", "SST-2", -1.0), ("b", "RTE", 30.0), ("c", None, 20.0))
                         for method, params in (("full", 1000), ("st_a", 10), ("fusion_st_a", 50),
                                                ("fusion_mt_a", 50))])
    ax = fusion_tradeoff.plot(ours).axes[0]
    fst, fmt = (_line(ax, f"Fusion w/ {m}: {fusion_tradeoff.PAPER_LABELS['fusion']}") for m in ("ST-A", "MT-A"))
    count = fusion_tradeoff.paper_counts()["fusion_st_a"]
    assert fst.get_xdata()[0] == pytest.approx(count / NUDGE ** 0.5)
    assert fmt.get_xdata()[0] == pytest.approx(count * NUDGE ** 0.5)
    assert fst.get_marker() != fmt.get_marker()
    for line, method in ((fst, "fusion_st_a"), (fmt, "fusion_mt_a")):
        assert line.get_ydata()[0] == pytest.approx(points.loc[points["method"] == method, "relative"].median())
    drawn = [y for c in ax.collections for _, y in c.get_offsets()]
    assert 30.0 not in drawn and 20.0 not in drawn and -1.0 in drawn  # b (not learned) and c (no paper task) out
    assert "not drawn (full fine-tuning did not learn them): b" in ax.get_title()
    assert "not drawn (no paper task): c" in ax.get_title() and "medians over 1 of 3 tasks" in ax.get_title()


def test_the_trade_off_claim_counts_the_tasks_its_frame_marks_learned(frame):
    """A trade-off frame's ``ci_low``/``ci_high`` are each row's gap to full fine-tuning (NaN on full's own row), so
    the claim takes the learned tasks from the frame's ``learned`` column; read from full's missing score interval
    instead, every task looked unlearned and Fig. 3's claims said "not measured" on tasks the figure drew."""
    from adapterlib.studies.tradeoff import median_gap_check

    given = {"paper": "houlsby", "source": "Fig. 3", "description": "d"}
    frame = frame.assign(paper_task="SST-2")  # in a paper's slot (rt_polarity itself has none)
    measured = median_gap_check("c", frame, "head", -1.0, "paper", "basis", "csv", **given)
    assert not math.isnan(measured.ci_low) and measured.verdict != "not measured"
    assert f"median over the 1 learned tasks ({frame['task'].iloc[0]})" in measured.basis
    unlearned = median_gap_check("c", frame.assign(learned=False), "head", -1.0, "paper", "basis", "csv", **given)
    assert unlearned.verdict == "not measured" and math.isnan(unlearned.ci_low)
    no_paper_task = median_gap_check("c", frame.assign(paper_task=None), "head", -1.0, "paper", "basis", "csv", **given)
    assert no_paper_task.verdict == "not measured"  # a task without a paper counterpart is in no paper mean
