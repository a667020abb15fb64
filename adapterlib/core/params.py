"""Parameter accounting as the papers report it: exact integers, percentages of the base model, N-task totals."""
from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedModel

from adapterlib.core.methods import added_parameter_names
from adapterlib.core.trainable import base_prefix


@dataclass(frozen=True)
class ParamCount:
    """``base``: the pre-trained encoder (embeddings, layers, pooler); ``added``: adapters and fusion layers;
    ``head``: task head outside the encoder; ``trainable``: what the current regime trains (the ``adapters`` regime
    trains the pooler only where it was never pre-trained: MiniLM-L6's, not BERT's, see ``core.trainable``);
    ``trainable_base``: the part of ``trainable`` that is base-model weights (LayerNorms, top layers...)."""

    total: int
    base: int
    added: int
    head: int
    trainable: int
    trainable_base: int

    @property
    def trainable_pct(self) -> float:
        """Trained parameters per task as a percentage of the base model (Houlsby's "trained params / task")."""
        return 100.0 * self.trainable / self.base

    def total_multiple(self, n_tasks: int) -> float:
        """Parameters to store for ``n_tasks`` tasks, as a multiple of the base model (Houlsby's "total params").

        Frozen base weights are stored once and shared; everything trained is stored once per task. Full
        fine-tuning gives n_tasks * (1 + head/base): the paper rounds that to n_tasks (e.g. 9.0x for GLUE).
        """
        if n_tasks < 1:
            raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
        shared = self.base - self.trainable_base
        return (shared + n_tasks * self.trainable) / self.base


def count_named_parameters(model: PreTrainedModel, names: set[str]) -> int:
    """The number of scalars in the parameters of ``model`` called ``names`` (e.g. ``fusion_parameter_names``)."""
    return sum(p.numel() for n, p in model.named_parameters() if n in names)


def count_parameters(model: PreTrainedModel) -> ParamCount:
    """Count ``model``'s parameters by role; see ParamCount."""
    prefix = base_prefix(model)
    added_names = added_parameter_names(model)
    total = base = added = head = trainable = trainable_base = 0
    for name, parameter in model.named_parameters():
        n = parameter.numel()
        total += n
        in_base = name not in added_names and name.startswith(prefix)
        if name in added_names:
            added += n
        elif in_base:
            base += n
        else:
            head += n
        if parameter.requires_grad:
            trainable += n
            trainable_base += n if in_base else 0
    return ParamCount(total, base, added, head, trainable, trainable_base)
