"""The one learning-claim rule: region verdicts from paired intervals, and "not measured" wherever full fine-tuning
has not learned the task, on claims built from tables with real per-example predictions and on the committed
claim records."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapterlib.reporting import claims
from adapterlib.reporting.statistics import Interval
from adapterlib.studies.common import floor_tasks, score_columns
from adapterlib.studies.fusion import fig3 as fusion_fig3
from adapterlib.studies.fusion import table1 as fusion_table1
from adapterlib.studies.fusion import table3 as fusion_table3
from adapterlib.studies.fusion import tradeoff as fusion_tradeoff
from adapterlib.studies.houlsby import fig3 as houlsby_fig3
from adapterlib.studies.houlsby import fig4 as houlsby_fig4
from adapterlib.studies.houlsby import fig5 as houlsby_fig5
from adapterlib.studies.houlsby import fig6 as houlsby_fig6
from adapterlib.studies.houlsby import table1 as houlsby_table1

REPO = Path(__file__).resolve().parents[1]
N_TEST = 400
TASKS = ("sst2_dev_split", "snli")  # accuracy tasks; the majority class is set by hand below


def predictions_with(correct: int, references: np.ndarray, flip_from: int = 0) -> list[int]:
    """``references`` with every example wrong except ``correct`` of them; the wrong ones start at ``flip_from``
    (so two methods with the same accuracy can disagree on which examples they miss)."""
    wrong = np.roll(np.arange(len(references)) >= correct, flip_from)
    return np.where(wrong, 1 - references, references).tolist()


def row(task: str, method: str, predictions: list[int], references: np.ndarray) -> dict:
    score = 100 * float(np.mean(np.asarray(predictions) == references))
    return {"task": task, "paper_task": task.upper(), "method": method, "metric": "accuracy", "score": score,
            "paper_score": 80.0, "trained_params": 1, "trained_pct": 1.0, "majority": 50.0,
            **score_columns(task, [predictions], references.tolist())}


TABLE_METHODS = ("full", "adapters_best_size", "adapters_64", "st_a", "fusion_st_a")
FIG4_METHODS = ("full", "adapters_64", "top_k_1", "layernorm")
SIZE_METHODS = ("full", "adapters_8", "adapters_64", "adapters_256")


def table(correct: dict[str, int], shift: dict[str, int] | None = None,
          methods: tuple[str, ...] = TABLE_METHODS) -> pd.DataFrame:
    """Every one of ``methods`` on TASKS, with ``correct[method]`` of N_TEST balanced examples right (full:
    ``correct["full"]``) and the misses shifted by ``shift[method]`` examples; plus the paper's mean rows."""
    references = np.arange(N_TEST) % 2
    rows = [row(task, method, predictions_with(correct.get(method, correct["full"]), references,
                                                (shift or {}).get(method, 0)), references)
            for task in TASKS for method in methods]
    rows += [{"task": np.nan, "paper_task": "total", "method": m, "score": np.nan, "paper_score": v}
             for m, v in (("full", 80.4), ("adapters_best_size", 80.0), ("adapters_64", 79.6))]
    return pd.DataFrame(rows)


LEARNING_CLAIMS = ("glue_gap", "t1_adapters64_gap", "t1_fusion_st_a_minus_st_a", "t1_fusion_st_a_minus_full")


def learning_checks(frame: pd.DataFrame) -> dict[str, claims.ClaimCheck]:
    checks = [*houlsby_table1.claims(frame), *fusion_table1.claims(frame)]
    return {c.claim: c for c in checks if c.claim in LEARNING_CLAIMS}


def test_region_verdict_holds_inside_fails_outside_and_is_inconclusive_across():
    inside, across, outside = (Interval(e, e - 1, e + 1, 100) for e in (-2.0, 0.2, 3.0))
    assert [claims.region_verdict(i, -math.inf, 0.4) for i in (inside, across, outside)] == [
        "holds", "inconclusive", "does not hold"]
    assert claims.region_verdict(Interval(0.5, 0.1, 0.9, 10), 0.0, math.inf) == "holds"
    assert claims.region_verdict(Interval(0.0, 0.0, 0.0, 10), 0.0, math.inf) == "does not hold"  # open region
    with pytest.raises(ValueError, match="low < high"):
        claims.region_verdict(inside, 1.0, 0.0)


def test_learning_check_records_interval_region_and_n_and_a_reason_overrides_the_interval():
    interval = Interval(1.5, 0.5, 2.5, 300)
    held = claims.learning_check("glue_gap", interval, (-math.inf, 3.0), "full minus adapters at most 3", "b", "t1")
    assert (held.verdict, held.our_value, held.ci_low, held.ci_high, held.n_test) == ("holds", 1.5, 0.5, 2.5, 300)
    assert (held.region_low, held.region_high) == (-math.inf, 3.0) and "full minus adapters at most 3" in held.basis
    floor = claims.learning_check("glue_gap", interval, (-math.inf, 3.0), "r", "b", "t1", not_measured="not learned")
    assert floor.verdict == "not measured" and "not learned" in floor.basis and math.isnan(floor.ci_low)
    assert claims.learning_check("glue_gap", None, (0.0, 1.0), "r", "b", "t1").verdict == "not measured"


def test_learned_tasks_get_verdicts_from_the_paired_interval():
    same = learning_checks(table({"full": 360}))  # every method predicts exactly what full fine-tuning does
    assert all(same[c].ci_low == same[c].ci_high == 0 for c in LEARNING_CLAIMS)
    assert same["glue_gap"].verdict == "holds"  # 0 <= 0.4
    assert same["t1_fusion_st_a_minus_st_a"].verdict == "does not hold"  # "fusion higher" needs > 0, not exactly 0
    worse = learning_checks(table({"full": 360, "adapters_best_size": 300}))
    assert worse["glue_gap"].verdict == "does not hold" and worse["glue_gap"].our_value == pytest.approx(15.0)
    assert worse["glue_gap"].n_test == 2 * N_TEST
    # 2 examples of 400 apart: gap 0.5 against "at most 0.4" cannot be told apart at this size
    close = learning_checks(table({"full": 360, "adapters_best_size": 358}))["glue_gap"]
    assert close.verdict == "inconclusive" and close.ci_low < 0.4 < close.ci_high
    better = learning_checks(table({"full": 300, "st_a": 300, "fusion_st_a": 340}, shift={"fusion_st_a": 7}))
    assert better["t1_fusion_st_a_minus_st_a"].verdict == "holds" and better["t1_fusion_st_a_minus_st_a"].ci_low > 0


def test_reduction_factor_claims_need_a_difference_inside_the_papers_spread():
    references = np.arange(N_TEST) % 2
    full = table({"full": 360})
    def rf_rows(correct: dict[int, int]) -> pd.DataFrame:
        return pd.DataFrame([row(task, f"st_a_rf{rf}", predictions_with(c, references, 3 * rf), references)
                             for task in TASKS for rf, c in correct.items()])
    same = {c.claim: c for c in fusion_table3.claims(rf_rows({2: 340, 16: 340, 64: 340}), full)}
    assert same["t3_rf16"].verdict == "not measured"  # an absolute BERT-base mean: not comparable
    assert same["t3_rf2"].verdict == "inconclusive"  # equal accuracy, different misses: +-3 points, not within 0.66
    far = {c.claim: c for c in fusion_table3.claims(rf_rows({2: 340, 16: 340, 64: 280}), full)}
    assert far["t3_rf64"].verdict == "does not hold" and far["t3_rf64"].our_value == pytest.approx(-15.0)
    assert {c.verdict for c in fusion_table3.claims(rf_rows({2: 340, 16: 340, 64: 280}))} == {"not measured"}


def fig4_checks(correct: dict[str, int], shift: dict[str, int] | None = None) -> dict[str, claims.ClaimCheck]:
    return {c.claim: c for c in houlsby_fig4.claims(table(correct, shift, FIG4_METHODS))}


def test_figure4_points_are_judged_by_paired_differences_to_full_fine_tuning():
    same = fig4_checks({"full": 360})  # every point predicts exactly what full fine-tuning does
    assert same["fig4_adapter64"].verdict == "holds"  # full minus size 64 is 0, below the paper's 0.7
    assert {same[c].verdict for c in ("fig4_top1", "fig4_full", "fig4_layernorm_drop_mnli",
                                      "fig4_layernorm_drop_cola")} == {"does not hold"}  # no loss, no lead
    worse = fig4_checks({"full": 360, "adapters_64": 300, "top_k_1": 300, "layernorm": 300})
    assert worse["fig4_adapter64"].verdict == "does not hold" and worse["fig4_adapter64"].our_value == 15.0
    assert {worse[c].verdict for c in ("fig4_top1", "fig4_full", "fig4_layernorm_drop_mnli",
                                       "fig4_layernorm_drop_cola")} == {"holds"}
    assert worse["fig4_top1"].region_low == 0 and worse["fig4_top1"].paper_value == pytest.approx(6.6)
    # size 64 as good as full fine-tuning on other examples: cannot tell whether full is the top
    tied = fig4_checks({"full": 360, "top_k_1": 300, "layernorm": 300}, shift={"adapters_64": 7})
    assert tied["fig4_full"].verdict == "inconclusive" and "adapters_64 minus full" in tied["fig4_full"].basis


def size_checks(correct: dict[str, int], shift: dict[str, int] | None = None) -> dict[str, claims.ClaimCheck]:
    """Sec. 3.6's claims on a Fig. 6 table whose size panel is ``table(correct, shift)``."""
    sizes = table(correct, shift, SIZE_METHODS).dropna(subset=["task"]).assign(panel="size", init_std=np.nan)
    return {c.claim: c for c in houlsby_fig6.claims(sizes) if c.claim.startswith("sec36")}


def test_section_3_6_judges_each_pair_of_sizes_against_the_papers_spread():
    same = size_checks({"full": 360})
    assert {c.verdict for c in same.values()} == {"holds"}  # identical predictions: 0, inside +-0.5
    assert same["sec36_size8"].region_high == 0.5 and same["sec36_size8"].paper_value == pytest.approx(0.4)
    assert "size-8 minus size-64" in same["sec36_size8"].basis
    apart = size_checks({"full": 360, "adapters_256": 300})
    assert (apart["sec36_size8"].verdict, apart["sec36_size64"].verdict, apart["sec36_size256"].verdict) == (
        "holds", "does not hold", "does not hold")
    noisy = size_checks({"full": 360}, shift={"adapters_64": 7})  # same accuracy, other misses: +-3 points
    assert noisy["sec36_size8"].verdict == noisy["sec36_size64"].verdict == "inconclusive"


def tradeoff_table(correct: dict[str, int], shift: dict[str, int] | None = None) -> pd.DataFrame:
    """``table`` as the trade-off figures hold it: GLUE-role rows with a series, a dev score and the paper's
    median difference to full fine-tuning of -0.4 (as Houlsby Table 1's GLUE median)."""
    rows = table(correct, shift).dropna(subset=["task"])
    series = rows["method"].str.extract(r"^(adapters|full|st_a|fusion)", expand=False)
    return rows.assign(suite="glue", series=series, dev_score=rows["score"], learned=True,
                       paper_relative=np.where(rows["method"] == "full", 0.0, -0.4))


def tradeoff_checks(correct: dict[str, int], shift: dict[str, int] | None = None) -> dict[str, claims.ClaimCheck]:
    frame = tradeoff_table(correct, shift)
    checks = [*houlsby_fig3.claims(frame), *fusion_tradeoff.claims(frame)]
    return {c.claim: c for c in checks if c.claim != "fig3_additional_adapters"}


def fusion_fig3_check(correct: dict[str, int], shift: dict[str, int] | None = None) -> claims.ClaimCheck:
    """Fusion Fig. 3's claim with both TASKS standing in for small tasks of the paper (RTE, MRPC)."""
    frame = table(correct, shift)
    frame["paper_task"] = frame["task"].map(dict(zip(TASKS, ("RTE", "MRPC"))))
    (check,) = fusion_fig3.claims(frame)
    return check


def test_fusion_small_task_gain_needs_fusion_above_full_fine_tuning():
    gain = fusion_fig3_check({"full": 300, "fusion_st_a": 340}, shift={"fusion_st_a": 7})
    assert gain.verdict == "holds" and gain.ci_low > 0 and gain.region_low == 0
    assert fusion_fig3_check({"full": 340, "fusion_st_a": 300}).verdict == "does not hold"
    assert fusion_fig3_check({"full": 340}, shift={"fusion_st_a": 7}).verdict == "inconclusive"


def test_trade_off_medians_are_judged_by_their_paired_interval():
    same = tradeoff_checks({"full": 360})
    assert same["fig3_glue_adapters"].region_low == pytest.approx(min(same["fig3_glue_adapters"].paper_value, 0))
    assert {c.verdict for c in same.values()} == {"holds"}  # 0 lies above the paper's median (below 0)
    worse = tradeoff_checks({"full": 360, "adapters_best_size": 300, "adapters_64": 300, "st_a": 300,
                             "fusion_st_a": 300})
    assert {c.verdict for c in worse.values()} == {"does not hold"}
    assert worse["tradeoff_st_a_vs_full"].our_value == pytest.approx(-15.0)
    noisy = tradeoff_checks({"full": 360}, shift={"st_a": 7})  # same accuracy, other misses: +-3 points
    assert noisy["tradeoff_st_a_vs_full"].verdict == "inconclusive"
    assert houlsby_fig3.claims(tradeoff_table({"full": 360}))[1].verdict == "not measured"  # no additional-role rows


def squad_table(correct: dict[str, int], n: int = N_TEST) -> pd.DataFrame:
    """Test F1 rows of Fig. 5's table: ``correct[method]`` of ``n`` questions answered exactly, the rest wrong."""
    golds = [[f"answer {i}"] for i in range(n)]
    rows = []
    for method, right in correct.items():
        answers = [golds[i][0] if i < right else "nothing alike" for i in range(n)]
        rows.append({"task": "squad", "method": method, "split": "test", "metric": "f1",
                     "score": 100 * right / n, **score_columns("squad", [answers], golds)})
    return pd.DataFrame(rows)


def test_squad_gaps_use_paired_intervals_and_absolute_f1_is_not_measured():
    learned = {c.claim: c for c in houlsby_fig5.claims(squad_table({"full": 340, "adapters_64": 340,
                                                                    "adapters_2": 300}))}
    assert learned["fig5_full"].verdict == "not measured" and "BERT-large" in learned["fig5_full"].basis
    assert learned["fig5_adapter64"].verdict == "holds"  # 0 gap, below the paper's 0.3
    assert learned["fig5_adapter2"].verdict == "does not hold" and learned["fig5_adapter2"].ci_low > 0.8
    unlearned = houlsby_fig5.claims(squad_table({"full": 38, "adapters_64": 38, "adapters_2": 20}))  # F1 9.5
    assert {c.verdict for c in unlearned} == {"not measured"}


def test_no_claim_on_a_task_at_the_floor_gets_a_verdict_other_than_not_measured():
    at_floor = table({"full": 204, "adapters_best_size": 150, "fusion_st_a": 390})  # full 51% vs majority 50%
    assert sorted(floor_tasks(at_floor)) == sorted(TASKS)
    checks = learning_checks(at_floor)
    assert set(checks) == set(LEARNING_CLAIMS)
    assert {c.verdict for c in checks.values()} == {"not measured"}
    fig4 = houlsby_fig4.claims(table({"full": 204, "adapters_64": 150, "top_k_1": 100, "layernorm": 390},
                                     methods=FIG4_METHODS))
    assert len(fig4) == 5 and {c.verdict for c in fig4} == {"not measured"}
    assert all("majority class (50.0)" in c.basis for c in fig4)
    sizes = size_checks({"full": 204, "adapters_8": 390, "adapters_256": 100})
    assert len(sizes) == 3 and {c.verdict for c in sizes.values()} == {"not measured"}
    medians = tradeoff_checks({"full": 204, "adapters_best_size": 150, "st_a": 100, "fusion_st_a": 390})
    assert len(medians) == 3 and {c.verdict for c in medians.values()} == {"not measured"}
    assert fusion_fig3_check({"full": 204, "fusion_st_a": 390}).verdict == "not measured"
    # a floor task among learned ones is left out of the mean, never averaged into a verdict
    mixed = table({"full": 360, "adapters_best_size": 300})
    mixed.loc[(mixed["task"] == "snli") & (mixed["method"] == "full"), ["score", "ci_low"]] = (52.0, 47.0)
    gap = learning_checks(mixed)["glue_gap"]
    assert gap.verdict == "does not hold" and "1 learned tasks (sst2_dev_split)" in gap.basis and gap.n_test == N_TEST


def test_a_table_read_back_without_predictions_is_not_measured(tmp_path):
    path = tmp_path / "t.csv"
    table({"full": 360}).drop(columns=["predictions", "references"]).to_csv(path, index=False)
    checks = learning_checks(pd.read_csv(path))
    assert {c.verdict for c in checks.values()} == {"not measured"}
    assert "without per-example predictions" in checks["glue_gap"].basis
    table({"full": 360}, methods=FIG4_METHODS).drop(columns=["predictions", "references"]).to_csv(path, index=False)
    assert {c.verdict for c in houlsby_fig4.claims(pd.read_csv(path))} == {"not measured"}
    squad = squad_table({"full": 340, "adapters_64": 340, "adapters_2": 300})
    squad.drop(columns=["predictions", "references"]).to_csv(path, index=False)
    assert {c.verdict for c in houlsby_fig5.claims(pd.read_csv(path))} == {"not measured"}


def committed_claims() -> list[Path]:
    return sorted((REPO / "results" / "cpu" / "claims").glob("*.csv"))


@pytest.mark.parametrize("path", committed_claims(), ids=lambda p: p.stem)
def test_committed_learning_verdicts_have_intervals_and_none_rests_on_an_unlearned_table(path):
    records = pd.read_csv(path)
    if "ci_low" not in records.columns:
        pytest.skip(f"{path.name} predates the interval rule (no ci_low column): regenerate results/cpu")
    learning = records[records["region_low"].notna()]
    judged = learning[learning["verdict"] != "not measured"]
    assert judged[["ci_low", "ci_high", "n_test"]].notna().all().all(), "a learning verdict without its interval"
    for csv, claims_of_table in judged.groupby("csv"):
        table_path = path.parent.parent / f"{csv}.csv"
        if table_path.is_file():
            saved = pd.read_csv(table_path)
            tasks = set(saved["task"].dropna())
            assert set(floor_tasks(saved)) != tasks, f"{list(claims_of_table['claim'])}: judged on unlearned tasks only"
