"""(IA)³ (Liu et al. 2022): trained vectors that rescale the activations of frozen linear layers.

For each target linear layer ``y = W x + b``, one vector ``l`` rescales its output or, for the feed-forward modules,
its input (the paper's l_k and l_v on keys and values, and l_ff on the feed-forward activation gamma(W1 x)):

    y = l * (W x + b)        l: d_out        (target modules)
    y = W (l * x) + b        l: d_in         (target modules that are also feedforward_modules)

``l`` starts at one, so a new adapter leaves the model exactly unchanged. Both forms fold into ``W`` and ``b``
(``merge_ia3``), so a merged model runs at the base model's cost. As with LoRA, hooks on the base linear apply the
vector (a forward pre-hook for the input, a forward hook for the output): the base model's code and parameter names
are untouched.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from adapterlib.core.architectures import selected_layers
from adapterlib.core.methods import METHOD_KEY, AdapterError, AdapterMethod, MethodSite
from adapterlib.core.targets import target_linears

SITE_ATTRIBUTE = "ia3_site"  # each target linear layer that carries (IA)³ adapters gets this child module
IA3_KEY = "ia3"  # the ``method`` value of a serialised IA3Config


@dataclass(frozen=True)
class IA3Config:
    """The linear layers (IA)³ rescales, which of them at the input, and in which Transformer layers.

    ``target_modules`` name linear layers inside each Transformer layer by their last dotted name parts, as LoRA's
    do; ``feedforward_modules`` (a subset of them) have their input rescaled, the others their output. The defaults
    are peft's for BERT, so a default config is peft's default ``IA3Config``. On BERT, "output.dense" names both the
    feed-forward output layer and the attention output projection (``attention.output.dense``), and peft rescales
    the input of both: 3d + d_ff parameters per layer where the paper has 2d + d_ff. ``layers`` restricts the
    Transformer layers (None: all). The ``adapters`` regime trains the vectors and the task head: no LayerNorms.
    """

    target_modules: tuple[str, ...] = ("key", "value", "output.dense")
    feedforward_modules: tuple[str, ...] = ("output.dense",)
    layers: tuple[int, ...] | None = None
    train_layernorms: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for names in ("target_modules", "feedforward_modules"):
            value = getattr(self, names)
            if isinstance(value, str):
                raise ValueError(f"{names} must be a list of module names, got the string {value!r}")
            object.__setattr__(self, names, tuple(value))
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(sorted({int(i) for i in self.layers})))
        stray = [m for m in self.feedforward_modules if m not in self.target_modules]
        problems = [
            not (self.target_modules and all(isinstance(t, str) and t for t in self.target_modules))
            and f"target_modules must be non-empty module names, got {self.target_modules!r}",
            stray and f"feedforward_modules must be among target_modules {self.target_modules!r}, got {stray!r} "
                      f"(feedforward_modules=() rescales every target's output)",
            self.layers is not None and any(i < 0 for i in self.layers)
            and f"layers must be non-negative indices, got {self.layers}",
        ]
        problems = [p for p in problems if p]
        if problems:
            raise ValueError("bad IA3Config: " + "; ".join(problems))

    @property
    def label(self) -> str:
        """Short text for progress bars and logs, e.g. ``ia3, key+value+output.dense``."""
        return f"ia3, {'+'.join(self.target_modules)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            METHOD_KEY: IA3_KEY,
            "target_modules": list(self.target_modules),
            "feedforward_modules": list(self.feedforward_modules),
            "layers": list(self.layers) if self.layers is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IA3Config":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known - {METHOD_KEY}
        if unknown:
            raise ValueError(f"unknown IA3Config fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: v for k, v in d.items() if k != METHOD_KEY})


class IA3Vector(nn.Module):
    """One adapter at one linear layer: the vector ``l`` that rescales its input or its output; d_in or d_out
    parameters. The product is cast back to the activation's dtype, as peft does, so a half-precision model stays in
    half precision."""

    def __init__(self, size: int, rescales_input: bool) -> None:
        super().__init__()
        self.rescales_input = rescales_input
        self.scale = nn.Parameter(torch.ones(size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return (hidden * self.scale).to(hidden.dtype)


class IA3Site(MethodSite):
    """All (IA)³ adapters of one target linear layer. Each adapter rescales the input or the output, so the site
    hooks both: a forward pre-hook rescales the input, a forward hook the output, each only for an adapter of its
    kind (two adapters at one layer may differ: one config may list it in feedforward_modules, another not)."""

    def __init__(self, linear: nn.Linear, layer_index: int) -> None:
        super().__init__(layer_index)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        linear.register_forward_pre_hook(self._rescale_input)
        linear.register_forward_hook(self._rescale_output)

    def add(self, name: str, rescales_input: bool) -> None:
        self.adapters[name] = IA3Vector(self.in_features if rescales_input else self.out_features, rescales_input)

    def _acting(self, rescales_input: bool) -> IA3Vector | None:
        adapter = self.acting_adapter()
        return adapter if adapter is not None and adapter.rescales_input == rescales_input else None

    def _rescale_input(self, module: nn.Module, args: tuple) -> tuple | None:
        adapter = self._acting(rescales_input=True)
        return None if adapter is None else (adapter(args[0]), *args[1:])

    def _rescale_output(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        adapter = self._acting(rescales_input=False)
        return None if adapter is None else adapter(output)


def attach_ia3(model: nn.Module, name: str, config: IA3Config) -> None:
    """Add (IA)³ adapter ``name`` to every target linear of the chosen layers (all checked before any is changed)."""
    targets: list[tuple[int, nn.Linear, bool]] = []
    for index, layer in selected_layers(model, config.layers):
        linears = target_linears(layer, index, config.target_modules, "(IA)³")
        feedforward = {id(m) for m in target_linears(layer, index, config.feedforward_modules, "(IA)³")}
        targets += [(index, linear, id(linear) in feedforward) for linear in linears]
    for index, linear, rescales_input in targets:
        if not hasattr(linear, SITE_ATTRIBUTE):
            setattr(linear, SITE_ATTRIBUTE, IA3Site(linear, index))
        getattr(linear, SITE_ATTRIBUTE).add(name, rescales_input)


def merge_ia3(model: nn.Module, name: str) -> None:
    """Fold (IA)³ adapter ``name`` into the base weights and remove it: with no adapter active, ``model`` then computes
    what it computed with ``name`` active, at the base model's cost (no hook acts).

    An output rescaled by ``l`` is ``(diag(l) W) x + l * b``: ``l`` scales W's rows and the bias. An input rescaled by
    ``l`` is ``(W diag(l)) x + b``: it scales W's columns. The base weights change in place, so every other adapter
    of ``model`` (and every task model sharing its encoder) now sits on the merged base.
    """
    from adapterlib.core.inject import adapter_configs, delete_adapter  # inject imports this module for METHODS

    configs = adapter_configs(model)
    if not isinstance(configs.get(name), IA3Config):
        ia3_names = sorted(n for n, c in configs.items() if isinstance(c, IA3Config))
        raise AdapterError(f"model has no (IA)³ adapter {name!r}; its (IA)³ adapters: {ia3_names or 'none'}")
    with torch.no_grad():
        for linear in model.modules():
            site = getattr(linear, SITE_ATTRIBUTE, None)
            if not isinstance(site, IA3Site) or name not in site.adapters:
                continue
            vector = site.adapters[name]
            scale = vector.scale.to(linear.weight.dtype)
            if vector.rescales_input:
                linear.weight.mul_(scale)
            else:
                linear.weight.mul_(scale[:, None])
                if linear.bias is not None:
                    linear.bias.mul_(scale.to(linear.bias.dtype))
    delete_adapter(model, name)


IA3 = AdapterMethod(key=IA3_KEY, config_type=IA3Config, attach=attach_ia3, family="ia3", label="(IA)³",
                    colour="tab:pink", size_field=None, size_name=None, hparams=())
