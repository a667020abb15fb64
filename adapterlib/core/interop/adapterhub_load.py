"""AdapterHub ``adapters`` 1.3 directories read into our methods: bottleneck adapters, LoRA and the flex head,
or one line saying what our methods cannot express."""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import PreTrainedModel

from adapterlib.core.architectures import insertion_points
from adapterlib.core.bottleneck import SITE_ATTRIBUTE as BOTTLENECK_SITE, AdapterSite
from adapterlib.core.config import NON_LINEARITIES, AdapterConfig
from adapterlib.core.inject import adapter_configs, delete_adapter
from adapterlib.core.io import AdapterLoadError, base_fingerprint
from adapterlib.core.lora import LoRAConfig
from adapterlib.core.trainable import head_parameter_names, layernorm_parameter_names
from adapterlib.core.interop.common import (
    adapterhub_head,
    AH_BOTTLENECK_PARTS,
    AH_HEAD_CONFIG,
    AH_HEAD_WEIGHTS,
    AH_SAFE_HEAD_WEIGHTS,
    AH_SAFE_WEIGHTS,
    AH_WEIGHTS,
    CONFIG_FILE,
    LAYERNORMS_FILE,
    add_matching_adapter,
    checked_updates,
    from_portable,
    install_weights,
    layers_from_leave_out,
    lora_config_for,
    lora_keys,
    num_layers,
    portable,
    read_json,
    read_weights,
    site_paths,
)


def _ah_check_base(model: PreTrainedModel, meta: dict, source: Path) -> None:
    ours = base_fingerprint(model)
    theirs = {"model_type": meta.get("model_type"), "hidden_size": meta.get("hidden_size")}
    diffs = [f"{k}: adapter has {v!r}, model has {ours[k]!r}" for k, v in theirs.items()
             if v is not None and v != ours[k]]
    if diffs:
        raise AdapterLoadError(f"adapter in {source} was trained on a different base model ({'; '.join(diffs)})")


def _check_layer_count(model: PreTrainedModel, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """AdapterHub's config does not record the number of layers: a deeper base shows in the weights' names."""
    layers = re.escape(insertion_points(model).layers)
    found = [int(m.group(1)) for k in tensors for m in [re.search(rf"(?:^|\.){layers}\.(\d+)\.", k)] if m]
    if found and max(found) >= num_layers(model):
        raise AdapterLoadError(f"adapter in {source} was trained on a different base model (it has weights for "
                               f"Transformer layer {max(found)}, the model has {num_layers(model)} layers)")


def _one_reduction_factor(rf: Any, source: Path) -> float:
    if isinstance(rf, dict):
        values = set(rf.values())
        if len(values) != 1:
            raise AdapterLoadError(f"{source}: per-layer reduction factors {rf}: adapterlib sizes an adapter the "
                                   f"same in every layer")
        rf = values.pop()
    if not isinstance(rf, (int, float)) or rf <= 0:
        raise AdapterLoadError(f"{source}: reduction_factor {rf!r} is not a positive number")
    return float(rf)


def _ah_bottleneck_config(model: PreTrainedModel, c: dict, source: Path, layernorms: bool) -> AdapterConfig:
    """Our AdapterConfig for an AdapterHub BnConfig, or a one-line reason why there is none."""
    unsupported = [
        (c.get("is_parallel"), "parallel adapters (is_parallel): adapterlib inserts sequential adapters"),
        (c.get("phm_layer"), "PHM/Compacter layers (phm_layer): adapterlib's adapters are plain linear layers"),
        (c.get("use_gating"), "gated adapters (use_gating): adapterlib's adapters have no gate"),
        (c.get("ln_before") or c.get("ln_after"),
         "an adapter-internal LayerNorm (ln_before/ln_after): adapterlib's adapters have none"),
        (c.get("inv_adapter"), "invertible embedding adapters (inv_adapter): adapterlib inserts none"),
        (c.get("cross_adapter"), "cross-attention adapters (cross_adapter): adapterlib's models are encoders"),
        (not c.get("original_ln_after", True),
         "original_ln_after=False (the adapter replaces the block's Add & Norm): adapterlib keeps it"),
    ]
    for bad, why in unsupported:
        if bad:
            raise AdapterLoadError(f"{source}: AdapterHub adapter with {why}")
    sites = (bool(c.get("mh_adapter")), bool(c.get("output_adapter")), bool(c.get("original_ln_before")))
    if sites == (True, True, False) and c.get("residual_before_ln", True) in (True, False):
        placement = "houlsby"
    elif sites == (False, True, True) and c.get("residual_before_ln", True) is True:
        placement = "pfeiffer"
    else:
        raise AdapterLoadError(
            f"{source}: AdapterHub adapter with mh_adapter={sites[0]}, output_adapter={sites[1]}, original_ln_before="
            f"{sites[2]}, residual_before_ln={c.get('residual_before_ln')!r}: adapterlib's placements are houlsby "
            f"(both sub-layers, reading the sub-layer output) and pfeiffer (feed-forward, reading its Add & Norm)")
    non_linearity = str(c.get("non_linearity", "relu")).lower()
    if non_linearity not in NON_LINEARITIES:
        raise AdapterLoadError(f"{source}: non_linearity {non_linearity!r}: adapterlib's adapters have "
                               f"{', '.join(NON_LINEARITIES)}")
    if not isinstance(c.get("scaling", 1.0), (int, float, str)):
        raise AdapterLoadError(f"{source}: scaling {c.get('scaling')!r} is neither a number nor learned/channel")
    if c.get("dropout") or c.get("stochastic_depth"):
        warnings.warn(f"{source}: the adapter's dropout/stochastic depth act only in training; adapterlib's "
                      f"adapters have none (the forward pass in eval mode is the same)", stacklevel=4)
    rf = _one_reduction_factor(c.get("reduction_factor", 16), source)
    d = model.config.hidden_size
    layers = layers_from_leave_out(model, c.get("leave_out"))
    size = {"size": int(d // rf)} if placement == "houlsby" else {"size": None, "reduction_factor": rf}
    try:
        return AdapterConfig(placement=placement, non_linearity=non_linearity, layers=layers,
                             train_layernorms=layernorms, **size)
    except ValueError as err:
        raise AdapterLoadError(f"{source}: {err}") from err


def _ah_lora_config(model: PreTrainedModel, c: dict, tensors: dict[str, torch.Tensor], name: str,
                    source: Path) -> LoRAConfig:
    unsupported = [
        (c.get("composition_mode", "add") != "add",
         f"composition_mode {c.get('composition_mode')!r} ((IA)³-style scaling): adapterlib reads additive LoRA"),
        (c.get("use_gating"), "gated LoRA (use_gating): adapterlib's LoRA has no gate"),
        (c.get("use_dora"), "DoRA (use_dora): adapterlib's LoRA has no magnitude vector"),
        (c.get("vera_d") is not None or c.get("vera_b") is not None,
         "VeRA (vera_b/vera_d): adapterlib's LoRA trains A and B"),
    ]
    for bad, why in unsupported:
        if bad:
            raise AdapterLoadError(f"{source}: AdapterHub LoRA with {why}")
    marker = f".loras.{name}.lora_A"
    linears = {from_portable(model, k[: -len(marker)]) for k in tensors if k.endswith(marker)}
    if not linears:
        raise AdapterLoadError(f"{source}: no LoRA weights for adapter {name!r}")
    return lora_config_for(model, linears, int(c["r"]), float(c.get("alpha", c["r"])), float(c.get("dropout", 0.0)),
                            source)


_AH_HEAD_DEFAULTS = {"use_pooler": False, "bias": True}


def _ah_head_updates(model: PreTrainedModel, directory: Path, saved_name: str) -> dict[str, torch.Tensor]:
    """Our head parameters from an AdapterHub head (flex or static), checked; {} if the directory has no head."""
    if not (directory / AH_HEAD_CONFIG).is_file():
        return {}
    meta = read_json(directory / AH_HEAD_CONFIG)
    tensors = read_weights(directory, AH_SAFE_HEAD_WEIGHTS, AH_HEAD_WEIGHTS)
    head, params = head_parameter_names(model), dict(model.named_parameters())
    config, head_name = meta.get("config"), meta.get("name") or saved_name
    if config is None:  # a static head (e.g. BertForSequenceClassification's classifier): names as in transformers
        if meta.get("model_class") != type(model).__name__:
            raise AdapterLoadError(f"{directory}: its head is a {meta.get('model_class')}'s, the model is a "
                                   f"{type(model).__name__} (pass load_head=False to load the adapter alone)")
        return checked_updates(model, {from_portable(model, k) if k not in params else k: v
                                        for k, v in tensors.items()}, "head", directory, head)
    ours = adapterhub_head(model, head_name)
    mapped: dict[str, str] | None = None
    if ours is not None and all(config.get(k, _AH_HEAD_DEFAULTS.get(k)) == v for k, v in ours[0].items()
                                if k not in ("label2id", "dropout_prob", "num_labels")):
        names = {id(p): n for n, p in params.items()}
        mapped = {key: names[id(p)] for key, p in ours[1].items()}
    elif (config.get("head_type") == "classification" and config.get("use_pooler") and config.get("layers") == 1
          and not config.get("activation_function") and "classifier.weight" in params):
        # a static BERT classifier converted to a flex head: the encoder's own pooler, then the classifier
        mapped = {f"heads.{head_name}.1.{p}": f"classifier.{p}" for p in ("weight", "bias")}
    if mapped is None:
        fields = ("head_type", "layers", "activation_function", "use_pooler")
        shape = ", ".join(f"{k}={config.get(k)!r}" for k in fields)
        raise AdapterLoadError(f"{directory}: AdapterHub head ({shape}) computes no head of a {type(model).__name__} "
                               f"(pass load_head=False to load the adapter alone)")
    unknown = sorted(set(tensors) - set(mapped))
    if unknown or set(tensors) != set(mapped):
        raise AdapterLoadError(f"{directory}: head weights do not match its head config (unexpected {unknown[:3]}, "
                               f"missing {sorted(set(mapped) - set(tensors))[:3]})")
    return checked_updates(model, {mapped[k]: v for k, v in tensors.items()}, "head", directory, head)


def load_adapterhub(model: PreTrainedModel, directory: str | Path, *, name: str | None = None,
                    load_layernorms: bool = True, load_head: bool = True) -> str:
    """Add the AdapterHub adapter saved in ``directory`` to ``model`` as one of our methods; returns its name.

    DoubleSeqBn (Houlsby) and SeqBn (Pfeiffer) bottleneck adapters and additive LoRA load; anything else fails with
    the AdapterHub option adapterlib cannot express. Its flex or static head loads where it computes our head.
    """
    directory = Path(directory)
    meta = read_json(directory / CONFIG_FILE)
    _ah_check_base(model, meta, directory)
    c, saved_name = meta.get("config"), meta.get("name")
    if not isinstance(c, dict) or not isinstance(saved_name, str):
        raise AdapterLoadError(f"{directory / CONFIG_FILE} has no adapter config/name as AdapterHub writes them")
    name = name or saved_name
    tensors = read_weights(directory, AH_SAFE_WEIGHTS, AH_WEIGHTS)
    _check_layer_count(model, tensors, directory)
    layernorm_file = directory / LAYERNORMS_FILE
    architecture = c.get("architecture") or "bottleneck"
    if architecture == "bottleneck":
        config = _ah_bottleneck_config(model, c, directory, layernorms=layernorm_file.is_file())
    elif architecture == "lora":
        config = _ah_lora_config(model, c, tensors, saved_name, directory)
    else:
        raise AdapterLoadError(f"{directory}: AdapterHub {architecture!r} adapters: adapterlib reads bottleneck "
                               f"adapters and LoRA")
    updates = _ah_head_updates(model, directory, saved_name) if load_head else {}
    if load_layernorms and layernorm_file.is_file():
        try:
            norms = load_file(layernorm_file)
        except (SafetensorError, OSError) as err:
            raise AdapterLoadError(f"cannot read {layernorm_file}: {err}") from err
        updates.update(checked_updates(model, {from_portable(model, k): v for k, v in norms.items()}, "LayerNorm",
                                        directory, layernorm_parameter_names(model)))
    if name in adapter_configs(model):
        raise AdapterLoadError(f"model already has an adapter {name!r}; load it under another name (name=...)")

    if architecture == "bottleneck":
        scaling = {k: v for k, v in tensors.items() if k.endswith(f".adapters.{saved_name}.scaling")}
        saved = {k: v for k, v in tensors.items() if k not in scaling}

        def keys(m: PreTrainedModel) -> dict[str, str]:
            return {f"{portable(m, block)}.adapters.{saved_name}.{theirs}":
                    f"{block}.{BOTTLENECK_SITE}.adapters.{name}.{ours}"
                    for block in site_paths(m, name, AdapterSite, BOTTLENECK_SITE)
                    for ours, theirs in AH_BOTTLENECK_PARTS.items()}

        expected = add_matching_adapter(model, name, config, keys, saved, directory)
        fixed = c.get("scaling", 1.0)
        for key in [k for k in saved if k.endswith(".adapter_up.weight") or k.endswith(".adapter_up.bias")]:
            factor = scaling.get(key.rsplit(".adapter_up.", 1)[0] + ".scaling")
            factor = torch.tensor(float(fixed)) if factor is None and not isinstance(fixed, str) else factor
            if factor is None:
                delete_adapter(model, name)
                raise AdapterLoadError(f"{directory}: scaling {fixed!r} but no learned scaling weight for {key}")
            factor = factor.to(saved[key].dtype)
            saved[key] = saved[key] * (factor.view(-1, 1) if key.endswith("weight") and factor.numel() > 1 else factor)
    else:
        saved = dict(tensors)

        def keys(m: PreTrainedModel) -> dict[str, str]:
            return lora_keys(m, name, lambda path, part: f"{portable(m, path)}.loras.{saved_name}.lora_{part}")

        expected = add_matching_adapter(model, name, config, keys, saved, directory)
    return install_weights(model, name, updates, expected, saved, directory)
