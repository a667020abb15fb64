"""Every row of the insertion table (core/architectures.py) on a tiny random model of its family: Houlsby adapters
sit at the attention and the feed-forward Add & Norm of every layer, and each site is in the forward pass."""
from __future__ import annotations

import pytest
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    MPNetConfig,
    MPNetForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

import adapterlib as al
from adapterlib.core.bottleneck import SITE_ATTRIBUTE

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=100,
            max_position_embeddings=64, num_labels=3)
# model type -> (config, task model, the blocks transformers names for the two Add & Norms of a layer: written
# out here from transformers' modules, independently of the table under test)
FAMILIES = {
    "bert": (BertConfig, BertForSequenceClassification,
             {"attention": ("attention.output", "BertSelfOutput"), "feed_forward": ("output", "BertOutput")}),
    "roberta": (RobertaConfig, RobertaForSequenceClassification,
                {"attention": ("attention.output", "RobertaSelfOutput"), "feed_forward": ("output", "RobertaOutput")}),
    "xlm-roberta": (XLMRobertaConfig, XLMRobertaForSequenceClassification,
                    {"attention": ("attention.output", "XLMRobertaSelfOutput"),
                     "feed_forward": ("output", "XLMRobertaOutput")}),
    "mpnet": (MPNetConfig, MPNetForSequenceClassification,
              {"attention": ("attention", "MPNetAttention"), "feed_forward": ("output", "MPNetOutput")}),
}
TOKENS = torch.randint(3, 100, (2, 9), generator=torch.Generator().manual_seed(0))


def test_every_row_of_the_table_is_tested_here():
    assert set(FAMILIES) == set(al.ARCHITECTURES)


def _tiny(model_type: str):
    config_class, model_class, _ = FAMILIES[model_type]
    torch.manual_seed(0)
    return model_class(config_class(**TINY)).eval()


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=TOKENS).logits


@pytest.mark.parametrize("model_type", list(FAMILIES))
def test_houlsby_adapters_sit_at_both_add_and_norms_of_every_layer(model_type):
    model = _tiny(model_type)
    assert model.config.model_type == model_type
    al.add_adapter(model, "t", al.AdapterConfig.houlsby(size=4))
    blocks = FAMILIES[model_type][2]
    expected = {(i, kind) for i in range(TINY["num_hidden_layers"]) for kind in blocks}
    assert {(site.layer_index, site.kind) for site in al.adapter_sites(model)} == expected
    for layer_index, layer in enumerate(model.base_model.encoder.layer):
        for kind, (path, class_name) in blocks.items():
            block = layer.get_submodule(path)
            assert type(block).__name__ == class_name
            site = getattr(block, SITE_ATTRIBUTE)
            assert (site.layer_index, site.kind, list(site.adapters)) == (layer_index, kind, ["t"])


@pytest.mark.parametrize("model_type", list(FAMILIES))
def test_a_zero_update_keeps_the_logits_and_every_site_changes_them(model_type):
    model = _tiny(model_type)
    plain = _logits(model)
    al.add_adapter(model, "t", al.AdapterConfig.houlsby(size=4))
    sites = list(al.adapter_sites(model))
    with torch.no_grad():
        for site in sites:
            for parameter in site.adapters["t"].parameters():
                parameter.zero_()
    torch.testing.assert_close(_logits(model), plain, atol=0, rtol=0)
    for site in sites:  # one site at a time: each is in the forward pass on its own
        up = site.adapters["t"].up
        with torch.no_grad():  # not a constant: LayerNorm would remove a shift equal in every dimension
            up.bias.copy_(torch.linspace(-1, 1, up.bias.numel()))
        assert (_logits(model) - plain).abs().max() > 1e-4, (site.layer_index, site.kind)
        with torch.no_grad():
            up.bias.zero_()
    torch.testing.assert_close(_logits(model), plain, atol=0, rtol=0)
