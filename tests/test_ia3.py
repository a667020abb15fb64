"""(IA)³ (Liu et al. 2022) on the method contract: identity at init, counts, regime, save/load, merge, errors, and
equivalence with peft's IA3, logit for logit."""
from __future__ import annotations

import copy
import json

import peft
import pytest
import torch

import adapterlib as al
from adapterlib.core.inject import adapter_parameter_names
from conftest import PEER_BERT, assert_reloads_into_a_fresh_model, peer_bert, tiny_model, token_batch

D, D_FF = PEER_BERT.hidden_size, PEER_BERT.intermediate_size
POOLER, CLASSIFIER = D * D + D, D * 3 + 3  # the head: what the adapters regime trains besides the vectors


def _randomise(model, name: str) -> None:
    """Stand-in for training: the vectors start at one, so move every entry to a random value around one."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in adapter_parameter_names(model, name):
                p.copy_(1 + 0.5 * torch.randn_like(p))


def _vectors(model, name: str) -> dict[str, torch.nn.Parameter]:
    """Target linear layer's path -> its vector of adapter ``name``."""
    return {path: linear.ia3_site.adapters[name].scale for path, linear in model.named_modules()
            if hasattr(linear, "ia3_site") and name in linear.ia3_site.adapters}


def test_new_ia3_is_exactly_the_base_model_and_trained_vectors_change_it():
    model = peer_bert()
    x = token_batch()
    bare = model(input_ids=x).logits
    al.add_adapter(model, "x", al.IA3Config())
    assert all(torch.equal(v, torch.ones_like(v)) for v in _vectors(model, "x").values())
    torch.testing.assert_close(model(input_ids=x).logits, bare, atol=0, rtol=0)
    _randomise(model, "x")
    assert (model(input_ids=x).logits - bare).abs().max() > 1e-3
    with al.adapters_removed(model, layers=[0, 1]):
        torch.testing.assert_close(model(input_ids=x).logits, bare, atol=0, rtol=0)


@pytest.mark.parametrize("config,per_layer", [
    # peft's BERT default: key and value outputs (d each); "output.dense" is the attention output projection (input,
    # d) and the feed-forward output layer (input, d_ff)
    (al.IA3Config(), D + D + D + D_FF),
    (al.IA3Config(target_modules=("key", "value", "output.dense"), feedforward_modules=()), 4 * D),  # all outputs
    (al.IA3Config(target_modules=("query", "intermediate.dense"), feedforward_modules=("intermediate.dense",)), 2 * D),
    (al.IA3Config(target_modules=("intermediate.dense",), feedforward_modules=()), D_FF),
])
def test_parameter_count_is_exact_and_adapters_regime_adds_only_the_head(config, per_layer):
    model = peer_bert()
    base_names = {n for n, _ in model.named_parameters()}
    al.add_adapter(model, "x", config)
    assert base_names <= {n for n, _ in model.named_parameters()}  # the base model's names are untouched
    counts = al.count_parameters(model)
    assert counts.added == PEER_BERT.num_hidden_layers * per_layer
    assert counts.base == sum(p.numel() for n, p in model.named_parameters() if n.startswith("bert.")) - counts.added
    al.set_trainable(model, "adapters", adapter="x")
    trained = al.count_parameters(model)
    assert trained.trainable == counts.added + POOLER + CLASSIFIER
    assert trained.trainable_base == POOLER  # a random pooler is trained with the head; no base weight otherwise


def test_layers_restrict_the_vectors():
    model = peer_bert()
    al.add_adapter(model, "x", al.IA3Config(layers=(1,)))
    assert {path.split(".")[3] for path in _vectors(model, "x")} == {"1"}
    assert al.count_parameters(model).added == 3 * D + D_FF


def test_adapters_regime_trains_exactly_the_vectors_and_head():
    model = peer_bert().train()
    al.add_adapter(model, "other", al.IA3Config(target_modules=("query",), feedforward_modules=()))
    al.add_adapter(model, "x", al.IA3Config())
    _randomise(model, "x")
    al.set_trainable(model, "adapters", adapter="x")
    vectors = adapter_parameter_names(model, "x")
    assert len(vectors) == 2 * 4  # key, value, attention.output.dense, output.dense in both layers
    head = {n for n, _ in model.named_parameters() if n.startswith(("classifier.", "bert.pooler."))}
    assert {n for n, p in model.named_parameters() if p.requires_grad} == vectors | head
    model(input_ids=token_batch(), labels=torch.tensor([0, 2])).loss.backward()
    assert {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0} == vectors | head


def test_save_load_round_trip_gives_identical_logits(tmp_path):
    model = peer_bert()
    config = al.IA3Config(target_modules=("value", "intermediate.dense", "output.dense"),
                          feedforward_modules=("output.dense",), layers=(1,))
    al.add_adapter(model, "x", config)
    _randomise(model, "x")
    x = token_batch()
    expected = model(input_ids=x).logits
    al.save_adapter(model, "x", tmp_path / "x")
    meta = al.read_adapter_config(tmp_path / "x")
    assert meta["adapter"]["method"] == "ia3" and meta["groups"] == ["adapter", "head"]  # no LayerNorms
    assert_reloads_into_a_fresh_model(tmp_path / "x", config, x, expected)


def test_merge_folds_the_vectors_into_the_base_weights_and_removes_the_adapter():
    model = peer_bert()
    x = token_batch()
    bare = model(input_ids=x).logits
    al.add_adapter(model, "lora", al.LoRAConfig(r=2))
    targets = ("query", "key", "value", "output.dense", "intermediate.dense")  # outputs (with biases) and inputs
    al.add_adapter(model, "x", al.IA3Config(target_modules=targets, feedforward_modules=("output.dense",)))
    _randomise(model, "x")
    expected = model(input_ids=x).logits
    assert (expected - bare).abs().max() > 1e-4  # the merge has something to fold in
    vectors = sum(p.numel() for n, p in model.named_parameters() if n in adapter_parameter_names(model, "x"))
    added = al.count_parameters(model).added
    al.merge_ia3(model, "x")
    assert set(al.adapter_configs(model)) == {"lora"} and al.active_adapter(model) is None
    assert al.count_parameters(model).added == added - vectors
    torch.testing.assert_close(model(input_ids=x).logits, expected, atol=1e-5, rtol=0)
    with pytest.raises(al.AdapterError, match=r"no \(IA\)³ adapter 'lora'; its \(IA\)³ adapters: none"):
        al.merge_ia3(model, "lora")


def test_config_round_trips_and_dispatches_on_its_method_key():
    ia3 = al.IA3Config(target_modules=["key", "value"], feedforward_modules=[], layers=[1, 0])
    assert ia3.layers == (0, 1) and ia3.target_modules == ("key", "value") and ia3.feedforward_modules == ()
    assert ia3.label == "ia3, key+value"
    assert al.adapter_config_from_dict(ia3.to_dict()) == ia3
    assert al.adapter_config_from_dict(json.loads(json.dumps(al.IA3Config().to_dict()))) == al.IA3Config()
    with pytest.raises(ValueError, match="unknown IA3Config fields"):
        al.adapter_config_from_dict({**ia3.to_dict(), "r": 8})


@pytest.mark.parametrize("bad,message", [
    (dict(target_modules=()), "target_modules must be non-empty"),
    (dict(target_modules=("key", "")), "target_modules must be non-empty"),
    (dict(target_modules="key"), "target_modules must be a list of module names, got the string"),
    (dict(feedforward_modules="output.dense"), "feedforward_modules must be a list of module names"),
    (dict(target_modules=("key",)), r"feedforward_modules must be among target_modules \('key',\), got \['output"),
    (dict(layers=[-1]), "layers must be non-negative"),
])
def test_bad_config_values_fail_in_one_line(bad, message):
    with pytest.raises(ValueError, match=message) as err:
        al.IA3Config(**bad)
    assert "\n" not in str(err.value)


def test_a_target_that_matches_nothing_fails_clearly_and_changes_nothing():
    model = peer_bert()
    with pytest.raises(al.AdapterError, match=r"^\(IA\)³ target module 'k' matches no linear layer in Transformer "
                                              r"layer 0; its linear layers: .*attention\.self\.key"):
        al.add_adapter(model, "x", al.IA3Config(target_modules=("key", "k"), feedforward_modules=()))
    assert al.adapter_configs(model) == {} and al.count_parameters(model).added == 0
    al.add_adapter(model, "lora", al.LoRAConfig(r=2))
    with pytest.raises(al.AdapterError, match="'A' matches no linear layer"):  # LoRA's own linears are no targets
        al.add_adapter(model, "x", al.IA3Config(target_modules=("A",), feedforward_modules=()))
    with pytest.raises(al.AdapterError, match="out of range"):
        al.add_adapter(model, "x", al.IA3Config(layers=(2,)))
    mpnet = tiny_model("mpnet")  # MPNet calls its projections q, k, v: the defaults (BERT's) name nothing there
    with pytest.raises(al.AdapterError, match=r"'key' matches no linear layer.*attention\.attn\.k"):
        al.add_adapter(mpnet, "x", al.IA3Config())
    al.add_adapter(mpnet, "x", al.IA3Config(target_modules=("k", "v", "output.dense")))
    assert al.count_parameters(mpnet).added == 2 * (D + D + D_FF)  # only the feed-forward output is "output.dense"


def test_ia3_beside_lora_on_the_same_linears_and_not_fusable():
    model = peer_bert()
    x = token_batch()
    al.add_adapter(model, "lora", al.LoRAConfig(r=4, target_modules=("query", "value")))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in adapter_parameter_names(model, "lora"):
                p.copy_(0.3 * torch.randn_like(p))
    with_lora = model(input_ids=x).logits
    al.add_adapter(model, "x", al.IA3Config())  # shares "value" with the LoRA adapter
    _randomise(model, "x")
    with_ia3 = model(input_ids=x).logits
    al.set_active_adapter(model, "lora")
    torch.testing.assert_close(model(input_ids=x).logits, with_lora, atol=0, rtol=0)
    al.set_active_adapter(model, "x")
    torch.testing.assert_close(model(input_ids=x).logits, with_ia3, atol=0, rtol=0)
    with pytest.raises(al.AdapterError, match="bottleneck adapters only"):
        al.add_fusion(model, ["x"])


@pytest.mark.parametrize("ours_config,their_kwargs", [
    (al.IA3Config(), {}),  # both defaults: peft picks BERT's targets from its own table
    (al.IA3Config(target_modules=("query", "value", "intermediate.dense"), feedforward_modules=("intermediate.dense",),
                  layers=(1,)),
     # peft's IA3Config has no layers_to_transform: its regexes pick layer 1
     dict(target_modules=r".*\.1\.(attention\.self\.(query|value)|intermediate\.dense)",
          feedforward_modules=r".*\.1\.intermediate\.dense")),
])
def test_equals_peft_ia3_logit_for_logit(ours_config, their_kwargs):
    ours = peer_bert()
    theirs = peft.get_peft_model(copy.deepcopy(ours), peft.IA3Config(**their_kwargs))
    al.add_adapter(ours, "x", ours_config)
    their_layers = {path: m for path, m in theirs.base_model.model.named_modules()
                    if isinstance(m, peft.tuners.ia3.Linear)}
    our_vectors = _vectors(ours, "x")
    # the same linear layers, each rescaled on the same side
    assert ({(p, v.numel()) for p, v in our_vectors.items()}
            == {(p, m.in_features if m.is_feedforward else m.out_features) for p, m in their_layers.items()})
    assert all(ours.get_submodule(p).ia3_site.adapters["x"].rescales_input == m.is_feedforward
               for p, m in their_layers.items())
    torch.manual_seed(1)
    with torch.no_grad():
        for path, vector in our_vectors.items():
            values = 1 + 0.5 * torch.randn_like(vector)
            vector.copy_(values)
            their_layers[path].ia3_l["default"].copy_(values.reshape(their_layers[path].ia3_l["default"].shape))
    x = token_batch()
    expected = theirs(input_ids=x).logits
    torch.testing.assert_close(ours(input_ids=x).logits, expected, atol=1e-5, rtol=0)
    with theirs.disable_adapter():
        bare = theirs(input_ids=x).logits
    assert (expected - bare).abs().max() > 1e-4  # the vectors are really in both passes (random logits are ~1e-2)


def test_a_run_config_takes_an_ia3_adapter():
    from adapterlib.runner.settings import RunConfig

    cfg = RunConfig(task="rt_polarity", regime="adapters", adapter=al.IA3Config())
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again.adapter == cfg.adapter and again.run_id == cfg.run_id
    assert " adapters(ia3, key+value+output.dense) " in cfg.label
