"""Adapters in the peers' file formats, written and read: AdapterHub ``adapters`` 1.3 (``adapterhub_save.py``,
``adapterhub_load.py``) and ``peft`` (``peft.py``), over what they share (``common.py``); this module recognises a
directory and dispatches.

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
from pathlib import Path

from transformers import PreTrainedModel

from adapterlib.core.interop.adapterhub_load import load_adapterhub
from adapterlib.core.interop.adapterhub_save import save_adapterhub, save_adapterhub_fusion
from adapterlib.core.interop.common import ADAPTERHUB, ADAPTERLIB, CONFIG_FILE, FORMATS, LAYERNORMS_FILE, PEFT
from adapterlib.core.interop.peft import load_peft, save_peft
from adapterlib.core.io import AdapterLoadError
from adapterlib.core.methods import AdapterError

__all__ = ["ADAPTERHUB", "ADAPTERLIB", "FORMATS", "LAYERNORMS_FILE", "PEFT", "check_format", "load_adapterhub",
           "load_peer_adapter", "load_peft", "peer_format", "save_adapterhub", "save_adapterhub_fusion",
           "save_peer_adapter", "save_peft"]


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



def save_peer_adapter(model: PreTrainedModel, name: str, directory: str | Path, *, format: str,
                      include_head: bool = True) -> Path:
    """``save_adapter(..., format=...)`` for the peers' formats."""
    if check_format(format) == ADAPTERHUB:
        return save_adapterhub(model, name, directory, include_head=include_head)
    if format == PEFT:
        return save_peft(model, name, directory, include_head=include_head)
    raise AdapterError(f"save_peer_adapter writes {ADAPTERHUB} or {PEFT}, not {format!r}")




def load_peer_adapter(model: PreTrainedModel, directory: str | Path, format: str, *, name: str | None = None,
                      load_layernorms: bool = True, load_head: bool = True) -> str:
    """``load_adapter`` for a directory ``peer_format`` recognised."""
    if format == ADAPTERHUB:
        return load_adapterhub(model, directory, name=name, load_layernorms=load_layernorms, load_head=load_head)
    if format == PEFT:
        return load_peft(model, directory, name=name, load_head=load_head)
    raise AdapterLoadError(f"{directory}: unknown peer format {format!r}")
