"""The method contract: what every adapter family (bottleneck, LoRA, ...) provides so the rest of core can serve it.

A method is four things:
- a config class (frozen dataclass with ``to_dict``/``from_dict``, a ``label`` and ``train_layernorms``),
- a site class (a ``MethodSite``): the module added to the base model that holds that method's adapters by name,
- ``attach(model, name, config)``: create the sites the config asks for (or reuse them) and add adapter ``name``,
- its parameter groups, found by module type: an adapter's parameters are those of ``site.adapters[name]``.

Everything that asks "is this parameter ours?" walks ``model.named_modules()`` and checks ``isinstance`` against
``MethodSite``; nothing matches parameter-name substrings, so a method may put its sites wherever it needs to.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, Protocol

from torch import nn


class AdapterError(ValueError):
    """Bad adapter name, unknown adapter, or an adapter that does not fit the model."""


class MethodConfig(Protocol):
    """What core needs from any adapter config."""

    train_layernorms: bool  # whether the ``adapters`` regime also trains the base model's LayerNorms

    @property
    def label(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class MethodSite(nn.Module):
    """One place in the base model where a method's adapters live; at most one adapter acts at a time.

    ``enabled = False`` switches the site's adapters off without touching the weights (Houlsby's layer ablation).
    """

    def __init__(self, layer_index: int) -> None:
        super().__init__()
        self.layer_index = layer_index
        self.adapters = nn.ModuleDict()
        self.active: str | None = None
        self.enabled = True

    def remove(self, name: str) -> None:
        del self.adapters[name]
        if self.active == name:
            self.active = None

    def acting_adapter(self) -> nn.Module | None:
        """The adapter that acts here now, or None (disabled, none active, or the active one is not here)."""
        if not self.enabled or self.active is None or self.active not in self.adapters:
            return None
        return self.adapters[self.active]


@dataclass(frozen=True)
class AdapterMethod:
    """One adapter family on the contract, and everything the rest of the package reads about it.

    Core needs ``key`` (the ``method`` value of its serialised configs), ``config_type`` and ``attach``. The runner,
    the run store, the plan and the plots need the rest, and read it only from here (no module outside a method's own
    file names a method): ``family`` names its points and plot series (``adapters_64``, ``lora_8``, ``ia3``),
    ``label`` and ``colour`` draw it, ``size_field`` is the config field that sizes it (bottleneck size, LoRA rank;
    None where a method has no size knob) and ``size_name`` says so in words. A grid may set any field of
    ``config_type`` (``grid_keys``); ``hparams`` are those a grid sweeps and model selection chooses among.
    """

    key: str
    config_type: type
    attach: Callable[[nn.Module, str, Any], None]
    family: str
    label: str
    colour: str
    size_field: str | None
    size_name: str | None
    hparams: tuple[str, ...]

    @property
    def grid_keys(self) -> tuple[str, ...]:
        """The config fields a grid may set for this method (its dataclass fields)."""
        return tuple(f.name for f in fields(self.config_type))

    def size(self, config: Any) -> float | None:
        """The value of ``config``'s size knob (None: the method has none, or this config leaves it unset)."""
        return getattr(config, self.size_field) if self.size_field else None

    def point_name(self, config: Any) -> str:
        """One name per point of a sweep: ``<family>_<size>``, or ``<family>`` for a method without a size knob."""
        size = self.size(config)
        return self.family if size is None else f"{self.family}_{size:g}"


METHOD_KEY = "method"  # in a serialised config; absent means the bottleneck (configs saved before LoRA existed)


def method_sites(model: nn.Module) -> Iterator[tuple[str, MethodSite]]:
    """(module name, site) for every site of every method in ``model``, in module order."""
    for path, module in model.named_modules():
        if isinstance(module, MethodSite):
            yield path, module


def parameter_names(model: nn.Module, modules: Iterable[nn.Module]) -> set[str]:
    """The names, in ``model``, of the parameters of ``modules`` (by identity, not by name)."""
    ids = {id(p) for module in modules for p in module.parameters()}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def added_parameter_names(model: nn.Module) -> set[str]:
    """Every parameter adapterlib added (adapters of every method, fusion layers): not part of the base model."""
    return parameter_names(model, (site for _, site in method_sites(model)))


def site_adapter_parameter_names(model: nn.Module, name: str) -> set[str]:
    """The parameters of adapter ``name`` at every site that has it (no check that the adapter exists)."""
    return parameter_names(model, (site.adapters[name] for _, site in method_sites(model) if name in site.adapters))
