"""LoRA (Hu et al. 2021): a trained low-rank update beside frozen linear projections.

For each target linear layer ``y = W x + b`` (by default the attention query and value projections, as in the paper):

    y = W x + b + (alpha / r) * B A dropout(x)        A: r x d_in, B: d_out x r

A starts as peft initialises it (kaiming_uniform with a = sqrt(5), PyTorch's default for a linear layer) and B at
zero, so a new adapter leaves the model unchanged. As with the bottleneck sites, a forward hook on the base linear
adds the update: the base model's code and parameter names are untouched.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from adapterlib.core.architectures import selected_layers
from adapterlib.core.methods import METHOD_KEY, AdapterMethod, MethodSite
from adapterlib.core.targets import target_linears

SITE_ATTRIBUTE = "lora_site"  # each target linear layer that carries LoRA adapters gets this child module
LORA_KEY = "lora"  # the ``method`` value of a serialised LoRAConfig


@dataclass(frozen=True)
class LoRAConfig:
    """Rank ``r``, scaling ``alpha / r``, ``dropout`` on the LoRA input, and the linear layers it adapts.

    ``target_modules`` name linear layers inside each Transformer layer by their last dotted name parts (as peft
    matches them): "query" is ``attention.self.query`` in BERT. ``layers`` restricts the Transformer layers
    (None: all). The ``adapters`` regime trains A, B and the task head: no LayerNorms.
    """

    r: int = 8
    alpha: float = 8.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("query", "value")
    layers: tuple[int, ...] | None = None
    train_layernorms: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str):
            raise ValueError(f"target_modules must be a list of module names, got the string {self.target_modules!r}")
        object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(sorted({int(i) for i in self.layers})))
        problems = [
            not (isinstance(self.r, int) and self.r >= 1) and f"r must be a positive int, got {self.r!r}",
            not (isinstance(self.alpha, (int, float)) and self.alpha > 0) and f"alpha must be > 0, got {self.alpha!r}",
            not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1)
            and f"dropout must be in [0, 1), got {self.dropout!r}",
            not (self.target_modules and all(isinstance(t, str) and t for t in self.target_modules))
            and f"target_modules must be non-empty module names, got {self.target_modules!r}",
            self.layers is not None and any(i < 0 for i in self.layers)
            and f"layers must be non-negative indices, got {self.layers}",
        ]
        problems = [p for p in problems if p]
        if problems:
            raise ValueError("bad LoRAConfig: " + "; ".join(problems))
        object.__setattr__(self, "alpha", float(self.alpha))  # 16 and 16.0: one config, one run id
        object.__setattr__(self, "dropout", float(self.dropout))

    @property
    def scaling(self) -> float:
        return self.alpha / self.r

    @property
    def label(self) -> str:
        """Short text for progress bars and logs, e.g. ``lora, r8, alpha16``."""
        return f"lora, r{self.r}, alpha{self.alpha:g}"

    def to_dict(self) -> dict[str, Any]:
        d = {METHOD_KEY: LORA_KEY, **dataclasses.asdict(self)}
        d["target_modules"] = list(self.target_modules)
        d["layers"] = list(self.layers) if self.layers is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LoRAConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known - {METHOD_KEY}
        if unknown:
            raise ValueError(f"unknown LoRAConfig fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: v for k, v in d.items() if k != METHOD_KEY})


class LoRA(nn.Module):
    """One adapter at one linear layer: returns the update ``scaling * B A dropout(x)``; r (d_in + d_out) parameters."""

    def __init__(self, in_features: int, out_features: int, config: LoRAConfig) -> None:
        super().__init__()
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.A = nn.Linear(in_features, config.r, bias=False)
        self.B = nn.Linear(config.r, out_features, bias=False)
        self.scaling = config.scaling
        nn.init.kaiming_uniform_(self.A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.B.weight)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.B(self.A(self.dropout(hidden))) * self.scaling


class LoRASite(MethodSite):
    """All LoRA adapters of one target linear layer; a forward hook adds the active one's update to its output."""

    def __init__(self, linear: nn.Linear, layer_index: int) -> None:
        super().__init__(layer_index)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        linear.register_forward_hook(self._add_update)

    def add(self, name: str, config: LoRAConfig) -> None:
        self.adapters[name] = LoRA(self.in_features, self.out_features, config)

    def _add_update(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        adapter = self.acting_adapter()
        return None if adapter is None else output + adapter(args[0])


def attach_lora(model: nn.Module, name: str, config: LoRAConfig) -> None:
    """Add LoRA adapter ``name`` to every target linear of the chosen layers (all checked before any is changed)."""
    targets = [(index, linear) for index, layer in selected_layers(model, config.layers)
               for linear in target_linears(layer, index, config.target_modules, "LoRA")]
    for index, linear in targets:
        if not hasattr(linear, SITE_ATTRIBUTE):
            setattr(linear, SITE_ATTRIBUTE, LoRASite(linear, index))
        getattr(linear, SITE_ATTRIBUTE).add(name, config)


LORA = AdapterMethod(key=LORA_KEY, config_type=LoRAConfig, attach=attach_lora, family="lora", label="LoRA, by rank",
                     colour="tab:green", size_field="r", size_name="rank", hparams=("r",))
