"""LoRA (Hu et al. 2021) on the method contract: counts, regime, save/load, errors, and equivalence with peft."""
from __future__ import annotations

import copy
import json

import pytest
import torch

import adapterlib as al
from adapterlib.core.inject import adapter_parameter_names
from conftest import PEER_BERT, assert_reloads_into_a_fresh_model, peer_bert, tiny_model, token_batch



def _randomise(model, name: str) -> None:
    """Stand-in for training: B starts at zero, so give every LoRA weight a nonzero random value."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in adapter_parameter_names(model, name):
                p.copy_(0.3 * torch.randn_like(p))


def test_new_lora_leaves_the_model_unchanged_and_trained_weights_change_it():
    model = peer_bert()
    x = token_batch()
    bare = model(input_ids=x).logits
    al.add_adapter(model, "x", al.LoRAConfig(r=4, alpha=8))
    torch.testing.assert_close(model(input_ids=x).logits, bare, atol=0, rtol=0)  # B = 0
    a = model.bert.encoder.layer[0].attention.self.query.lora_site.adapters["x"].A.weight
    assert 0.9 / 8 < a.abs().max() <= 1 / 8  # kaiming_uniform(a=sqrt(5)): U(-1/sqrt(d_in), 1/sqrt(d_in)), d_in = 64
    _randomise(model, "x")
    assert (model(input_ids=x).logits - bare).abs().max() > 1e-3
    with al.adapters_removed(model, layers=[0, 1]):
        torch.testing.assert_close(model(input_ids=x).logits, bare, atol=0, rtol=0)


@pytest.mark.parametrize("r,targets", [(8, ("query", "value")), (2, ("query", "key", "value", "attention.output.dense"))])
def test_trainable_count_is_r_times_in_plus_out_per_target_per_layer(r, targets):
    model = peer_bert()
    base_names = {n for n, _ in model.named_parameters()}
    al.add_adapter(model, "x", al.LoRAConfig(r=r, alpha=16, target_modules=targets))
    assert base_names <= {n for n, _ in model.named_parameters()}  # the base model's names are untouched
    counts = al.count_parameters(model)
    assert counts.added == 2 * len(targets) * r * (64 + 64)
    al.set_trainable(model, "adapters", adapter="x")
    assert al.count_parameters(model).trainable == counts.added + (64 * 64 + 64) + (64 * 3 + 3)  # + pooler, classifier


def test_adapters_regime_trains_exactly_lora_and_head():
    model = peer_bert().train()
    al.add_adapter(model, "other", al.LoRAConfig(r=2))
    al.add_adapter(model, "x", al.LoRAConfig(r=4, alpha=8))
    _randomise(model, "x")
    al.set_trainable(model, "adapters", adapter="x")
    lora = adapter_parameter_names(model, "x")
    assert len(lora) == 2 * 2 * 2  # A and B at query and value of both layers
    head = {n for n, _ in model.named_parameters() if n.startswith(("classifier.", "bert.pooler."))}
    assert {n for n, p in model.named_parameters() if p.requires_grad} == lora | head
    model(input_ids=token_batch(), labels=torch.tensor([0, 2])).loss.backward()
    assert {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0} == lora | head


def test_save_load_round_trip_gives_identical_logits(tmp_path):
    model = peer_bert()
    config = al.LoRAConfig(r=4, alpha=12, target_modules=("query", "value", "intermediate.dense"), layers=(1,))
    al.add_adapter(model, "x", config)
    _randomise(model, "x")
    x = token_batch()
    expected = model(input_ids=x).logits
    al.save_adapter(model, "x", tmp_path / "x")
    assert al.read_adapter_config(tmp_path / "x")["adapter"]["method"] == "lora"
    assert_reloads_into_a_fresh_model(tmp_path / "x", config, x, expected)


def test_config_round_trips_and_dispatches_on_its_method_key():
    lora = al.LoRAConfig(r=4, alpha=16, dropout=0.1, target_modules=["query"], layers=[1, 0])
    assert lora.layers == (0, 1) and lora.target_modules == ("query",) and lora.scaling == 4.0
    assert al.adapter_config_from_dict(lora.to_dict()) == lora
    assert al.LoRAConfig(alpha=16).to_dict() == al.LoRAConfig(alpha=16.0).to_dict()  # one run id
    bottleneck = al.AdapterConfig.houlsby(size=8)
    assert "method" not in bottleneck.to_dict()  # run ids hash this dict: it must not change
    assert al.adapter_config_from_dict(bottleneck.to_dict()) == bottleneck
    with pytest.raises(ValueError, match="unknown adapter method 'prefix'"):
        al.adapter_config_from_dict({"method": "prefix"})
    with pytest.raises(ValueError, match="unknown LoRAConfig fields"):
        al.adapter_config_from_dict({**lora.to_dict(), "size": 8})


@pytest.mark.parametrize("bad,message", [(dict(r=0), "r must be a positive int"), (dict(r=2.5), "r must be"),
                                         (dict(alpha=0), "alpha must be > 0"), (dict(dropout=1.0), "dropout"),
                                         (dict(target_modules=()), "target_modules"),
                                         (dict(target_modules="query"), "the string"), (dict(layers=[-1]), "layers")])
def test_bad_config_values_fail_in_one_line(bad, message):
    with pytest.raises(ValueError, match=message) as err:
        al.LoRAConfig(**bad)
    assert "\n" not in str(err.value)


def test_unknown_target_modules_fail_clearly_and_change_nothing():
    model = peer_bert()
    with pytest.raises(al.AdapterError, match=r"'q' matches no linear layer.*attention\.self\.query"):
        al.add_adapter(model, "x", al.LoRAConfig(target_modules=("query", "q")))
    assert al.adapter_configs(model) == {} and al.count_parameters(model).added == 0
    with pytest.raises(al.AdapterError, match="out of range"):
        al.add_adapter(model, "x", al.LoRAConfig(layers=(2,)))
    mpnet = tiny_model("mpnet")  # MPNet calls its projections q, k, v
    al.add_adapter(mpnet, "x", al.LoRAConfig(r=2, target_modules=("q", "v")))
    assert al.count_parameters(mpnet).added == 2 * 2 * 2 * (64 + 64)


def test_lora_beside_bottleneck_adapters_and_not_fusable():
    model = peer_bert()
    x = token_batch()
    al.add_adapter(model, "bn", al.AdapterConfig.houlsby(size=4, init_std=0.3))
    with_bottleneck = model(input_ids=x).logits
    al.add_adapter(model, "x", al.LoRAConfig(r=4))
    _randomise(model, "x")
    with_lora = model(input_ids=x).logits
    al.set_active_adapter(model, "bn")
    torch.testing.assert_close(model(input_ids=x).logits, with_bottleneck, atol=0, rtol=0)
    al.set_active_adapter(model, "x")
    torch.testing.assert_close(model(input_ids=x).logits, with_lora, atol=0, rtol=0)
    with pytest.raises(al.AdapterError, match="bottleneck adapters only"):
        al.add_fusion(model, ["bn", "x"])
    al.delete_adapter(model, "x")
    assert al.count_parameters(model).added == 2 * 2 * (2 * 64 * 4 + 64 + 4)


def test_equals_peft_lora_logit_for_logit():
    peft = pytest.importorskip("peft", reason="peft is not installed (pip install -e '.[dev]')")
    ours = peer_bert()
    theirs = peft.get_peft_model(copy.deepcopy(ours),
                                 peft.LoraConfig(r=4, lora_alpha=12, lora_dropout=0.0, target_modules=["query", "value"]))
    al.add_adapter(ours, "x", al.LoRAConfig(r=4, alpha=12))
    torch.manual_seed(1)
    with torch.no_grad():
        for i in range(PEER_BERT.num_hidden_layers):
            for target in ("query", "value"):
                peft_linear = getattr(theirs.base_model.model.bert.encoder.layer[i].attention.self, target)
                our_lora = getattr(ours.bert.encoder.layer[i].attention.self, target).lora_site.adapters["x"]
                for ours_w, theirs_w in ((our_lora.A, peft_linear.lora_A["default"]),
                                         (our_lora.B, peft_linear.lora_B["default"])):
                    weight = 0.3 * torch.randn_like(ours_w.weight)
                    ours_w.weight.copy_(weight)
                    theirs_w.weight.copy_(weight)
    x = token_batch()
    expected = theirs(input_ids=x).logits
    torch.testing.assert_close(ours(input_ids=x).logits, expected, atol=1e-5, rtol=0)
    with theirs.disable_adapter():
        bare = theirs(input_ids=x).logits
    assert (expected - bare).abs().max() > 1e-3  # the LoRA update is really in both forward passes


def test_a_run_trains_a_lora_adapter_on_real_minilm_weights():
    """Mechanics of the runner with LoRA (2 real MiniLM layers, 48 real examples): config, regime, training."""
    from adapterlib.runner.settings import RunConfig
    from adapterlib.runner.single import train_and_evaluate

    cfg = RunConfig(task="rt_polarity", regime="adapters", adapter=al.LoRAConfig(r=8, alpha=16), lr=1e-3,
                    model_kwargs={"num_hidden_layers": 2}, max_train=48, max_eval=24, epochs=1, batch_size=16,
                    max_length=64)
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again.adapter == cfg.adapter and again.run_id == cfg.run_id
    assert " adapters(lora, r8, alpha16) " in cfg.label
    result = train_and_evaluate(cfg, progress=False)
    assert result.status == "ok" and set(result.metrics) == {"validation", "test"}
    head = (384 * 384 + 384) + (384 * 2 + 2)  # pooler and classifier
    assert result.params["trainable"] == 2 * 2 * 8 * (384 + 384) + head
