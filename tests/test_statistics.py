"""Bootstrap intervals: every vectorised resampled metric against `compute_metrics` (and scipy) on the same
resample, the paired difference against scipy's paired bootstrap, and cases whose interval is known."""
import numpy as np
import pytest
from scipy.stats import bootstrap, spearmanr
from sklearn.metrics import matthews_corrcoef

from adapterlib.data.metrics import compute_metrics
from adapterlib.reporting.statistics import (TaskRuns, bootstrap_scores, mean_difference_interval,
                                             paired_difference_interval, resampled_metric, score_interval,
                                             seed_mean_interval)

RNG = np.random.default_rng(7)


def _labels(n: int, classes: int, agreement: float):
    ref = RNG.integers(0, classes, n)
    pred = np.where(RNG.random(n) < agreement, ref, RNG.integers(0, classes, n))
    return pred, ref


def _cases():
    """(task, metric, predictions, references) covering every metric family, with ties and several classes."""
    cls_pred, cls_ref = _labels(300, 2, 0.7)
    mc_pred, mc_ref = _labels(300, 4, 0.6)
    ref = np.round(RNG.normal(size=250), 1)                       # rounded: many ties
    reg_pred = np.round(ref + RNG.normal(scale=0.7, size=250), 1)
    golds = [["Denver Broncos"], ["Carolina Panthers", "Panthers"], ["Levi's Stadium"], ["1"], ["two words"]] * 20
    answers = ["the Denver Broncos", "Carolina", "Stadium", "2", "two words"] * 20
    return [("cola", "matthews", cls_pred, cls_ref), ("cola", "accuracy", cls_pred, cls_ref),
            ("mrpc", "f1", cls_pred, cls_ref), ("rt_polarity", "accuracy", cls_pred, cls_ref),
            ("stsb", "spearman", reg_pred, ref), ("stsb", "pearson", reg_pred, ref),
            ("squad", "f1", answers, golds), ("squad", "exact_match", answers, golds),
            ("squad", "score", answers, golds)]


@pytest.mark.parametrize("task, metric, predictions, references", _cases())
def test_every_resampled_metric_equals_compute_metrics_on_that_resample(task, metric, predictions, references):
    rows = np.random.default_rng(0).integers(0, len(references), size=(6, len(references)))
    vectorised = resampled_metric(task, predictions, references, metric)(rows)
    key = "f1" if (task, metric) == ("squad", "score") else metric
    for row, value in zip(rows, vectorised):
        pick = lambda xs: [xs[i] for i in row]  # noqa: E731
        assert value == pytest.approx(compute_metrics(task, pick(predictions), pick(references))[key], abs=1e-9)


def test_multiclass_matthews_per_resample_matches_sklearn_and_spearman_matches_scipy():
    pred, ref = _labels(200, 5, 0.5)
    rows = np.random.default_rng(1).integers(0, 200, size=(4, 200))
    # "matthews" on a 5-class prediction through a matthews task: the formula is multi-class
    assert resampled_metric("cola", pred, ref, "matthews")(rows) == pytest.approx(
        [100 * matthews_corrcoef(ref[r], pred[r]) for r in rows])
    x = np.round(RNG.normal(size=200))
    y = np.round(x + RNG.normal(size=200))
    assert resampled_metric("stsb", x, y)(rows) == pytest.approx([100 * spearmanr(x[r], y[r])[0] for r in rows])


def test_paired_difference_matches_scipys_paired_percentile_bootstrap():
    pred_a, ref = _labels(400, 2, 0.75)
    pred_b = np.where(RNG.random(400) < 0.85, pred_a, 1 - pred_a)   # correlated with a, as two fine-tunings are
    ours = paired_difference_interval("cola", pred_a, pred_b, ref, n_resamples=4000, seed=3)
    mcc_gap = lambda r, a, b: compute_metrics("cola", a, r)["score"] - compute_metrics("cola", b, r)["score"]  # noqa: E731
    scipys = bootstrap((ref, pred_a, pred_b), mcc_gap, paired=True, vectorized=False, method="percentile",
                       n_resamples=4000, rng=np.random.default_rng(3)).confidence_interval
    width = scipys.high - scipys.low
    assert ours.estimate == pytest.approx(mcc_gap(ref, pred_a, pred_b))
    assert ours.low == pytest.approx(scipys.low, abs=0.1 * width)
    assert ours.high == pytest.approx(scipys.high, abs=0.1 * width)
    assert ours.n == 400


def test_accuracy_interval_matches_the_binomial_normal_approximation():
    n, p = 4000, 0.7
    ref = np.ones(n, dtype=int)
    pred = (np.arange(n) < p * n).astype(int)
    interval = score_interval("rt_polarity", pred, ref, seed=0)
    half_width = 1.96 * 100 * np.sqrt(p * (1 - p) / n)
    assert interval.estimate == pytest.approx(100 * p)
    assert interval.low == pytest.approx(100 * p - half_width, abs=0.15 * half_width)
    assert interval.high == pytest.approx(100 * p + half_width, abs=0.15 * half_width)


def test_pairing_cancels_shared_error_identical_methods_have_a_zero_interval():
    pred, ref = _labels(300, 2, 0.7)
    same = paired_difference_interval("mrpc", pred, pred.copy(), ref)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    # one example flipped from wrong to right: every resample's gap is (copies of it) / n > = 0
    better = pred.copy()
    wrong = np.flatnonzero(pred != ref)[0]
    better[wrong] = ref[wrong]
    gap = paired_difference_interval("rt_polarity", better, pred, ref)
    assert gap.estimate == pytest.approx(100 / 300) and gap.low >= 0 and gap.high > 0


def test_paired_interval_is_narrower_than_the_two_score_intervals_suggest():
    pred_a, ref = _labels(500, 2, 0.7)
    pred_b = np.where(RNG.random(500) < 0.9, pred_a, ref)
    paired = paired_difference_interval("rt_polarity", pred_b, pred_a, ref)
    a, b = score_interval("rt_polarity", pred_a, ref), score_interval("rt_polarity", pred_b, ref)
    unpaired_half_width = np.hypot(a.high - a.low, b.high - b.low) / 2
    assert paired.high - paired.low < unpaired_half_width


def test_seeded_resamples_repeat_and_differ_between_seeds():
    pred, ref = _labels(100, 2, 0.6)
    first = bootstrap_scores("cola", ref, [pred], n_resamples=50, seed=11)
    assert np.array_equal(first, bootstrap_scores("cola", ref, [pred], n_resamples=50, seed=11))
    assert not np.array_equal(first, bootstrap_scores("cola", ref, [pred], n_resamples=50, seed=12))
    assert first.shape == (1, 50)


def test_mean_difference_over_one_task_and_seed_is_the_paired_difference():
    pred_a, ref = _labels(300, 2, 0.7)
    pred_b, _ = _labels(300, 2, 0.6)
    one = mean_difference_interval([TaskRuns("mrpc", ref, [pred_a], [pred_b])], seed=5)
    assert one == paired_difference_interval("mrpc", pred_a, pred_b, ref, seed=5)


def test_mean_difference_averages_tasks_and_widens_with_seed_spread():
    pred, ref = _labels(400, 2, 0.7)
    gain = pred.copy()
    gain[np.flatnonzero(pred != ref)[:20]] = ref[np.flatnonzero(pred != ref)[:20]]     # +5 points accuracy
    regression = np.round(RNG.normal(size=400), 2)
    two_tasks = [TaskRuns("rt_polarity", ref, [gain], [pred]), TaskRuns("stsb", regression, [regression], [regression])]
    mean = mean_difference_interval(two_tasks)
    assert mean.estimate == pytest.approx((5 + 0) / 2) and mean.n == 800
    steady = mean_difference_interval([TaskRuns("rt_polarity", ref, [gain, gain], [pred, pred])])
    noisy_seed = _labels(400, 2, 0.5)[0]
    spread = mean_difference_interval([TaskRuns("rt_polarity", ref, [gain, noisy_seed], [pred, pred])])
    assert spread.high - spread.low > steady.high - steady.low


@pytest.mark.parametrize("call, message", [
    (lambda: score_interval("cola", [0, 1], [0, 1, 1]), "one value per example"),
    (lambda: score_interval("stsb", [0.1, 0.2], [0.3, 0.4], metric="accuracy"), "no metric 'accuracy'"),
    (lambda: score_interval("squad", ["a"], [["a"]], metric="spearman"), "no metric 'spearman'"),
    (lambda: score_interval("cola", [], []), "at least one test example"),
    (lambda: mean_difference_interval([]), "at least one task"),
    (lambda: mean_difference_interval([TaskRuns("cola", [0, 1], [], [[0, 1]])]), "at least one seed"),
])
def test_bad_input_is_a_one_line_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_seed_mean_interval_is_the_score_interval_for_one_seed_and_identical_seeds_add_no_width():
    pred, ref = _labels(300, 2, 0.7)
    one = score_interval("rt_polarity", pred, ref, seed=4)
    assert seed_mean_interval("rt_polarity", [pred], ref, seed=4) == one
    twice = seed_mean_interval("rt_polarity", [pred, pred.copy()], ref, seed=4)
    assert (twice.low, twice.high, twice.estimate) == (one.low, one.high, one.estimate)
    other, _ = _labels(300, 2, 0.55)
    spread = seed_mean_interval("rt_polarity", [pred, other], ref, seed=4)
    assert spread.estimate == pytest.approx((one.estimate + 100 * np.mean(other == ref)) / 2)
    with pytest.raises(ValueError, match="at least one seed"):
        seed_mean_interval("rt_polarity", [], ref)
