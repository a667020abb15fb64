"""AdapterConfig: everything that defines one bottleneck adapter, in one dataclass.

Two placements from the papers:
- ``houlsby`` (Houlsby et al. 2019): two adapters per layer, after the attention output projection and after the
  feed-forward output projection, each before the residual add and LayerNorm. The adapter reads the sub-layer output.
- ``pfeiffer`` (Pfeiffer et al. 2021, AdapterFusion's ST-A): one adapter per layer, after the feed-forward block.
  The adapter reads the output of the feed-forward Add & Norm; its update is added before the same Add & Norm is
  applied again (the authors' AdapterHub "SeqBn" arrangement).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

NON_LINEARITIES = ("gelu", "relu", "swish", "silu", "tanh")
PLACEMENTS = {"houlsby": ("attention", "feed_forward"), "pfeiffer": ("feed_forward",)}


@dataclass(frozen=True)
class AdapterConfig:
    """A bottleneck adapter d -> m -> d with an internal skip: ``h + up(act(down(h)))``.

    Give the bottleneck either as ``size`` (m, Houlsby's parametrisation) or as ``reduction_factor`` (m = d / rf,
    Pfeiffer's). ``layers`` restricts which Transformer layers carry the adapter (None: all).
    ``train_layernorms``: whether the ``adapters`` training regime also trains every LayerNorm of the base model
    (Houlsby does; AdapterFusion's ST-A does not).
    """

    placement: str = "houlsby"
    size: int | None = 64
    reduction_factor: float | None = None
    non_linearity: str = "gelu"
    init_std: float = 1e-2
    layers: tuple[int, ...] | None = None
    train_layernorms: bool = True

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {sorted(PLACEMENTS)}, got {self.placement!r}")
        if (self.size is None) == (self.reduction_factor is None):
            raise ValueError("give exactly one of size or reduction_factor")
        if self.size is not None and (not isinstance(self.size, int) or self.size < 1):
            raise ValueError(f"size must be a positive int, got {self.size!r}")
        if self.reduction_factor is not None and not self.reduction_factor > 0:
            raise ValueError(f"reduction_factor must be > 0, got {self.reduction_factor!r}")
        if self.non_linearity not in NON_LINEARITIES:
            raise ValueError(f"non_linearity must be one of {NON_LINEARITIES}, got {self.non_linearity!r}")
        if not self.init_std > 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std!r}")
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(sorted(set(int(i) for i in self.layers))))
            if any(i < 0 for i in self.layers):
                raise ValueError(f"layers must be non-negative indices, got {self.layers}")

    @classmethod
    def houlsby(cls, size: int = 64, **overrides: Any) -> "AdapterConfig":
        """Houlsby et al. 2019: two adapters per layer, init N(0, 1e-2) truncated at 2 std, LayerNorms trained.

        GELU as in the authors' code (google-research/adapter-bert); the paper only says "a nonlinearity".
        """
        return cls(placement="houlsby", size=size, **overrides)

    @classmethod
    def pfeiffer(cls, reduction_factor: float = 16, **overrides: Any) -> "AdapterConfig":
        """Pfeiffer et al. 2021 (ST-A): one adapter after the feed-forward block, ReLU, m = d / reduction_factor."""
        defaults: dict[str, Any] = dict(non_linearity="relu", train_layernorms=False)
        defaults.update(overrides)
        return cls(placement="pfeiffer", size=None, reduction_factor=reduction_factor, **defaults)

    @property
    def sites(self) -> tuple[str, ...]:
        """Which sub-layers of each Transformer layer carry this adapter."""
        return PLACEMENTS[self.placement]

    def bottleneck(self, hidden_size: int) -> int:
        """The bottleneck width m for a model of width d = hidden_size."""
        if self.size is not None:
            return self.size
        m = int(hidden_size // self.reduction_factor)
        if m < 1:
            raise ValueError(f"reduction_factor {self.reduction_factor} leaves no bottleneck for hidden size {hidden_size}")
        return m

    @property
    def label(self) -> str:
        """Short text for progress bars and logs, e.g. ``houlsby, 64`` or ``pfeiffer, rf16``."""
        return f"{self.placement}, {self.size or f'rf{self.reduction_factor}'}"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["layers"] = list(self.layers) if self.layers is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AdapterConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown AdapterConfig fields {sorted(unknown)}; known: {sorted(known)}")
        d = dict(d)
        if d.get("layers") is not None:
            d["layers"] = tuple(d["layers"])
        return cls(**d)
