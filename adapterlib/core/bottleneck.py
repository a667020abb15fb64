"""The adapter module and the site that splices it into a frozen Transformer sub-layer.

The whole diff on the base model, at every site (see ``architectures.py`` for where sites are)::

    before:  out = LayerNorm(z + x)                 z = dropout(sub-layer output), x = residual input
    after:   out = LayerNorm(z + x + update)
             houlsby:  update = up(act(down(z)))                 # adapter(z) = z + update, then Add & Norm
             pfeiffer: update = up(act(down(LayerNorm(z + x))))  # adapter after the Add & Norm, then Add & Norm again

The site reads ``z`` with a forward hook on the block's dropout and adds ``update`` with a forward pre-hook on the
block's LayerNorm, so the base model's code and parameter names are untouched and every adapter's update at a site is
available in one place (which AdapterFusion needs).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adapterlib.core.architectures import insertion_points, selected_layers, site_block
from adapterlib.core.config import AdapterConfig
from adapterlib.core.methods import AdapterMethod, MethodSite, method_sites, parameter_names

SITE_ATTRIBUTE = "adapter_site"  # each Add & Norm block that carries bottleneck adapters gets this child module

_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "swish": nn.SiLU, "silu": nn.SiLU, "tanh": nn.Tanh}


class BottleneckAdapter(nn.Module):
    """d -> m -> d bottleneck; 2md + d + m parameters. Returns the update only: the skip is added by the site."""

    def __init__(self, hidden_size: int, config: AdapterConfig) -> None:
        super().__init__()
        m = config.bottleneck(hidden_size)
        self.down = nn.Linear(hidden_size, m)
        self.act = _ACTIVATIONS[config.non_linearity]()
        self.up = nn.Linear(m, hidden_size)
        # Houlsby et al.: zero-mean Gaussian, truncated at two std, so a new adapter starts near the identity.
        for linear in (self.down, self.up):
            nn.init.trunc_normal_(linear.weight, std=config.init_std, a=-2 * config.init_std, b=2 * config.init_std)
            nn.init.zeros_(linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.up(self.act(self.down(hidden)))


class AdapterSite(MethodSite):
    """All bottleneck adapters living at one sub-layer (``kind``) of one Transformer layer.

    ``fusion`` (an AdapterFusion layer, when one is set) replaces the single active adapter by a learned mix of the
    updates of several adapters.
    """

    def __init__(self, block: nn.Module, kind: str, layer_index: int) -> None:
        super().__init__(layer_index)
        self.kind = kind
        self.placements: dict[str, str] = {}
        self.fusion: nn.Module | None = None
        self._layer_norm = (block.LayerNorm,)  # in a tuple: the base model owns it, we only read it
        self._sublayer_output: torch.Tensor | None = None
        block.dropout.register_forward_hook(self._record_sublayer_output)
        block.LayerNorm.register_forward_pre_hook(self._add_update)

    def add(self, name: str, hidden_size: int, config: AdapterConfig) -> None:
        self.adapters[name] = BottleneckAdapter(hidden_size, config)
        self.placements[name] = config.placement

    def remove(self, name: str) -> None:
        super().remove(name)
        del self.placements[name]

    def adapter_input(self, name: str, sublayer_output: torch.Tensor, layer_norm_input: torch.Tensor) -> torch.Tensor:
        """What adapter ``name`` reads, given z and z + x: z (houlsby) or LayerNorm(z + x) (pfeiffer)."""
        if self.placements[name] == "houlsby":
            return sublayer_output
        ln = self._layer_norm[0]  # F.layer_norm, not the module: the module's pre-hook is ours
        return F.layer_norm(layer_norm_input, ln.normalized_shape, ln.weight, ln.bias, ln.eps)

    def adapter_update(self, name: str, sublayer_output: torch.Tensor, layer_norm_input: torch.Tensor) -> torch.Tensor:
        """The update adapter ``name`` adds to the LayerNorm input."""
        return self.adapters[name](self.adapter_input(name, sublayer_output, layer_norm_input))

    def forward(self, sublayer_output: torch.Tensor, layer_norm_input: torch.Tensor) -> torch.Tensor | None:
        """The update to add at this site, or None when no adapter acts here."""
        if not self.enabled:
            return None
        if self.fusion is not None:
            return self.fusion(self, sublayer_output, layer_norm_input)
        if self.acting_adapter() is None:
            return None
        return self.adapter_update(self.active, sublayer_output, layer_norm_input)

    def _record_sublayer_output(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self._sublayer_output = output

    def _add_update(self, module: nn.Module, args: tuple) -> tuple | None:
        sublayer_output, self._sublayer_output = self._sublayer_output, None
        if sublayer_output is None:  # LayerNorm called outside the block's forward
            return None
        update = self(sublayer_output, args[0])
        return None if update is None else (args[0] + update, *args[1:])


def attach_bottleneck(model: nn.Module, name: str, config: AdapterConfig) -> None:
    """Add bottleneck adapter ``name`` at the Add & Norm blocks of the sub-layers ``config`` places it at."""
    points = insertion_points(model)
    for index, layer in selected_layers(model, config.layers):
        for kind in config.sites:
            block = site_block(layer, points, kind)
            if not hasattr(block, SITE_ATTRIBUTE):
                setattr(block, SITE_ATTRIBUTE, AdapterSite(block, kind, index))
            getattr(block, SITE_ATTRIBUTE).add(name, model.config.hidden_size, config)


BOTTLENECK = AdapterMethod(
    key="bottleneck", config_type=AdapterConfig, attach=attach_bottleneck, family="adapters",
    label="Houlsby adapters, by size", colour="tab:orange", size_field="size", size_name="bottleneck size",
    hparams=("size", "reduction_factor", "init_std"))


def fusion_parameter_names(model: nn.Module) -> set[str]:
    """The parameters of every AdapterFusion layer in ``model`` (the ``fusion`` regime's group)."""
    return parameter_names(model, (site.fusion for _, site in method_sites(model)
                                   if isinstance(site, AdapterSite) and site.fusion is not None))
