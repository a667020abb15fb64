"""Save/load of adapters and the near-identity of fresh adapters, on the real MiniLM-L6 weights (issue 2)."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import adapterlib as al

SENTENCES = ["a gripping, beautifully acted film.", "the plot is thin and the jokes fall flat."]


def _logits(model, tokenizer):
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits


def test_tiny_init_is_identity_default_init_is_near_identity(minilm):
    model, tokenizer = minilm()
    bare = _logits(model, tokenizer)
    al.add_adapter(model, "tiny", al.AdapterConfig.houlsby(size=64, init_std=1e-7))
    assert (_logits(model, tokenizer) - bare).abs().max() < 1e-4
    al.add_adapter(model, "default", al.AdapterConfig.houlsby(size=64))
    diff = (_logits(model, tokenizer) - bare).abs().max()
    assert 1e-6 < diff < 0.1 * bare.abs().max(), diff


@pytest.mark.parametrize("make_config", [lambda: al.AdapterConfig.houlsby(size=16, init_std=0.2),
                                         lambda: al.AdapterConfig.pfeiffer(reduction_factor=16, init_std=0.2)])
def test_save_load_reproduces_logits_exactly(minilm, tmp_path, make_config):
    model, tokenizer = minilm(num_labels=3)
    config = make_config()
    al.add_adapter(model, "task", config)
    al.set_trainable(model, "adapters", adapter="task")
    with torch.no_grad():  # stand-in for training: move what the regime trains away from its initial values
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    expected = _logits(model, tokenizer)
    al.save_adapter(model, "task", tmp_path / "task")
    saved = load_file(tmp_path / "task" / "adapter.safetensors")  # format 1: these names must never change
    assert "adapter/base.encoder.layer.5.output.adapter_site.adapters.task.down.weight" in saved
    assert "head/classifier.weight" in saved and "head/base.pooler.dense.bias" in saved
    size = sum(f.stat().st_size for f in (tmp_path / "task").iterdir())
    assert size < 2_000_000  # small files: never the 90 MB base model

    fresh, _ = minilm(num_labels=3)
    assert al.load_adapter(fresh, tmp_path / "task") == "task"
    assert torch.equal(_logits(fresh, tokenizer), expected)
    # under another name, into yet another copy
    other, _ = minilm(num_labels=3)
    assert al.load_adapter(other, tmp_path / "task", name="renamed") == "renamed"
    assert torch.equal(_logits(other, tokenizer), expected)


def test_load_errors_are_clear(minilm, tmp_path):
    model, _ = minilm(num_labels=2)
    al.add_adapter(model, "task", al.AdapterConfig.houlsby(size=8))
    al.save_adapter(model, "task", tmp_path / "ok")

    two_layers, _ = minilm(num_labels=2, num_hidden_layers=2)
    with pytest.raises(al.AdapterLoadError, match="num_hidden_layers: adapter has 6, model has 2"):
        al.load_adapter(two_layers, tmp_path / "ok")
    assert al.adapter_configs(two_layers) == {}  # nothing half-loaded

    three_labels, _ = minilm(num_labels=3)
    with pytest.raises(al.AdapterLoadError, match="number of labels"):
        al.load_adapter(three_labels, tmp_path / "ok")
    assert al.load_adapter(three_labels, tmp_path / "ok", load_head=False) == "task"

    with pytest.raises(al.AdapterLoadError, match="missing"):
        al.load_adapter(model, tmp_path / "nowhere")

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "adapter_config.json").write_text((tmp_path / "ok" / "adapter_config.json").read_text())
    (corrupt / "adapter.safetensors").write_bytes(b"\x00" * 64)
    fresh, _ = minilm(num_labels=2)
    with pytest.raises(al.AdapterLoadError, match="cannot read"):
        al.load_adapter(fresh, corrupt)

    meta = json.loads((tmp_path / "ok" / "adapter_config.json").read_text())
    meta["base"]["hidden_size"] = 768
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "adapter_config.json").write_text(json.dumps(meta))
    with pytest.raises(al.AdapterLoadError, match="hidden_size"):
        al.load_adapter(fresh, wrong)


def test_save_unknown_adapter(minilm, tmp_path):
    model, _ = minilm()
    with pytest.raises(al.AdapterError, match="no adapter 'nope'"):
        al.save_adapter(model, "nope", tmp_path)
