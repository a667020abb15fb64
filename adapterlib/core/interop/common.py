"""What the AdapterHub and peft formats share: format and file names, and the helpers that map our parameter
names to portable ones, read peer files, copy checked tensors into a model, and give our task head as AdapterHub's
flex head."""
from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from transformers import PreTrainedModel

from adapterlib.core.architectures import insertion_points, transformer_layers
from adapterlib.core.inject import add_adapter, delete_adapter
from adapterlib.core.io import AdapterLoadError
from adapterlib.core.lora import SITE_ATTRIBUTE as LORA_SITE, LoRAConfig, LoRASite
from adapterlib.core.methods import AdapterError, method_sites
from adapterlib.core.trainable import base_prefix


ADAPTERLIB, ADAPTERHUB, PEFT = "adapterlib", "adapters", "peft"
FORMATS = (ADAPTERLIB, ADAPTERHUB, PEFT)

CONFIG_FILE = "adapter_config.json"  # the same name in all three formats: the content tells them apart
AH_WEIGHTS, AH_SAFE_WEIGHTS = "pytorch_adapter.bin", "adapter.safetensors"
AH_HEAD_CONFIG, AH_HEAD_WEIGHTS = "head_config.json", "pytorch_model_head.bin"
AH_SAFE_HEAD_WEIGHTS = "model_head.safetensors"
AH_FUSION_CONFIG, AH_FUSION_WEIGHTS = "adapter_fusion_config.json", "pytorch_model_adapter_fusion.bin"
AH_VERSION = "adapters.1.3.0"
# Our bottleneck adapter's parameters -> AdapterHub's names inside ``adapters.<name>``.
AH_BOTTLENECK_PARTS = {"down.weight": "adapter_down.0.weight", "down.bias": "adapter_down.0.bias",
                     "up.weight": "adapter_up.weight", "up.bias": "adapter_up.bias"}
LAYERNORMS_FILE = "base_layernorms.safetensors"
PEFT_WEIGHTS, PEFT_BIN_WEIGHTS = "adapter_model.safetensors", "adapter_model.bin"
PEFT_PREFIX = "base_model.model."


def portable(model: PreTrainedModel, full_name: str) -> str:
    """A name inside the base encoder as the peers write it: with the base-model prefix (``bert.``) even when
    ``model`` is the bare encoder, so a file fits both a task model and the peers' adapter models."""
    prefix = base_prefix(model)
    if not full_name.startswith(prefix):
        raise AdapterError(f"{full_name} is not inside the base encoder")
    return f"{model.base_model_prefix}.{full_name[len(prefix):]}"


def from_portable(model: PreTrainedModel, key: str) -> str:
    """The inverse of ``portable``; also accepts names written from a bare encoder (no ``bert.`` prefix)."""
    head = f"{model.base_model_prefix}."
    return base_prefix(model) + (key[len(head):] if key.startswith(head) else key)


def site_paths(model: PreTrainedModel, name: str, site_type: type, attribute: str) -> dict[str, Any]:
    """Full path of the module a method site sits on (the Add & Norm block, the linear layer) -> the site, for the
    sites of ``site_type`` that carry adapter ``name``."""
    return {path[: -len(attribute) - 1]: site for path, site in method_sites(model)
            if isinstance(site, site_type) and name in site.adapters}


def layer_of(model: PreTrainedModel, full_path: str) -> tuple[int, str] | None:
    """(Transformer layer index, path inside that layer) of a module path, or None outside the layers."""
    prefix = f"{base_prefix(model)}{insertion_points(model).layers}."
    if not full_path.startswith(prefix):
        return None
    index, _, rest = full_path[len(prefix):].partition(".")
    return (int(index), rest) if index.isdigit() and rest else None


def num_layers(model: PreTrainedModel) -> int:
    return len(transformer_layers(model))


def leave_out_list(model: PreTrainedModel, layers: tuple[int, ...] | None) -> list[int]:
    return [] if layers is None else [i for i in range(num_layers(model)) if i not in layers]


def layers_from_leave_out(model: PreTrainedModel, leave_out: Iterable[int] | None) -> tuple[int, ...] | None:
    left = {int(i) for i in leave_out or ()}
    kept = tuple(i for i in range(num_layers(model)) if i not in left)
    if not kept:
        raise AdapterLoadError(f"leave_out {sorted(left)} leaves the adapter in no layer of this model")
    return None if not left else kept


def cpu_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}


def read_json(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise AdapterLoadError(f"cannot read {path}: {err}") from err
    if not isinstance(meta, dict):
        raise AdapterLoadError(f"{path} is not a JSON object")
    return meta


def read_weights(directory: Path, safe_name: str, bin_name: str) -> dict[str, torch.Tensor]:
    """A peer's weights file: safetensors if present, else the torch pickle (read with ``weights_only``)."""
    safe, pickled = directory / safe_name, directory / bin_name
    try:
        if safe.is_file():
            return load_file(safe)
        return torch.load(pickled, map_location="cpu", weights_only=True)
    except (SafetensorError, OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise AdapterLoadError(f"cannot read the weights in {directory} ({safe_name} or {bin_name}): {err}") from err


def copy_into(model: PreTrainedModel, updates: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for target, tensor in updates.items():
            params[target].copy_(tensor.to(params[target].dtype))


def checked_updates(model: PreTrainedModel, tensors: dict[str, torch.Tensor], what: str, source: Path,
                     allowed: set[str]) -> dict[str, torch.Tensor]:
    """Map of our parameter name -> tensor, each checked to exist in ``allowed`` and to have the model's shape."""
    params = dict(model.named_parameters())
    updates = {}
    for target, tensor in tensors.items():
        if target not in params or target not in allowed:
            raise AdapterLoadError(f"{source}: {what} weight {target} has no counterpart in this model's {what}")
        if params[target].shape != tensor.shape:
            hint = " (different number of labels?)" if what == "head" else ""
            raise AdapterLoadError(f"{source}: {what} weight {target} has shape {tuple(tensor.shape)}, model has "
                                   f"{tuple(params[target].shape)}{hint}")
        updates[target] = tensor
    return updates


def add_matching_adapter(model: PreTrainedModel, name: str, config: Any, expected_keys, saved: dict[str, torch.Tensor],
           source: Path) -> dict[str, str]:
    """Add adapter ``name`` and return {saved key: our parameter} from ``expected_keys(model)``; if the saved keys
    are not exactly those, remove the adapter again and fail (nothing half-loaded)."""
    add_adapter(model, name, config)
    expected = expected_keys(model)
    if set(expected) != set(saved):
        missing, stray = sorted(set(expected) - set(saved))[:3], sorted(set(saved) - set(expected))[:3]
        delete_adapter(model, name)
        raise AdapterLoadError(f"{source}: the weights do not match the adapter its config describes "
                               f"(missing {missing}, unexpected {stray})")
    return expected


def lora_config_for(model: PreTrainedModel, linears: set[str], r: int, alpha: float, dropout: float,
                     source: Path) -> LoRAConfig:
    """Our LoRAConfig whose targets are exactly ``linears`` (full module paths), or a one-line reason."""
    per_layer: dict[int, set[str]] = {}
    for path in linears:
        where = layer_of(model, path)
        if where is None:
            raise AdapterLoadError(f"{source}: LoRA on {path}, outside the Transformer layers: adapterlib inserts LoRA "
                                   f"only inside them")
        per_layer.setdefault(where[0], set()).add(where[1])
    shapes = {frozenset(v) for v in per_layer.values()}
    if len(shapes) != 1:
        raise AdapterLoadError(f"{source}: LoRA adapts different modules in different layers: adapterlib's "
                               f"LoRAConfig takes one target list for all its layers")
    relative = sorted(shapes.pop())
    layer = transformer_layers(model)[min(per_layer)]
    added = {id(m) for _, site in method_sites(layer) for m in site.modules()}
    in_layer = [p for p, m in layer.named_modules() if isinstance(m, nn.Linear) and id(m) not in added]
    targets = []
    for path in relative:  # the shortest dotted suffix that names this linear and no other in the layer
        parts = path.split(".")
        for k in range(1, len(parts) + 1):
            target = ".".join(parts[-k:])
            if [p for p in in_layer if p == target or p.endswith(f".{target}")] == [path]:
                break
        targets.append(target)
    n = num_layers(model)
    layers = None if set(per_layer) == set(range(n)) else tuple(sorted(per_layer))
    return LoRAConfig(r=r, alpha=alpha, dropout=dropout, target_modules=tuple(targets), layers=layers)


def lora_keys(model: PreTrainedModel, name: str, their_key: Callable[[str, str], str]) -> dict[str, str]:
    """{the other library's key: our parameter} for LoRA adapter ``name``'s A and B matrices at every site;
    ``their_key(path, part)`` names the matrix ``part`` ("A" or "B") of the linear at ``path`` in its file."""
    return {their_key(path, part): f"{path}.{LORA_SITE}.adapters.{name}.{part}.weight"
            for path in site_paths(model, name, LoRASite, LORA_SITE) for part in ("A", "B")}


def install_weights(model: PreTrainedModel, name: str, updates: dict[str, torch.Tensor], expected: dict[str, str],
                    saved: dict[str, torch.Tensor], source: Path) -> str:
    """Copy ``saved`` (the file's keys, mapped to ours by ``expected``) and ``updates`` (already ours) into the model
    once every shape is checked (adapter ``name`` removed again if one is not); returns ``name``."""
    updates.update({expected[k]: v for k, v in saved.items()})
    check_adapter_shapes(model, name, updates, source)
    copy_into(model, updates)
    return name


def check_adapter_shapes(model: PreTrainedModel, name: str, updates: dict[str, torch.Tensor], source: Path) -> None:
    params = dict(model.named_parameters())
    for target, tensor in updates.items():
        if params[target].shape != tensor.shape:
            delete_adapter(model, name)
            raise AdapterLoadError(f"{source}: {target} has shape {tuple(tensor.shape)}, the adapter its config "
                                   f"describes has {tuple(params[target].shape)}")


def adapterhub_head(model: PreTrainedModel, name: str) -> tuple[dict, dict[str, torch.Tensor]] | None:
    """AdapterHub's flex head that computes our task head, or None where it has none that does.

    A sequence classifier (BERT: pooler dense + tanh + classifier on the CLS token; RoBERTa: classifier.dense + tanh
    + classifier.out_proj on <s>) is AdapterHub's 2-layer tanh classification head on the CLS token; a span-QA head
    is its 1-layer question-answering head.
    """
    params = dict(model.named_parameters())
    kind, prefix = type(model).__name__, base_prefix(model)
    label2id = {str(k): int(v) for k, v in (getattr(model.config, "label2id", None) or {}).items()} or None
    if kind.endswith("ForSequenceClassification"):
        if "classifier.out_proj.weight" in params:
            layers = {"1": "classifier.dense", "4": "classifier.out_proj"}
        elif f"{prefix}pooler.dense.weight" in params and "classifier.weight" in params:
            layers = {"1": f"{prefix}pooler.dense", "4": "classifier"}
        else:
            return None
        config = {"head_type": "classification", "num_labels": model.config.num_labels, "layers": 2,
                  "activation_function": "tanh", "label2id": label2id, "use_pooler": False, "bias": True,
                  "dropout_prob": None}
    elif kind.endswith("ForQuestionAnswering") and "qa_outputs.weight" in params:
        layers = {"1": "qa_outputs"}
        config = {"head_type": "question_answering", "num_labels": model.config.num_labels, "layers": 1,
                  "activation_function": None, "label2id": label2id, "dropout_prob": None}
    else:
        return None
    tensors = {f"heads.{name}.{index}.{part}": params[f"{module}.{part}"]
               for index, module in layers.items() for part in ("weight", "bias")}
    return config, tensors
