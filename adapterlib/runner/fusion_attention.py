"""What a model's fusion layers attend to over a split: per site, the attention averaged over every real token, and
the mean per-token entropy.

Both are needed to tell whether fusion learned anything: an attention that averages to 1/N over tokens may still
pick one adapter per token (low per-token entropy), while one that never leaves its start is uniform on every token
(entropy log N). Filled batch by batch during an evaluation pass (``predict``'s ``on_batch``) inside
``recording_fusion_attention``, so a fusion run gets its per-epoch curve from the dev evaluation it runs anyway.
"""
from __future__ import annotations

import math

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object

from adapterlib.core.fusion import AdapterFusionLayer

SiteKey = tuple[int, str]  # (0-based layer index, site kind), as recording_fusion_attention yields


class FusionAttention:
    """Token-weighted sums of each fusion layer's last attention, one ``add`` per evaluated batch."""

    def __init__(self, layers: dict[SiteKey, AdapterFusionLayer]) -> None:
        self.layers = layers
        self.attention = {key: torch.zeros(len(layer.adapters), dtype=torch.float64) for key, layer in layers.items()}
        self.entropy = dict.fromkeys(layers, 0.0)
        self.tokens = 0.0

    def add(self, batch: dict[str, torch.Tensor]) -> None:
        """Accumulate the batch just run (``attention_mask`` [batch, tokens], or [batch, choices, tokens])."""
        mask = batch["attention_mask"].reshape(-1, batch["attention_mask"].shape[-1]).double()
        self.tokens += float(mask.sum())
        for key, layer in self.layers.items():
            attention = layer.last_attention.double().cpu()  # [batch, tokens, N]
            self.attention[key] += (attention * mask[..., None]).sum(dim=(0, 1))
            per_token = -(attention * attention.clamp_min(1e-12).log()).sum(-1)
            self.entropy[key] += float((per_token * mask).sum())

    def across_processes(self, accelerator: Accelerator | None) -> FusionAttention:
        """The sums over every process's share of the split (evaluation deals whole batches to the processes, so a
        process may have seen none): the whole split's statistics, the same on every process."""
        if accelerator is None or accelerator.num_processes == 1:
            return self
        total = FusionAttention(self.layers)
        for attention, entropy, tokens in gather_object([(self.attention, self.entropy, self.tokens)]):
            for key in total.attention:
                total.attention[key] += attention[key]
                total.entropy[key] += entropy[key]
            total.tokens += tokens
        return total

    def means(self) -> dict[SiteKey, torch.Tensor]:
        """Per site: the attention on each source adapter (``layer.adapters`` order), averaged over tokens."""
        return {key: total / self.tokens for key, total in self.attention.items()}

    def statistics(self) -> dict[str, float]:
        """``attention_entropy``: mean per-token entropy in nats over sites (uniform: ``attention_uniform_entropy``
        = log N); ``attention_max_deviation``: the largest |token-averaged attention - 1/N| of any site and source."""
        if not self.layers or not self.tokens:
            raise ValueError("no fusion attention recorded: add batches inside recording_fusion_attention first")
        n = len(next(iter(self.layers.values())).adapters)
        return {"attention_entropy": sum(self.entropy.values()) / (self.tokens * len(self.layers)),
                "attention_uniform_entropy": math.log(n),
                "attention_max_deviation": max(float((m - 1 / n).abs().max()) for m in self.means().values())}
