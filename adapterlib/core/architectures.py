"""Where adapters go in each supported architecture: the one table to extend for a new model family.

In every supported family, a Transformer sub-layer (attention or feed-forward) ends in a block that computes
``LayerNorm(dropout(z) + x)``: ``z`` the sub-layer's output projection, ``x`` the residual input. An adapter site is
that block: we read ``dropout(z)`` and add the adapter's update inside the LayerNorm's input (see ``bottleneck.py``).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from torch import nn
from transformers import PreTrainedModel

from adapterlib.core.methods import AdapterError


class UnsupportedArchitectureError(ValueError):
    """The model family has no entry in ARCHITECTURES."""


@dataclass(frozen=True)
class InsertionPoints:
    """Dotted paths for one family. ``layers`` is relative to the base model; the sites are relative to a layer and
    name blocks that own a ``dropout`` (applied to the sub-layer output) and a ``LayerNorm`` (the Add & Norm)."""

    layers: str
    attention: str
    feed_forward: str


_BERT_LIKE = InsertionPoints(layers="encoder.layer", attention="attention.output", feed_forward="output")

ARCHITECTURES: dict[str, InsertionPoints] = {
    "bert": _BERT_LIKE,  # also MiniLM, which is a BertModel
    "roberta": _BERT_LIKE,
    "xlm-roberta": _BERT_LIKE,
    "mpnet": InsertionPoints(layers="encoder.layer", attention="attention", feed_forward="output"),
}


def insertion_points(model: PreTrainedModel) -> InsertionPoints:
    """The insertion table entry for ``model``, or a clear error naming the supported families."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in ARCHITECTURES:
        raise UnsupportedArchitectureError(
            f"adapterlib does not support model_type {model_type!r}; supported: {', '.join(sorted(ARCHITECTURES))}"
        )
    return ARCHITECTURES[model_type]


def transformer_layers(model: PreTrainedModel) -> nn.ModuleList:
    """The list of Transformer layers of ``model`` (a task model or a bare base model)."""
    return model.base_model.get_submodule(insertion_points(model).layers)


def selected_layers(model: PreTrainedModel, indices: tuple[int, ...] | None) -> Iterator[tuple[int, nn.Module]]:
    """(index, layer) for the Transformer layers an adapter config's ``layers`` picks (None: all of them)."""
    layers = transformer_layers(model)
    if indices is not None and max(indices) >= len(layers):
        raise AdapterError(f"config.layers {indices} out of range for a model with {len(layers)} layers")
    return ((i, layer) for i, layer in enumerate(layers) if indices is None or i in indices)


def site_block(layer: nn.Module, points: InsertionPoints, site: str) -> nn.Module:
    """The Add & Norm block closing sub-layer ``site`` ("attention" or "feed_forward") of one layer."""
    block = layer.get_submodule(getattr(points, site))
    if not isinstance(getattr(block, "dropout", None), nn.Dropout) or not isinstance(
        getattr(block, "LayerNorm", None), nn.LayerNorm
    ):
        raise UnsupportedArchitectureError(
            f"{type(block).__name__} has no dropout/LayerNorm pair: the insertion table does not match this "
            f"transformers version"
        )
    return block
