"""AdapterHub ``adapters`` 1.3 directories written from our adapters: bottleneck adapters, LoRA, AdapterFusion and
the flex prediction head (the layout is in the package docstring)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import PreTrainedModel

from adapterlib.core.bottleneck import SITE_ATTRIBUTE as BOTTLENECK_SITE, AdapterSite
from adapterlib.core.config import AdapterConfig
from adapterlib.core.inject import adapter_configs, adapter_state
from adapterlib.core.lora import SITE_ATTRIBUTE as LORA_SITE, LoRAConfig, LoRASite
from adapterlib.core.methods import AdapterError
from adapterlib.core.trainable import layernorm_parameter_names
from adapterlib.core.interop.common import (
    adapterhub_head,
    AH_BOTTLENECK_PARTS,
    AH_FUSION_CONFIG,
    AH_FUSION_WEIGHTS,
    AH_HEAD_CONFIG,
    AH_HEAD_WEIGHTS,
    AH_VERSION,
    AH_WEIGHTS,
    CONFIG_FILE,
    LAYERNORMS_FILE,
    cpu_tensors,
    layer_of,
    leave_out_list,
    portable,
    site_paths,
)

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
                 "leave_out": leave_out_list(model, config.layers),
                 # AdapterHub's "houlsby" init is ours at the default std (truncated normal, 1e-2, zero biases)
                 "init_weights": "houlsby" if config.init_std == 1e-2 else "bert"}
    tensors = {}
    for block, site in site_paths(model, name, AdapterSite, BOTTLENECK_SITE).items():
        adapter = site.adapters[name]
        for ours, theirs in AH_BOTTLENECK_PARTS.items():
            tensors[f"{portable(model, block)}.adapters.{name}.{theirs}"] = adapter.get_parameter(ours)
    return ah_config, tensors


def _ah_lora(model: PreTrainedModel, name: str, config: LoRAConfig) -> tuple[dict, dict[str, torch.Tensor]]:
    sites = site_paths(model, name, LoRASite, LORA_SITE)
    in_layer = {layer_of(model, path)[1] for path in sites}
    flags = {flag: path for flag, path in _AH_LORA_LINEARS.items() if path in in_layer}
    unknown = sorted(in_layer - set(flags.values()))
    if unknown:
        raise AdapterError(f"AdapterHub's LoRA adapts only {', '.join(_AH_LORA_LINEARS.values())}; this adapter "
                           f"also adapts {', '.join(unknown)}")
    attn = [f for f in ("q", "k", "v") if f in flags]
    ah_config = {**_AH_LORA, "r": config.r, "alpha": config.alpha, "dropout": config.dropout,
                 "selfattn_lora": bool(attn), "attn_matrices": attn or ["q", "v"],
                 "intermediate_lora": "intermediate" in flags, "output_lora": "output" in flags,
                 "leave_out": leave_out_list(model, config.layers)}
    tensors = {}
    for path, site in sites.items():
        lora = site.adapters[name]
        tensors[f"{portable(model, path)}.loras.{name}.lora_A"] = lora.A.weight
        tensors[f"{portable(model, path)}.loras.{name}.lora_B"] = lora.B.weight
    return ah_config, tensors


def _base_layernorms(model: PreTrainedModel) -> dict[str, torch.Tensor]:
    params = dict(model.named_parameters())
    return {portable(model, n): params[n] for n in sorted(layernorm_parameter_names(model))}


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
    head = adapterhub_head(model, name) if include_head else None
    if include_head and head is None:
        warnings.warn(f"{type(model).__name__}: AdapterHub has no flex head that computes this task head; the "
                      f"adapter is written without it", stacklevel=3)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(_ah_meta(model, name, ah_config, model_class), indent=2,
                                                    sort_keys=True) + "\n")
    torch.save(cpu_tensors(tensors), directory / AH_WEIGHTS)
    if head is not None:
        head_config, head_tensors = head
        (directory / AH_HEAD_CONFIG).write_text(json.dumps(_ah_meta(model, name, head_config, model_class),
                                                           indent=2, sort_keys=True) + "\n")
        torch.save(cpu_tensors(head_tensors), directory / AH_HEAD_WEIGHTS)
    if config.train_layernorms:
        save_file(cpu_tensors(_base_layernorms(model)), directory / LAYERNORMS_FILE,
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
    sites = site_paths(model, names[0], AdapterSite, BOTTLENECK_SITE)
    for site, layer in fusion_layers(model):
        block = next(path for path, s in sites.items() if s is site)
        key = f"{portable(model, block)}.adapter_fusion_layer.{fusion_name}"
        value = layer.value.weight.detach().double()
        try:
            if torch.linalg.cond(value) > 1e6:
                raise torch.linalg.LinAlgError("ill-conditioned")
            shift = torch.linalg.solve(value, layer.value.bias.detach().double())
        except torch.linalg.LinAlgError as err:
            raise AdapterError(f"fusion value matrix at {block} is (nearly) singular ({err}): its bias cannot be "
                               f"folded into AdapterHub's bias-free value layer") from err
        for a in names:
            bias_key = f"{portable(model, block)}.adapters.{a}.adapter_up.bias"
            adapters[a][1][bias_key] = adapters[a][1][bias_key].detach() + shift.to(layer.value.bias.dtype)
        for part in ("query.weight", "query.bias", "key.weight", "key.bias", "value.weight"):
            fusion_tensors[f"{key}.{part}"] = layer.get_parameter(part)
    directory = Path(directory)
    for a, (ah_config, tensors) in adapters.items():
        target = directory / a
        target.mkdir(parents=True, exist_ok=True)
        (target / CONFIG_FILE).write_text(json.dumps(_ah_meta(model, a, ah_config, model_class), indent=2,
                                                     sort_keys=True) + "\n")
        torch.save(cpu_tensors(tensors), target / AH_WEIGHTS)
    target = directory / "fusion"
    target.mkdir(parents=True, exist_ok=True)
    meta = {**_ah_meta(model, fusion_name, {**_AH_FUSION, "regularization": fusion_config.regularization > 0},
                       model_class), "adapter_names": list(names)}
    (target / AH_FUSION_CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    torch.save(cpu_tensors(fusion_tensors), target / AH_FUSION_WEIGHTS)
    head = adapterhub_head(model, fusion_name) if include_head else None
    if head is not None:
        (target / AH_HEAD_CONFIG).write_text(json.dumps(_ah_meta(model, fusion_name, head[0], model_class), indent=2,
                                                        sort_keys=True) + "\n")
        torch.save(cpu_tensors(head[1]), target / AH_HEAD_WEIGHTS)
    return directory
