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
from adapterlib.reporting.summary import headline_table
from conftest import stale_marks
from adapterlib.studies.common import floor_tasks, learned_tasks, score_columns
from adapterlib.studies.fusion import fig3 as fusion_fig3
from adapterlib.studies.fusion import table1 as fusion_table1
from adapterlib.studies.fusion import table2 as fusion_table2
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
          methods: tuple[str, ...] = TABLE_METHODS, n_test: int = N_TEST) -> pd.DataFrame:
    """Every one of ``methods`` on TASKS, with ``correct[method]`` of ``n_test`` balanced examples right (full:
    ``correct["full"]``) and the misses shifted by ``shift[method]`` examples; plus the paper's mean rows."""
    references = np.arange(n_test) % 2
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


def test_a_claim_is_judged_only_where_it_could_hold_on_the_papers_own_number():
    given = dict(paper_value=0.4, paper="houlsby", source="Table 1", description="d")
    # region (-inf, 1.4), paper 0.4: decidable while our half-width is below 1.0
    narrow = claims.learning_check("c", Interval(0.6, 0.0, 1.2, 900), (-math.inf, 1.4), "r", "b", "t", **given)
    assert narrow.verdict == "holds" and narrow.paper_in_interval == 1 and math.isnan(narrow.n_needed)
    outside = claims.learning_check("c", Interval(5.0, 4.5, 5.5, 900), (-math.inf, 1.4), "r", "b", "t", **given)
    assert outside.verdict == "does not hold" and outside.paper_in_interval == 0
    # half-width 2 against the 1.0 the claim allows: undecidable, whatever the interval says, and it says how
    # many examples would decide it (half-width ~ 1/sqrt(n): (2 / 1)^2 = 4x the 900)
    wide = claims.learning_check("c", Interval(6.0, 4.0, 8.0, 900), (-math.inf, 1.4), "r", "b", "t", **given)
    assert wide.verdict == "undecidable" and wide.n_needed == 3600
    assert "interval alone would say does not hold" in wide.basis and "about 3,600 test examples" in wide.basis
    assert (wide.ci_low, wide.ci_high, wide.n_test) == (4.0, 8.0, 900)  # the measurement is kept
    # the paper's own number on the region's edge ("within 0.4" read as at most 0.4): no precision decides it
    edge = claims.learning_check("c", Interval(0.4, 0.3, 0.5, 900), (-math.inf, 0.4), "r", "b", "t", **given)
    assert edge.verdict == "undecidable" and math.isinf(edge.n_needed) and "no test size decides it" in edge.basis
    with pytest.raises(ValueError, match="cannot fail"):
        claims.learning_check("c", Interval(0.0, -1.0, 1.0, 9), (-math.inf, math.inf), "r", "b", "t", **given)


def test_within_claims_get_the_margin_that_makes_them_decidable():
    assert claims.on_par_bound(0.4) == pytest.approx(0.4 + claims.ON_PAR_MARGIN)
    assert claims.on_par_bound(-0.5) == claims.ON_PAR_MARGIN  # the paper's method was better: "not worse"
    assert claims.precision_needed(0.4, -math.inf, claims.on_par_bound(0.4)) == pytest.approx(claims.ON_PAR_MARGIN)


def test_learned_tasks_get_verdicts_from_the_paired_interval():
    same = learning_checks(table({"full": 360}))  # every method predicts exactly what full fine-tuning does
    assert all(same[c].ci_low == same[c].ci_high == 0 for c in LEARNING_CLAIMS)
    assert same["glue_gap"].verdict == "holds"  # 0 below 0.4 + the margin, at half-width 0
    # the fixture's paper scores are all 80: a paper difference of 0 sits on the edge of "fusion higher"
    assert same["t1_fusion_st_a_minus_st_a"].verdict == "undecidable"
    # 15 points worse on 800 examples: the interval excludes "within", but its half-width (~2.6) is above the
    # 1-point margin, so the claim could not have held on the paper's own number either: undecidable, with the size
    worse = learning_checks(table({"full": 360, "adapters_best_size": 300}))
    assert worse["glue_gap"].verdict == "undecidable" and worse["glue_gap"].our_value == pytest.approx(15.0)
    assert worse["glue_gap"].n_test == 2 * N_TEST and worse["glue_gap"].n_needed > 4 * 2 * N_TEST
    # the same claim on 10x the test examples per task is decided
    big = learning_checks(table({"full": 3600, "adapters_best_size": 3000}, n_test=10 * N_TEST))["glue_gap"]
    assert big.verdict == "does not hold" and big.paper_in_interval == 0
    close = learning_checks(table({"full": 3600, "adapters_best_size": 3544}, n_test=10 * N_TEST))["glue_gap"]
    assert close.verdict == "inconclusive" and close.ci_low < claims.on_par_bound(0.4) < close.ci_high


FUSION_METHODS = ("full", "st_a", "mt_a", "fusion_st_a", "fusion_mt_a")


def test_table2_counts_come_from_paired_intervals_on_learned_tasks_only():
    learned = table({"full": 360, "st_a": 340, "mt_a": 390, "fusion_st_a": 380, "fusion_mt_a": 390},
                    methods=FUSION_METHODS)
    rows = fusion_table2.compare(learned)
    by = rows.set_index(["method", "task"])
    assert set(by.loc["fusion_st_a_vs_st_a", "outcome"]) == {"improved"}  # +10 points, interval above 0
    assert set(by.loc["fusion_st_a_vs_mt_a", "outcome"]) == {"worse"}  # -2.5 points on 400 examples: below 0
    assert set(by.loc["fusion_mt_a_vs_mt_a", "outcome"]) == {"same"}  # identical predictions: [0, 0] is not above 0
    assert (by.loc["fusion_st_a_vs_st_a", "ci_low"] > 0).all()
    counts = fusion_table2.counts(rows).set_index("method")
    assert counts.loc["fusion_st_a_vs_st_a", ["improved", "same", "worse", "n_tasks"]].tolist() == [2, 0, 0, 2]
    checks = {c.claim: c for c in fusion_table2.claims(rows)}
    # the paper's scores are all 80 here: no task improved on its side (0 of 2), ours 2 of 2
    assert checks["t2_fst_vs_st_improved"].our_value == 2 and checks["t2_fst_vs_st_improved"].paper_value == 0
    assert checks["t2_fmt_vs_mt_improved"].verdict == "holds"  # 0 of 2 against the paper's 0 of 2
    # full fine-tuning at 51% on a balanced task has not learned it: that task is counted on neither side
    floor = table({"full": 204, "st_a": 340, "fusion_st_a": 380, "mt_a": 340, "fusion_mt_a": 340},
                  methods=FUSION_METHODS)
    floor_rows = fusion_table2.compare(floor)
    assert set(floor_rows["outcome"]) == set(floor_rows["paper_outcome"]) == {fusion_table2.NOT_COUNTED}
    assert fusion_table2.counts(floor_rows)["n_tasks"].sum() == 0
    assert {c.verdict for c in fusion_table2.claims(floor_rows)} == {"not measured"}


def test_reduction_factor_claims_need_a_difference_inside_the_papers_spread():
    references = np.arange(N_TEST) % 2
    full = table({"full": 360})
    def rf_rows(correct: dict[int, int]) -> pd.DataFrame:
        return pd.DataFrame([row(task, f"st_a_rf{rf}", predictions_with(c, references, 3 * rf), references)
                             for task in TASKS for rf, c in correct.items()])
    same = {c.claim: c for c in fusion_table3.claims(rf_rows({2: 340, 16: 340, 64: 340}), full)}
    assert same["t3_rf16"].verdict == "not measured"  # an absolute BERT-base mean: not comparable
    # equal accuracy, different misses: +-3 points, where "within 1.66 of 0" with the paper at +0.34 allows 1.32
    assert same["t3_rf2"].verdict == "undecidable" and same["t3_rf2"].n_needed > 4 * same["t3_rf2"].n_test
    far = {c.claim: c for c in fusion_table3.claims(rf_rows({2: 340, 16: 340, 64: 280}), full)}
    assert far["t3_rf64"].verdict == "undecidable" and far["t3_rf64"].our_value == pytest.approx(-15.0)
    assert "interval alone would say does not hold" in far["t3_rf64"].basis
    assert {c.verdict for c in fusion_table3.claims(rf_rows({2: 340, 16: 340, 64: 280}))} == {"not measured"}


def fig4_checks(correct: dict[str, int], shift: dict[str, int] | None = None) -> dict[str, claims.ClaimCheck]:
    return {c.claim: c for c in houlsby_fig4.claims(table(correct, shift, FIG4_METHODS))}


def test_figure4_points_are_judged_by_paired_differences_to_full_fine_tuning():
    same = fig4_checks({"full": 360})  # every point predicts exactly what full fine-tuning does
    assert same["fig4_adapter64"].verdict == "holds"  # full minus size 64 is 0, below the paper's 0.7
    assert {same[c].verdict for c in ("fig4_top1", "fig4_full", "fig4_layernorm_drop_mnli",
                                      "fig4_layernorm_drop_cola")} == {"does not hold"}  # no loss, no lead
    # 15 points lower everywhere: full fine-tuning is the top, but the sized claims are judged against the paper's
    # sizes (about 6.6 for the top layer, about 4 and 3.5 for LayerNorm-only, each +- the 1-point margin), which a
    # half-width of several points on 400 examples cannot decide
    worse = fig4_checks({"full": 360, "adapters_64": 300, "top_k_1": 300, "layernorm": 300})
    assert worse["fig4_full"].verdict == "holds" and worse["fig4_adapter64"].our_value == 15.0
    assert {worse[c].verdict for c in ("fig4_adapter64", "fig4_top1", "fig4_layernorm_drop_mnli",
                                       "fig4_layernorm_drop_cola")} == {"undecidable"}
    regions = {c: (worse[c].region_low, worse[c].region_high, worse[c].paper_value)
               for c in ("fig4_top1", "fig4_layernorm_drop_mnli", "fig4_layernorm_drop_cola")}
    assert regions == {"fig4_top1": (pytest.approx(5.6), pytest.approx(7.6), pytest.approx(6.6)),
                       "fig4_layernorm_drop_mnli": (-5.0, -3.0, -4.0), "fig4_layernorm_drop_cola": (-4.5, -2.5, -3.5)}
    # size 64 as good as full fine-tuning on other examples: cannot tell whether full is the top
    tied = fig4_checks({"full": 360, "top_k_1": 300, "layernorm": 300}, shift={"adapters_64": 7})
    assert tied["fig4_full"].verdict == "inconclusive" and "adapters_64 minus full" in tied["fig4_full"].basis


def size_checks(correct: dict[str, int], shift: dict[str, int] | None = None) -> dict[str, claims.ClaimCheck]:
    """Sec. 3.6's claims on a Fig. 6 table whose size panel is ``table(correct, shift)``."""
    sizes = table(correct, shift, SIZE_METHODS).dropna(subset=["task"]).assign(panel="size", init_std=np.nan)
    return {c.claim: c for c in houlsby_fig6.claims(sizes) if c.claim.startswith("sec36")}


def test_section_3_6_judges_each_pair_of_sizes_against_the_papers_spread():
    same = size_checks({"full": 360})
    assert {c.verdict for c in same.values()} == {"holds"}  # identical predictions: 0, inside +-(0.5 + 1)
    assert same["sec36_size8"].region_high == 1.5 and same["sec36_size8"].paper_value == pytest.approx(0.4)
    assert "size-8 minus size-64" in same["sec36_size8"].basis
    # the paper's size-8 minus size-64 is +0.4 inside +-1.5: a half-width below 1.1 would decide it; 400
    # examples per task with 60 of them apart give about 2.6
    apart = size_checks({"full": 360, "adapters_256": 300})
    assert (apart["sec36_size8"].verdict, apart["sec36_size64"].verdict, apart["sec36_size256"].verdict) == (
        "holds", "undecidable", "undecidable")
    noisy = size_checks({"full": 360}, shift={"adapters_64": 60})  # same accuracy, 80 misses apart per task: +-3
    assert noisy["sec36_size8"].verdict == noisy["sec36_size64"].verdict == "undecidable"


def tradeoff_table(correct: dict[str, int], shift: dict[str, int] | None = None, n_test: int = N_TEST) -> pd.DataFrame:
    """``table`` as the trade-off figures hold it: GLUE-role rows with a series, a dev score, ``learned`` decided
    on the scores' own intervals as the studies decide it (``learned_tasks``), and the paper's median difference
    to full fine-tuning of -0.4 (as Houlsby Table 1's GLUE median)."""
    rows = table(correct, shift, n_test=n_test).dropna(subset=["task"])
    series = rows["method"].str.extract(r"^(adapters|full|st_a|fusion)", expand=False)
    learned = rows["task"].isin(learned_tasks(rows))
    return rows.assign(suite="glue", series=series, dev_score=rows["score"], learned=learned,
                       paper_relative=np.where(rows["method"] == "full", 0.0, -0.4))


def tradeoff_checks(correct: dict[str, int], shift: dict[str, int] | None = None,
                    n_test: int = N_TEST) -> dict[str, claims.ClaimCheck]:
    frame = tradeoff_table(correct, shift, n_test)
    checks = [*houlsby_fig3.claims(frame), *fusion_tradeoff.claims(frame)]
    return {c.claim: c for c in checks if c.claim != "fig3_additional_adapters"}


def fusion_fig3_check(correct: dict[str, int], shift: dict[str, int] | None = None) -> claims.ClaimCheck:
    """Fusion Fig. 3's claim with both TASKS standing in for small tasks of the paper (RTE, MRPC)."""
    frame = table(correct, shift)
    frame["paper_task"] = frame["task"].map(dict(zip(TASKS, ("RTE", "MRPC"))))
    frame.loc[frame["method"] == "fusion_st_a", "paper_score"] = 90.0  # the paper's gain: +10, decidable at +-3
    (check,) = fusion_fig3.claims(frame)
    return check


def test_fusion_small_task_gain_needs_fusion_above_full_fine_tuning():
    gain = fusion_fig3_check({"full": 300, "fusion_st_a": 340}, shift={"fusion_st_a": 7})
    assert gain.verdict == "holds" and gain.ci_low > 0 and gain.region_low == 0
    assert fusion_fig3_check({"full": 340, "fusion_st_a": 300}).verdict == "does not hold"
    assert fusion_fig3_check({"full": 340}, shift={"fusion_st_a": 7}).verdict == "inconclusive"


def test_trade_off_medians_are_judged_by_their_paired_interval():
    same = tradeoff_checks({"full": 360})
    glue = same["fig3_glue_adapters"]
    assert glue.region_low == pytest.approx(-claims.on_par_bound(-glue.paper_value))  # -(0.4 + 1)
    assert {c.verdict for c in same.values()} == {"holds"}  # 0 lies above the paper's median minus the margin
    worse = tradeoff_checks({"full": 3600, "adapters_best_size": 3000, "adapters_64": 3000, "st_a": 3000,
                             "fusion_st_a": 3000}, n_test=10 * N_TEST)
    assert {c.verdict for c in worse.values()} == {"does not hold"}
    assert worse["tradeoff_st_a_vs_full"].our_value == pytest.approx(-15.0)
    assert worse["tradeoff_st_a_vs_full"].n_tasks == 2
    edge = tradeoff_checks({"full": 3600, "st_a": 3544}, n_test=10 * N_TEST)  # -1.4, the region's edge
    assert edge["tradeoff_st_a_vs_full"].verdict == "inconclusive"
    small = tradeoff_checks({"full": 360, "st_a": 300})  # 400 examples a task: half-width ~3 against 1.4
    assert small["tradeoff_st_a_vs_full"].verdict == "undecidable"
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
    learned = {c.claim: c for c in houlsby_fig5.claims(squad_table({"full": 6800, "adapters_64": 6800,
                                                                    "adapters_2": 6000}, n=8000))}
    assert learned["fig5_full"].verdict == "not measured" and "BERT-large" in learned["fig5_full"].basis
    assert learned["fig5_adapter64"].verdict == "holds"  # 0 gap, below the paper's 0.3 + the margin
    assert learned["fig5_adapter2"].verdict == "does not hold" and learned["fig5_adapter2"].ci_low > 1.8
    small = {c.claim: c for c in houlsby_fig5.claims(squad_table({"full": 340, "adapters_2": 300}))}
    assert small["fig5_adapter2"].verdict == "undecidable"  # 400 questions: half-width ~3 against 1 point
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
    assert gap.verdict == "undecidable" and "1 learned tasks (sst2_dev_split)" in gap.basis and gap.n_test == N_TEST


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


def committed_cases() -> list:
    """``committed_claims`` as test cases, a strict xfail where the run predates the current rule (STALE_RESULTS)."""
    return [pytest.param(path, marks=stale_marks("cpu"), id=path.stem) for path in committed_claims()]


@pytest.mark.parametrize("path", committed_cases())
def test_no_committed_verdict_comes_from_a_rule_that_could_not_pass_or_could_not_fail(path):
    """The rule, tested on what SUMMARY.md shows: every judged learning claim has its interval and rests on a table
    with a learned task; every one that got holds / does not hold / inconclusive could have held had our number been the paper's (half-width below the paper's distance to the
    region's edge) and could have failed (the region has an edge); the undecidable ones say what would decide them."""
    records = pd.read_csv(path)
    assert "n_needed" in records.columns, f"{path.name} predates the decidability rule: regenerate results/cpu"
    judged = records[records["region_low"].notna() & (records["verdict"] != "not measured")]
    assert judged[["ci_low", "ci_high", "n_test"]].notna().all().all(), "a learning verdict without its interval"
    for csv, claims_of_table in judged.groupby("csv"):
        table_path = path.parent.parent / f"{csv}.csv"
        if table_path.is_file():
            saved = pd.read_csv(table_path)
            tasks = set(saved["task"].dropna())
            # a trade-off table says which tasks were learned (its ci columns are each row's gap to full fine-tuning)
            learned = (set(saved.loc[saved["learned"].astype(bool), "task"]) if "learned" in saved.columns
                       else tasks - set(floor_tasks(saved)))
            assert learned, f"{list(claims_of_table['claim'])}: judged on unlearned tasks only"
    learning = records[records["region_low"].notna() & records["ci_low"].notna()]
    for record in learning.itertuples():
        assert not (math.isinf(record.region_low) and math.isinf(record.region_high)), f"{record.claim} cannot fail"
        needed = claims.precision_needed(record.paper_value, record.region_low, record.region_high)
        half_width = (record.ci_high - record.ci_low) / 2
        if record.verdict == "undecidable":
            assert half_width >= needed and record.n_needed > record.n_test, record.claim
        else:
            assert record.verdict in ("holds", "does not hold", "inconclusive"), record.claim
            assert half_width < needed, f"{record.claim}: {record.verdict} from a rule that could not pass"
        if math.isnan(record.paper_value):
            assert math.isnan(record.paper_in_interval), record.claim
        else:
            assert record.paper_in_interval == (record.ci_low <= record.paper_value <= record.ci_high), record.claim


@pytest.mark.parametrize("profile", [pytest.param("cpu", marks=stale_marks("cpu"))])
def test_the_readme_headline_table_is_the_committed_runs(profile):
    """The README's headline table is generated (``summary.headline_table``) from the committed claim records, so
    it cannot drift from SUMMARY.md."""
    records = pd.concat([pd.read_csv(path) for path in (REPO / "results" / profile / "claims").glob("*.csv")])
    assert headline_table(records) in (REPO / "README.md").read_text()
