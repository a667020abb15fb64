"""The shared ours-beside-the-paper bar chart: every bar sits under its own task's tick."""
import math

import matplotlib
import pandas as pd
import pytest
from matplotlib.container import BarContainer

from adapterlib.studies.score_bars import PAPER_SUFFIX, scores_beside_paper

matplotlib.use("Agg")

METHODS = ("full", "adapters")


def frame(with_interval: bool, tasks: tuple[str, ...] = ("rte_dev_split", "rt_polarity", "sst2_dev_split")
          ) -> pd.DataFrame:
    """Three classification tasks, the middle one without a paper number (as a stand-in with no paper
    counterpart)."""
    rows = []
    for i, (task, paper_task) in enumerate(zip(tasks, ["RTE", None, "SST-2"])):
        for j, method in enumerate(METHODS):
            score = 50.0 + 10 * i + j
            rows.append({"task": task, "paper_task": paper_task, "method": method, "score": score,
                         "paper_score": math.nan if paper_task is None else 70.0 + 10 * i + j,
                         "majority": 40.0 + i, "ci_low": score - 3, "ci_high": score + 2})
    table = pd.DataFrame(rows)
    return table if with_interval else table.drop(columns=["ci_low", "ci_high"])


def bars_under_ticks(ax) -> dict[str, dict[str, float]]:
    """{bar series label: {task of the nearest tick: height}} for every drawn (finite) bar."""
    ticks = [(t, label.get_text().split("\n")[0]) for t, label in zip(ax.get_xticks(), ax.get_xticklabels())]
    found: dict[str, dict[str, float]] = {}
    for container in (c for c in ax.containers if isinstance(c, BarContainer)):
        for patch in container.patches:
            if not math.isfinite(patch.get_height()):
                continue
            centre = patch.get_x() + patch.get_width() / 2
            tick, task = min(ticks, key=lambda pair: abs(pair[0] - centre))
            assert abs(tick - centre) < 0.5, f"bar at {centre:.2f} is outside every task's group"
            found.setdefault(container.get_label(), {})[task] = patch.get_height()
    return found


@pytest.mark.parametrize("with_interval", [True, False])
def test_each_bar_sits_under_its_own_task(with_interval):
    table = frame(with_interval)
    fig = scores_beside_paper(table, METHODS, paper_label="paper", ylabel="accuracy")
    found = bars_under_ticks(fig.axes[0])
    for method in METHODS:
        rows = table[table["method"] == method].set_index("task")
        assert found[method] == rows["score"].to_dict()
        assert found[method + PAPER_SUFFIX] == rows["paper_score"].dropna().to_dict()  # beta's paper slot stays empty


def test_interval_and_majority_line_are_drawn():
    ax = scores_beside_paper(frame(True), METHODS, paper_label="paper", ylabel="accuracy").axes[0]
    (ours_errors,) = [c.errorbar for c in ax.containers if c.get_label() == "full"]
    segments = ours_errors.lines[2][0].get_segments()
    assert [(s[0][1], s[1][1]) for s in segments] == [(47.0, 52.0), (57.0, 62.0), (67.0, 72.0)]
    (floor,) = [c for c in ax.collections if c.get_linestyle()[0][1] is not None]
    assert [s[0][1] for s in floor.get_segments()] == [40.0, 41.0, 42.0]


def test_tick_labels_name_the_paper_task():
    ax = scores_beside_paper(frame(False), METHODS, paper_label="paper", ylabel="accuracy").axes[0]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["rte_dev_split\n(RTE)", "rt_polarity",
                                                                     "sst2_dev_split\n(SST-2)"]


def test_a_regression_task_gets_no_majority_line():
    """vader_movie is scored by Spearman: ``majority_score`` gives a constant 0, which is no floor."""
    ax = scores_beside_paper(frame(True, ("rte_dev_split", "vader_movie", "sst2_dev_split")), METHODS,
                             paper_label="paper", ylabel="score").axes[0]
    (floor,) = [c for c in ax.collections if c.get_linestyle()[0][1] is not None]
    assert [s[0][1] for s in floor.get_segments()] == [40.0, 42.0]  # the classification tasks' only
    centres = [(s[0][0] + s[1][0]) / 2 for s in floor.get_segments()]
    assert centres == pytest.approx([0.0, 2.0])  # each under its own task
    assert "majority class (none for regression)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_long_task_names_break_at_underscores_so_eleven_tick_labels_do_not_run_together():
    from adapterlib.studies.score_bars import LABEL_WIDTH, task_label

    label = task_label("commonsense_qa_offline", "CSQA")
    assert label.split("\n") == ["commonsense_qa", "_offline", "(CSQA)"]
    assert "".join(label.split("\n")[:2]) == "commonsense_qa_offline"  # the name reads back whole
    assert task_label("sst2_dev_split", None) == "sst2_dev_split"
    assert all(len(line) <= LABEL_WIDTH for line in task_label("social_i_qa_offline", "SocIQA").split("\n"))
