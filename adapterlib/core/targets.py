"""Target modules: the base model's linear layers a method adapts, named as peft names them.

LoRA and (IA)³ both adapt linear layers chosen by name. A name is matched against the path of each linear layer
inside one Transformer layer: it matches the whole path or its last dotted parts, as peft's ``target_modules`` do
("value" is ``attention.self.value`` in BERT; "output.dense" is both ``output.dense`` and ``attention.output.dense``).
"""
from __future__ import annotations

from torch import nn

from adapterlib.core.methods import AdapterError, method_sites


def target_linears(layer: nn.Module, index: int, targets: tuple[str, ...], method: str) -> list[nn.Linear]:
    """The base model's linear layers in Transformer layer ``layer`` (number ``index``) that ``targets`` name.

    Linear layers that adapters added (LoRA's A and B) are never targets, so adding one method never gives another
    new targets. A target that names nothing fails, naming ``method`` and listing the layer's linear layers: a
    silently skipped target would train another adapter than the one asked for.
    """
    added = {id(m) for _, site in method_sites(layer) for m in site.modules()}
    linears = {path: m for path, m in layer.named_modules() if isinstance(m, nn.Linear) and id(m) not in added}
    found: dict[int, nn.Linear] = {}
    for target in targets:
        matched = [m for path, m in linears.items() if path == target or path.endswith(f".{target}")]
        if not matched:
            raise AdapterError(f"{method} target module {target!r} matches no linear layer in Transformer layer "
                               f"{index}; its linear layers: {', '.join(sorted(linears))}")
        found.update((id(m), m) for m in matched)
    return list(found.values())
