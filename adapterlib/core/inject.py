"""Adding, activating, removing and temporarily disabling named adapters on a HuggingFace model."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from torch import nn
from transformers import PreTrainedModel

from adapterlib.core.architectures import insertion_points, site_block, transformer_layers
from adapterlib.core.config import AdapterConfig
from adapterlib.core.bottleneck import AdapterSite

SITE_ATTRIBUTE = "adapter_site"  # each Add & Norm block that carries adapters gets this child module
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class AdapterError(ValueError):
    """Bad adapter name, unknown adapter, or an adapter that does not fit the model."""


def registry(model: PreTrainedModel) -> dict:
    """adapterlib's bookkeeping for ``model``: adapter configs and the fusion set-up.

    Kept on the base encoder, so task models that share one encoder (multi-task adapters) share it too.
    """
    return model.base_model.__dict__.setdefault("_adapterlib", {"adapters": {}, "fusion": None})


def adapter_configs(model: PreTrainedModel) -> dict[str, AdapterConfig]:
    """Name -> config of every adapter added to ``model`` (insertion order)."""
    return registry(model)["adapters"]


def adapter_sites(model: PreTrainedModel) -> Iterator[AdapterSite]:
    """Every adapter site of ``model``, in layer order."""
    for module in model.modules():
        if isinstance(module, AdapterSite):
            yield module


def _require(model: PreTrainedModel, name: str) -> AdapterConfig:
    configs = adapter_configs(model)
    if name not in configs:
        raise AdapterError(f"model has no adapter {name!r}; it has: {sorted(configs) or 'none'}")
    return configs[name]


def add_adapter(model: PreTrainedModel, name: str, config: AdapterConfig) -> PreTrainedModel:
    """Insert a new adapter called ``name`` at the sites ``config`` asks for, make it active; returns ``model``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise AdapterError(f"adapter name must be an identifier (letters, digits, _ or -), got {name!r}")
    if name in adapter_configs(model):
        raise AdapterError(f"model already has an adapter {name!r}")
    points = insertion_points(model)
    layers = transformer_layers(model)
    if config.layers is not None and max(config.layers) >= len(layers):
        raise AdapterError(f"config.layers {config.layers} out of range for a model with {len(layers)} layers")
    hidden_size = model.config.hidden_size
    for index, layer in enumerate(layers):
        if not config.applies_to_layer(index):
            continue
        for kind in config.sites:
            block = site_block(layer, points, kind)
            if not hasattr(block, SITE_ATTRIBUTE):
                setattr(block, SITE_ATTRIBUTE, AdapterSite(block, kind, index))
            getattr(block, SITE_ATTRIBUTE).add(name, hidden_size, config)
    adapter_configs(model)[name] = config
    device = next(model.parameters()).device
    model.to(device)
    set_active_adapter(model, name)
    return model


def set_active_adapter(model: PreTrainedModel, name: str | None) -> None:
    """Make ``name`` the one adapter that acts (None: the bare base model)."""
    if name is not None:
        _require(model, name)
    for site in adapter_sites(model):
        site.active = name


def active_adapter(model: PreTrainedModel) -> str | None:
    actives = {site.active for site in adapter_sites(model)}
    return actives.pop() if len(actives) == 1 else None


def delete_adapter(model: PreTrainedModel, name: str) -> None:
    """Remove adapter ``name`` and its weights from ``model``."""
    _require(model, name)
    for site in adapter_sites(model):
        if name in site.adapters:
            site.remove(name)
    del adapter_configs(model)[name]


def adapter_parameter_names(model: PreTrainedModel, name: str) -> set[str]:
    """Full parameter names of adapter ``name``."""
    _require(model, name)
    marker = f".{SITE_ATTRIBUTE}.adapters.{name}."
    return {n for n, _ in model.named_parameters() if marker in n}


@contextmanager
def adapters_removed(model: nn.Module, layers: Iterable[int]) -> Iterator[None]:
    """Switch off every adapter in the given layers inside the block (Houlsby's ablation), then restore."""
    layers = set(layers)
    touched = [site for site in adapter_sites(model) if site.layer_index in layers and site.enabled]
    for site in touched:
        site.enabled = False
    try:
        yield
    finally:
        for site in touched:
            site.enabled = True
