"""The papers' metrics for every task format, offline and in numpy (no hub `evaluate` scripts, no sklearn/scipy:
training needs only the core dependencies; tests/test_metrics.py checks them against sklearn and scipy).

`compute_metrics` returns every value on a 0-100 scale; "score" is the paper's metric for the task
(accuracy %, F1 % of the positive class, MCC x 100, Spearman x 100, SQuAD F1).
"""
from __future__ import annotations

import collections
import re
import string
from collections.abc import Sequence

import numpy as np

from adapterlib.data.tasks.registry import Task, get_task

__all__ = ["compute_metrics", "squad_metrics", "squad_example_scores", "normalize_answer"]


# Official SQuAD v1.1 evaluation (evaluate-v1.1.py), re-implemented.
def normalize_answer(s: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _f1(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    common = collections.Counter(pred) & collections.Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_example_scores(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """Per-question exact match and token F1 (0/1 and 0..1), each the max over the gold answers: SQuAD's scores
    are their means, so a bootstrap can resample these arrays instead of re-normalising strings."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    em = [max(float(normalize_answer(p) == normalize_answer(g)) for g in golds) for p, golds in zip(predictions, references)]
    f1 = [max(_f1(p, g) for g in golds) for p, golds in zip(predictions, references)]
    return {"exact_match": np.asarray(em), "f1": np.asarray(f1)}


def squad_metrics(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Exact match and token F1, each the max over the gold answers, averaged, in %."""
    return {name: 100 * float(np.mean(values)) for name, values in squad_example_scores(predictions, references).items()}


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Correlation x 100; 0 when either side is constant (undefined), as sklearn does for MCC."""
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return 100 * float(np.corrcoef(x, y)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank (as scipy.stats.rankdata), so Pearson of ranks is Spearman."""
    ranks = np.empty(len(x))
    ranks[np.argsort(x, kind="stable")] = np.arange(1, len(x) + 1)
    _, tie_group, tie_size = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(tie_group, weights=ranks) / tie_size)[tie_group]


def _f1_positive(ref: np.ndarray, pred: np.ndarray) -> float:
    """F1 of class 1, 0 when it is neither predicted nor present (sklearn's zero_division=0)."""
    true_pos = np.sum((pred == 1) & (ref == 1))
    wrong = np.sum((pred == 1) != (ref == 1))
    return float(2 * true_pos / (2 * true_pos + wrong)) if true_pos + wrong else 0.0


def _matthews(ref: np.ndarray, pred: np.ndarray) -> float:
    """Multi-class Matthews correlation (Gorodkin's R_K, sklearn's formula); 0 when undefined."""
    classes, coded = np.unique(np.concatenate([ref, pred]), return_inverse=True)
    confusion = np.zeros((len(classes), len(classes)))
    np.add.at(confusion, (coded[: len(ref)], coded[len(ref):]), 1)
    true, predicted, n = confusion.sum(axis=1), confusion.sum(axis=0), confusion.sum()
    denominator = np.sqrt((n**2 - predicted @ predicted) * (n**2 - true @ true))
    return float((np.trace(confusion) * n - true @ predicted) / denominator) if denominator else 0.0


def compute_metrics(task: Task | str, predictions, references) -> dict[str, float]:
    task = get_task(task) if isinstance(task, str) else task
    if task.format == "span_qa":
        out = squad_metrics(predictions, references)
        return {**out, "score": out["f1"]}
    pred, ref = np.asarray(predictions), np.asarray(references)
    if pred.shape != ref.shape:
        raise ValueError(f"predictions {pred.shape} and references {ref.shape} differ in shape")
    if task.format == "regression":
        out = {"spearman": _pearson(_ranks(pred), _ranks(ref)), "pearson": _pearson(pred, ref)}
    else:
        out = {"accuracy": 100 * float(np.mean(pred == ref))}
        if task.metric == "f1":
            out["f1"] = 100 * _f1_positive(ref, pred)
        if task.metric == "matthews":
            out["matthews"] = 100 * _matthews(ref, pred)
    return {**out, "score": out[task.metric]}
