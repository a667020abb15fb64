"""The pure parts of the Houlsby study modules: table assembly, claim verdicts on hand-built frames, run sharing
between notebooks and the declared dependencies, the no-BERT baseline on a real task slice, ablation spans, paper
numbers read from the paper's files."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.data.metrics import compute_metrics
from adapterlib.reporting.paper import houlsby_additional_params
from adapterlib.runner.profiles import get_profile
from adapterlib.studies.base import STUDIES, order, setup_text
from adapterlib.reporting import claims
from adapterlib.studies.common import floor_reason, learned_tasks
from adapterlib.studies.houlsby import fig3, fig4, fig5, fig6, report, table1, table2
from adapterlib.studies.houlsby.runs import figure_suite, figure_tasks

REPO = Path(__file__).resolve().parents[1]  # the checkout, whose notebooks/ these tests read


def verdicts(checks) -> dict[str, str]:
    return {c.claim: c.verdict for c in checks}


def test_ablation_spans_cover_every_contiguous_span_once():
    spans = fig6.ablation_spans(6)
    assert len(spans) == len(set(spans)) == 6 * 7 // 2
    assert all(0 <= first <= last < 6 for first, last in spans)
    assert (0, 5) in spans and (3, 3) in spans and (4, 2) not in spans


def test_figure_tasks_prefer_the_mnli_stand_in_unless_the_profile_names_learned_ones():
    assert figure_tasks(get_profile("cpu", analysis_tasks=())) == ["snli", "sst2_dev_split"]
    assert figure_tasks(get_profile("cpu")) == ["bbc_news", "sst2_dev_split"]  # SNLI is not learned at cpu scale
    assert figure_suite(get_profile("cpu"), "bbc_news") == "additional_offline"
    with pytest.raises(ValueError, match="analysis task 'squad_v1_dev' is not a task of the glue or additional"):
        get_profile("cpu", analysis_tasks=("squad_v1_dev",))
    assert figure_tasks(get_profile("paper")) == ["mnli", "cola"]
    smoke = figure_tasks(get_profile("smoke"))
    assert len(smoke) == 2 and "vader_movie" not in smoke  # regression tasks have no majority class to ablate to


def test_figures_reuse_table1_runs_at_cpu_scale():
    """Same RunConfig hash = the run store does not retrain: Fig. 3/4/6 read Table 1's runs."""
    cpu = get_profile("cpu")
    glue = cpu.task_names("glue")
    table1_runs = {c.run_id for c in cpu.configs("houlsby_glue", glue, regime=["full", "adapters"])}
    sweep = cpu.configs("size_sweep", ["snli"], regime=["adapters"])
    assert {c.run_id for c in sweep if c.adapter.size in (8, 64, 256)} <= table1_runs
    init = cpu.configs("init_std", ["snli"], role="additional")
    lr = cpu.configs("lr_sweep", ["snli"], role="additional")
    assert len({c.run_id for c in init} & table1_runs) == 1 and len({c.run_id for c in lr} & table1_runs) == 1


class Requested(Exception):
    """Raised with the configs a study asked the run store for, so a test sees them without training."""


def requested_configs(monkeypatch, module, call, name: str = "finished") -> list:
    def capture(*args, **kwargs):  # finished(profile, configs) or run_grid(configs, store)
        raise Requested(next(a for a in args if isinstance(a, list)))

    monkeypatch.setattr(module, name, capture)
    with pytest.raises(Requested) as hit:
        call()
    return hit.value.args[0]


def test_paper_figures_run_on_the_model_the_papers_claims_name(monkeypatch):
    """Fig. 4 and 6 on BERT-base (Sec. 3.4, 3.6), Fig. 5 and Sec. 3.6's sizes on BERT-large, as in_text_claims.csv."""
    paper = get_profile("paper")
    hub_id = {"bert-base": "bert-base-uncased", "bert-large": "bert-large-uncased"}
    claimed = paper_claims().groupby("source")["model"].agg(lambda models: {hub_id[m] for m in models})
    calls = {"Fig. 4": (fig4, lambda: fig4.table(paper), "finished"),
             "Fig. 5": (fig5, lambda: fig5.table(paper), "finished"),
             "Fig. 6": (fig6, lambda: fig6.ablation(paper), "finished"),
             "Sec. 3.6": (fig6, lambda: fig6.size_means(paper), "finished")}
    for source, (module, call, name) in calls.items():
        assert {c.model for c in requested_configs(monkeypatch, module, call, name)} == claimed[source], source
    init_std = requested_configs(monkeypatch, fig6, lambda: fig6.init_std_sweep(paper), "run_grid")
    assert {c.model for c in init_std} == claimed["Fig. 6"]


def table1_frame(full: list[float], adapters: list[float], pct: float = 2.0) -> pd.DataFrame:
    rows = []
    for i, (f, a) in enumerate(zip(full, adapters)):
        rows += [{"task": f"t{i}", "paper_task": f"P{i}", "method": "full", "score": f, "trained_pct": 100.0,
                  "paper_score": 80.0},
                 {"task": f"t{i}", "paper_task": f"P{i}", "method": "adapters_best_size", "score": a,
                  "trained_pct": pct, "paper_score": 79.0},
                 {"task": f"t{i}", "paper_task": f"P{i}", "method": "adapters_64", "score": a - 2,
                  "trained_pct": pct, "paper_score": 79.0}]
    rows += [{"task": np.nan, "paper_task": "total", "method": m, "score": np.nan, "trained_pct": np.nan,
              "paper_score": v} for m, v in (("full", 80.4), ("adapters_best_size", 80.0), ("adapters_64", 79.6))]
    return pd.DataFrame(rows)


def test_table1_claims_verdicts_follow_the_stated_rule():
    """The share rule; the gaps' interval rule is tests/test_claims.py's (these frames have no predictions)."""
    checks = {c.claim: c for c in table1.claims(table1_frame([80, 70], [79.5, 70]))}
    assert checks["glue_trained_pct"].verdict == "holds"
    assert math.isclose(checks["t1_adapters64_gap"].paper_value, 0.8)  # the paper's mean rows: 80.4 - 79.6
    assert checks["glue_gap"].verdict == checks["t1_adapters64_gap"].verdict == "not measured"
    worse = verdicts(table1.claims(table1_frame([80, 70], [75, 64], pct=12.0)))
    assert worse["glue_trained_pct"] == "does not hold"


def test_summary_uses_paper_mean_row_and_our_tasks_only():
    summary = report.summary(table1_frame([80, 70], [79, 69]), "total").set_index("method")
    assert summary.loc["full", "n_tasks"] == 2
    assert summary.loc["full", "score"] == 75 and summary.loc["full", "paper_score_all_tasks"] == 80.4
    assert summary.loc["adapters_64", "paper_score_same_tasks"] == 79.0


N_DEV = 400
GOLD = [i % 2 for i in range(N_DEV)]  # balanced: majority class 50%


def flipped(predictions: list[int], n: int) -> list[int]:
    """``predictions`` with the first ``n`` correct ones made wrong."""
    out, left = list(predictions), n
    for i, (p, g) in enumerate(zip(out, GOLD)):
        if left and p == g:
            out[i], left = 1 - g, left - 1
    return out


def figure6_frame(single_flips: int, all_removed: list[int], init: dict[float, list[int] | None],
                  intact_wrong: int = 40) -> pd.DataFrame:
    """Fig. 6's panels as ``fig6.table()`` builds them, with per-example predictions on a 400-example split: the
    intact model (90% by default), one layer off costs ``single_flips`` correct answers, ``all_removed`` is the
    every-adapter-off prediction; ``init``: std -> test predictions (None: the run diverged)."""
    intact = flipped(GOLD, intact_wrong)
    score = lambda p: 100 * sum(a == b for a, b in zip(p, GOLD)) / N_DEV  # noqa: E731
    rows = [{"panel": "ablation", "task": "sst2_dev_split", "first_layer": np.nan, "last_layer": np.nan,
             "score": score(intact), "predictions": intact, "references": GOLD, "n_layers": 2, "majority": 50.0}]
    for first, last in fig6.ablation_spans(2):
        preds = all_removed if (first, last) == (0, 1) else flipped(intact, single_flips)
        rows.append({"panel": "ablation", "task": "sst2_dev_split", "first_layer": first, "last_layer": last,
                     "score": score(preds), "predictions": preds, "references": GOLD, "n_layers": 2,
                     "majority": 50.0})
    for std, preds in init.items():
        rows.append({"panel": "init_std", "task": "sst2_dev_split", "init_std": std, "majority": 50.0,
                     "score": np.nan if preds is None else score(preds), "status": "failed" if preds is None else "ok",
                     "predictions": None if preds is None else [preds], "references": GOLD})
    for size, sc in ((8, 80.0), (64, 79.5), (256, 76.0)):
        rows.append({"panel": "size", "task": "sst2_dev_split", "method": f"adapters_{size}", "size": size,
                     "score": sc})
    return pd.DataFrame(rows)


def test_figure6_claims_follow_the_one_rule():
    good = flipped(GOLD, 40)
    v = verdicts(fig6.claims(figure6_frame(1, [0] * N_DEV, {1e-7: good, 1e-2: good, 1e-1: flipped(good, 8),
                                                            1.0: None})))
    assert v["fig6_single_layer_max_drop"] == "holds" and v["fig6_all_removed_mnli"] == "holds"
    assert v["fig6_init_robust_below"] == "holds"  # 1e-7 as 1e-2, and the largest std diverged: degraded
    assert {v["sec36_size8"], v["sec36_size64"], v["sec36_size256"]} == {"not measured"}  # no predictions here
    # 15 points lost everywhere: outside every region, but at a half-width of ~3.4 points on 400 examples none of
    # them could have held on the paper's own number either
    checks = {c.claim: c for c in fig6.claims(figure6_frame(60, good, {1e-7: flipped(good, 60), 1e-2: good,
                                                                       1.0: good}))}
    assert {checks[c].verdict for c in ("fig6_single_layer_max_drop", "fig6_all_removed_mnli",
                                        "fig6_init_robust_below")} == {"undecidable"}
    assert checks["fig6_single_layer_max_drop"].region_high == 3.0  # the paper's "at most 2" + the 1-point margin
    v = verdicts(fig6.claims(figure6_frame(8, flipped([0] * N_DEV, 0), {1e-2: good, 1e-7: flipped(good, 8),
                                                                      1.0: flipped(good, 2)})))
    assert v["fig6_init_robust_below"] == "inconclusive"  # 1.0 loses 0.5 points: its interval reaches 0
    v = verdicts(fig6.claims(figure6_frame(1, [0] * N_DEV, {1e-2: GOLD[:]}, intact_wrong=180)))  # intact at 55%
    assert v["fig6_single_layer_max_drop"] == v["fig6_all_removed_mnli"] == "not measured"


def test_percentiles_across_learned_tasks():
    table = pd.DataFrame({"suite": "glue", "series": "adapters", "method": "adapters_8", "task": list("abcdef"),
                          "paper_task": list("ABCDEF"), "relative": [-3.0, -1.0, 0.0, 1.0, 3.0, -40.0], "trained_params": [10, 10, 10, 12, 12, 99],
                          "trained_pct": 1.0, "learned": [True] * 5 + [False], "base_params": 1000,
                          "shared_params": 1000, "run_trainable": [10, 10, 10, 12, 12, 99]})
    lora = table.assign(series="lora", method="lora_8", relative=table["relative"] + 1)
    totals = fig3.summary(pd.concat([table, lora]))
    ours = totals[totals["source"] == "ours"].set_index("method")
    row = ours.loc["adapters_8"]  # the task full fine-tuning did not learn is left out
    assert row["p50"] == 0.0 and row["p20"] == pytest.approx(-1.4) and row["n_tasks"] == 5
    assert row["series"] == "adapters" and ours.loc["lora_8", "p50"] == 1.0
    assert row["score"] == pytest.approx((1000 + 6 * table["run_trainable"].mean()) / 1000)  # 6 tasks served
    paper = totals[totals["source"] == fig3.PAPER_LABELS["glue"]].set_index("method")
    assert paper.loc["adapters_best_size", "paper_score"] == 1.3 and paper.loc["full", "paper_score"] == 9.0


def test_paper_points_are_table_1_and_2_minus_their_full_column_at_the_papers_model_size():
    points = fig3.paper_points().set_index(["suite", "method", "paper_task"])
    cola = points.loc[("glue", "adapters_best_size", "CoLA")]
    assert cola["relative"] == pytest.approx(59.5 - 60.5) and cola["trained_params"] == pytest.approx(0.036 * 340e6)
    spam = points.loc[("additional", "top_k", "SMS spam collection")]
    assert spam["relative"] == pytest.approx(0.0) and spam["trained_params"] == pytest.approx(0.529 * 110e6)
    assert not points.index.get_level_values("paper_task").isin(["total", "Average"]).any()


def test_learned_tasks_need_full_fine_tuning_five_points_and_its_interval_above_the_majority_class():
    nan = float("nan")
    table = pd.DataFrame({"task": ["a", "b", "c", "d", "e", "a"],
                          "method": ["full", "full", "full", "full", "full", "adapters_8"],
                          "score": [60.0, 54.9, nan, 70.0, 58.0, 90.0], "majority": [50.0] * 6,
                          "ci_low": [55.0, 52.0, nan, nan, 49.0, 85.0]})
    # b: under 5 points; c: no score; d: no interval (one rule: not shown to be learned); e: interval reaches 50
    assert learned_tasks(table) == ["a"]
    assert "has no interval" in floor_reason(table, "d") and "not learned at this scale" in floor_reason(table, "e")


def test_no_bert_baseline_learns_spam_on_a_real_slice():
    result = table2.no_bert_baseline("sms_spam", max_train=300, max_eval=100)
    assert result["score"] > 90  # 87% of the corpus is ham: a working spam filter beats the majority class
    assert result["C"] in (0.01, 0.1, 1.0, 10.0, 100.0) and result["trained_params"] > 100
    assert compute_metrics("sms_spam", result["predictions"], result["references"])["score"] == result["score"]
    with pytest.raises(ValueError, match="span_qa"):
        table2.no_bert_baseline("squad_v1_dev")


ITEMS = (table1, table2, fig3, fig4, fig5, fig6)


def test_each_item_registers_its_notebook_and_the_runs_it_reads():
    names = [item.STUDY.name for item in ITEMS]
    assert all(STUDIES[name] is item.STUDY for name, item in zip(names, ITEMS))
    assert all((REPO / "notebooks" / f"{name}.ipynb").exists() for name in names)
    assert fig3.STUDY.depends == ("houlsby_table1_glue", "houlsby_table2_additional")
    assert fig4.STUDY.depends == fig6.STUDY.depends == ("houlsby_table1_glue",)
    assert table1.STUDY.depends == table2.STUDY.depends == fig5.STUDY.depends == ()
    ordered = [s.name for s in order([fig6.STUDY, fig3.STUDY])]  # dependencies are pulled in, and run first
    assert ordered == ["houlsby_table1_glue", "houlsby_fig6_ablation", "houlsby_table2_additional",
                       "houlsby_fig3_tradeoff"]


def test_setup_text_names_every_model_an_item_trains():
    paper = get_profile("paper")
    assert "bert-large" in setup_text(paper, table1.STUDY) and "bert-base" not in setup_text(paper, table1.STUDY)
    both = setup_text(paper, fig6.STUDY)  # Sec. 3.6's sizes read Table 1's BERT-large, the rest is BERT-base
    assert "bert-large" in both and "bert-base" in both and "houlsby_additional" not in both
    assert "MiniLM" in setup_text(get_profile("cpu"), fig6.STUDY)


def test_notebooks_call_their_item_module_and_generate_their_setup():
    for item in ITEMS:
        module = item.__name__.rsplit(".", 1)[-1]
        cells = json.loads((REPO / "notebooks" / f"{item.STUDY.name}.ipynb").read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        assert f"setup_text(config, {module}.STUDY)" in code and re.search(rf"{module}\.claims\((saved|table)\)", code)
        assert "MiniLM" not in prose  # the model is stated by the generated set-up text, not typed by hand


def test_table2_paper_footer_comes_from_its_file():
    footer = houlsby_additional_params().set_index("method")
    assert footer.loc["adapters", "paper_total_params_x"] == 1.19 and footer.loc["top_k", "paper_trained_pct"] == 52.9
    assert footer.loc["full", "paper_total_params_x"] == 17.0


def table2_frame(full: float, adapters: float, baseline: float, pct: float) -> pd.DataFrame:
    ours = [{"task": "t0", "paper_task": "P0", "method": m, "score": v, "trained_pct": p}
            for m, v, p in (("full", full, 100.0), ("top_k", full, 50.0), ("adapters", adapters, pct),
                            ("no_bert_baseline", baseline, np.nan))]
    paper = [{"task": np.nan, "paper_task": "Average", "method": m, "score": np.nan, "paper_score": v}
             for m, v in (("full", 73.7), ("top_k", 74.0), ("adapters", 73.3), ("no_bert_baseline", 72.7))]
    return pd.DataFrame(ours + paper)


def test_table2_claims_against_the_papers_mean_row():
    checks = {c.claim: c for c in table2.claims(table2_frame(80.0, 79.5, 78.0, 1.2))}
    assert {k: c.verdict for k, c in checks.items()} == {  # no predictions here: test_claims.py has the gap rule
        "t2_adapters_gap": "not measured", "t2_top_k_gap": "not measured", "t2_adapters_vs_no_bert": "not measured",
        "t2_trained_pct": "holds"}
    assert checks["t2_top_k_gap"].region_high == claims.ON_PAR_MARGIN  # paper top-k beat full (-0.3): "not worse"
    assert checks["t2_adapters_gap"].paper_value == 0.4 and "within 0.4 points" in checks["t2_adapters_gap"].description
    assert checks["t2_adapters_vs_no_bert"].paper_value == 0.6 and checks["t2_trained_pct"].paper_value == 1.14
    worse = verdicts(table2.claims(table2_frame(80.0, 76.0, 77.0, 4.0)))
    assert worse["t2_trained_pct"] == "does not hold"  # 4% > 3x the paper's 1.14%


def test_figure4_descriptions_state_the_papers_points():
    table = pd.DataFrame([("snli", "MNLI-m", "full", 0.0)], columns=["task", "paper_task", "method", "delta"])
    descriptions = {c.claim: c.description for c in fig4.claims(table)}
    assert descriptions["fig4_adapter64"] == "adapter size 64 within 0.7 points of full fine-tuning (MNLI-m 83.7 vs 84.4)"
    assert descriptions["fig4_top1"] == "fine-tuning only the top layer loses 6.6 points (MNLI-m 77.8 vs 84.4)"


# What the paper prints for Fig. 4 and Fig. 6's ablation (houlsby_in_text_numbers.md), typed here from the paper, not
# read from the study code: (paper task, method, column) -> number. LayerNorm-only is printed only as a loss.
PRINTED_FIG4 = {("MNLI-m", "full", "paper_score"): 84.4, ("MNLI-m", "adapters_64", "paper_score"): 83.7,
                ("MNLI-m", "top_k_1", "paper_score"): 77.8, ("MNLI-m", "layernorm", "paper_delta"): -4.0,
                ("CoLA", "layernorm", "paper_delta"): -3.5}
PRINTED_FIG6 = {("MNLI-m", "adapters_64_ablation", "paper_score"): 37.0,
                ("CoLA", "adapters_64_ablation", "paper_score"): 69.0}
# our two figure tasks and what they stand in for: the cpu profile's (neither is MNLI's or CoLA's) and the paper's
STAND_INS = {"cpu": {"bbc_news": "News aggregator dataset", "sst2_dev_split": "SST-2"},
             "paper": {"mnli": "MNLI-m", "cola": "CoLA"}}


def printed_numbers(table: pd.DataFrame, columns: tuple[str, ...]) -> dict[tuple[str, str, str], float]:
    """Every paper number of ``table``, keyed as PRINTED_*; a key met twice fails."""
    found = {}
    for column in columns:
        for row in table.dropna(subset=[column]).itertuples():
            key = (row.paper_task, row.method, column)
            assert key not in found, f"{key} twice"
            found[key] = getattr(row, column)
    return found


def figure4_points(stand_ins: dict[str, str]) -> pd.DataFrame:
    """Our Fig. 4 points as ``fig4.table`` has them before the paper's numbers join: both tasks, every regime."""
    points = [("full", "full", np.nan, 100.0, 0.0), ("adapters_8", "adapters", 8, 1.0, -3.0),
              ("adapters_64", "adapters", 64, 3.3, -1.0), ("top_k_1", "top_k", np.nan, 8.5, -7.0),
              ("layernorm", "layernorm", np.nan, 0.7, -5.0)]
    return pd.DataFrame([{"task": task, "paper_task": ref, "method": method, "regime": regime, "size": size,
                          "score": 80.0 + delta, "paper_score": np.nan, "trained_pct": pct, "delta": delta,
                          "compared_with": panel}
                         for (task, ref), panel in zip(stand_ins.items(), fig4.PAPER_PANELS)
                         for method, regime, size, pct, delta in points])


@pytest.mark.parametrize("profile", STAND_INS)
def test_figure4_paper_numbers_sit_under_the_paper_task_and_method_printed_for(profile, tmp_path):
    stand_ins = STAND_INS[profile]
    table = fig4.with_paper(figure4_points(stand_ins))
    assert printed_numbers(table, ("paper_score", "paper_delta")) == PRINTED_FIG4  # no LayerNorm score, nothing else
    carriers = table[table[["paper_score", "paper_delta"]].notna().any(axis=1)]
    # on our row only where our task stands in for the paper task, else on a row of the paper's own
    assert all(stand_ins.get(task) == ref if isinstance(task, str) else ref not in stand_ins.values()
               for task, ref in zip(carriers["task"], carriers["paper_task"]))
    assert (carriers["task"].notna().all() if profile == "paper" else carriers["task"].isna().all())
    assert len(table.dropna(subset=["task"])) == len(figure4_points(stand_ins))  # ours unchanged
    table.to_csv(tmp_path / "t.csv", index=False)
    fig = fig4.plot(pd.read_csv(tmp_path / "t.csv"))
    for ax, task, panel in zip(fig.axes, stand_ins, fig4.PAPER_PANELS):
        assert task in ax.get_title() and f"paper's {panel} panel" in ax.get_title()
        (paper,) = [line for line in ax.get_lines() if line.get_label().startswith("paper")]
        assert panel in paper.get_label()
        expected = {"MNLI-m": [-6.6, -4.0, -0.7, 0.0], "CoLA": [-3.5]}[panel]  # the printed points, as differences
        assert sorted(paper.get_ydata()) == pytest.approx(expected)
    plt.close(fig)


def ablation_rows(stand_ins: dict[str, str], n_layers: int = 2) -> pd.DataFrame:
    """Our ablation rows as ``fig6.ablation`` has them before the paper's numbers join: intact, then every span."""
    spans = [(np.nan, np.nan), *fig6.ablation_spans(n_layers)]
    return pd.DataFrame([{"task": task, "paper_task": ref, "method": "adapters_64_ablation", "first_layer": first,
                          "last_layer": last, "n_layers": n_layers, "score": 70.0, "majority": 50.0}
                         for task, ref in stand_ins.items() for first, last in spans])


@pytest.mark.parametrize("profile", STAND_INS)
def test_figure6_paper_numbers_sit_under_the_paper_task_and_method_printed_for(profile):
    stand_ins = STAND_INS[profile]
    table = fig6.with_paper(ablation_rows(stand_ins))
    assert printed_numbers(table, ("paper_score",)) == PRINTED_FIG6
    carriers = table.dropna(subset=["paper_score"])
    assert (carriers["first_layer"] == 0).all()  # every adapter removed: layers 0 to the last
    assert (carriers["last_layer"] == carriers["n_layers"] - 1).all()
    if profile == "paper":
        assert [stand_ins[t] for t in carriers["task"]] == list(carriers["paper_task"])
    else:
        assert carriers["task"].isna().all() and (carriers["n_layers"] == fig6.BERT_BASE_LAYERS).all()
    assert len(table.dropna(subset=["task"])) == len(ablation_rows(stand_ins))


def test_section_3_6_panel_leaves_tasks_full_fine_tuning_did_not_learn_out_of_the_mean(monkeypatch, tmp_path):
    """The size panel is test scores with their test intervals; a task at the majority-class floor stays in the
    table, marked, but out of the mean the figure draws."""
    rows = []
    for task, full, adapters in (("learned", 80.0, (78.0, 79.0, 77.0)), ("floor", 51.0, (90.0, 10.0, 50.0))):
        rows += [{"task": task, "method": method, "size": size, "score": score, "ci_low": score - 3,
                  "ci_high": score + 3, "majority": 50.0, "dev_score": score + 5}
                 for method, size, score in (("full", np.nan, full), *(
                     (f"adapters_{s}", s, a) for s, a in zip((8, 64, 256), adapters)))]
    monkeypatch.setattr(fig6, "finished", lambda profile, configs: pd.DataFrame())
    monkeypatch.setattr(fig6, "sweep_points", lambda frame, suite: pd.DataFrame(rows))
    sizes = fig6.size_means(get_profile("smoke"))
    assert set(sizes["split"]) == {"test"} and (sizes["score"].between(sizes["ci_low"], sizes["ci_high"])).all()
    assert dict(zip(sizes["task"], sizes["learned"])) == {"learned": True, "floor": False}
    sizes.assign(panel="size", init_std=np.nan, lr=np.nan).to_csv(tmp_path / "t.csv", index=False)
    fig = fig6.plot_sweeps(pd.read_csv(tmp_path / "t.csv"))
    ours = fig.axes[2].get_lines()[0]
    assert list(ours.get_ydata()) == [78.0, 79.0, 77.0]  # the learned task alone
    assert "1 learned of 2 tasks" in ours.get_label() and "left out: floor" in ours.get_label()
    plt.close(fig)


def test_table1_scores_mnli_mm_on_mnli_runs_without_training_it_again(monkeypatch):
    """GLUE's MNLI-mm is the MNLI model on the mismatched set: the row reads the MNLI runs' test_mismatched split."""
    paper = get_profile("paper")
    assert "mnli_mm" not in paper.task_names("glue") and [t.name for t in paper.scored_from("glue")] == ["mnli_mm"]
    rows = []
    for run, regime, size, seed, (dev, test, mismatched) in (("f0", "full", np.nan, 0, (80, 79, 78)),
                                                             ("f1", "full", np.nan, 1, (82, 81, 80.5)),
                                                             ("a0", "adapters", 64, 0, (81, 80, 79.5))):
        rows += [{"run_id": run, "task": "mnli", "regime": regime, "size": size, "lr": 3e-5, "epochs": 3,
                  "seed": seed, "split": split, "score": score, "trainable": 1, "trainable_pct": 1.0,
                  "status": "ok"}
                 for split, score in (("validation", dev), ("test", test), ("test_mismatched", mismatched))]
    trained = []
    monkeypatch.setattr(table1, "finished", lambda profile, configs: trained.extend(configs) or pd.DataFrame(rows))
    monkeypatch.setattr(table1, "total_params_x", lambda *args: math.nan)
    monkeypatch.setattr("adapterlib.studies.common.majority_score", lambda task, suite: math.nan)
    table = table1.table(paper).set_index(["task", "method"])
    assert not any(c.task == "mnli_mm" for c in trained)
    assert table.loc[("mnli_mm", "full"), "score"] == 80.5  # the best-on-dev MNLI run, on the mismatched set
    assert table.loc[("mnli_mm", "adapters_64"), "score"] == 79.5
    assert table.loc[("mnli_mm", "full"), "paper_task"] == "MNLI-mm" and table.loc[("mnli", "full"), "score"] == 81
    # our scores are on the hub's dev sets, the paper's on the GLUE test server: the columns say so
    assert table.loc[("mnli_mm", "full"), "our_split"] == "hub validation_mismatched split"
    assert set(table["paper_split"]) == {"GLUE test server"}
