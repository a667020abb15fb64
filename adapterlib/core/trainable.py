"""Training regimes: which parameters a run trains. Everything else is frozen.

| regime      | trained                                                        | paper                              |
|-------------|----------------------------------------------------------------|------------------------------------|
| `full`      | every parameter                                                | full fine-tuning                   |
| `adapters`  | the named adapter + the task head (+ every LayerNorm if the    | Houlsby (with LayerNorms);         |
|             | adapter's config says `train_layernorms`, as Houlsby's does),  | AdapterFusion ST-A (without)       |
|             | without a pre-trained pooler                                   |                                    |
| `top_k`     | the top k Transformer layers + the task head                   | Houlsby's variable fine-tuning     |
| `layernorm` | every LayerNorm + the task head                                | Houlsby Fig. 4 "LayerNorm only"    |
| `head`      | the task head                                                  | AdapterFusion Table 1 "Head"       |
| `fusion`    | the fusion layers + the task head (adapters and base frozen)  | AdapterFusion                      |

The task head is every parameter outside the base encoder (e.g. `classifier`, `qa_outputs`) plus the encoder's
pooler when it has one: the pooler only feeds the classifier, and is trained with it in every regime but one. The
`adapters` regime leaves a pre-trained pooler frozen (BERT's, trained by next-sentence prediction), as adapter-bert
does (its trained collections are adapters, layer_norm and the output head): Houlsby-64 on BERT-base then trains
2,419,202 parameters, the paper's 2md + d + m per adapter plus LayerNorms and head, not 3,009,794. A pooler that
was never trained (MiniLM-L6's: sentence-transformers pools by mean, its bias is still all zero) stays in the head
there, as a fresh layer would. ``load_model`` records which one a checkpoint has (``POOLER_PRETRAINED``).
"""
from __future__ import annotations

from torch import nn
from transformers import PreTrainedModel

from adapterlib.core.architectures import insertion_points, transformer_layers
from adapterlib.core.bottleneck import fusion_parameter_names
from adapterlib.core.inject import active_adapter, adapter_configs, adapter_parameter_names
from adapterlib.core.methods import AdapterError, added_parameter_names

REGIMES = ("full", "adapters", "top_k", "layernorm", "head", "fusion")
POOLER_PRETRAINED = "pooler_pretrained"  # model-config flag: the checkpoint's pooler holds trained weights


def base_prefix(model: PreTrainedModel) -> str:
    """Parameter-name prefix of the base encoder inside ``model`` ("" when ``model`` is the base encoder)."""
    return "" if model.base_model is model else f"{model.base_model_prefix}."


def head_parameter_names(model: PreTrainedModel) -> set[str]:
    prefix = base_prefix(model)
    names = {n for n, _ in model.named_parameters()} - added_parameter_names(model)
    return {n for n in names if prefix and not n.startswith(prefix)} | pooler_parameter_names(model)


def pooler_parameter_names(model: PreTrainedModel) -> set[str]:
    """The parameters of the encoder's pooler (empty without one)."""
    prefix = f"{base_prefix(model)}pooler."
    return {n for n, _ in model.named_parameters() if n.startswith(prefix)}


def pooler_has_trained_weights(model: PreTrainedModel) -> bool:
    """Whether the pooler's weights were trained: its bias is not all zero. A freshly initialised pooler (a
    checkpoint without one) and one no training step ever reached (MiniLM-L6's) both keep the zero bias of BERT's
    initialisation; BERT's next-sentence-prediction pooler does not."""
    pooler = pooler_parameter_names(model)
    biases = [p for n, p in model.named_parameters() if n in pooler and n.endswith("bias")]
    return any(bool(b.detach().abs().sum() > 0) for b in biases)


def layernorm_parameter_names(model: PreTrainedModel) -> set[str]:
    prefix = base_prefix(model)
    return {
        f"{prefix}{module_name}.{p}" if module_name else p
        for module_name, module in model.base_model.named_modules()
        if isinstance(module, nn.LayerNorm)
        for p, _ in module.named_parameters(recurse=False)
    }


def top_layer_parameter_names(model: PreTrainedModel, k: int) -> set[str]:
    layers = transformer_layers(model)
    if not isinstance(k, int) or not 1 <= k <= len(layers):
        raise ValueError(f"top_k needs an int k in 1..{len(layers)}, got {k!r}")
    prefix = base_prefix(model) + insertion_points(model).layers
    starts = tuple(f"{prefix}.{i}." for i in range(len(layers) - k, len(layers)))
    return {n for n, _ in model.named_parameters() if n.startswith(starts)} - added_parameter_names(model)


def trainable_parameter_names(
    model: PreTrainedModel, regime: str, *, adapter: str | None = None, k: int | None = None
) -> set[str]:
    """The exact set of parameter names ``regime`` trains."""
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; choose from {', '.join(REGIMES)}")
    if regime == "full":
        return {n for n, _ in model.named_parameters()}
    head = head_parameter_names(model)
    if regime == "head":
        return head
    if regime == "layernorm":
        return head | layernorm_parameter_names(model)
    if regime == "fusion":
        fusion = fusion_parameter_names(model)
        if not fusion:
            raise AdapterError("regime 'fusion' needs a fusion layer: add_fusion(model, [adapters]) first")
        return head | fusion
    if regime == "top_k":
        if k is None:
            raise ValueError("regime 'top_k' needs k")
        return head | top_layer_parameter_names(model, k)
    adapter = adapter or active_adapter(model)
    if adapter is None:
        raise AdapterError("regime 'adapters' needs an adapter name (the model has no single active adapter)")
    if getattr(model.config, POOLER_PRETRAINED, False):
        head -= pooler_parameter_names(model)
    names = head | adapter_parameter_names(model, adapter)
    if adapter_configs(model)[adapter].train_layernorms:
        names |= layernorm_parameter_names(model)
    return names


def set_trainable(
    model: PreTrainedModel, regime: str, *, adapter: str | None = None, k: int | None = None
) -> PreTrainedModel:
    """Freeze everything but what ``regime`` trains (see the table above); returns ``model``."""
    trainable = trainable_parameter_names(model, regime, adapter=adapter, k=k)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name in trainable)
    return model
