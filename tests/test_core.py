"""Core library: adapter layers, insertion, regimes, parameter accounting (issue 2)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForSequenceClassification, DistilBertConfig, DistilBertForSequenceClassification

import adapterlib as al
from adapterlib.core.bottleneck import AdapterSite
from adapterlib.core.inject import adapter_parameter_names
from adapterlib.core.trainable import POOLER_PRETRAINED, layernorm_parameter_names, pooler_parameter_names
from conftest import tiny_model, token_batch

BERT_BASE = BertConfig(num_labels=2)  # random init: counts only


@pytest.fixture(scope="module")
def bert_base():
    torch.manual_seed(0)
    return BertForSequenceClassification(BERT_BASE)


def test_exact_counts_on_bert_base(bert_base):
    model = bert_base
    al.add_adapter(model, "h64", al.AdapterConfig.houlsby(size=64))
    assert al.count_parameters(model).added == 2_379_264  # 12 layers x 2 x (2*768*64 + 768 + 64)
    al.add_adapter(model, "pf16", al.AdapterConfig.pfeiffer(reduction_factor=16))
    assert al.count_parameters(model).added == 2_379_264 + 894_528  # 12 x (2*768*48 + 768 + 48)
    al.delete_adapter(model, "pf16")
    assert al.count_parameters(model).added == 2_379_264


def test_houlsby_adapters_regime_trains_adapters_layernorms_head_only(bert_base):
    model = bert_base
    if "h64" not in al.adapter_configs(model):
        al.add_adapter(model, "h64", al.AdapterConfig.houlsby(size=64))
    al.add_adapter(model, "other", al.AdapterConfig.houlsby(size=8))
    al.set_trainable(model, "adapters", adapter="h64")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    h64 = adapter_parameter_names(model, "h64")
    assert len(h64) == 12 * 2 * 4  # down and up, weight and bias, at both sites of every layer
    for name in trainable:
        kind = ("adapter" if name in h64 else
                "layernorm" if "LayerNorm" in name else
                "head" if name.startswith(("classifier.", "bert.pooler.")) else None)
        assert kind is not None, f"unexpected trainable parameter {name}"
    assert not any(".adapters.other." in n for n in trainable)
    n_layernorm = sum(1 for n in trainable if "LayerNorm" in n)
    assert n_layernorm == 2 * (1 + 12 * 2)  # embeddings + 2 per layer, weight and bias
    counts = al.count_parameters(model)
    assert counts.trainable == 2_379_264 + 2 * 768 * 25 + (768 * 768 + 768) + (768 * 2 + 2)
    # Houlsby's "total params" column: frozen base stored once, trained parameters once per task.
    per_task = counts.trainable / counts.base
    expected = (counts.base - 2 * 768 * 25 - (768 * 768 + 768)) / counts.base + 9 * per_task
    assert counts.total_multiple(9) == pytest.approx(expected, rel=1e-12)
    al.delete_adapter(model, "other")


def test_houlsby_64_on_bert_base_trains_the_papers_count_with_the_pretrained_pooler_frozen():
    """adapter-bert trains adapters, LayerNorms and the output head: 2md + d + m per adapter (Houlsby Sec. 2.1),
    two adapters in each of 12 layers, 25 LayerNorms of 2d, a 2-label classifier. Counted on the meta device, so
    the number comes from BERT-base's architecture alone."""
    d, m, layers = 768, 64, 12
    paper_count = layers * 2 * (2 * m * d + d + m) + 25 * 2 * d + (d * 2 + 2)
    with torch.device("meta"):
        model = BertForSequenceClassification(BertConfig(num_labels=2))
    model.config.update({POOLER_PRETRAINED: True})  # what load_model records for bert-base-uncased's NSP pooler
    al.add_adapter(model, "h64", al.AdapterConfig.houlsby(size=m))
    al.set_trainable(model, "adapters", adapter="h64")
    assert al.count_parameters(model).trainable == paper_count == 2_419_202
    assert not any(p.requires_grad for n, p in model.named_parameters() if n.startswith("bert.pooler."))
    al.set_trainable(model, "head")  # the other regimes keep training the pooler with the classifier
    assert all(p.requires_grad for n, p in model.named_parameters() if n.startswith("bert.pooler."))


def test_load_model_records_whether_the_pooler_was_trained(tmp_path):
    minilm, tokenizer = al.load_model("minilm-l6", num_hidden_layers=1)
    assert getattr(minilm.config, POOLER_PRETRAINED) is False  # MiniLM-L6's pooler bias is all zero
    trained = tiny_model()
    torch.nn.init.normal_(trained.bert.pooler.dense.bias)  # as a next-sentence-prediction pooler has it
    trained.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded, _ = al.load_model(str(tmp_path), num_labels=3)
    assert getattr(reloaded.config, POOLER_PRETRAINED) is True
    al.add_adapter(reloaded, "a", al.AdapterConfig.houlsby(size=4))
    assert not pooler_parameter_names(reloaded) & al.trainable_parameter_names(reloaded, "adapters")


def test_bottleneck_size_from_reduction_factor():
    assert al.AdapterConfig.pfeiffer(reduction_factor=16).bottleneck(768) == 48
    assert al.AdapterConfig.pfeiffer(reduction_factor=2).bottleneck(384) == 192
    assert al.AdapterConfig.houlsby(size=8).bottleneck(384) == 8


@pytest.mark.parametrize("bad", [dict(size=0), dict(size=-3), dict(non_linearity="sigmoid"), dict(init_std=0.0),
                                 dict(placement="parallel"), dict(size=8, reduction_factor=16.0)])
def test_bad_config_values_fail_clearly(bad):
    with pytest.raises(ValueError):
        al.AdapterConfig(**bad)


def test_config_round_trip():
    cfg = al.AdapterConfig.houlsby(size=32, init_std=1e-3, layers=[3, 1], non_linearity="tanh")
    assert cfg.layers == (1, 3)
    assert al.AdapterConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown AdapterConfig fields"):
        al.AdapterConfig.from_dict({**cfg.to_dict(), "dropout": 0.1})


@pytest.mark.parametrize("model_type", ["bert", "roberta", "mpnet"])
@pytest.mark.parametrize("head", ["seq", "mc", "qa"])
def test_insertion_in_every_architecture_and_head(model_type, head):
    model = tiny_model(model_type, head)
    shape = (2, 3, 10) if head == "mc" else (2, 10)
    inputs = {"input_ids": token_batch(shape[0] * (3 if head == "mc" else 1), 10).view(*shape)}
    before = model(**inputs)
    al.add_adapter(model, "tiny", al.AdapterConfig.houlsby(size=4, init_std=1e-7))
    assert al.count_parameters(model).added == 2 * 2 * (2 * 64 * 4 + 64 + 4)
    after = model(**inputs)
    for key in before.keys():
        torch.testing.assert_close(after[key], before[key], atol=1e-5, rtol=0)
    # a large init changes the output: the adapter really is in the forward pass
    al.add_adapter(model, "big", al.AdapterConfig.houlsby(size=4, init_std=0.5))
    assert (model(**inputs)[0] - before[0]).abs().max() > 1e-3


def test_unsupported_architecture_names_supported_ones():
    model = DistilBertForSequenceClassification(DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64))
    with pytest.raises(al.UnsupportedArchitectureError, match="bert.*mpnet.*roberta"):
        al.add_adapter(model, "x", al.AdapterConfig.houlsby(size=4))


def test_adapter_names_and_layers_validated():
    model = tiny_model()
    with pytest.raises(al.AdapterError, match="identifier"):
        al.add_adapter(model, "a.b", al.AdapterConfig.houlsby(size=4))
    with pytest.raises(al.AdapterError, match="out of range"):
        al.add_adapter(model, "a", al.AdapterConfig.houlsby(size=4, layers=(0, 5)))
    al.add_adapter(model, "a", al.AdapterConfig.houlsby(size=4))
    with pytest.raises(al.AdapterError, match="already has"):
        al.add_adapter(model, "a", al.AdapterConfig.houlsby(size=4))
    with pytest.raises(al.AdapterError, match="no adapter 'b'"):
        al.set_active_adapter(model, "b")


def _manual_block(block, hidden, residual, adapter, placement):
    """Reference computation of one Add & Norm block with an adapter, straight from the papers' equations."""
    z = block.dense(hidden)
    ln = block.LayerNorm
    norm = lambda t: F.layer_norm(t, ln.normalized_shape, ln.weight, ln.bias, ln.eps)
    inner = z if placement == "houlsby" else norm(z + residual)
    return norm(z + residual + adapter.up(adapter.act(adapter.down(inner))))


@pytest.mark.parametrize("placement", ["houlsby", "pfeiffer"])
def test_site_matches_the_papers_equations(placement):
    model = tiny_model()
    cfg = (al.AdapterConfig.houlsby(size=8, init_std=0.3) if placement == "houlsby"
           else al.AdapterConfig.pfeiffer(reduction_factor=8, init_std=0.3))
    al.add_adapter(model, "x", cfg)
    block = model.bert.encoder.layer[1].output
    hidden = torch.randn(2, 5, 128)
    residual = torch.randn(2, 5, 64)
    adapter = block.adapter_site.adapters["x"]
    torch.testing.assert_close(block(hidden, residual), _manual_block(block, hidden, residual, adapter, placement))
    # Pfeiffer: one adapter per layer, after the feed-forward block only
    attention_block = model.bert.encoder.layer[1].attention.output
    assert any(isinstance(m, AdapterSite) for m in attention_block.modules()) == (placement == "houlsby")


def test_active_adapter_switch_and_layer_removal():
    model = tiny_model()
    x = token_batch()
    bare = model(input_ids=x).logits
    al.add_adapter(model, "a", al.AdapterConfig.houlsby(size=4, init_std=0.5))
    al.add_adapter(model, "b", al.AdapterConfig.houlsby(size=4, init_std=0.5, layers=(1,)))
    out_b = model(input_ids=x).logits
    al.set_active_adapter(model, "a")
    out_a = model(input_ids=x).logits
    assert al.active_adapter(model) == "a"
    assert (out_a - out_b).abs().max() > 1e-4
    with al.adapters_removed(model, layers=[0, 1]):
        torch.testing.assert_close(model(input_ids=x).logits, bare)
    torch.testing.assert_close(model(input_ids=x).logits, out_a)
    with al.adapters_removed(model, layers=[0]):
        partial = model(input_ids=x).logits
    assert (partial - out_a).abs().max() > 1e-5 and (partial - bare).abs().max() > 1e-5
    al.set_active_adapter(model, None)
    torch.testing.assert_close(model(input_ids=x).logits, bare)


REGIME_CASES = [("full", {}), ("adapters", {"adapter": "a"}), ("top_k", {"k": 1}), ("layernorm", {}), ("head", {})]


@pytest.mark.parametrize("regime,kwargs", REGIME_CASES)
def test_gradients_reach_exactly_the_trainable_set(regime, kwargs):
    model = tiny_model().train()
    al.add_adapter(model, "a", al.AdapterConfig.houlsby(size=4, init_std=0.1))
    al.add_adapter(model, "b", al.AdapterConfig.houlsby(size=4, init_std=0.1))
    al.set_active_adapter(model, "a")
    al.set_trainable(model, regime, **kwargs)
    expected = al.trainable_parameter_names(model, regime, **kwargs)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.01)
    loss = model(input_ids=token_batch(), labels=torch.tensor([0, 2])).loss
    loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    inactive_adapter = {n for n in expected if ".adapters.b." in n}  # full trains b too, but b is not in the graph
    assert with_grad == expected - inactive_adapter
    optimizer.step()
    for name, p in model.named_parameters():
        if name not in expected:
            assert torch.equal(p, before[name]), f"frozen {name} changed"
    if regime == "top_k":
        assert all(".layer.1." in n or n.startswith(("classifier", "bert.pooler")) for n in expected)
    if regime == "layernorm":
        assert layernorm_parameter_names(model) <= expected


def test_regime_errors():
    model = tiny_model()
    with pytest.raises(ValueError, match="unknown regime"):
        al.set_trainable(model, "bitfit")
    with pytest.raises(ValueError, match="k in 1..2"):
        al.set_trainable(model, "top_k", k=3)
    with pytest.raises(al.AdapterError, match="needs an adapter"):
        al.set_trainable(model, "adapters")


def test_load_model_errors_are_clear():
    with pytest.raises(ValueError, match="unknown task format"):
        al.load_model("minilm-l6", task_format="generation")
    with pytest.raises(al.ModelNotAvailableError, match="hub.*embedded"):
        al.load_model("bert-base-uncased")
