"""AdapterFusion (Pfeiffer et al. 2021): a learned, per-token attention over the outputs of N frozen adapters.

At each site of layer l, for every token, with h the hidden state the adapters read (the query input) and
u_1..u_N the adapters' updates (their outputs before the skip connection):

    s = softmax_n( (Q h) . (K u_n) )        attention over adapters
    update = sum_n s_n * (V u_n)            replaces the single adapter's update at the site

Q and K start random (BERT's N(0, 0.02)); V starts at the identity plus 1e-6 noise and is pulled back towards the
identity by an L2 penalty (``fusion_regularization``), so training starts from an average of the adapters.
With V the identity and a one-hot s on adapter i, the model computes exactly what adapter i alone computes.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedModel

from adapterlib.core.io import AdapterLoadError, base_fingerprint
from adapterlib.core.bottleneck import AdapterSite, fusion_parameter_names
from adapterlib.core.config import AdapterConfig
from adapterlib.core.inject import adapter_configs, adapter_sites, adapter_state
from adapterlib.core.methods import AdapterError
from adapterlib.core.trainable import base_prefix

FUSION_CONFIG_FILE = "fusion_config.json"
FUSION_WEIGHTS_FILE = "fusion.safetensors"


@dataclass(frozen=True)
class FusionConfig:
    """``regularization``: weight of the L2 penalty ||V - I||^2 summed over layers (AdapterHub's default 0.01)."""

    init_std: float = 0.02
    value_noise: float = 1e-6
    regularization: float = 0.01

    def __post_init__(self) -> None:
        if not self.init_std > 0 or self.value_noise < 0 or self.regularization < 0:
            raise ValueError(f"bad FusionConfig values: {self}")


class AdapterFusionLayer(nn.Module):
    """Q, K, V (d x d, with biases) for one site; ``forward`` returns the fused update for that site."""

    def __init__(self, hidden_size: int, adapters: Sequence[str], config: FusionConfig) -> None:
        super().__init__()
        self.adapters = tuple(adapters)
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        for linear in (self.query, self.key):
            nn.init.normal_(linear.weight, std=config.init_std)
            nn.init.zeros_(linear.bias)
        with torch.no_grad():
            self.value.weight.copy_(torch.eye(hidden_size) + config.value_noise * torch.randn(hidden_size, hidden_size))
            self.value.bias.zero_()
        self.forced_attention: torch.Tensor | None = None  # for tests and probing: a fixed distribution over adapters
        self.record = False
        self.last_attention: torch.Tensor | None = None  # [batch, tokens, N] when record is on

    def forward(self, site: AdapterSite, sublayer_output: torch.Tensor, layer_norm_input: torch.Tensor) -> torch.Tensor:
        # Every fused adapter has the same placement (add_fusion checks), so they all read the same input h.
        hidden = site.adapter_input(self.adapters[0], sublayer_output, layer_norm_input)
        updates = torch.stack([site.adapters[name](hidden) for name in self.adapters], dim=-2)  # [batch, tokens, N, d]
        if self.forced_attention is not None:
            attention = self.forced_attention.to(updates.dtype).expand(updates.shape[:-1])
        else:
            # (Q h) . (K u_n + b_K) = (K^T Q h) . u_n + a term constant in n, which the softmax drops: one d x d
            # product per token instead of N (same function; b_K has no effect in either form).
            scores = torch.einsum("btd,btnd->btn", self.query(hidden) @ self.key.weight, updates)
            attention = scores.softmax(dim=-1)
        if self.record:
            self.last_attention = attention.detach()
        # sum_n s_n (V u_n + b_V) = V (sum_n s_n u_n) + b_V since the s_n sum to 1: again one product, not N.
        return self.value(torch.einsum("btn,btnd->btd", attention, updates))


def bottleneck_sites(model: PreTrainedModel) -> Iterator[AdapterSite]:
    """The sites that can carry a fusion layer: those of bottleneck adapters."""
    return (site for site in adapter_sites(model) if isinstance(site, AdapterSite))


def fusion_layers(model: PreTrainedModel) -> Iterator[tuple[AdapterSite, AdapterFusionLayer]]:
    for site in bottleneck_sites(model):
        if site.fusion is not None:
            yield site, site.fusion


def add_fusion(model: PreTrainedModel, adapters: Sequence[str], config: FusionConfig | None = None) -> PreTrainedModel:
    """Fuse the named adapters (all already in ``model``, all of one placement) at every site they share."""
    config = config or FusionConfig()
    configs = adapter_configs(model)
    missing = [a for a in adapters if a not in configs]
    if missing:
        raise AdapterError(f"cannot fuse {missing}: not in the model (it has {sorted(configs) or 'none'})")
    if len(set(adapters)) != len(adapters) or len(adapters) < 1:
        raise AdapterError(f"fuse a list of distinct adapter names, got {list(adapters)}")
    not_bottleneck = [a for a in adapters if not isinstance(configs[a], AdapterConfig)]
    if not_bottleneck:
        raise AdapterError(f"AdapterFusion fuses bottleneck adapters only; {not_bottleneck} are not")
    placements = {configs[a].placement for a in adapters}
    if len(placements) > 1:
        raise AdapterError(f"cannot fuse adapters of different placements {sorted(placements)}")
    if any(True for _ in fusion_layers(model)):
        raise AdapterError("model already has a fusion layer; delete_fusion(model) first")
    hidden_size = model.config.hidden_size
    device = next(model.parameters()).device
    for site in bottleneck_sites(model):
        if all(a in site.adapters for a in adapters):
            site.fusion = AdapterFusionLayer(hidden_size, adapters, config).to(device)
    adapter_state(model)["fusion"] = (tuple(adapters), config)
    return model


def delete_fusion(model: PreTrainedModel) -> None:
    for site, _ in list(fusion_layers(model)):
        site.fusion = None
    adapter_state(model)["fusion"] = None


def fused_adapters(model: PreTrainedModel) -> tuple[str, ...]:
    entry = adapter_state(model)["fusion"]
    return entry[0] if entry else ()


def fusion_regularization(model: PreTrainedModel) -> torch.Tensor | None:
    """lambda * sum over fusion layers of ||V - I||^2 (None when the model has no fusion)."""
    entry = adapter_state(model)["fusion"]
    if entry is None or entry[1].regularization == 0:
        return None
    terms = []
    for _, layer in fusion_layers(model):
        weight = layer.value.weight
        terms.append((weight - torch.eye(weight.shape[0], device=weight.device, dtype=weight.dtype)).pow(2).sum())
    return entry[1].regularization * torch.stack(terms).sum()


@contextmanager
def recording_fusion_attention(model: PreTrainedModel) -> Iterator[dict[tuple[int, str], AdapterFusionLayer]]:
    """Inside the block every fusion layer keeps its last attention ([batch, tokens, N] in ``last_attention``).

    Yields {(layer index, site kind): fusion layer}; average ``last_attention`` over real tokens after each batch.
    """
    layers = {(site.layer_index, site.kind): layer for site, layer in fusion_layers(model)}
    for layer in layers.values():
        layer.record = True
    try:
        yield layers
    finally:
        for layer in layers.values():
            layer.record, layer.last_attention = False, None


def _fusion_parameters(model: PreTrainedModel) -> dict[str, nn.Parameter]:
    names = fusion_parameter_names(model)
    return {n: p for n, p in model.named_parameters() if n in names}


def save_fusion(model: PreTrainedModel, directory: str | Path) -> Path:
    """Write the fusion layers and the names of the adapters they fuse (save the adapters with save_adapter)."""
    entry = adapter_state(model)["fusion"]
    if entry is None:
        raise AdapterError("model has no fusion layer to save")
    params = _fusion_parameters(model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    prefix_len = len(base_prefix(model))
    save_file({n[prefix_len:]: p.detach().cpu().contiguous() for n, p in params.items()}, directory / FUSION_WEIGHTS_FILE)
    meta = {"adapters": list(entry[0]), "fusion": asdict(entry[1]), "base": base_fingerprint(model)}
    (directory / FUSION_CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return directory


def load_fusion(model: PreTrainedModel, directory: str | Path) -> tuple[str, ...]:
    """Add the fusion saved in ``directory``; every adapter it fuses must already be loaded in ``model``."""
    path = Path(directory) / FUSION_CONFIG_FILE
    if not path.is_file():
        raise AdapterLoadError(f"no saved fusion at {directory}: {FUSION_CONFIG_FILE} is missing")
    try:
        meta = json.loads(path.read_text())
        adapters, config = tuple(meta["adapters"]), FusionConfig(**meta["fusion"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise AdapterLoadError(f"{path} is corrupt: {err}") from err
    if meta.get("base") != base_fingerprint(model):
        raise AdapterLoadError(f"fusion in {directory} was trained on a different base model: {meta.get('base')}")
    missing = [a for a in adapters if a not in adapter_configs(model)]
    if missing:
        raise AdapterLoadError(f"fusion in {directory} needs adapters {missing}: load them first with load_adapter")
    try:
        tensors = load_file(Path(directory) / FUSION_WEIGHTS_FILE)
    except (FileNotFoundError, SafetensorError, OSError) as err:
        raise AdapterLoadError(f"cannot read {Path(directory) / FUSION_WEIGHTS_FILE}: {err}") from err
    add_fusion(model, adapters, config)
    prefix = base_prefix(model)
    params = _fusion_parameters(model)
    if set(params) != {prefix + k for k in tensors}:
        delete_fusion(model)
        raise AdapterLoadError(f"{directory}: saved fusion weights do not match this model's sites")
    with torch.no_grad():
        for key, tensor in tensors.items():
            params[prefix + key].copy_(tensor)
    return adapters
