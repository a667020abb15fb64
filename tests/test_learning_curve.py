"""The learning curve (our figure of full fine-tuning, adapters and LoRA by training-set size): its runs, its
comparison to full fine-tuning under the one floor rule, its claims and its figure, on hand-made rows with real
per-example predictions."""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from adapterlib.core.lora import LoRAConfig
from adapterlib.reporting import claims
from adapterlib.runner.profiles import get_profile
from adapterlib.studies import learning_curve
from adapterlib.studies.common import score_columns
from adapterlib.studies.houlsby import table1

matplotlib.use("Agg")
N_TEST = 400


def test_runs_are_every_method_at_every_size_and_the_smallest_reuses_table_1():
    profile = get_profile("cpu")
    configs = learning_curve.runs(profile)
    tasks, sizes = profile.curve_task_names(), profile.curve_sizes
    assert len(configs) == len(tasks) * len(sizes) * 3
    assert {(c.task, c.max_train) for c in configs} == {(t, n) for t in tasks for n in sizes}
    assert {c.adapter for c in configs if isinstance(c.adapter, LoRAConfig)} == {LoRAConfig(r=8, alpha=16)}
    # the trade-off's rank-8 LoRA runs, where it trains them on the same task
    lora_ranks = {c.run_id for c in profile.configs("lora", ["snli"], regime=["adapters"], method="lora")}
    assert len(lora_ranks & {c.run_id for c in configs}) == 1
    # SNLI is a Table 1 task: its full fine-tuning and size-64 adapters at 256 examples are Table 1's runs
    shared = {c.run_id for c in configs} & {c.run_id for c in table1.runs(profile)}
    assert len(shared) == 2 and all(c.task == "snli" and c.max_train == 256 for c in configs if c.run_id in shared)


@pytest.mark.parametrize("overrides, message", [
    ({"curve_sizes": (1000, 256)}, "distinct and ascending"),
    ({"curve_sizes": (0,)}, "not an int >= 1"),
    ({"curve_tasks": ("no_such_task",)}, "unknown task 'no_such_task'"),
])
def test_a_bad_curve_fails_in_one_line_before_anything_trains(overrides, message):
    with pytest.raises(ValueError, match=message) as error:
        get_profile("cpu", **overrides)
    assert "\n" not in str(error.value)


def rows(correct: dict[tuple[str, int], int], task: str = "sst2_dev_split") -> pd.DataFrame:
    """Tidy rows of one balanced task: ``correct[(method, size)]`` of N_TEST right, majority class 50."""
    references = np.arange(N_TEST) % 2
    out = []
    for (method, size), right in correct.items():
        predictions = np.where(np.arange(N_TEST) < right, references, 1 - references).tolist()
        out.append({"task": task, "paper_task": "SST-2", "method": method, "metric": "accuracy", "max_train": size,
                    "score": 100 * right / N_TEST, "paper_score": math.nan, "majority": 50.0,
                    **score_columns(task, [predictions], references.tolist())})
    return pd.DataFrame(out)


def curve() -> pd.DataFrame:
    """At 256 examples full fine-tuning is at the floor (51%); at 4,000 it learned and adapters match it exactly."""
    return learning_curve.compare(rows({("full", 256): 204, ("adapters_64", 256): 200, ("lora_8", 256): 210,
                                        ("full", 4000): 360, ("adapters_64", 4000): 360, ("lora_8", 4000): 340}))


def test_differences_to_full_fine_tuning_only_where_it_learned_the_task():
    table = curve().set_index(["max_train", "method"])
    assert not table.loc[256, "learned"].any() and table.loc[256, "relative"].isna().all()
    assert table.loc[4000, "learned"].all()
    assert table.loc[(4000, "lora_8"), "relative"] == pytest.approx(-5.0)
    assert table.loc[(4000, "lora_8"), "rel_ci_high"] < 0 < table.loc[(4000, "adapters_64"), "rel_ci_high"] + 1e-9
    assert math.isnan(table.loc[(4000, "full"), "relative"])
    # the paper's gap sits on the adapters' rows: Houlsby Table 1, SST-2, size 64 minus full
    assert table.loc[(4000, "adapters_64"), "paper_relative"] == pytest.approx(learning_curve.paper_gap("sst2_dev_split"))
    assert math.isnan(table.loc[(4000, "lora_8"), "paper_relative"])


def test_claims_per_size_and_the_figure():
    checks = {c.claim: c for c in learning_curve.claims(curve())}
    assert set(checks) == {"curve_adapters_256", "curve_adapters_4000"}
    assert checks["curve_adapters_256"].verdict == "not measured"  # full fine-tuning at the floor
    matched = checks["curve_adapters_4000"]  # identical predictions: 0, half-width 0, below 0.4 + the margin
    assert matched.verdict == "holds" and matched.n_tasks == 1
    assert matched.region_high == pytest.approx(claims.on_par_bound(0.4))
    text = learning_curve.findings(curve(), list(checks.values()))
    assert "| 4,000 | 1 of 1 | +0.00 | -5.00 |" in text and "| 256 | 0 of 1 | — | — |" in text
    top, bottom = learning_curve.plot(curve()).axes
    assert "SST-2, the paper's own data" in top.get_title()
    gap = learning_curve.paper_gap("sst2_dev_split")
    assert bottom.get_title() == f"paper, full training set: adapters {gap:+.1f}"
    assert any(line.get_linestyle() == "--" and line.get_ydata()[0] == pytest.approx(gap) for line in bottom.lines)
    assert any("paper: adapters minus full" in t.get_text() for t in top.get_legend().get_texts())
