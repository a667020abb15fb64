"""Adapters in the peers' file formats: AdapterHub ``adapters`` 1.3 and ``peft``, written and read.

A reproduction's adapter is only useful outside it if the libraries people already use can load it, and adapters
trained with those libraries can be compared here only if we can load theirs. Each direction keeps the forward pass:
an adapter written here computes the same logits in the peer library (to float rounding), and one read from a peer
computes the same logits here. What a format cannot express fails with one line that says what and why, before
anything is written or the model is changed.

AdapterHub ``adapters`` (``model.load_adapter(dir)`` on an ``AutoAdapterModel``)::

    adapter_config.json      {"config": {...BnConfig or LoRAConfig fields...}, "name", "model_type", "hidden_size",
                              "model_class", "model_name", "version": "adapters.1.3.0"}
    pytorch_adapter.bin      torch state dict, e.g. bert.encoder.layer.0.output.adapters.NAME.adapter_down.0.weight
    head_config.json         flex prediction head ("classification": 2 layers, tanh, CLS token = pooler + classifier)
    pytorch_model_head.bin   heads.NAME.1.weight ... heads.NAME.4.bias
    base_layernorms.safetensors   ours only, when the adapter was trained with the base LayerNorms (Houlsby's
                              regime): AdapterHub keeps base-model weights out of an adapter, so they travel beside it

Houlsby's placement is AdapterHub's DoubleSeqBnConfig (adapter after both sub-layers, reading the sub-layer output,
before the residual add and LayerNorm); Pfeiffer's is SeqBnConfig (one adapter reading the feed-forward Add & Norm,
its update added before that Add & Norm again). Sizes are written as reduction factors d / m.

``peft`` (``PeftModel.from_pretrained(base, dir)``): ``adapter_config.json`` (a LoraConfig) and
``adapter_model.safetensors`` with ``base_model.model.<linear path>.lora_A.weight`` / ``.lora_B.weight`` and the
task head as ``modules_to_save`` (``base_model.model.classifier.weight``...).

AdapterFusion goes to AdapterHub's fusion format (``save_adapterhub_fusion``): its value matrix has no bias, ours
has one, so the bias b_V is folded into the fused adapters' up-projection biases (c = V^-1 b_V at every site: the
scores are unchanged because a shift shared by all adapters' outputs cancels in the softmax, and the fused sum gains
V c = b_V). The exported adapters are therefore the fusion's own copies, not the stand-alone adapters.
"""
from __future__ import annotations

import json
import math
import pickle
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedModel

from adapterlib.core.architectures import insertion_points, transformer_layers
from adapterlib.core.bottleneck import SITE_ATTRIBUTE as BOTTLENECK_SITE, AdapterSite
from adapterlib.core.config import NON_LINEARITIES, AdapterConfig
from adapterlib.core.inject import add_adapter, adapter_configs, adapter_state, delete_adapter
from adapterlib.core.io import AdapterLoadError, base_fingerprint
from adapterlib.core.lora import SITE_ATTRIBUTE as LORA_SITE, LoRAConfig, LoRASite
from adapterlib.core.methods import AdapterError, method_sites
from adapterlib.core.trainable import (
    base_prefix,
    head_parameter_names,
    layernorm_parameter_names,
    trainable_parameter_names,
)

ADAPTERLIB, ADAPTERHUB, PEFT = "adapterlib", "adapters", "peft"
FORMATS = (ADAPTERLIB, ADAPTERHUB, PEFT)

CONFIG_FILE = "adapter_config.json"  # the same name in all three formats: the content tells them apart
AH_WEIGHTS, AH_SAFE_WEIGHTS = "pytorch_adapter.bin", "adapter.safetensors"
AH_HEAD_CONFIG, AH_HEAD_WEIGHTS = "head_config.json", "pytorch_model_head.bin"
AH_SAFE_HEAD_WEIGHTS = "model_head.safetensors"
AH_FUSION_CONFIG, AH_FUSION_WEIGHTS = "adapter_fusion_config.json", "pytorch_model_adapter_fusion.bin"
AH_VERSION = "adapters.1.3.0"
LAYERNORMS_FILE = "base_layernorms.safetensors"
PEFT_WEIGHTS, PEFT_BIN_WEIGHTS = "adapter_model.safetensors", "adapter_model.bin"
PEFT_PREFIX = "base_model.model."

# Model families both AdapterHub 1.3 and adapterlib support, with AdapterHub's flex-head model class.
AH_MODEL_CLASSES = {"bert": "BertAdapterModel", "roberta": "RobertaAdapterModel",
                    "xlm-roberta": "XLMRobertaAdapterModel"}

# BnConfig fields as AdapterHub 1.3 writes them for DoubleSeqBnConfig; SeqBnConfig differs in the placement fields.
_AH_BOTTLENECK = {
    "adapter_residual_before_ln": False, "cross_adapter": False, "dropout": 0.0, "factorized_phm_W": True,
    "factorized_phm_rule": False, "hypercomplex_nonlinearity": "glorot-uniform", "init_weights": "bert",
    "init_weights_seed": None, "inv_adapter": None, "inv_adapter_reduction_factor": None, "is_parallel": False,
    "learn_phm": True, "leave_out": [], "ln_after": False, "ln_before": False, "mh_adapter": True,
    "non_linearity": "gelu", "original_ln_after": True, "original_ln_before": False, "output_adapter": True,
    "phm_bias": True, "phm_c_init": "normal", "phm_dim": 4, "phm_init_range": 0.0001, "phm_layer": False,
    "phm_rank": 1, "reduction_factor": 16, "residual_before_ln": True, "scaling": 1.0, "shared_W_phm": False,
    "shared_phm_rule": True, "stochastic_depth": 0.0, "use_gating": False,
}
_AH_LORA = {
    "alpha": 8, "architecture": "lora", "attn_matrices": ["q", "v"], "composition_mode": "add", "dropout": 0.0,
    "dtype": None, "init_weights": "lora", "init_weights_seed": None, "intermediate_lora": False, "leave_out": [],
    "output_lora": False, "r": 8, "selfattn_lora": True, "use_dora": False, "use_gating": False, "vera_b": None,
    "vera_d": None,
}
# Where AdapterHub puts LoRA inside a BERT-like layer: its config flag -> our layer-relative linear path.
_AH_LORA_LINEARS = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                    "intermediate": "intermediate.dense", "output": "output.dense"}
_AH_FUSION = {"dropout_prob": None, "key": True, "query": True, "query_before_ln": False, "regularization": True,
              "residual_before": False, "temperature": False, "value": True, "value_before_softmax": True,
              "value_initialized": True}
_BOTTLENECK_PARTS = {"down.weight": "adapter_down.0.weight", "down.bias": "adapter_down.0.bias",
                     "up.weight": "adapter_up.weight", "up.bias": "adapter_up.bias"}


# ---------------------------------------------------------------------------------------------------------------
# Recognising a directory


def peer_format(directory: str | Path) -> str | None:
    """``"adapters"`` or ``"peft"`` if ``directory`` holds an adapter saved by that library, else None.

    All three formats name their config ``adapter_config.json``; ours carries ``format_version``, peft's
    ``peft_type``, AdapterHub's a ``config`` dict beside ``version``/``model_class``. An unreadable file is left to
    our own reader, which reports it.
    """
    try:
        meta = json.loads((Path(directory) / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or "format_version" in meta:
        return None
    if "peft_type" in meta:
        return PEFT
    if isinstance(meta.get("config"), dict) and any(k in meta for k in ("version", "model_class", "hidden_size")):
        return ADAPTERHUB
    return None


def check_format(format: str) -> str:
    if format not in FORMATS:
        raise AdapterError(f"unknown adapter format {format!r}; choose from {', '.join(FORMATS)}")
    return format


# ---------------------------------------------------------------------------------------------------------------
# Shared helpers


def _portable(model: PreTrainedModel, full_name: str) -> str:
    """A name inside the base encoder as the peers write it: with the base-model prefix (``bert.``) even when
    ``model`` is the bare encoder, so a file fits both a task model and the peers' adapter models."""
    prefix = base_prefix(model)
    if not full_name.startswith(prefix):
        raise AdapterError(f"{full_name} is not inside the base encoder")
    return f"{model.base_model_prefix}.{full_name[len(prefix):]}"


def _from_portable(model: PreTrainedModel, key: str) -> str:
    """The inverse of ``_portable``; also accepts names written from a bare encoder (no ``bert.`` prefix)."""
    head = f"{model.base_model_prefix}."
    return base_prefix(model) + (key[len(head):] if key.startswith(head) else key)


def _site_paths(model: PreTrainedModel, name: str, site_type: type, attribute: str) -> dict[str, Any]:
    """Full path of the module a method site sits on (the Add & Norm block, the linear layer) -> the site, for the
    sites of ``site_type`` that carry adapter ``name``."""
    return {path[: -len(attribute) - 1]: site for path, site in method_sites(model)
            if isinstance(site, site_type) and name in site.adapters}


def _layer_of(model: PreTrainedModel, full_path: str) -> tuple[int, str] | None:
    """(Transformer layer index, path inside that layer) of a module path, or None outside the layers."""
    prefix = f"{base_prefix(model)}{insertion_points(model).layers}."
    if not full_path.startswith(prefix):
        return None
    index, _, rest = full_path[len(prefix):].partition(".")
    return (int(index), rest) if index.isdigit() and rest else None


def _num_layers(model: PreTrainedModel) -> int:
    return len(transformer_layers(model))


def _leave_out(model: PreTrainedModel, layers: tuple[int, ...] | None) -> list[int]:
    return [] if layers is None else [i for i in range(_num_layers(model)) if i not in layers]


def _layers_from_leave_out(model: PreTrainedModel, leave_out: Iterable[int] | None) -> tuple[int, ...] | None:
    left = {int(i) for i in leave_out or ()}
    kept = tuple(i for i in range(_num_layers(model)) if i not in left)
    if not kept:
        raise AdapterLoadError(f"leave_out {sorted(left)} leaves the adapter in no layer of this model")
    return None if not left else kept


def _tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}


def _read_json(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise AdapterLoadError(f"cannot read {path}: {err}") from err
    if not isinstance(meta, dict):
        raise AdapterLoadError(f"{path} is not a JSON object")
    return meta


def _read_weights(directory: Path, safe_name: str, bin_name: str) -> dict[str, torch.Tensor]:
    """A peer's weights file: safetensors if present, else the torch pickle (read with ``weights_only``)."""
    safe, pickled = directory / safe_name, directory / bin_name
    try:
        if safe.is_file():
            return load_file(safe)
        return torch.load(pickled, map_location="cpu", weights_only=True)
    except (SafetensorError, OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise AdapterLoadError(f"cannot read the weights in {directory} ({safe_name} or {bin_name}): {err}") from err


def _copy_into(model: PreTrainedModel, updates: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for target, tensor in updates.items():
            params[target].copy_(tensor.to(params[target].dtype))


def _checked_updates(model: PreTrainedModel, tensors: dict[str, torch.Tensor], what: str, source: Path,
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


def _added(model: PreTrainedModel, name: str, config: Any, expected_keys, saved: dict[str, torch.Tensor],
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


# ---------------------------------------------------------------------------------------------------------------
# Writing: AdapterHub `adapters`


def _require_adapterhub_model(model: PreTrainedModel) -> str:
    model_type = model.config.model_type
    if model_type not in AH_MODEL_CLASSES:
        raise AdapterError(f"AdapterHub `adapters` 1.3 has no {model_type!r} models (it and adapterlib share "
                           f"{', '.join(sorted(AH_MODEL_CLASSES))})")
    return AH_MODEL_CLASSES[model_type]


def _reduction_factor(hidden_size: int, m: int) -> float:
    """A reduction factor rf with int(d // rf) == m, as AdapterHub sizes its bottleneck: d / m, or d / (m + 0.5)
    where floating point rounds d // (d / m) down to m - 1."""
    for rf in (hidden_size / m, hidden_size / (m + 0.5)):
        if int(hidden_size // rf) == m:
            return rf
    raise AdapterError(f"no AdapterHub reduction factor gives a bottleneck of {m} for hidden size {hidden_size}")


def _ah_meta(model: PreTrainedModel, name: str, config: dict | None, model_class: str) -> dict:
    return {"config": config, "hidden_size": model.config.hidden_size, "model_class": model_class,
            "model_name": getattr(model.config, "_name_or_path", None) or None, "model_type": model.config.model_type,
            "name": name, "version": AH_VERSION}


def _ah_bottleneck(model: PreTrainedModel, name: str, config: AdapterConfig) -> tuple[dict, dict[str, torch.Tensor]]:
    d = model.config.hidden_size
    m = config.bottleneck(d)
    if config.placement == "houlsby":
        placement = {"mh_adapter": True, "output_adapter": True, "original_ln_before": False}
    else:
        placement = {"mh_adapter": False, "output_adapter": True, "original_ln_before": True}
    rf = config.reduction_factor if config.reduction_factor is not None and int(d // config.reduction_factor) == m \
        else _reduction_factor(d, m)
    ah_config = {**_AH_BOTTLENECK, **placement, "non_linearity": config.non_linearity, "reduction_factor": rf,
                 "leave_out": _leave_out(model, config.layers),
                 # AdapterHub's "houlsby" init is ours at the default std (truncated normal, 1e-2, zero biases)
                 "init_weights": "houlsby" if config.init_std == 1e-2 else "bert"}
    tensors = {}
    for block, site in _site_paths(model, name, AdapterSite, BOTTLENECK_SITE).items():
        adapter = site.adapters[name]
        for ours, theirs in _BOTTLENECK_PARTS.items():
            tensors[f"{_portable(model, block)}.adapters.{name}.{theirs}"] = adapter.get_parameter(ours)
    return ah_config, tensors


def _ah_lora(model: PreTrainedModel, name: str, config: LoRAConfig) -> tuple[dict, dict[str, torch.Tensor]]:
    sites = _site_paths(model, name, LoRASite, LORA_SITE)
    in_layer = {_layer_of(model, path)[1] for path in sites}
    flags = {flag: path for flag, path in _AH_LORA_LINEARS.items() if path in in_layer}
    unknown = sorted(in_layer - set(flags.values()))
    if unknown:
        raise AdapterError(f"AdapterHub's LoRA adapts only {', '.join(_AH_LORA_LINEARS.values())}; this adapter "
                           f"also adapts {', '.join(unknown)}")
    attn = [f for f in ("q", "k", "v") if f in flags]
    ah_config = {**_AH_LORA, "r": config.r, "alpha": config.alpha, "dropout": config.dropout,
                 "selfattn_lora": bool(attn), "attn_matrices": attn or ["q", "v"],
                 "intermediate_lora": "intermediate" in flags, "output_lora": "output" in flags,
                 "leave_out": _leave_out(model, config.layers)}
    tensors = {}
    for path, site in sites.items():
        lora = site.adapters[name]
        tensors[f"{_portable(model, path)}.loras.{name}.lora_A"] = lora.A.weight
        tensors[f"{_portable(model, path)}.loras.{name}.lora_B"] = lora.B.weight
    return ah_config, tensors


def _ah_head(model: PreTrainedModel, name: str) -> tuple[dict, dict[str, torch.Tensor]] | None:
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


def _base_layernorms(model: PreTrainedModel) -> dict[str, torch.Tensor]:
    params = dict(model.named_parameters())
    return {_portable(model, n): params[n] for n in sorted(layernorm_parameter_names(model))}


def save_adapterhub(model: PreTrainedModel, name: str, directory: str | Path, *, include_head: bool = True) -> Path:
    """Write adapter ``name`` as AdapterHub ``adapters`` 1.3 saves one (``model.load_adapter(directory)`` loads it).

    Bottleneck adapters become DoubleSeqBnConfig (Houlsby) or SeqBnConfig (Pfeiffer) adapters, LoRA its LoRAConfig.
    With ``include_head`` the task head goes in as AdapterHub's flex head where one computes it (load it into an
    ``AutoAdapterModel``); if the adapter trains the base LayerNorms (Houlsby), those go to ``base_layernorms.
    safetensors``, which the loading code must apply itself (AdapterHub stores no base weights with an adapter).
    """
    config = adapter_configs(model).get(name)
    if config is None:
        raise AdapterError(f"model has no adapter {name!r}; it has: {sorted(adapter_configs(model)) or 'none'}")
    model_class = _require_adapterhub_model(model)
    if isinstance(config, AdapterConfig):
        ah_config, tensors = _ah_bottleneck(model, name, config)
    elif isinstance(config, LoRAConfig):
        ah_config, tensors = _ah_lora(model, name, config)
    else:
        raise AdapterError(f"{type(config).__name__} adapters have no AdapterHub export here (bottleneck and LoRA do)")
    head = _ah_head(model, name) if include_head else None
    if include_head and head is None:
        warnings.warn(f"{type(model).__name__}: AdapterHub has no flex head that computes this task head; the "
                      f"adapter is written without it", stacklevel=3)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(_ah_meta(model, name, ah_config, model_class), indent=2,
                                                    sort_keys=True) + "\n")
    torch.save(_tensors(tensors), directory / AH_WEIGHTS)
    if head is not None:
        head_config, head_tensors = head
        (directory / AH_HEAD_CONFIG).write_text(json.dumps(_ah_meta(model, name, head_config, model_class),
                                                           indent=2, sort_keys=True) + "\n")
        torch.save(_tensors(head_tensors), directory / AH_HEAD_WEIGHTS)
    if config.train_layernorms:
        save_file(_tensors(_base_layernorms(model)), directory / LAYERNORMS_FILE,
                  metadata={"what": "adapterlib: the base model's LayerNorms the adapter was trained with"})
    return directory


def save_adapterhub_fusion(model: PreTrainedModel, directory: str | Path, *, include_head: bool = True) -> Path:
    """Write the model's AdapterFusion in AdapterHub's layout: ``<dir>/<adapter>/`` for each fused adapter and
    ``<dir>/fusion/`` (``adapter_fusion_config.json``, ``pytorch_model_adapter_fusion.bin``, and the task head).

    Load with ``model.load_adapter(f"{dir}/{a}")`` for each adapter, then ``model.load_adapter_fusion(f"{dir}/fusion",
    set_active=True)``. AdapterHub's value matrix has no bias: ours is folded into the fused adapters' up biases (see
    the module docstring), so those copies belong to this fusion.
    """
    from adapterlib.core.fusion import fusion_layers  # fusion imports io; imported here to keep io -> interop lazy

    entry = adapter_state(model)["fusion"]
    if entry is None:
        raise AdapterError("model has no fusion layer to save")
    names, fusion_config = entry
    model_class = _require_adapterhub_model(model)
    fusion_name = ",".join(names)
    configs = adapter_configs(model)
    adapters = {a: _ah_bottleneck(model, a, configs[a]) for a in names}
    fusion_tensors: dict[str, torch.Tensor] = {}
    sites = _site_paths(model, names[0], AdapterSite, BOTTLENECK_SITE)
    for site, layer in fusion_layers(model):
        block = next(path for path, s in sites.items() if s is site)
        key = f"{_portable(model, block)}.adapter_fusion_layer.{fusion_name}"
        value = layer.value.weight.detach().double()
        try:
            if torch.linalg.cond(value) > 1e6:
                raise torch.linalg.LinAlgError("ill-conditioned")
            shift = torch.linalg.solve(value, layer.value.bias.detach().double())
        except torch.linalg.LinAlgError as err:
            raise AdapterError(f"fusion value matrix at {block} is (nearly) singular ({err}): its bias cannot be "
                               f"folded into AdapterHub's bias-free value layer") from err
        for a in names:
            bias_key = f"{_portable(model, block)}.adapters.{a}.adapter_up.bias"
            adapters[a][1][bias_key] = adapters[a][1][bias_key].detach() + shift.to(layer.value.bias.dtype)
        for part in ("query.weight", "query.bias", "key.weight", "key.bias", "value.weight"):
            fusion_tensors[f"{key}.{part}"] = layer.get_parameter(part)
    directory = Path(directory)
    for a, (ah_config, tensors) in adapters.items():
        target = directory / a
        target.mkdir(parents=True, exist_ok=True)
        (target / CONFIG_FILE).write_text(json.dumps(_ah_meta(model, a, ah_config, model_class), indent=2,
                                                     sort_keys=True) + "\n")
        torch.save(_tensors(tensors), target / AH_WEIGHTS)
    target = directory / "fusion"
    target.mkdir(parents=True, exist_ok=True)
    meta = {**_ah_meta(model, fusion_name, {**_AH_FUSION, "regularization": fusion_config.regularization > 0},
                       model_class), "adapter_names": list(names)}
    (target / AH_FUSION_CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    torch.save(_tensors(fusion_tensors), target / AH_FUSION_WEIGHTS)
    head = _ah_head(model, fusion_name) if include_head else None
    if head is not None:
        (target / AH_HEAD_CONFIG).write_text(json.dumps(_ah_meta(model, fusion_name, head[0], model_class), indent=2,
                                                        sort_keys=True) + "\n")
        torch.save(_tensors(head[1]), target / AH_HEAD_WEIGHTS)
    return directory


# ---------------------------------------------------------------------------------------------------------------
# Writing: peft


def _peft_targets(model: PreTrainedModel, linears: set[str], config: LoRAConfig) -> list[str] | str:
    """peft's ``target_modules`` for exactly ``linears``: our names as a list where peft's suffix match over the
    whole model finds exactly those (and no layer subset is asked for), else a regex of the full paths."""
    ours = {id(m) for _, site in method_sites(model) for m in site.modules()}
    found = {path for path, module in model.named_modules() if isinstance(module, nn.Linear) and id(module) not in ours
             and any(path == t or path.endswith(f".{t}") for t in config.target_modules)}
    if found == linears:
        return list(config.target_modules)
    return "|".join(re.escape(path) for path in sorted(linears))


def _peft_task_type(model: PreTrainedModel) -> str | None:
    kind = type(model).__name__
    for suffix, task_type in (("ForSequenceClassification", "SEQ_CLS"), ("ForQuestionAnswering", "QUESTION_ANS"),
                              ("ForTokenClassification", "TOKEN_CLS")):
        if kind.endswith(suffix):
            return task_type
    return None


def _head_modules(model: PreTrainedModel, names: Iterable[str]) -> list[str]:
    """The smallest set of module paths holding the head parameters ``names``: the encoder's child (``bert.pooler``)
    or the task model's child (``classifier``), as peft's ``modules_to_save`` names them."""
    prefix = base_prefix(model)
    roots = set()
    for name in names:
        inner = name[len(prefix):] if prefix and name.startswith(prefix) else None
        roots.add(prefix + inner.split(".")[0] if inner is not None else name.split(".")[0])
    return sorted(roots)


def save_peft(model: PreTrainedModel, name: str, directory: str | Path, *, include_head: bool = True) -> Path:
    """Write LoRA adapter ``name`` as peft saves one: ``PeftModel.from_pretrained(base, directory)`` loads it.

    The head parameters the ``adapters`` regime trains (classifier, and MiniLM's never pre-trained pooler) go in as
    ``modules_to_save``, so peft trains the same parameters and computes the same logits.
    """
    config = adapter_configs(model).get(name)
    if config is None:
        raise AdapterError(f"model has no adapter {name!r}; it has: {sorted(adapter_configs(model)) or 'none'}")
    if not isinstance(config, LoRAConfig):
        raise AdapterError(f"peft export covers LoRA; {name!r} is a {type(config).__name__} adapter (use "
                           f"format='adapters' for bottleneck adapters)")
    sites = _site_paths(model, name, LoRASite, LORA_SITE)
    tensors = {}
    for path, site in sites.items():
        tensors[f"{PEFT_PREFIX}{path}.lora_A.weight"] = site.adapters[name].A.weight
        tensors[f"{PEFT_PREFIX}{path}.lora_B.weight"] = site.adapters[name].B.weight
    modules_to_save = None
    if include_head:
        head = head_parameter_names(model) & trainable_parameter_names(model, "adapters", adapter=name)
        params = dict(model.named_parameters())
        tensors.update({f"{PEFT_PREFIX}{n}": params[n] for n in sorted(head)})
        modules_to_save = _head_modules(model, head) or None
    alpha = int(config.alpha) if float(config.alpha).is_integer() else config.alpha
    peft_config = {
        "peft_type": "LORA", "task_type": _peft_task_type(model) if include_head else None, "r": config.r,
        "lora_alpha": alpha, "lora_dropout": config.dropout, "target_modules": _peft_targets(model, set(sites), config),
        "modules_to_save": modules_to_save, "bias": "none", "fan_in_fan_out": False, "init_lora_weights": True,
        "inference_mode": True, "use_rslora": False, "use_dora": False, "layers_to_transform": None,
        "layers_pattern": None, "rank_pattern": {}, "alpha_pattern": {},
        "base_model_name_or_path": getattr(model.config, "_name_or_path", None) or None, "revision": None,
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(_tensors(tensors), directory / PEFT_WEIGHTS, metadata={"format": "pt"})
    (directory / CONFIG_FILE).write_text(json.dumps(peft_config, indent=2, sort_keys=True) + "\n")
    return directory


def save_peer_adapter(model: PreTrainedModel, name: str, directory: str | Path, *, format: str,
                      include_head: bool = True) -> Path:
    """``save_adapter(..., format=...)`` for the peers' formats."""
    if check_format(format) == ADAPTERHUB:
        return save_adapterhub(model, name, directory, include_head=include_head)
    if format == PEFT:
        return save_peft(model, name, directory, include_head=include_head)
    raise AdapterError(f"save_peer_adapter writes {ADAPTERHUB} or {PEFT}, not {format!r}")


# ---------------------------------------------------------------------------------------------------------------
# Reading: AdapterHub `adapters`


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
    if found and max(found) >= _num_layers(model):
        raise AdapterLoadError(f"adapter in {source} was trained on a different base model (it has weights for "
                               f"Transformer layer {max(found)}, the model has {_num_layers(model)} layers)")


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
    layers = _layers_from_leave_out(model, c.get("leave_out"))
    size = {"size": int(d // rf)} if placement == "houlsby" else {"size": None, "reduction_factor": rf}
    try:
        return AdapterConfig(placement=placement, non_linearity=non_linearity, layers=layers,
                             train_layernorms=layernorms, **size)
    except ValueError as err:
        raise AdapterLoadError(f"{source}: {err}") from err


def _lora_config_for(model: PreTrainedModel, linears: set[str], r: int, alpha: float, dropout: float,
                     source: Path) -> LoRAConfig:
    """Our LoRAConfig whose targets are exactly ``linears`` (full module paths), or a one-line reason."""
    per_layer: dict[int, set[str]] = {}
    for path in linears:
        where = _layer_of(model, path)
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
    n = _num_layers(model)
    layers = None if set(per_layer) == set(range(n)) else tuple(sorted(per_layer))
    return LoRAConfig(r=r, alpha=alpha, dropout=dropout, target_modules=tuple(targets), layers=layers)


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
    linears = {_from_portable(model, k[: -len(marker)]) for k in tensors if k.endswith(marker)}
    if not linears:
        raise AdapterLoadError(f"{source}: no LoRA weights for adapter {name!r}")
    return _lora_config_for(model, linears, int(c["r"]), float(c.get("alpha", c["r"])), float(c.get("dropout", 0.0)),
                            source)


_AH_HEAD_DEFAULTS = {"use_pooler": False, "bias": True}


def _ah_head_updates(model: PreTrainedModel, directory: Path, saved_name: str) -> dict[str, torch.Tensor]:
    """Our head parameters from an AdapterHub head (flex or static), checked; {} if the directory has no head."""
    if not (directory / AH_HEAD_CONFIG).is_file():
        return {}
    meta = _read_json(directory / AH_HEAD_CONFIG)
    tensors = _read_weights(directory, AH_SAFE_HEAD_WEIGHTS, AH_HEAD_WEIGHTS)
    head, params = head_parameter_names(model), dict(model.named_parameters())
    config, head_name = meta.get("config"), meta.get("name") or saved_name
    if config is None:  # a static head (e.g. BertForSequenceClassification's classifier): names as in transformers
        if meta.get("model_class") != type(model).__name__:
            raise AdapterLoadError(f"{directory}: its head is a {meta.get('model_class')}'s, the model is a "
                                   f"{type(model).__name__} (pass load_head=False to load the adapter alone)")
        return _checked_updates(model, {_from_portable(model, k) if k not in params else k: v
                                        for k, v in tensors.items()}, "head", directory, head)
    ours = _ah_head(model, head_name)
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
    return _checked_updates(model, {mapped[k]: v for k, v in tensors.items()}, "head", directory, head)


def load_adapterhub(model: PreTrainedModel, directory: str | Path, *, name: str | None = None,
                    load_layernorms: bool = True, load_head: bool = True) -> str:
    """Add the AdapterHub adapter saved in ``directory`` to ``model`` as one of our methods; returns its name.

    DoubleSeqBn (Houlsby) and SeqBn (Pfeiffer) bottleneck adapters and additive LoRA load; anything else fails with
    the AdapterHub option adapterlib cannot express. Its flex or static head loads where it computes our head.
    """
    directory = Path(directory)
    meta = _read_json(directory / CONFIG_FILE)
    _ah_check_base(model, meta, directory)
    c, saved_name = meta.get("config"), meta.get("name")
    if not isinstance(c, dict) or not isinstance(saved_name, str):
        raise AdapterLoadError(f"{directory / CONFIG_FILE} has no adapter config/name as AdapterHub writes them")
    name = name or saved_name
    tensors = _read_weights(directory, AH_SAFE_WEIGHTS, AH_WEIGHTS)
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
        updates.update(_checked_updates(model, {_from_portable(model, k): v for k, v in norms.items()}, "LayerNorm",
                                        directory, layernorm_parameter_names(model)))
    if name in adapter_configs(model):
        raise AdapterLoadError(f"model already has an adapter {name!r}; load it under another name (name=...)")

    if architecture == "bottleneck":
        scaling = {k: v for k, v in tensors.items() if k.endswith(f".adapters.{saved_name}.scaling")}
        saved = {k: v for k, v in tensors.items() if k not in scaling}

        def keys(m: PreTrainedModel) -> dict[str, str]:
            return {f"{_portable(m, block)}.adapters.{saved_name}.{theirs}":
                    f"{block}.{BOTTLENECK_SITE}.adapters.{name}.{ours}"
                    for block in _site_paths(m, name, AdapterSite, BOTTLENECK_SITE)
                    for ours, theirs in _BOTTLENECK_PARTS.items()}

        expected = _added(model, name, config, keys, saved, directory)
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
            return {f"{_portable(m, path)}.loras.{saved_name}.lora_{part}":
                    f"{path}.{LORA_SITE}.adapters.{name}.{part}.weight"
                    for path in _site_paths(m, name, LoRASite, LORA_SITE) for part in ("A", "B")}

        expected = _added(model, name, config, keys, saved, directory)
    updates.update({expected[k]: v for k, v in saved.items()})
    _check_adapter_shapes(model, name, updates, directory)
    _copy_into(model, updates)
    return name


def _check_adapter_shapes(model: PreTrainedModel, name: str, updates: dict[str, torch.Tensor], source: Path) -> None:
    params = dict(model.named_parameters())
    for target, tensor in updates.items():
        if params[target].shape != tensor.shape:
            delete_adapter(model, name)
            raise AdapterLoadError(f"{source}: {target} has shape {tuple(tensor.shape)}, the adapter its config "
                                   f"describes has {tuple(params[target].shape)}")


# ---------------------------------------------------------------------------------------------------------------
# Reading: peft


def load_peft(model: PreTrainedModel, directory: str | Path, *, name: str | None = None,
              load_head: bool = True) -> str:
    """Add the peft LoRA adapter saved in ``directory`` to ``model`` as our LoRA (default name ``"default"``, as
    peft names it); its ``modules_to_save`` load as the task head. Other peft methods and LoRA options adapterlib
    cannot express fail with one line."""
    directory = Path(directory)
    c = _read_json(directory / CONFIG_FILE)
    if c.get("peft_type") != "LORA":
        raise AdapterLoadError(f"{directory}: peft {c.get('peft_type')!r} adapters: adapterlib reads peft's LoRA")
    unsupported = [
        (c.get("use_dora"), "DoRA (use_dora): adapterlib's LoRA has no magnitude vector"),
        (c.get("bias", "none") != "none" or c.get("lora_bias"),
         f"trained biases (bias={c.get('bias')!r}, lora_bias={c.get('lora_bias')!r}): adapterlib's LoRA trains A "
         f"and B only"),
        (c.get("rank_pattern") or c.get("alpha_pattern"),
         "per-module ranks or alphas (rank_pattern/alpha_pattern): adapterlib's LoRAConfig has one r and alpha"),
        (c.get("fan_in_fan_out"), "fan_in_fan_out (Conv1D weights): adapterlib adapts nn.Linear layers"),
        (c.get("layer_replication"), "layer_replication: adapterlib does not replicate layers"),
        (c.get("target_parameters"), "target_parameters: adapterlib adapts whole linear layers"),
        (c.get("trainable_token_indices"), "trainable_token_indices: adapterlib trains no embeddings"),
    ]
    for bad, why in unsupported:
        if bad:
            raise AdapterLoadError(f"{directory}: peft LoRA with {why}")
    tensors = _read_weights(directory, PEFT_WEIGHTS, PEFT_BIN_WEIGHTS)
    modules = dict(model.named_modules())
    children = {n for n, _ in model.named_children()}

    def ours(key: str) -> str:
        """A peft key -> our name: drop ``base_model.model.``; a key saved from a bare encoder gains our prefix."""
        key = key[len(PEFT_PREFIX):] if key.startswith(PEFT_PREFIX) else key
        return key if key.split(".")[0] in children else base_prefix(model) + key

    lora = {k: v for k, v in tensors.items() if re.search(r"\.lora_[AB]\.weight$", k)}
    other = {k: v for k, v in tensors.items() if k not in lora}
    stray = [k for k in other if re.search(r"\.lora_|\.lora_embedding_", k)]
    if stray:
        raise AdapterLoadError(f"{directory}: peft LoRA weights {stray[:3]}: adapterlib's LoRA has A and B on linear "
                               f"layers only")
    linears = {ours(k)[: -len(".lora_A.weight")] for k in lora if k.endswith(".lora_A.weight")}
    if not linears:
        raise AdapterLoadError(f"{directory}: no LoRA weights (lora_A) in its adapter file")
    for path in linears:
        if not isinstance(modules.get(path), nn.Linear):
            raise AdapterLoadError(f"{directory}: peft adapts {path}, which is no linear layer of this model")
    r, alpha = int(c.get("r", 8)), float(c.get("lora_alpha", 8))
    if c.get("use_rslora"):  # rank-stabilised: alpha / sqrt(r); ours scales by alpha / r
        alpha *= math.sqrt(r)
    config = _lora_config_for(model, linears, r, alpha, float(c.get("lora_dropout", 0.0)), directory)
    updates = _checked_updates(model, {ours(k): v for k, v in other.items()}, "head", directory,
                               head_parameter_names(model)) if load_head else {}
    name = name or "default"
    if name in adapter_configs(model):
        raise AdapterLoadError(f"model already has an adapter {name!r}; load it under another name (name=...)")

    by_ours = {ours(k): k for k in lora}

    def keys(m: PreTrainedModel) -> dict[str, str]:
        return {by_ours.get(f"{path}.lora_{part}.weight", f"{PEFT_PREFIX}{path}.lora_{part}.weight"):
                f"{path}.{LORA_SITE}.adapters.{name}.{part}.weight"
                for path in _site_paths(m, name, LoRASite, LORA_SITE) for part in ("A", "B")}

    expected = _added(model, name, config, keys, lora, directory)
    updates.update({expected[k]: v for k, v in lora.items()})
    _check_adapter_shapes(model, name, updates, directory)
    _copy_into(model, updates)
    return name


def load_peer_adapter(model: PreTrainedModel, directory: str | Path, format: str, *, name: str | None = None,
                      load_layernorms: bool = True, load_head: bool = True) -> str:
    """``load_adapter`` for a directory ``peer_format`` recognised."""
    if format == ADAPTERHUB:
        return load_adapterhub(model, directory, name=name, load_layernorms=load_layernorms, load_head=load_head)
    if format == PEFT:
        return load_peft(model, directory, name=name, load_head=load_head)
    raise AdapterLoadError(f"{directory}: unknown peer format {format!r}")
