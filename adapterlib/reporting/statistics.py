"""Small statistics for reports: bootstrap intervals for scores and for differences between methods, an interval
for a median that assumes no distribution, and a straight-line fit.

Scores are intervals, not points: a test set of a few hundred examples moves accuracy by several points between
draws, so "adapters match full fine-tuning" means something only with the sampling error of both sides. The
bootstrap here is *paired*: both methods are scored on the same resampled test examples, so the error the two
share (an easy or a hard draw of examples) cancels in their difference and the interval measures only how they
disagree. Unpaired intervals, one per method, overlap far more and would call most differences inconclusive.
Every resample recomputes the task's metric (F1, MCC and Spearman are not means of per-example values), with
numpy only and vectorised over resamples.

Timings on a shared machine are skewed by background load, so a median over rounds with an order-statistic interval
says more than a mean with a normal one; "cost grows linearly" is judged by the R^2 of a least-squares line.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from adapterlib.data.metrics import compute_metrics, squad_example_scores
from adapterlib.data.tasks.registry import Task, get_task

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95
_CELLS_PER_CHUNK = 1 << 22  # resampled indices held at once (32 MiB of int64): bounds memory on large test sets


def median_interval(samples: Sequence[float], level: float = 0.9) -> tuple[float, float, float]:
    """Confidence interval for the median of ``samples`` without assuming a distribution: the order statistics
    (x_(k), x_(n+1-k)) with the largest k whose coverage 1 - 2 P(Binomial(n, 1/2) < k) is still >= ``level``.
    Returns (low, high, coverage). Below 5 samples no interval reaches 90%: the full range, with its coverage."""
    x, n = sorted(samples), len(samples)
    coverage = lambda k: 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n  # noqa: E731
    k = max((k for k in range(1, (n + 1) // 2 + 1) if coverage(k) >= level), default=1)
    return x[k - 1], x[n - k], coverage(k)


def line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least squares y = a + b x: (a, b, R^2)."""
    b, a = np.polyfit(x, y, 1)
    return a, b, 1 - ((y - (a + b * x)) ** 2).sum() / ((y - y.mean()) ** 2).sum()


@dataclass(frozen=True)
class Interval:
    """A point estimate on the 0-100 metric scale with its percentile bootstrap interval; ``n`` is the number of
    test examples behind it (summed over tasks for a mean over tasks)."""

    estimate: float
    low: float
    high: float
    n: int
    level: float = CONFIDENCE


ResampledMetric = Callable[[np.ndarray], np.ndarray]


def _correlation_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation x 100 of each row pair; 0 where a row is constant, as `data.metrics` does."""
    xc, yc = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, 100 * (xc * yc).sum(axis=1) / safe, 0.0)


def _count_rows(cells: np.ndarray, width: int, rows: np.ndarray) -> np.ndarray:
    """How often each cell id in [0, width) occurs in ``cells[rows]``, per row: shape (len(rows), width)."""
    offsets = np.arange(len(rows))[:, None] * width + cells[rows]
    return np.bincount(offsets.ravel(), minlength=len(rows) * width).reshape(len(rows), width)


def _rank_rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Ranks (ties share their mean rank) of ``values[rows]`` within each row, without sorting every row: a value's
    rank is the number of drawn values below it plus the mean position among its equals."""
    unique, code = np.unique(values, return_inverse=True)
    counts = _count_rows(code, len(unique), rows)
    below = np.cumsum(counts, axis=1) - counts
    return np.take_along_axis(below + (counts + 1) / 2, code[rows], axis=1)


def _matthews_rows(references: np.ndarray, predictions: np.ndarray) -> ResampledMetric:
    """Multi-class MCC x 100 per resample, from each resample's confusion matrix (the formula of `data.metrics`)."""
    classes, coded = np.unique(np.concatenate([references, predictions]), return_inverse=True)
    k = len(classes)
    cells = coded[: len(references)] * k + coded[len(references):]

    def score(rows: np.ndarray) -> np.ndarray:
        confusion = _count_rows(cells, k * k, rows).reshape(len(rows), k, k).astype(float)
        true, predicted, n = confusion.sum(axis=2), confusion.sum(axis=1), rows.shape[1]
        numerator = np.trace(confusion, axis1=1, axis2=2) * n - (true * predicted).sum(axis=1)
        denominator = np.sqrt((n**2 - (predicted**2).sum(axis=1)) * (n**2 - (true**2).sum(axis=1)))
        return np.where(denominator > 0, 100 * numerator / np.where(denominator > 0, denominator, 1.0), 0.0)
    return score


def _f1_rows(references: np.ndarray, predictions: np.ndarray) -> ResampledMetric:
    """F1 x 100 of class 1 per resample; 0 when class 1 is neither predicted nor present."""
    true_positive = ((predictions == 1) & (references == 1)).astype(float)
    wrong = ((predictions == 1) != (references == 1)).astype(float)

    def score(rows: np.ndarray) -> np.ndarray:
        hits, misses = true_positive[rows].sum(axis=1), wrong[rows].sum(axis=1)
        total = 2 * hits + misses
        return np.where(total > 0, 100 * 2 * hits / np.where(total > 0, total, 1.0), 0.0)
    return score


def _mean_rows(per_example: np.ndarray) -> ResampledMetric:
    """Mean x 100 of per-example scores (accuracy, SQuAD exact match and F1) per resample."""
    return lambda rows: 100 * per_example[rows].mean(axis=1)


def resampled_metric(task: Task | str, predictions, references, metric: str = "score") -> ResampledMetric:
    """The function from resampled example indices (one row per resample) to the metric on each resample.

    ``metric`` is any key of `data.metrics.compute_metrics` for the task ("score" = the paper's metric)."""
    task = get_task(task) if isinstance(task, str) else task
    if task.format == "span_qa":
        per_example = squad_example_scores(predictions, references)
        key = "f1" if metric == "score" else metric
        if key not in per_example:
            raise ValueError(f"{task.name} has no metric {metric!r}; use one of {sorted(per_example)} or 'score'")
        return _mean_rows(per_example[key])
    pred, ref = np.asarray(predictions), np.asarray(references)
    if pred.shape != ref.shape or pred.ndim != 1:
        raise ValueError(f"predictions {pred.shape} and references {ref.shape} must be one value per example")
    key = task.metric if metric == "score" else metric
    if task.format == "regression" and key == "spearman":
        return lambda rows: _correlation_rows(_rank_rows(pred, rows), _rank_rows(ref, rows))
    if task.format == "regression" and key == "pearson":
        return lambda rows: _correlation_rows(pred[rows], ref[rows])
    if task.format != "regression" and key == "accuracy":
        return _mean_rows((pred == ref).astype(float))
    if task.format != "regression" and key == "f1":
        return _f1_rows(ref, pred)
    if task.format != "regression" and key == "matthews":
        return _matthews_rows(ref, pred)
    raise ValueError(f"{task.name} ({task.format}) has no metric {metric!r}; use 'score' or one compute_metrics returns")


def _index_chunks(n_examples: int, n_resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Resampled example indices, ``n_resamples`` rows of ``n_examples`` drawn with replacement, in row chunks."""
    if n_examples < 1:
        raise ValueError("a bootstrap needs at least one test example")
    rows_per_chunk = max(1, _CELLS_PER_CHUNK // n_examples)
    for start in range(0, n_resamples, rows_per_chunk):
        yield rng.integers(0, n_examples, size=(min(rows_per_chunk, n_resamples - start), n_examples))


def bootstrap_scores(task: Task | str, references, prediction_sets: Sequence, *, metric: str = "score",
                     n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Each prediction set's metric on the same ``n_resamples`` resamples of the test examples: shape
    (len(prediction_sets), n_resamples). Sharing the resamples is what pairs the comparisons built on it."""
    rng = np.random.default_rng(seed)
    metrics = [resampled_metric(task, predictions, references, metric) for predictions in prediction_sets]
    chunks = [np.stack([score(rows) for score in metrics]) for rows in _index_chunks(len(references), n_resamples, rng)]
    return np.concatenate(chunks, axis=1)


def _percentile_interval(estimate: float, draws: np.ndarray, n: int, level: float) -> Interval:
    low, high = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return Interval(float(estimate), float(low), float(high), n, level)


def _full_sample_scores(task: Task | str, references, prediction_sets: Sequence, metric: str) -> np.ndarray:
    """The reported scores (on all test examples), from `compute_metrics` itself."""
    return np.array([compute_metrics(task, predictions, references)[metric] for predictions in prediction_sets])


def score_interval(task: Task | str, predictions, references, *, metric: str = "score",
                   n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, level: float = CONFIDENCE) -> Interval:
    """One method's score on one task with its bootstrap interval over test examples."""
    return seed_mean_interval(task, [predictions], references, metric=metric, n_resamples=n_resamples, seed=seed,
                              level=level)


def seed_mean_interval(task: Task | str, seed_predictions: Sequence, references, *, metric: str = "score",
                       n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, level: float = CONFIDENCE) -> Interval:
    """A score averaged over seeds (one prediction array per seed) with its interval: each resample draws the test
    examples and, with several seeds, the seeds too (see ``mean_difference_interval``)."""
    if not seed_predictions:
        raise ValueError(f"task {task}: a score interval needs predictions of at least one seed")
    rng = np.random.default_rng(seed)
    draws = bootstrap_scores(task, references, seed_predictions, metric=metric, n_resamples=n_resamples, seed=rng)
    estimate = _full_sample_scores(task, references, seed_predictions, metric).mean()
    return _percentile_interval(estimate, _seed_means(draws, rng), len(references), level)


def paired_difference_interval(task: Task | str, predictions, baseline_predictions, references, *,
                               metric: str = "score", n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                               level: float = CONFIDENCE) -> Interval:
    """Score of ``predictions`` minus score of ``baseline_predictions`` on one task, both recomputed on the same
    resampled test examples (paired)."""
    pair = [predictions, baseline_predictions]
    draws = bootstrap_scores(task, references, pair, metric=metric, n_resamples=n_resamples, seed=seed)
    estimate = np.subtract(*_full_sample_scores(task, references, pair, metric))
    return _percentile_interval(estimate, draws[0] - draws[1], len(references), level)


@dataclass(frozen=True)
class TaskRuns:
    """One task's test predictions of a method and of its baseline, one prediction array per seed (the two sides
    may have different numbers of seeds)."""

    task: Task | str
    references: Sequence
    seeds: Sequence
    baseline_seeds: Sequence


def _seed_means(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mean over seeds resampled with replacement, per example resample: (n_seeds, B) -> (B,)."""
    n_seeds, n_resamples = scores.shape
    if n_seeds == 1:
        return scores[0]
    picks = rng.integers(0, n_seeds, size=(n_seeds, n_resamples))
    return np.take_along_axis(scores, picks, axis=0).mean(axis=0)


def mean_difference_interval(runs: Sequence[TaskRuns], *, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                             level: float = CONFIDENCE, aggregate: Callable[..., np.ndarray] = np.mean) -> Interval:
    """Mean over tasks of (method's seed-mean score - baseline's seed-mean score), e.g. a GLUE average gap;
    ``aggregate=np.median`` for the median over tasks the trade-off figures report.

    Each resample draws every task's test examples anew (shared by all seeds of both sides: paired) and, where a
    side has several seeds, draws its seeds with replacement too, so the interval carries seed variance as well.
    The tasks themselves are fixed, not resampled: the claim is about these tasks."""
    if not runs:
        raise ValueError("a mean difference over tasks needs at least one task")
    rng = np.random.default_rng(seed)
    differences, estimates = [], []
    for run in runs:
        if not run.seeds or not run.baseline_seeds:
            raise ValueError(f"task {run.task}: both sides need predictions of at least one seed")
        sets = [*run.seeds, *run.baseline_seeds]
        draws = bootstrap_scores(run.task, run.references, sets, n_resamples=n_resamples, seed=rng)
        full = _full_sample_scores(run.task, run.references, sets, "score")
        split = len(run.seeds)
        differences.append(_seed_means(draws[:split], rng) - _seed_means(draws[split:], rng))
        estimates.append(full[:split].mean() - full[split:].mean())
    n = sum(len(run.references) for run in runs)
    return _percentile_interval(float(aggregate(estimates)), aggregate(differences, axis=0), n, level)
