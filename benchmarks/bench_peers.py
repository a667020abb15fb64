"""The peer worker: AdapterHub `adapters`, `peft` and the plain transformers 4.57.6 model, in benchmarks/.venv-peers.

    benchmarks/.venv-peers/bin/python benchmarks/bench_peers.py    # started and driven by bench.py

`adapters` 1.3.0 pins transformers ~=4.57.6, which clashes with our transformers 5.x, hence a separate venv and
process. It never imports adapterlib. Configuration names: ``full`` / ``bare`` (the plain model, this worker's
baseline), ``adapters/<ours>`` and ``peft/lora_qv64``. How each one matches ours (bench.py builds ours):

- every model: the same weights (MiniLM file / random BERT-base, seed 0), SDPA attention, batch and AdamW.
- ``adapters/houlsby64`` = DoubleSeqBnConfig(reduction_factor=d/64, non_linearity="gelu"): bottleneck 64 after
  both sub-layers, GELU as ours (its default is swish). After train_adapter() every base LayerNorm and the pooler are
  unfrozen: ours trains them in Houlsby's regime (the peer freezes them by default).
- ``adapters/pfeiffer16`` = SeqBnConfig(reduction_factor=16): ReLU, after the feed-forward block; pooler unfrozen.
- ``adapters/fusionN`` = N SeqBn adapters, Fuse(...) with the default dynamic fusion (Q, K, V; V regularized to
  the identity; its V has no bias, ours has one), train_adapter_fusion() + pooler unfrozen; its V-regularization is
  added to the loss as ours is.
- ``peft/lora_qv64`` = LoRA r=64 on query and value (589,824 parameters on MiniLM vs 595,200 for Houlsby-64),
  classifier trained (task SEQ_CLS), LayerNorms and pooler unfrozen as in Houlsby's regime.
"""
from __future__ import annotations

import os
import sys

from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def unfreeze(model, layernorms: bool) -> None:
    """Train the pooler (ours trains it with the classifier) and, for Houlsby's regime, every LayerNorm."""
    for name, module in model.named_modules():
        if name.endswith("pooler") or (layernorms and isinstance(module, nn.LayerNorm)):
            module.requires_grad_(True)


def build_adapters(model, config: str, d: int):
    import adapters
    from adapters import DoubleSeqBnConfig, Fuse, SeqBnConfig

    adapters.init(model)
    if config == "houlsby64":
        model.add_adapter("a", DoubleSeqBnConfig(reduction_factor=d / 64, non_linearity="gelu"), set_active=True)
    elif config == "pfeiffer16":
        model.add_adapter("a", SeqBnConfig(reduction_factor=16), set_active=True)
    elif config.startswith("fusion"):
        names = [f"f{i}" for i in range(int(config.removeprefix("fusion")))]
        for name in names:
            model.add_adapter(name, SeqBnConfig(reduction_factor=16))
        model.add_adapter_fusion(Fuse(*names), set_active=True)
        model.train_adapter_fusion(Fuse(*names))
        unfreeze(model, layernorms=False)
        return model, model.base_model.get_fusion_regularization_loss
    else:
        raise ValueError(f"adapters: no configuration {config!r}")
    model.train_adapter("a")
    unfreeze(model, layernorms=config == "houlsby64")
    return model, None


def build_peft(model, config: str):
    from peft import LoraConfig, TaskType, get_peft_model

    if config != "lora_qv64":
        raise ValueError(f"peft: no configuration {config!r}")
    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=64, lora_alpha=64, lora_dropout=0.0,
                      target_modules=["query", "value"])
    model = get_peft_model(model, lora)
    unfreeze(model, layernorms=True)
    return model


def build(bases: C.BaseModels, model_name: str, config: str, batch: int, seq_len: int, mode: str):
    model = bases.get(model_name)  # frozen as for training in both modes, so trainable_params compare
    library, _, name = config.rpartition("/")
    loss_extra = None
    if library == "adapters":
        model, loss_extra = build_adapters(model, name, model.config.hidden_size)
        if not model.active_adapters:
            raise RuntimeError(f"adapters: {config} has no active adapter")
    elif library == "peft":
        model = build_peft(model, name)
    elif config not in ("full", "bare"):
        raise ValueError(f"peers: no configuration {config!r}")
    return C.Setup(model, batch, seq_len, mode, loss_extra), library or "transformers"


def main() -> None:
    import adapters
    import peft
    import torch
    import transformers

    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "adapters": adapters.__version__, "peft": peft.__version__}
    bases = C.BaseModels()
    C.serve(versions, lambda *args: build(bases, *args))


if __name__ == "__main__":
    main()
