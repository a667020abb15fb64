"""Shared fixtures: random tiny models (unit tests only) and the real MiniLM-L6 weights from the registry package."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: no network retries in tests

import pytest
import torch
from transformers import (
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    BertConfig,
    BertForSequenceClassification,
    MPNetConfig,
    RobertaConfig,
)

TINY = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, vocab_size=1000,
            max_position_embeddings=64)
CONFIGS = {"bert": BertConfig, "roberta": RobertaConfig, "mpnet": MPNetConfig}
HEADS = {"seq": AutoModelForSequenceClassification, "mc": AutoModelForMultipleChoice, "qa": AutoModelForQuestionAnswering}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _skip_where_a_source_is_refused())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _skip_where_a_source_is_refused())


def _skip_where_a_source_is_refused():
    """A test that needs an offline task whose pinned archive its registry no longer serves is skipped, with the
    registry's answer as the reason (pytest -rs prints it). Only that answer skips: a network failure, a checksum
    mismatch or any other error still fails the test."""
    from adapterlib.data.tasks import SourceUnavailable

    try:
        return (yield)
    except SourceUnavailable as refused:
        pytest.skip(f"offline data unavailable here: {refused}")


def tiny_model(model_type: str = "bert", head: str = "seq", seed: int = 0, **overrides):
    """A randomly initialised tiny model (unit tests only: no task is ever run on random weights)."""
    torch.manual_seed(seed)
    num_labels = 2 if head == "qa" else 3  # QA heads emit start and end logits
    config = CONFIGS[model_type](**{**TINY, "num_labels": num_labels, **overrides})
    return HEADS[head].from_config(config).eval()


PEER_BERT = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                       vocab_size=1000, num_labels=3)  # the tiny BERT the method-vs-peft tests share


def peer_bert(seed: int = 0) -> BertForSequenceClassification:
    """A random tiny ``BertForSequenceClassification`` (``PEER_BERT``) in eval mode, the same for every seed."""
    torch.manual_seed(seed)
    return BertForSequenceClassification(PEER_BERT).eval()


def assert_reloads_into_a_fresh_model(directory, config, x: torch.Tensor, expected: torch.Tensor) -> None:
    """The adapter saved in ``directory`` loads, renamed, into a fresh ``peer_bert`` whose head differs (the saved
    head must replace it) and gives ``expected`` logits on ``x`` exactly."""
    import adapterlib as al

    fresh = peer_bert()  # the same base weights (what load_model gives) ...
    with torch.no_grad():
        fresh.classifier.weight.add_(1.0)  # ... and another head: the saved one must replace it
    assert al.load_adapter(fresh, directory, name="renamed") == "renamed"
    assert al.adapter_configs(fresh)["renamed"] == config
    assert torch.equal(fresh(input_ids=x).logits, expected)


def token_batch(batch: int = 2, length: int = 12, seed: int = 0, vocab: int = 1000) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(5, vocab, (batch, length), generator=g)


@pytest.fixture(scope="session")
def minilm():
    """Loader for the real MiniLM-L6 weights (fresh copy on each call)."""
    import adapterlib as al

    def load(task_format: str = "single", num_labels: int = 2, **overrides):
        model, tokenizer = al.load_model("minilm-l6", task_format=task_format, num_labels=num_labels, **overrides)
        return model.eval(), tokenizer

    return load


def save_tiny_bert(directory) -> str:
    """A randomly initialised tiny BERT with a character-level WordPiece vocabulary, saved as a model directory
    (``load_model(path)`` reads it like a hub id): the stand-in for BERT in pipeline tests that run whole profiles.
    Random weights: no score it produces means anything."""
    import string
    from pathlib import Path

    from transformers import BertModel, BertTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chars = string.ascii_lowercase + string.digits + string.punctuation
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *[f"##{c}" for c in chars]]
    BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(directory)
    torch.manual_seed(0)
    config = BertConfig(**{**TINY, "vocab_size": len(vocab), "max_position_embeddings": 512})
    BertModel(config).save_pretrained(directory)
    return str(directory)


def assert_predictions_give_metrics(result, n_examples: int) -> None:
    """A run records, for every evaluated split, one prediction and one reference per example, and recomputing the
    metrics from them gives the recorded metrics (so the dev predictions are the best epoch's)."""
    from adapterlib.data.metrics import compute_metrics

    assert set(result.predictions) == set(result.references) == set(result.metrics)
    for split, metrics in result.metrics.items():
        assert len(result.predictions[split]) == len(result.references[split]) == n_examples
        task = result.config["task"]
        assert compute_metrics(task, result.predictions[split], result.references[split]) == metrics


# Committed runs made before the current contracts of the results (clean notebooks, decidable claims), by profile:
# known to break them until the profile is rerun. Strict: the moment a regenerated run keeps a contract, its entry
# must go (an XPASS fails), so no stale run hides a new one.
STALE_RESULTS: dict[str, str] = {}  # results/cpu regenerated on 2026-12-07: none stale


def stale_marks(profile: str) -> list:
    """A strict xfail for tests of ``profile``'s committed results while they are ``STALE_RESULTS``."""
    reason = STALE_RESULTS.get(profile)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


@pytest.fixture
def measured_lengths(tmp_path, monkeypatch):
    """An empty data cache under ``tmp_path`` in which ``measured_lengths(task, {tokens: share})`` writes a build
    record of offline ``task`` that holds only its measured truncated shares, so a test knows every number shown."""
    import json

    from adapterlib.data.tasks import task_dir
    from adapterlib.data.tasks.offline import BUILD_VERSION

    monkeypatch.setenv("ADAPTERLIB_CACHE", str(tmp_path / "cache"))

    def write(task: str, shares: dict[int, float]) -> None:
        task_dir(task).mkdir(parents=True)
        (task_dir(task) / "meta.json").write_text(json.dumps({
            "build_version": BUILD_VERSION,
            "token_lengths": {"truncated_share": {str(tokens): share for tokens, share in shares.items()}}}))
    return write
