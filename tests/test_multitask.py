"""Multi-task adapters: shared encoder, per-task adapters and heads, task sampling (issue 6, library part)."""
from __future__ import annotations

import collections

import pytest
import torch

import adapterlib as al
from adapterlib.runner.multitask import build_multitask, sampling_weights, task_forward, task_schedule


def test_tasks_share_one_encoder_and_train_it_with_their_adapters(minilm):
    heads = {"nli": ("pair", 3), "sentiment": ("single", 2), "choice": ("multiple_choice", 2)}
    models, tokenizer = build_multitask("minilm-l6", heads, al.AdapterConfig.pfeiffer(), num_hidden_layers=2)
    encoders = {id(m.base_model) for m in models.values()}
    assert len(encoders) == 1
    assert sorted(al.adapter_configs(models["nli"])) == sorted(heads)
    for model in models.values():
        al.set_trainable(model, "full")  # MT-A fine-tunes the encoder too
    batch = tokenizer(["a fine film", "dull"], ["it is good", "it is bad"], return_tensors="pt", padding=True)
    loss = task_forward(models, "nli", **batch, labels=torch.tensor([0, 2])).loss
    loss.backward()
    named = dict(models.named_parameters())
    grads = {n for n, p in named.items() if p.grad is not None and p.grad.abs().sum() > 0}
    assert any(".adapters.nli." in n for n in grads)
    assert not any(".adapters.sentiment." in n or ".adapters.choice." in n for n in grads)
    assert any("encoder.layer.0.attention.self.query" in n for n in grads)  # the shared encoder learns
    assert any(n.startswith("nli.classifier") for n in grads) and not any(n.startswith("sentiment.classifier") for n in grads)


def test_sampling_anneals_from_proportional_towards_uniform():
    sizes = {"big": 9000, "small": 1000}
    first = sampling_weights(sizes, epoch=1, epochs=5)
    last = sampling_weights(sizes, epoch=5, epochs=5)
    assert first["big"] == pytest.approx(0.9)
    assert last["big"] == pytest.approx(9000 ** 0.2 / (9000 ** 0.2 + 1000 ** 0.2))
    assert 0.5 < last["big"] < first["big"]
    counts = collections.Counter(task_schedule(sizes, 2000, 1, 5, torch.Generator().manual_seed(0)))
    assert 0.87 < counts["big"] / 2000 < 0.93
    with pytest.raises(ValueError):
        sampling_weights(sizes, epoch=0, epochs=5)
