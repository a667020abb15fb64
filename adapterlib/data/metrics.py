"""The papers' metrics for every task format, offline (sklearn/scipy/by hand; no hub `evaluate` scripts).

`compute_metrics` returns every value on a 0-100 scale; "score" is the paper's metric for the task
(accuracy %, F1 % of the positive class, MCC x 100, Spearman x 100, SQuAD F1).
"""
from __future__ import annotations

import collections
import re
import string
from collections.abc import Sequence

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

from adapterlib.data.tasks import Task, get_task

__all__ = ["compute_metrics", "squad_metrics", "normalize_answer"]


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


def squad_metrics(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Exact match and token F1, each the max over the gold answers, averaged, in %."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    em = [max(float(normalize_answer(p) == normalize_answer(g)) for g in golds) for p, golds in zip(predictions, references)]
    f1 = [max(_f1(p, g) for g in golds) for p, golds in zip(predictions, references)]
    return {"exact_match": 100 * float(np.mean(em)), "f1": 100 * float(np.mean(f1))}


def _correlation(fn, x, y) -> float:
    """Correlation x 100; 0 when either side is constant (undefined), as sklearn does for MCC."""
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return 100 * float(fn(x, y)[0])


def compute_metrics(task: Task | str, predictions, references) -> dict[str, float]:
    task = get_task(task) if isinstance(task, str) else task
    if task.format == "span_qa":
        out = squad_metrics(predictions, references)
        return {**out, "score": out["f1"]}
    pred, ref = np.asarray(predictions), np.asarray(references)
    if pred.shape != ref.shape:
        raise ValueError(f"predictions {pred.shape} and references {ref.shape} differ in shape")
    if task.format == "regression":
        out = {"spearman": _correlation(spearmanr, pred, ref), "pearson": _correlation(pearsonr, pred, ref)}
    else:
        out = {"accuracy": 100 * float(np.mean(pred == ref))}
        if task.metric == "f1":
            out["f1"] = 100 * float(f1_score(ref, pred, pos_label=1, average="binary", zero_division=0))
        if task.metric == "matthews":
            out["matthews"] = 100 * float(matthews_corrcoef(ref, pred))
    return {**out, "score": out[task.metric]}
