"""adapterlib: bottleneck adapters (Houlsby et al. 2019), AdapterFusion (Pfeiffer et al. 2021), LoRA (Hu et al.
2021) and (IA)³ (Liu et al. 2022) on transformers.

    import adapterlib as al
    model, tokenizer = al.load_model("minilm-l6", task_format="single", num_labels=2)
    al.add_adapter(model, "sst2", al.AdapterConfig.houlsby(size=64))
    al.set_trainable(model, "adapters", adapter="sst2")
    al.count_parameters(model).trainable_pct
    al.save_adapter(model, "sst2", "out/sst2"); al.load_adapter(fresh_model, "out/sst2")
"""
__version__ = "0.1.0"

from adapterlib.core.architectures import ARCHITECTURES, UnsupportedArchitectureError
from adapterlib.core.config import AdapterConfig
from adapterlib.core.fusion import (
    FusionConfig,
    add_fusion,
    delete_fusion,
    fused_adapters,
    fusion_regularization,
    load_fusion,
    recording_fusion_attention,
    save_fusion,
)
from adapterlib.core.io import AdapterLoadError, load_adapter, read_adapter_config, save_adapter
from adapterlib.core.inject import (
    AdapterError,
    active_adapter,
    adapter_configs,
    adapter_sites,
    adapters_removed,
    add_adapter,
    adapter_config_from_dict,
    delete_adapter,
    set_active_adapter,
)
from adapterlib.core.ia3 import IA3Config, merge_ia3
from adapterlib.core.lora import LoRAConfig
from adapterlib.core.models import ModelNotAvailableError, load_model
from adapterlib.core.params import ParamCount, count_parameters
from adapterlib.core.trainable import REGIMES, set_trainable, trainable_parameter_names

__all__ = [
    "ARCHITECTURES", "AdapterConfig", "LoRAConfig", "IA3Config", "FusionConfig", "add_fusion", "delete_fusion", "fused_adapters",
    "fusion_regularization", "load_fusion", "recording_fusion_attention", "save_fusion", "AdapterError", "AdapterLoadError", "ModelNotAvailableError", "ParamCount",
    "REGIMES", "UnsupportedArchitectureError", "active_adapter", "adapter_configs", "adapter_sites",
    "adapters_removed", "add_adapter", "adapter_config_from_dict", "count_parameters", "delete_adapter", "load_adapter", "load_model",
    "merge_ia3", "read_adapter_config", "save_adapter", "set_active_adapter", "set_trainable",
    "trainable_parameter_names",
]
