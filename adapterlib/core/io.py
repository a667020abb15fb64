"""Save and load one adapter with what it was trained with: small safetensors + JSON, checked against the base.

A saved adapter directory holds ``adapter_config.json`` (adapter config, base-model fingerprint, which parameter
groups are included) and ``adapter.safetensors`` (the adapter's weights, and the LayerNorm and task-head weights
it was trained with). Names are stored relative to the base encoder, so an adapter saved from a sequence
classification model loads into any task model over the same base.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel

from adapterlib import __version__
from adapterlib.core.architectures import insertion_points
from adapterlib.core.inject import add_adapter, adapter_config_from_dict, adapter_configs, adapter_parameter_names, delete_adapter
from adapterlib.core.methods import AdapterError, method_sites
from adapterlib.core.trainable import base_prefix, head_parameter_names, layernorm_parameter_names

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter.safetensors"
FORMAT_VERSION = 1
_FINGERPRINT_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "vocab_size")


class AdapterLoadError(AdapterError):
    """A saved adapter that is missing, corrupt, or made for another base model."""


def base_fingerprint(model: PreTrainedModel) -> dict:
    """What must match between the model an adapter was trained on and the one it is loaded into."""
    insertion_points(model)  # unsupported architectures fail here, with the list of supported ones
    return {key: getattr(model.config, key, None) for key in _FINGERPRINT_KEYS}


def _to_portable(model: PreTrainedModel, name: str) -> str:
    prefix = base_prefix(model)
    return "base." + name[len(prefix):] if name.startswith(prefix) else name


def _from_portable(model: PreTrainedModel, key: str) -> str:
    return base_prefix(model) + key[len("base."):] if key.startswith("base.") else key


def _saved_keys(model: PreTrainedModel, name: str, saved_name: str) -> dict[str, str]:
    """Portable key under which each parameter of adapter ``name`` was saved by an adapter called ``saved_name``
    -> the parameter's name in ``model``."""
    return {
        _to_portable(model, f"{path}.adapters.{saved_name}.{relative}"): f"{path}.adapters.{name}.{relative}"
        for path, site in method_sites(model) if name in site.adapters
        for relative, _ in site.adapters[name].named_parameters()
    }


def save_adapter(
    model: PreTrainedModel, name: str, directory: str | Path, *, include_head: bool = True, format: str = "adapterlib"
) -> Path:
    """Write adapter ``name`` (+ its LayerNorms if it trains them, + the task head) to ``directory``.

    ``format``: "adapterlib" (this module's format), or a peer library's, so the adapter loads there:
    "adapters" (AdapterHub ``model.load_adapter(dir)``) or "peft" (``PeftModel.from_pretrained(base, dir)``, LoRA);
    see ``interop``.
    """
    if format != "adapterlib":
        from adapterlib.core.interop import save_peer_adapter  # interop imports this module

        return save_peer_adapter(model, name, directory, format=format, include_head=include_head)
    config = adapter_configs(model).get(name)
    if config is None:
        raise AdapterError(f"model has no adapter {name!r}; it has: {sorted(adapter_configs(model)) or 'none'}")
    groups = {"adapter": adapter_parameter_names(model, name)}
    if config.train_layernorms:
        groups["layernorm"] = layernorm_parameter_names(model)
    if include_head:
        groups["head"] = head_parameter_names(model)
    params = dict(model.named_parameters())
    tensors = {
        f"{group}/{_to_portable(model, n)}": params[n].detach().cpu().contiguous()
        for group, names in groups.items()
        for n in sorted(names)
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, directory / WEIGHTS_FILE)
    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "adapter": config.to_dict(),
        "base": base_fingerprint(model),
        "base_name_or_path": getattr(model.config, "_name_or_path", None),
        "groups": sorted(groups),
        "adapterlib_version": __version__,
    }
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return directory


def read_adapter_config(directory: str | Path) -> dict:
    """The JSON metadata of a saved adapter, with a clear error if it is missing or unreadable."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise AdapterLoadError(f"no saved adapter at {directory}: {CONFIG_FILE} is missing")
    try:
        meta = json.loads(path.read_text())
        adapter_config_from_dict(meta["adapter"])
        return meta
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise AdapterLoadError(f"{path} is corrupt or not an adapterlib adapter config: {err}") from err


def load_adapter(
    model: PreTrainedModel,
    directory: str | Path,
    *,
    name: str | None = None,
    load_layernorms: bool = True,
    load_head: bool = True,
) -> str:
    """Add the adapter saved in ``directory`` to ``model`` (as ``name``, default the saved name); returns its name.

    Also restores the LayerNorm and head weights saved with it, unless told not to (e.g. when fusing several
    adapters into a model that has its own head). Raises AdapterLoadError for a base-model mismatch or a
    missing/corrupt file, before the model is changed. A directory written by AdapterHub ``adapters`` or ``peft`` is
    recognised and read into our methods (``interop``), or refused with what we cannot express.
    """
    from adapterlib.core.interop import load_peer_adapter, peer_format  # interop imports this module

    peer = peer_format(directory)
    if peer is not None:
        return load_peer_adapter(model, directory, peer, name=name, load_layernorms=load_layernorms,
                                 load_head=load_head)
    meta = read_adapter_config(directory)
    expected, actual = meta["base"], base_fingerprint(model)
    diffs = [f"{k}: adapter has {expected.get(k)!r}, model has {actual.get(k)!r}" for k in actual if expected.get(k) != actual[k]]
    if diffs:
        raise AdapterLoadError(f"adapter in {directory} was trained on a different base model ({'; '.join(diffs)})")
    weights_path = Path(directory) / WEIGHTS_FILE
    try:
        tensors = load_file(weights_path)
    except (FileNotFoundError, SafetensorError, OSError) as err:
        raise AdapterLoadError(f"cannot read {weights_path}: {err}") from err

    saved_name, name = meta["name"], name or meta["name"]
    wanted = {"layernorm"} if load_layernorms else set()
    wanted |= {"head"} if load_head else set()
    params = dict(model.named_parameters())
    saved_adapter: dict[str, torch.Tensor] = {}
    updates: dict[str, torch.Tensor] = {}
    for key, tensor in tensors.items():
        group, portable = key.split("/", 1)
        if group == "adapter":
            saved_adapter[portable] = tensor
            continue
        if group not in wanted:
            continue
        target = _from_portable(model, portable)
        if target not in params:
            raise AdapterLoadError(f"{weights_path}: {group} parameter {portable} has no counterpart in this model")
        if params[target].shape != tensor.shape:
            raise AdapterLoadError(
                f"{weights_path}: {group} parameter {portable} has shape {tuple(tensor.shape)}, "
                f"model has {tuple(params[target].shape)} (different number of labels?)"
            )
        updates[target] = tensor

    add_adapter(model, name, adapter_config_from_dict(meta["adapter"]))
    expected = _saved_keys(model, name, saved_name)
    if set(expected) != set(saved_adapter):
        missing, stray = sorted(set(expected) - set(saved_adapter))[:3], sorted(set(saved_adapter) - set(expected))[:3]
        delete_adapter(model, name)
        raise AdapterLoadError(f"{weights_path} does not match its config (missing {missing}, unexpected {stray})")
    updates.update({expected[key]: tensor for key, tensor in saved_adapter.items()})
    params = dict(model.named_parameters())
    with torch.no_grad():
        for target, tensor in updates.items():
            params[target].copy_(tensor.to(params[target].dtype))
    return name
