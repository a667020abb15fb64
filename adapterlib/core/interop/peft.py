"""peft LoRA directories (``adapter_config.json`` + ``adapter_model.safetensors``), written and read."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path

from safetensors.torch import save_file
from torch import nn
from transformers import PreTrainedModel

from adapterlib.core.inject import adapter_configs
from adapterlib.core.io import AdapterLoadError
from adapterlib.core.lora import SITE_ATTRIBUTE as LORA_SITE, LoRAConfig, LoRASite
from adapterlib.core.methods import AdapterError, method_sites
from adapterlib.core.trainable import base_prefix, head_parameter_names, trainable_parameter_names
from adapterlib.core.interop.common import (
    CONFIG_FILE,
    PEFT_BIN_WEIGHTS,
    PEFT_PREFIX,
    PEFT_WEIGHTS,
    add_matching_adapter,
    checked_updates,
    cpu_tensors,
    install_weights,
    lora_config_for,
    lora_keys,
    read_json,
    read_weights,
    site_paths,
)


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
    sites = site_paths(model, name, LoRASite, LORA_SITE)
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
    save_file(cpu_tensors(tensors), directory / PEFT_WEIGHTS, metadata={"format": "pt"})
    (directory / CONFIG_FILE).write_text(json.dumps(peft_config, indent=2, sort_keys=True) + "\n")
    return directory



def load_peft(model: PreTrainedModel, directory: str | Path, *, name: str | None = None,
              load_head: bool = True) -> str:
    """Add the peft LoRA adapter saved in ``directory`` to ``model`` as our LoRA (default name ``"default"``, as
    peft names it); its ``modules_to_save`` load as the task head. Other peft methods and LoRA options adapterlib
    cannot express fail with one line."""
    directory = Path(directory)
    c = read_json(directory / CONFIG_FILE)
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
    tensors = read_weights(directory, PEFT_WEIGHTS, PEFT_BIN_WEIGHTS)
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
    config = lora_config_for(model, linears, r, alpha, float(c.get("lora_dropout", 0.0)), directory)
    updates = checked_updates(model, {ours(k): v for k, v in other.items()}, "head", directory,
                               head_parameter_names(model)) if load_head else {}
    name = name or "default"
    if name in adapter_configs(model):
        raise AdapterLoadError(f"model already has an adapter {name!r}; load it under another name (name=...)")

    by_ours = {ours(k): k for k in lora}

    def keys(m: PreTrainedModel) -> dict[str, str]:
        return lora_keys(m, name, lambda path, part: by_ours.get(f"{path}.lora_{part}.weight",
                                                                  f"{PEFT_PREFIX}{path}.lora_{part}.weight"))

    expected = add_matching_adapter(model, name, config, keys, lora, directory)
    return install_weights(model, name, updates, expected, lora, directory)
