"""AdapterFusion layer (issue 6, library part)."""
from __future__ import annotations

import math

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

import adapterlib as al
from adapterlib.core.bottleneck import fusion_parameter_names
from adapterlib.core.fusion import fusion_layers
from adapterlib.runner.fusion_attention import FusionAttention
from conftest import tiny_model, token_batch

NAMES = ("mnli", "qqp", "sst")


def _with_adapters(placement: str, seed: int = 0):
    model = tiny_model(seed=seed)
    for i, name in enumerate(NAMES):
        torch.manual_seed(100 + i)
        cfg = (al.AdapterConfig.houlsby(size=8, init_std=0.3) if placement == "houlsby"
               else al.AdapterConfig.pfeiffer(reduction_factor=8, init_std=0.3))
        al.add_adapter(model, name, cfg)
    return model


@pytest.mark.parametrize("placement", ["houlsby", "pfeiffer"])
def test_one_hot_fusion_with_identity_value_equals_single_adapter(placement):
    model = _with_adapters(placement)
    x = token_batch()
    last_hidden = lambda: model(input_ids=x, output_hidden_states=True).hidden_states[-1]
    alone = {}
    for name in NAMES:
        al.set_active_adapter(model, name)
        alone[name] = last_hidden()
    assert (alone["mnli"] - alone["qqp"]).abs().max() > 1e-2  # the adapters really differ
    al.add_fusion(model, NAMES, al.FusionConfig(value_noise=0.0))
    for i, name in enumerate(NAMES):
        for _, layer in fusion_layers(model):
            layer.forced_attention = torch.nn.functional.one_hot(torch.tensor(i), len(NAMES)).float()
        torch.testing.assert_close(last_hidden(), alone[name], atol=1e-5, rtol=0)


def test_learned_attention_is_a_distribution_and_recorded():
    model = _with_adapters("pfeiffer")
    al.add_fusion(model, NAMES)
    x = token_batch(batch=3, length=7)
    with al.recording_fusion_attention(model) as layers:
        model(input_ids=x)
        assert sorted(layers) == [(0, "feed_forward"), (1, "feed_forward")]
        for layer in layers.values():
            att = layer.last_attention
            assert att.shape == (3, 7, len(NAMES))
            torch.testing.assert_close(att.sum(-1), torch.ones(3, 7))
    assert all(layer.last_attention is None for layer in layers.values())


@pytest.mark.parametrize("chosen", [None, 1])
def test_attention_statistics_tell_a_uniform_from_a_one_hot_attention(chosen):
    """Uniform: entropy log N and no deviation from 1/N; one-hot on adapter ``chosen``: entropy 0 and 1 - 1/N.
    Padding tokens (mask 0) carry a different attention and must not count."""
    model = _with_adapters("pfeiffer")
    al.add_fusion(model, NAMES)
    n = len(NAMES)
    real = torch.full((n,), 1 / n) if chosen is None else torch.nn.functional.one_hot(torch.tensor(chosen), n).float()
    x = token_batch(batch=2, length=6)
    mask = torch.ones(2, 6, dtype=torch.long)
    mask[:, 4:] = 0
    for _, layer in fusion_layers(model):
        layer.forced_attention = torch.where(mask[..., None].bool(), real, torch.tensor([0.0, 0.0, 1.0]))
    with al.recording_fusion_attention(model) as layers:
        attention = FusionAttention(layers)
        model(input_ids=x, attention_mask=mask)
        attention.add({"attention_mask": mask})
    stats = attention.statistics()
    assert stats["attention_uniform_entropy"] == pytest.approx(math.log(n))
    assert stats["attention_entropy"] == pytest.approx(math.log(n) if chosen is None else 0.0, abs=1e-6)
    assert stats["attention_max_deviation"] == pytest.approx(0.0 if chosen is None else 1 - 1 / n, abs=1e-6)
    for means in attention.means().values():
        torch.testing.assert_close(means.float(), real)


def test_attention_statistics_need_recorded_batches():
    model = _with_adapters("pfeiffer")
    al.add_fusion(model, NAMES)
    with al.recording_fusion_attention(model) as layers, pytest.raises(ValueError, match="no fusion attention"):
        FusionAttention(layers).statistics()


def test_fusion_parameter_count_on_bert_base():
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(num_labels=2))
    for name in NAMES[:2]:
        al.add_adapter(model, name, al.AdapterConfig.pfeiffer(reduction_factor=16))
    adapters_only = al.count_parameters(model).added
    al.add_fusion(model, NAMES[:2])
    assert al.count_parameters(model).added - adapters_only == 12 * 3 * (768 * 768 + 768)  # 21,261,312: "about 21M"


def test_fusion_regime_trains_fusion_and_head_only_and_regularizer_pulls_value_to_identity():
    model = _with_adapters("pfeiffer").train()
    al.add_fusion(model, NAMES, al.FusionConfig(value_noise=0.0))
    assert al.fusion_regularization(model).item() == 0.0
    al.set_trainable(model, "fusion")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    fusion = fusion_parameter_names(model)
    assert len(fusion) == 2 * 6  # one layer per feed-forward site: query, key, value, weight and bias
    assert fusion <= trainable and all(n in fusion or n.startswith(("classifier", "bert.pooler")) for n in trainable)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    loss = model(input_ids=token_batch(), labels=torch.tensor([0, 1])).loss
    loss.backward()
    optimizer.step()
    reg = al.fusion_regularization(model)
    assert reg.item() > 0 and reg.requires_grad


def test_fusion_errors():
    model = tiny_model()
    al.add_adapter(model, "a", al.AdapterConfig.houlsby(size=4))
    al.add_adapter(model, "b", al.AdapterConfig.pfeiffer(reduction_factor=8))
    with pytest.raises(al.AdapterError, match="different placements"):
        al.add_fusion(model, ["a", "b"])
    with pytest.raises(al.AdapterError, match=r"cannot fuse \['c'\]"):
        al.add_fusion(model, ["a", "c"])
    with pytest.raises(al.AdapterError, match="needs a fusion layer"):
        al.set_trainable(model, "fusion")


def test_save_load_fusion(tmp_path):
    model = _with_adapters("pfeiffer")
    al.add_fusion(model, NAMES)
    with torch.no_grad():
        for _, layer in fusion_layers(model):
            layer.value.weight.add_(0.1 * torch.randn_like(layer.value.weight))
    x = token_batch()
    expected = model(input_ids=x).logits
    for name in NAMES:
        al.save_adapter(model, name, tmp_path / name)
    al.save_fusion(model, tmp_path / "fusion")

    fresh = tiny_model()
    with pytest.raises(al.AdapterLoadError, match="needs adapters"):
        al.load_fusion(fresh, tmp_path / "fusion")
    for name in NAMES:
        al.load_adapter(fresh, tmp_path / name)
    assert al.load_fusion(fresh, tmp_path / "fusion") == NAMES
    torch.testing.assert_close(fresh(input_ids=x).logits, expected, atol=0, rtol=0)
