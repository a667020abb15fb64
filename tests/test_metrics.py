"""Metrics against hand-computed values, the official SQuAD normalisation, and sklearn/scipy as oracles."""
import math

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

from adapterlib.data.metrics import compute_metrics, normalize_answer, squad_metrics


@pytest.mark.parametrize("raw, normalised", [
    ("The Denver Broncos", "denver broncos"),
    ("  an apple a day!", "apple day"),
    ("Theatre, the END.", "theatre end"),          # "the" only as a whole word
    ("U.S.-based", "usbased"),                      # punctuation removed, not replaced by spaces
    ("A", ""),
])
def test_official_squad_normalisation(raw, normalised):
    assert normalize_answer(raw) == normalised


def test_squad_em_f1_hand_computed():
    preds = ["the Denver Broncos", "Broncos won", "Carolina", "Santa Clara, California"]
    golds = [["Denver Broncos", "Broncos"],           # EM 1, F1 1
             ["Broncos"],                            # EM 0, P=1/2 R=1 -> F1 2/3
             ["Carolina Panthers", "Panthers"],      # EM 0, best F1 vs "carolina panthers": P=1 R=1/2 -> 2/3
             ["Levi's Stadium"]]                     # no overlap: 0
    out = squad_metrics(preds, golds)
    assert out["exact_match"] == pytest.approx(25.0)
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3 + 2 / 3 + 0) / 4)
    assert compute_metrics("squad_v1_dev", preds, golds)["score"] == pytest.approx(out["f1"])


def test_squad_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        squad_metrics(["a"], [["a"], ["b"]])


def test_classification_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    ref, pred = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    pred[:300] = ref[:300]
    cola = compute_metrics("cola", pred, ref)
    assert cola["score"] == pytest.approx(100 * matthews_corrcoef(ref, pred))
    assert cola["accuracy"] == pytest.approx(100 * np.mean(pred == ref))
    mrpc = compute_metrics("mrpc", pred.tolist(), ref.tolist())
    assert mrpc["score"] == pytest.approx(100 * f1_score(ref, pred))
    assert compute_metrics("sst2_dev_split", pred, ref)["score"] == pytest.approx(cola["accuracy"])


def test_regression_matches_scipy_and_constant_is_zero():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=200)
    pred = ref + rng.normal(scale=0.8, size=200)
    out = compute_metrics("vader_movie", pred, ref)
    assert out["score"] == pytest.approx(100 * spearmanr(pred, ref)[0])
    assert compute_metrics("stsb", np.zeros(5), [1.0, 2, 3, 4, 5])["score"] == 0.0


def test_multiple_choice_accuracy_and_score_key():
    out = compute_metrics("social_i_qa_offline", [0, 1, 2, 2], [0, 1, 2, 0])
    assert out == {"accuracy": 75.0, "score": 75.0}
    for name in ("cola", "mrpc", "stsb", "squad", "mnli", "winogrande"):
        assert "score" in compute_metrics(name, *((["a"], [["a"]]) if name == "squad" else ([1, 0], [1, 0])))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        compute_metrics("rte", [0, 1], [0, 1, 1])
    assert not math.isnan(compute_metrics("stsb", [1.0, 1.0], [1.0, 2.0])["score"])


def test_numpy_metrics_match_sklearn_and_scipy_on_ties_many_classes_and_empty_classes():
    from adapterlib.data.metrics import _f1_positive, _matthews, _pearson, _ranks

    rng = np.random.default_rng(2)
    ref, pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    pred[:150] = ref[:150]
    assert _matthews(ref, pred) == pytest.approx(matthews_corrcoef(ref, pred))
    assert _matthews(np.ones(4), np.ones(4)) == 0.0  # undefined (one class): sklearn gives 0 too
    assert _f1_positive(ref % 2, pred % 2) == pytest.approx(f1_score(ref % 2, pred % 2))
    assert _f1_positive(np.zeros(4), np.zeros(4)) == 0.0  # no positive anywhere: sklearn's zero_division=0
    tied_x, tied_y = rng.integers(0, 5, 200).astype(float), rng.integers(0, 3, 200).astype(float)
    assert _pearson(_ranks(tied_x), _ranks(tied_y)) == pytest.approx(100 * spearmanr(tied_x, tied_y)[0])
