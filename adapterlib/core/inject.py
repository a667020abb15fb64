"""Adding, activating, removing and temporarily disabling named adapters of any method on a HuggingFace model."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn
from transformers import PreTrainedModel

from adapterlib.core.bottleneck import BOTTLENECK
from adapterlib.core.ia3 import IA3
from adapterlib.core.lora import LORA
from adapterlib.core.methods import (
    METHOD_KEY,
    AdapterError,
    AdapterMethod,
    MethodConfig,
    MethodSite,
    method_sites,
    site_adapter_parameter_names,
)

METHODS: tuple[AdapterMethod, ...] = (BOTTLENECK, LORA, IA3)  # every adapter family; a new one is one more entry here
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def method_of(config: MethodConfig) -> AdapterMethod:
    """The registered method whose config class ``config`` is."""
    for method in METHODS:
        if isinstance(config, method.config_type):
            return method
    raise AdapterError(f"{type(config).__name__} is not an adapter config; known: "
                       f"{', '.join(m.config_type.__name__ for m in METHODS)}")


def adapter_config_from_dict(d: dict[str, Any]) -> MethodConfig:
    """The config a ``to_dict()`` came from, of the method its ``method`` key names (absent: the bottleneck)."""
    key = d.get(METHOD_KEY, BOTTLENECK.key)
    for method in METHODS:
        if method.key == key:
            return method.config_type.from_dict(d)
    raise ValueError(f"unknown adapter method {key!r}; known: {', '.join(m.key for m in METHODS)}")


def adapter_state(model: PreTrainedModel) -> dict:
    """adapterlib's bookkeeping for ``model``: adapter configs and the fusion set-up.

    Kept on the base encoder, so task models that share one encoder (multi-task adapters) share it too.
    """
    return model.base_model.__dict__.setdefault("_adapterlib", {"adapters": {}, "fusion": None})


def adapter_configs(model: PreTrainedModel) -> dict[str, MethodConfig]:
    """Name -> config of every adapter added to ``model`` (insertion order)."""
    return adapter_state(model)["adapters"]


def adapter_sites(model: PreTrainedModel) -> Iterator[MethodSite]:
    """Every adapter site of ``model`` (of every method), in layer order."""
    return (site for _, site in method_sites(model))


def _require(model: PreTrainedModel, name: str) -> MethodConfig:
    configs = adapter_configs(model)
    if name not in configs:
        raise AdapterError(f"model has no adapter {name!r}; it has: {sorted(configs) or 'none'}")
    return configs[name]


def add_adapter(model: PreTrainedModel, name: str, config: MethodConfig) -> PreTrainedModel:
    """Insert a new adapter called ``name`` where ``config``'s method puts it, make it active; returns ``model``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise AdapterError(f"adapter name must be an identifier (letters, digits, _ or -), got {name!r}")
    if name in adapter_configs(model):
        raise AdapterError(f"model already has an adapter {name!r}")
    method_of(config).attach(model, name, config)
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
    return site_adapter_parameter_names(model, name)


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
