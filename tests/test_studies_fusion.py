"""The AdapterFusion study modules on hand-built frames: Table 2 counting, claim verdicts, attention read-outs, run
sharing between the notebooks and with Houlsby Table 1, exact parameter counts (issue 6), and each module's Study
(its dependencies and generated set-up text)."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from transformers import BertConfig

import adapterlib as al
from adapterlib.data.tasks import get_task, load_task
from adapterlib.reporting.paper import FUSION_SMALL_TASKS, claim_value, fusion_n_tasks
from adapterlib.runner.profiles import get_profile
from adapterlib.studies.base import STUDIES, order, setup_text
from adapterlib.studies.fusion import cost, fig3, fig4, runs, table1, table2, table3, tradeoff


def _table(scores: dict[str, dict[str, float]], paper: dict[str, dict[str, float]] | None = None) -> pd.DataFrame:
    """A Table 1 frame: method -> task -> score (paper scores default to the same numbers)."""
    paper = paper or scores
    return pd.DataFrame([{"task": task, "paper_task": task.upper(), "method": method, "metric": "accuracy",
                          "score": score, "paper_score": paper[method][task], "trained_params": 1, "trained_pct": 1.0}
                         for method, by_task in scores.items() for task, score in by_task.items()])


def test_the_papers_outcome_uses_its_threshold_strictly():
    assert table2.outcome(0.31) == "improved" and table2.outcome(-0.31) == "worse"
    assert table2.outcome(0.3) == "same" and table2.outcome(-0.3) == "same" and table2.outcome(0.0) == "same"
    assert table2.outcome(float("nan")) == "n/a"


def test_relative_and_table1_claims():
    tasks = ("snli", "rte_dev_split")
    scores = {"full": {t: 70.0 for t in tasks}, "st_a": {t: 70.0 for t in tasks},
              "fusion_st_a": {"snli": 70.0, "rte_dev_split": 74.0}}
    table = _table(scores)
    table["paper_task"] = table["task"].map({"snli": "MNLI", "rte_dev_split": "RTE"})
    rel = fig3.relative(table)
    assert set(rel["method"]) == {"st_a", "fusion_st_a"}
    assert rel.set_index(["method", "task"]).at[("fusion_st_a", "rte_dev_split"), "score"] == pytest.approx(4.0)
    (check,) = fig3.claims(table)  # no predictions here: tests/test_claims.py has the rule
    assert check.verdict == "not measured" and "of our 1 small-task stand-ins" in check.basis  # only RTE's is small
    by_claim = {c.claim: c for c in table1.claims(table)}  # no predictions here: tests/test_claims.py has the rule
    assert by_claim["t1_fusion_st_a_minus_st_a"].verdict == "not measured"
    assert rel[["ci_low", "ci_high"]].isna().all().all()  # no predictions: no interval, not the score's own


def test_relative_rows_carry_the_paired_interval_of_the_difference_not_the_scores():
    gold = [i % 2 for i in range(200)]
    full = list(gold)
    method = [1 - g if i < 20 else g for i, g in enumerate(gold)]  # 20 of 200 wrong: 10 points below full
    table = pd.DataFrame([{"task": "sst2_dev_split", "method": m, "score": 100.0 * sum(a == b for a, b in zip(p, gold))
                           / len(gold), "paper_score": 90.0, "metric": "accuracy", "predictions": [p],
                           "references": gold, "ci_low": 0.0, "ci_high": 100.0}
                          for m, p in (("full", full), ("st_a", method))])
    row = fig3.relative(table).iloc[0]
    assert row["score"] == pytest.approx(-10.0)
    assert row["ci_low"] < -10.0 < row["ci_high"] < 0.0  # around the difference, not the score's 0-100


def test_table3_claims_compare_differences_to_rf16():
    rows = [{"task": t, "method": f"st_a_rf{rf}", "reduction_factor": rf, "score": s,
             "paper_score": 80.0 if rf == 16 else math.nan}
            for t, by_rf in {"a": {2: 80.0, 16: 79.0, 64: 70.0}, "b": {2: 82.0, 16: 81.0, 64: 72.0}}.items()
            for rf, s in by_rf.items()]
    checks = {c.claim: c for c in table3.claims(pd.DataFrame(rows))}  # the interval rule: tests/test_claims.py
    assert {c.verdict for c in checks.values()} == {"not measured"}  # no full fine-tuning rows, no predictions
    assert checks["t3_rf2"].paper_value == pytest.approx(0.34) and checks["t3_rf64"].paper_value == pytest.approx(-0.32)
    assert checks["t3_rf2"].region_high == pytest.approx(76.39 - 75.73 + 1)  # the paper's spread + the margin
    text = table3.findings(pd.DataFrame(rows).assign(learned=True), list(checks.values()))
    assert "rf 2: 81.00, rf 16: 80.00, rf 64: 71.00 (spread 10.00 points" in text and "**does not hold** here" in text
    assert "over 76.39 / 76.05 / 75.73" in text  # the paper's Table 3 means


def _rf_rows() -> pd.DataFrame:
    """Table 3 rows of two tasks, b not learned by full fine-tuning (its factors far apart: noise at the floor)."""
    return pd.DataFrame([{"task": t, "method": f"st_a_rf{rf}", "reduction_factor": rf, "score": s,
                          "paper_score": math.nan, "learned": t == "a", "model": "minilm-l6", "max_train": 256}
                         for t, by_rf in {"a": {2: 80.0, 16: 79.0, 64: 79.5}, "b": {2: 30.0, 16: 60.0, 64: 45.0}}.items()
                         for rf, s in by_rf.items()])


def test_table3_means_and_figure_leave_floor_tasks_out_and_draw_the_papers_means():
    rows = _rf_rows()
    text = table3.findings(rows, [])
    assert "over the 1 learned tasks: rf 2: 80.00, rf 16: 79.00, rf 64: 79.50 (spread 1.00 points" in text
    assert "Left out of the means, full fine-tuning not having learned them: b." in text
    fig = table3.plot(rows)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert "ours: b" not in lines and "ours: a" in lines
    (mean,) = [line for label, line in lines.items() if label.startswith("ours: mean over 1 learned tasks")]
    assert list(mean.get_ydata()) == [80.0, 79.0, 79.5]
    assert "minilm-l6, train capped at 256" in mean.get_label()
    (paper,) = [line for label, line in lines.items() if label.startswith("paper, Table 3")]
    assert "BERT-base, full data" in paper.get_label()
    assert list(paper.get_xdata()) == list(table3.FACTORS)
    assert list(paper.get_ydata()) == [claim_value(f"t3_rf{rf}") for rf in table3.FACTORS]
    assert any("Left out" in t.get_text() and ": b." in t.get_text() for t in fig.texts)
    none = table3.findings(rows.assign(learned=False), [])
    assert "Full fine-tuning learned none of our 2 tasks" in none


def test_nli_reliance_and_its_claim():
    suite, sources = "fusion_offline", ("snli", "sst2_dev_split", "cb_dev_split")
    weights = {"cb_dev_split": (0.5, 0.1, 0.4), "sst2_dev_split": (0.2, 0.6, 0.2)}
    table = pd.DataFrame([{"task": t, "paper_task": {"cb_dev_split": "CB", "sst2_dev_split": "SST"}[t],
                           "layer": layer, "site": "output", "source": s, "score": w}
                          for t, ws in weights.items() for layer in (1, 2) for s, w in zip(sources, ws)])
    reliance = fig4.nli_reliance(table, suite)
    assert list(reliance["task"]) == ["cb_dev_split"]  # SST is not a small task
    row = reliance.iloc[0]
    assert row["nli_adapter"] == "snli" and row["times_uniform"] == pytest.approx(1.5)
    assert row["rank_among_others"] == 1 and row["own_adapter"] == pytest.approx(0.4)
    (check,) = fig4.claims(table, reliance)  # token averages only: a share has no interval, whatever it is
    assert check.verdict == "not measured" and check.our_value == pytest.approx(1.5) and check.region_low == 1
    assert "no interval" in check.basis and "**do** lean" in fig4.findings(table, reliance, [check])
    (none,) = fig4.claims(table, reliance.iloc[0:0])
    assert none.verdict == "not measured" and "no small target" in none.basis
    still = _attention({1: (0.34, 0.33, 0.33), 2: (0.34, 0.33, 0.33)})  # 1.02x uniform: the start plus noise
    (noise,) = fig4.claims(still, fig4.nli_reliance(still, suite))
    assert noise.verdict == "not measured" and "never left its uniform start" in noise.basis


def _attention(shares: dict[int, tuple[float, float, float]]) -> pd.DataFrame:
    """A Figure 4 frame for one target: layer -> its attention on three sources."""
    return pd.DataFrame([{"task": "cb_dev_split", "paper_task": "CB", "layer": layer, "site": "output",
                          "source": source, "score": share}
                         for layer, row in shares.items()
                         for source, share in zip(("snli", "sst2_dev_split", "cb_dev_split"), row)])


def test_attention_statistics_and_the_diffuse_layer_finding():
    moved = _attention({1: (0.5, 0.1, 0.4), 2: (0.3, 0.35, 0.35)})
    stats = fig4.attention_statistics(moved).set_index("layer")
    assert stats.loc[1, "max_abs_deviation"] == pytest.approx(1 / 3 - 0.1)
    assert stats.loc[2, "entropy"] > stats.loc[1, "entropy"]
    assert stats["uniform_entropy"].tolist() == pytest.approx([math.log(3)] * 2)
    text = fig4.findings(moved, fig4.nli_reliance(moved, "fusion_offline"), [])
    assert "most diffuse layer is 2 (the last)" in text
    still = _attention({1: (0.334, 0.333, 0.333), 2: (0.333, 0.3335, 0.3335)})  # the uniform start plus noise
    text = fig4.findings(still, fig4.nli_reliance(still, "fusion_offline"), [])
    assert "most diffuse (the paper: the last) is not measured" in text and "**not measured**" in text
    assert "(the last)" not in text


def test_attention_heatmap_is_the_deviation_on_a_centred_scale_with_a_colorbar():
    fig = fig4.plot(_attention({1: (0.5, 0.1, 0.4), 2: (0.3, 0.35, 0.35)}))
    heat, colorbar = fig.axes[0].collections[0], fig.axes[-1]
    assert heat.get_clim() == pytest.approx((-(1 / 3 - 0.1), 1 / 3 - 0.1))  # the largest |deviation|
    assert colorbar.get_ylabel().startswith("attention - 1/N")
    assert sorted(heat.get_array().compressed()) == pytest.approx(sorted([0.5 - 1 / 3, 0.1 - 1 / 3, 0.4 - 1 / 3]))


def test_mean_attention_is_a_distribution_over_sources(minilm):
    model, tokenizer = minilm("pair", 3, num_hidden_layers=2)
    for name in ("snli", "sst2_dev_split", "cb_dev_split"):
        al.add_adapter(model, name, al.AdapterConfig.pfeiffer())
    al.add_fusion(model, ["snli", "sst2_dev_split", "cb_dev_split"])
    data = load_task("cb_dev_split", max_train=8, max_eval=8, seed=0)
    frame = fig4.mean_attention(model, tokenizer, "cb_dev_split", data["validation"], 64, batch_size=4)
    assert sorted(frame["layer"].unique()) == [1, 2]
    sums = frame.groupby("layer")["attention"].sum()
    assert sums.to_numpy() == pytest.approx([1.0, 1.0], abs=1e-5)
    assert (frame["attention"] > 0).all()


def test_fusion_parameters_are_exact():
    config = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                        vocab_size=1000, max_position_embeddings=64)
    counts = cost.fusion_parameters(config, n_adapters=3)
    assert counts["fusion"] == 2 * 3 * (64 * 64 + 64)  # Q, K, V with biases, per layer
    assert counts["adapters"] == 3 * 2 * (64 * 4 + 4 + 4 * 64 + 64)  # rf 16: bottleneck 4
    assert counts["fusion_per_layer"] == 3 * (64 * 64 + 64)
    assert 12 * 3 * (768 * 768 + 768) == 21_261_312  # what the notebook counts on BERT-base


def test_runs_are_shared_across_notebooks_and_with_houlsby_table1():
    cpu = get_profile("cpu")
    tasks = cpu.task_names("fusion")
    assert len(tasks) >= 6 and {"snli", "sst2_dev_split", "rte_dev_split", "cb_dev_split"} <= set(tasks)
    houlsby = {c.run_id for c in cpu.configs("houlsby_glue", cpu.task_names("glue"), regime=["full", "adapters"])}
    shared = set(tasks) & set(cpu.task_names("glue"))
    full = {c.run_id for c in cpu.configs("fusion_full", sorted(shared), role="fusion", regime="full")}
    houlsby_adapters = {c.run_id for c in runs.st_a_configs(cpu, "fusion_st_a_houlsby") if c.task in shared}
    assert full and full <= houlsby and houlsby_adapters and houlsby_adapters <= houlsby
    st_a = {c.run_id for c in runs.st_a_configs(cpu)}
    assert st_a <= {c.run_id for c in runs.st_a_configs(cpu, "reduction_factors")}  # Table 3's rf 16 is ST-A
    fused = runs.fusion_configs(cpu, runs.st_a_configs(cpu))
    assert len(fused) == len(tasks) and all(set(c.fusion) == st_a for c in fused)
    (mt_a,) = runs.mt_a_configs(cpu)
    assert set(mt_a.tasks) == set(tasks)
    assert all(c.fusion == tuple(mt_a.adapter_ids) for c in runs.fusion_configs(cpu, [mt_a]))


def test_cost_times_every_n_on_the_smoke_model():
    timings = cost.timings(get_profile("smoke"), n_adapters=(1, 2), repeats=1, batch_size=4)
    assert timings["n_adapters"].tolist() == [0, 1, 2]
    assert (timings[["train_s_per_batch", "infer_s_per_batch"]] > 0).all().all()
    assert timings.loc[timings["n_adapters"] == 0, "fusion_params"].item() == 0
    assert timings["fusion_params"].iloc[1] == timings["fusion_params"].iloc[2] > 0  # independent of N


def test_cost_claims_judge_the_count_against_the_paper_and_the_line_by_its_fit():
    params = {"fusion": 21_261_312, "layers": 12, "fusion_per_layer": 1_771_776}
    timings = pd.DataFrame({"n_adapters": [0, 1, 2, 4, 8], "train_s_per_batch": [0.1, 0.2, 0.3, 0.5, 0.9],
                            "infer_s_per_batch": [0.1, 0.01, 0.02, 0.08, 0.64]})  # infer: quadratic in N
    checks = {c.claim: c for c in cost.claims(timings, params)}
    assert checks["fusion_params_total"].verdict == "holds"  # 21.26M vs the paper's about 21M
    assert claim_value("fusion_params_total") == 21_000_000
    assert checks["fusion_cost_linear_train"].our_value == pytest.approx(1.0)
    assert checks["fusion_cost_linear_train"].verdict == "holds"
    assert checks["fusion_cost_linear_infer"].our_value < 0.95 and checks["fusion_cost_linear_infer"].verdict == "partly"
    assert "(slope 100.0 ms per adapter)" in checks["fusion_cost_linear_train"].basis


def _legend_clear_of_axes(fig) -> bool:
    """Whether every legend of ``fig`` lies outside every axes (so it covers no data, whatever the numbers)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_window_extent(renderer) for ax in fig.axes]
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return bool(legends) and not any(leg.get_window_extent(renderer).overlaps(box) for leg in legends for box in boxes)


def test_cost_and_table3_legends_sit_outside_the_axes():
    timings = pd.DataFrame({"n_adapters": [0, 1, 2, 4], "train_s_per_batch": [0.1, 0.2, 0.3, 0.5],
                            "infer_s_per_batch": [0.05, 0.1, 0.15, 0.25]})
    assert _legend_clear_of_axes(cost.plot(timings))
    assert _legend_clear_of_axes(table3.plot(_rf_rows()))


def test_every_fusion_notebook_has_a_study_that_declares_the_runs_it_reuses():
    modules = (table1, table2, table3, fig3, fig4, cost, tradeoff)
    notebooks = {p.stem for p in (Path(__file__).parents[1] / "notebooks").glob("fusion_*.ipynb")}
    assert {m.STUDY.name for m in modules} == notebooks
    assert all(STUDIES[m.STUDY.name] is m.STUDY and m.STUDY.paper == "fusion" for m in modules)
    for module in (table2, table3, fig3, fig4):  # each reads Table 1's runs from the run store
        assert module.STUDY.depends == (table1.STUDY.name,), module.__name__
    assert table1.STUDY.depends == ("houlsby_table1_glue",) and cost.STUDY.depends == ()
    assert tradeoff.STUDY.depends == (table1.STUDY.name, table3.STUDY.name)  # it trains nothing of its own
    assert [s.name for s in order([cost.STUDY])] == ["fusion_cost"]


def test_setup_text_lists_each_fusion_task_with_the_paper_task_it_stands_in_for():
    cpu = get_profile("cpu")
    text = setup_text(cpu, fig4.STUDY)
    assert ("- **fusion tasks** (paper task in brackets): `winogrande_offline` (WGrande, the paper's own data), "
            "`social_i_qa_offline` (SocIQA, the paper's own data),") in text
    assert "`snli` (stand-in for MNLI)" in text and len(cpu.task_names("fusion")) == 11
    assert "`rte_dev_split` (RTE, the paper's own data)" in text and "- **grid** `fusion`:" in text
    plain = setup_text(cpu, table3.STUDY)  # no stand-in list asked for: the data line only
    assert "`snli`" not in plain and "- **grid** `reduction_factors`:" in plain


def test_the_paper_facts_come_from_the_paper_numbers():
    assert fusion_n_tasks() == 16 and FUSION_SMALL_TASKS == ("RTE", "CB", "MRPC")
    assert claim_value("t3_rf2") == pytest.approx(76.39)
    summary = table1.summary(_table({"full": {"a": 70.0}, "fusion_st_a": {"a": 72.0}}))
    assert summary.set_index("method").at["fusion_st_a", "paper_score_all_tasks"] == pytest.approx(77.33)


def test_tradeoff_paper_points_are_table_1_minus_full_at_bert_base_counts():
    points = tradeoff.paper_points().set_index(["method", "paper_task"])
    counts = tradeoff.paper_counts()
    mrpc = points.loc[("fusion_st_a", "MRPC")]
    assert mrpc["relative"] == pytest.approx(90.29 - 85.14) and mrpc["trained_params"] == counts["fusion_st_a"]
    fused = cost.fusion_parameters(n_adapters=16)
    assert counts["fusion_st_a"] == fused["fusion"] + fused["adapters"] + counts["head"]  # fusion + its 16 adapters
    assert counts["head"] < counts["st_a_rf64"] < counts["st_a"] < counts["st_a_rf2"] < counts["full"]
    assert points.loc[("st_a_rf2", "Mean (Table 3)"), "relative"] == pytest.approx(76.39 - 75.51)


def test_tradeoff_claims_take_the_papers_median_over_the_same_tasks():
    """The paired-interval rule is tests/test_claims.py's (this frame has no predictions)."""
    rows = pd.DataFrame({"task": ["a", "b"] * 3, "method": ["full"] * 2 + ["st_a"] * 2 + ["fusion_st_a"] * 2,
                         "relative": [0.0, 0.0, -0.5, -9.0, 1.0, -9.0], "paper_relative": [0, 0, 0.2, 0.4, 1.0, 2.0],
                         "trained_params": [100, 100, 2, 2, 10, 10], "learned": [True, False] * 3})
    checks = {c.claim: c for c in tradeoff.claims(rows)}
    st_a = checks["tradeoff_st_a_vs_full"]  # task b is not learned, but it is kept for the paper's median
    assert st_a.paper_value == pytest.approx(0.3) and st_a.region_low == -1.0  # paper above full: not worse by 1
    assert st_a.verdict == "not measured" and "a median 2% of full" in st_a.basis


def test_fusion_selects_and_scores_mrpc_and_qqp_by_accuracy_as_adapterfusion_reports(monkeypatch):
    """A run records Houlsby's F1 as MRPC's score; AdapterFusion's Table 1 is accuracy on every task."""
    from adapterlib.runner.grid import GridReport

    frame = pd.DataFrame([{"run_id": "m", "task": "mrpc", "status": "ok", "split": "test", "score": 88.0,
                           "f1": 88.0, "accuracy": 84.0},
                          {"run_id": "s", "task": "sst2", "status": "ok", "split": "test", "score": 92.0,
                           "accuracy": 92.0}])
    monkeypatch.setattr(runs, "run_grid", lambda configs, store: GridReport(frame, 0, 2, 0))
    scored = runs.results(get_profile("paper"), [])
    assert scored.set_index("task")["score"].to_dict() == {"mrpc": 84.0, "sst2": 92.0}
    assert {get_task(t, "fusion_paper").metric for t in ("mrpc", "qqp")} == {"accuracy"} != {get_task("mrpc").metric}


def test_our_split_and_the_papers_are_labelled_side_by_side():
    from adapterlib.studies.common import our_split

    assert our_split("mrpc", "fusion_paper") == "hub validation split"  # AdapterFusion reports dev: like for like
    assert our_split("scitail", "fusion_paper") == "hub test split"
    assert our_split("cf_airline", "houlsby_additional") == "held-out 10% of train"
    assert our_split("uci_sentiment", "fusion_offline") == "stand-in: seeded 80/10/10"
    # the paper's own data says where its test set comes from, and a dev-set split says it is not the paper's split
    assert our_split("winogrande_offline", "fusion_offline").endswith("test: the official dev set (what "
                                                                      "AdapterFusion reports)")
    assert "not the paper's split" in our_split("rte_dev_split", "fusion_offline")


def test_figure_3_draws_and_averages_only_the_tasks_full_fine_tuning_learned():
    """One rule for the floor: RTE's full fine-tuning sits on its majority class, so RTE's bars (where fusion's
    "gain" is noise around the floor) are out of the figure and the findings' means; the title says so."""
    scores = {"full": {"sst2_dev_split": 90.0, "rte_dev_split": 55.0},
              "st_a": {"sst2_dev_split": 88.0, "rte_dev_split": 60.0},
              "fusion_st_a": {"sst2_dev_split": 89.0, "rte_dev_split": 70.0}}
    table = _table(scores).assign(majority=lambda t: t["task"].map({"sst2_dev_split": 50.0, "rte_dev_split": 53.0}),
                                  ci_low=lambda t: t["score"] - 5.0)
    table["paper_task"] = table["task"].map({"sst2_dev_split": "SST-2", "rte_dev_split": "RTE"})
    rel = fig3.relative(table)
    assert rel.groupby("task")["learned"].first().to_dict() == {"rte_dev_split": False, "sst2_dev_split": True}
    ax = fig3.plot(rel).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sst2_dev_split\n(SST-2)"]
    assert "not drawn (full fine-tuning did not learn them): rte_dev_split" in ax.get_title()
    text = fig3.findings(rel, [])
    assert "Means over the 1 tasks full fine-tuning learned (sst2_dev_split)" in text
    assert "| fusion_st_a | -1.00 |" in text  # SST-2's -1, not the mean with RTE's +15


def test_mrpc_in_adapterfusion_tables_gets_intervals_and_differences_in_accuracy():
    """AdapterFusion scores MRPC by accuracy, Houlsby by F1: a fusion table's interval and paired differences are
    taken on accuracy, the metric its rows print (they once came out in F1, the task's first view: an interval of
    66-79 beside a score of 63)."""
    from adapterlib.studies.common import paired_mean_difference, score_columns

    references = [1] * 70 + [0] * 30
    zeros, ones = [0] * 100, [1] * 100  # accuracy 30 and 70; F1 0 and 82.4
    mrpc = get_task("mrpc_dev_split", "fusion_offline")
    assert mrpc.metric == "accuracy"
    interval = score_columns(mrpc, [zeros], references)
    assert 20 < interval["ci_low"] <= 30 <= interval["ci_high"] < 40
    rows = pd.DataFrame([{"task": "mrpc_dev_split", "paper_task": "MRPC", "method": method, "metric": "accuracy",
                          "predictions": [predictions], "references": references}
                         for method, predictions in (("full", zeros), ("fusion_st_a", ones))])
    difference, tasks, why = paired_mean_difference(rows, "fusion_st_a", "full", learned=["mrpc_dev_split"])
    assert why is None and tasks == ["mrpc_dev_split"]
    assert difference.estimate == pytest.approx(40.0)
