"""What a run shares with the other runs of its process (the encoded-task cache) and how it evaluates
(inference mode, length-sorted batches, the run's precision): faster, and the same results in fp32."""
from __future__ import annotations

import numpy as np
import pytest

import adapterlib as al
from adapterlib.data.encoding import feature_length
from adapterlib.data.tasks import get_task
from adapterlib.runner.cache import clear_encoded_splits, encoded_splits
from adapterlib.runner.evaluate import predict
from adapterlib.runner.settings import RunConfig
from adapterlib.runner.single import train_and_evaluate

CAPS = dict(max_train=16, max_eval=8, seed=0)


@pytest.fixture(scope="module")
def two_layers(minilm):
    return minilm(num_hidden_layers=2)


def test_encoded_splits_are_shared_per_key_and_rebuilt_when_the_key_changes(two_layers):
    tokenizer = two_layers[1]
    long = encoded_splits("rt_polarity", tokenizer, max_length=64, **CAPS)
    assert encoded_splits("rt_polarity", tokenizer, max_length=64, **CAPS) is long
    assert encoded_splits("rt_polarity", tokenizer, max_length=64, doc_stride=32, **CAPS) is long  # not span_qa
    short = encoded_splits("rt_polarity", tokenizer, max_length=8, **CAPS)
    assert max(feature_length(f) for f in long["train"].features) > 8
    assert max(feature_length(f) for f in short["train"].features) == 8
    fewer = encoded_splits("rt_polarity", tokenizer, max_length=64, **{**CAPS, "max_train": 8})
    assert len(fewer["train"].features) == 8 and len(long["train"].features) == 16
    assert set(long) == {"train", "validation", "test"} and "labels" in long["validation"].features[0]


def test_span_qa_encodings_are_keyed_by_their_doc_stride(two_layers):
    tokenizer = two_layers[1]
    wide, narrow = (encoded_splits("squad_v1_dev", tokenizer, max_length=96, doc_stride=s, **CAPS) for s in (64, 16))
    assert len(narrow["test"].features) < len(wide["test"].features)  # more overlap: more windows per context


def test_a_run_on_the_cached_encoding_equals_a_cold_run():
    cfg = RunConfig("rt_polarity", adapter=al.AdapterConfig.houlsby(16), lr=3e-3, model_kwargs={"num_hidden_layers": 2},
                    max_train=32, max_eval=16, epochs=1, batch_size=16, max_length=64)
    clear_encoded_splits()
    cold = train_and_evaluate(cfg, progress=False)
    warm = train_and_evaluate(cfg, progress=False)
    assert cold.metrics == warm.metrics and cold.history == warm.history
    assert 0 < warm.train_time < warm.wall_time  # the evaluations are outside the training steps


def dev_features(tokenizer):
    return encoded_splits("rt_polarity", tokenizer, max_length=64, **{**CAPS, "max_eval": 24})["validation"].features


def test_length_sorted_batches_change_padding_only(two_layers):
    model, tokenizer = two_layers
    features = dev_features(tokenizer)
    assert len({feature_length(f) for f in features}) > 1  # batches of 8 do pad
    one_by_one = np.stack(predict(model, get_task("rt_polarity"), features, batch_size=1))
    batched = np.stack(predict(model, get_task("rt_polarity"), features, batch_size=8))
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_bf16_evaluation_runs_in_bf16_and_stays_close_to_fp32(two_layers):
    model, tokenizer = two_layers
    task, features = get_task("rt_polarity"), dev_features(tokenizer)
    fp32 = np.stack(predict(model, task, features, batch_size=8))
    bf16 = np.stack(predict(model, task, features, batch_size=8, precision="bf16"))
    assert bf16.dtype == np.float32 and np.isfinite(bf16).all()
    assert not np.array_equal(bf16, fp32)  # autocast ran
    np.testing.assert_allclose(bf16, fp32, atol=0.05)  # bf16 keeps about 3 significant digits
    assert predict(model, task, features, batch_size=8, precision="auto")[0].tolist() == fp32[0].tolist()  # CPU: fp32
