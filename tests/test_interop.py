"""Adapters move between adapterlib and the real peer libraries with the same forward pass (issue 30).

Round trips on the real MiniLM-L6, on a batch with padding, both ways: ours -> AdapterHub `adapters` 1.3 and
AdapterHub -> ours for Houlsby (DoubleSeqBn), Pfeiffer (SeqBn) and LoRA, ours -> peft and peft -> ours for LoRA, and
an AdapterFusion ours -> AdapterHub. Logits agree to 1e-5 and the trainable parameter counts are equal.

peft runs here, in the project environment. AdapterHub needs transformers 4.57, so its side runs as one subprocess
in the peer venv (benchmarks/.venv-peers, built here by benchmarks/peers.sh if absent; `make test` builds it first):
tests/peer_scripts/adapterhub_roundtrip.py loads what we wrote and writes what it saved, with its logits and counts.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch

import adapterlib as al
from adapterlib.core.fusion import fusion_layers
from adapterlib.core.inject import adapter_parameter_names
from adapterlib.core.interop import LAYERNORMS_FILE, peer_format, save_adapterhub_fusion
from adapterlib.core.trainable import head_parameter_names, layernorm_parameter_names

ROOT = Path(__file__).resolve().parents[1]
PEERS_VENV = ROOT / "benchmarks" / ".venv-peers"
PEER_SCRIPT = Path(__file__).parent / "peer_scripts" / "adapterhub_roundtrip.py"
ATOL = 1e-5
TEXTS = ["a short one", "a much longer sentence, so that the first one is padded to its length", "mid length, here"]
MAX_DIFFS: dict[str, float] = {}  # printed at the end of each test (pytest -s / -rP shows them)


def _perturb(model, names: set[str], seed: int, scale: float = 0.05) -> None:
    """Stand-in for training: every named parameter moves by random noise (LoRA's B and MiniLM's zero pooler bias
    too), so a weight that fails to travel shows in the logits."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in names:
                p.add_(scale * torch.randn(p.shape, generator=generator))


def _logits(model, batch: dict) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**batch).logits.double()


def _assert_adapter_acts(model, batch: dict, name: str, logits: torch.Tensor) -> None:
    """The adapter really changes the logits (so agreeing logits say the adapter travelled, not just the base)."""
    al.set_active_adapter(model, None)
    bare = _logits(model, batch)
    al.set_active_adapter(model, name)
    assert (bare - logits).abs().max() > 1e-3


def _trainable(model, name: str) -> int:
    al.set_trainable(model, "adapters", adapter=name)
    return al.count_parameters(model).trainable


def _compare(label: str, ours, theirs) -> float:
    ours, theirs = torch.as_tensor(ours, dtype=torch.float64), torch.as_tensor(theirs, dtype=torch.float64)
    diff = (ours - theirs).abs().max().item()
    MAX_DIFFS[label] = diff
    print(f"\n{label}: max |logit difference| = {diff:.2e}")
    assert diff <= ATOL, f"{label}: logits differ by {diff:.2e} > {ATOL}"
    return diff


@pytest.fixture(scope="module")
def batch(minilm):
    _, tokenizer = minilm()
    encoded = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert (encoded["attention_mask"] == 0).any()  # padding is in the batch
    return dict(encoded)


def _peer_python() -> Path:
    """The peer venv's python, built by benchmarks/peers.sh if it is not there (a fresh clone outside `make test`)."""
    if not (PEERS_VENV / ".installed").is_file():
        built = subprocess.run(["bash", str(ROOT / "benchmarks" / "peers.sh")], capture_output=True, text=True)
        if built.returncode != 0:
            pytest.fail(f"cannot build the peer venv with benchmarks/peers.sh: {built.stderr.strip()[-1500:]}")
    return PEERS_VENV / "bin" / "python"


@pytest.fixture(scope="module")
def store_exports(tmp_path_factory) -> dict[str, dict]:
    """Finished runs of a run store (2 real MiniLM layers, 48 examples, one epoch): Houlsby, LoRA, and a fusion of
    two Houlsby runs, each exported by `adapterlib export`: per export, the loading code it printed and the run's
    trained model."""
    from adapterlib.cli import main
    from adapterlib.runner.settings import RunConfig
    from adapterlib.runner.store import RunStore

    root = tmp_path_factory.mktemp("store")
    store = RunStore(root / "cpu")
    common = dict(task="rt_polarity", regime="adapters", lr=1e-3, model_kwargs={"num_hidden_layers": 2},
                  max_train=48, max_eval=24, epochs=1, batch_size=16, max_length=64)
    houlsby = RunConfig(adapter=al.AdapterConfig.houlsby(16), **common)
    other = RunConfig(adapter=al.AdapterConfig.houlsby(16), **{**common, "task": "rt_subjectivity"})
    runs = {"adapters": houlsby, "peft": RunConfig(adapter=al.LoRAConfig(r=8, alpha=16), **common),
            "fusion": RunConfig(**{**common, "regime": "fusion", "lr": 5e-3},
                                fusion=(houlsby.run_id, other.run_id))}
    store.run(other, progress=False)
    exported = {}
    for key, cfg in runs.items():
        assert store.run(cfg, progress=False).status == "ok"
        format = "peft" if key == "peft" else "adapters"
        printed = io.StringIO()
        with redirect_stdout(printed):
            assert main(["export", cfg.run_id, "--format", format, str(root / key), "--runs-dir", str(root),
                         "--profile", "cpu"]) == 0
        code = printed.getvalue().split(f"# load it with {format}:\n", 1)[1]
        model, _ = store.load_trained(cfg.run_id, device="cpu")
        exported[key] = {"code": code, "model": model, "dir": root / key, "run_id": cfg.run_id, "store": store}
    return exported


@pytest.fixture(scope="module")
def adapterhub(minilm, batch, store_exports, tmp_path_factory):
    """Everything AdapterHub does in one peer-venv process: load our exports (also by running the code
    `adapterlib export` printed), make its own adapters.

    Returns (ours, theirs, directories): our logits and trainable counts per case, the peer's, and where each
    directory is."""
    root = tmp_path_factory.mktemp("adapterhub")
    ours, dirs = {}, {}
    load = {"export": {"code": store_exports["adapters"]["code"]},
            "export_fusion": {"code": store_exports["fusion"]["code"]}}
    cases = {"houlsby": al.AdapterConfig.houlsby(64), "pfeiffer": al.AdapterConfig.pfeiffer(16),
             "lora": al.LoRAConfig(r=8, alpha=16, target_modules=("query", "value", "intermediate.dense"))}
    for seed, (case, config) in enumerate(cases.items()):
        model, _ = minilm(num_labels=2)
        al.add_adapter(model, "task", config)
        trained = adapter_parameter_names(model, "task") | head_parameter_names(model)
        if config.train_layernorms:
            trained |= layernorm_parameter_names(model)
        _perturb(model, trained, seed)
        ours[f"to_{case}"] = {"logits": _logits(model, batch), "trainable": _trainable(model, "task")}
        _assert_adapter_acts(model, batch, "task", ours[f"to_{case}"]["logits"])
        dirs[f"to_{case}"] = al.save_adapter(model, "task", root / f"ours_{case}", format="adapters")
        load[f"to_{case}"] = {"dir": str(dirs[f"to_{case}"])}

    model, _ = minilm(num_labels=2)
    for index, name in enumerate(("rte", "sst2")):
        al.add_adapter(model, name, al.AdapterConfig.pfeiffer(16))
        _perturb(model, adapter_parameter_names(model, name), 10 + index)
    al.add_fusion(model, ["rte", "sst2"])
    fusion = {n for n, _ in model.named_parameters() if ".fusion." in n}
    value = {n for n in fusion if n.endswith("value.weight")}  # kept near the identity, as its L2 penalty keeps it
    _perturb(model, fusion - value | head_parameter_names(model), 12, scale=0.1)  # V's bias too: AdapterHub has none
    _perturb(model, value, 13, scale=0.01)
    al.set_trainable(model, "fusion")
    ours["to_fusion"] = {"logits": _logits(model, batch), "trainable": al.count_parameters(model).trainable,
                         "value_biases": sum(layer.value.bias.numel() for _, layer in fusion_layers(model))}
    dirs["to_fusion"] = save_adapterhub_fusion(model, root / "ours_fusion")
    load["to_fusion"] = {"dir": str(dirs["to_fusion"]), "fusion": ["rte", "sst2"]}

    make = {}
    for seed, case in enumerate(cases):
        dirs[f"from_{case}"] = root / f"theirs_{case}"
        make[f"from_{case}"] = {"kind": case, "name": f"ah_{case}", "dir": str(dirs[f"from_{case}"]), "seed": seed}
    spec = {"inputs": {k: v.tolist() for k, v in batch.items()}, "load": load, "make": make,
            "result": str(root / "result.json")}
    (root / "spec.json").write_text(json.dumps(spec))
    run = subprocess.run([str(_peer_python()), str(PEER_SCRIPT), str(root / "spec.json")], capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, f"peer script failed:\n{run.stderr[-4000:]}"
    theirs = json.loads((root / "result.json").read_text())
    assert theirs["_versions"]["adapters"] == "1.3.0"
    return ours, theirs, dirs


@pytest.mark.parametrize("case", ["houlsby", "pfeiffer", "lora"])
def test_ours_load_in_adapterhub_with_the_same_logits_and_trainable_count(adapterhub, case):
    ours, theirs, dirs = adapterhub
    assert peer_format(dirs[f"to_{case}"]) == "adapters"
    assert theirs[f"to_{case}"]["name"] == "task"
    _compare(f"ours -> AdapterHub ({case})", ours[f"to_{case}"]["logits"], theirs[f"to_{case}"]["logits"])
    assert theirs[f"to_{case}"]["trainable"] == ours[f"to_{case}"]["trainable"]
    # Houlsby's LayerNorms travel beside the adapter (AdapterHub keeps no base weights in one); the others have none
    assert (dirs[f"to_{case}"] / LAYERNORMS_FILE).is_file() == (case == "houlsby")


@pytest.mark.parametrize("case", ["houlsby", "pfeiffer", "lora"])
def test_adapterhub_adapters_load_here_with_the_same_logits_and_trainable_count(adapterhub, minilm, batch, case):
    _, theirs, dirs = adapterhub
    model, _ = minilm(num_labels=2)
    name = al.load_adapter(model, dirs[f"from_{case}"])
    assert name == f"ah_{case}"
    config = al.adapter_configs(model)[name]
    expected = {"houlsby": al.AdapterConfig.houlsby(64, train_layernorms=False),
                "pfeiffer": al.AdapterConfig.pfeiffer(16), "lora": al.LoRAConfig(r=8, alpha=16)}[case]
    assert config == expected
    _compare(f"AdapterHub -> ours ({case})", _logits(model, batch), theirs[f"from_{case}"]["logits"])
    _assert_adapter_acts(model, batch, name, _logits(model, batch))
    assert _trainable(model, name) == theirs[f"from_{case}"]["trainable"]


def test_fusion_loads_in_adapterhub_with_the_same_logits(adapterhub):
    """AdapterHub's fusion value layer has no bias: ours is folded into the fused adapters' copies, exactly."""
    ours, theirs, _ = adapterhub
    _compare("ours -> AdapterHub (fusion)", ours["to_fusion"]["logits"], theirs["to_fusion"]["logits"])
    # the same trained set (fusion layers + head) but for our value biases, which AdapterHub's layout has not
    assert ours["to_fusion"]["trainable"] - theirs["to_fusion"]["trainable"] == ours["to_fusion"]["value_biases"]


def test_lora_loads_in_peft_with_the_same_logits_and_trainable_count(minilm, batch, tmp_path):
    peft = pytest.importorskip("peft", reason="peft is in the dev extra: pip install -e '.[dev]'")
    model, _ = minilm(num_labels=2)
    al.add_adapter(model, "task", al.LoRAConfig(r=8, alpha=16))
    _perturb(model, adapter_parameter_names(model, "task") | head_parameter_names(model), 3)
    expected, count = _logits(model, batch), _trainable(model, "task")
    _assert_adapter_acts(model, batch, "task", expected)
    directory = al.save_adapter(model, "task", tmp_path / "peft", format="peft")
    assert sorted(p.name for p in directory.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]

    base, _ = minilm(num_labels=2)
    theirs = peft.PeftModel.from_pretrained(base, str(directory), is_trainable=True)
    _compare("ours -> peft (LoRA)", expected, _logits(theirs, batch))
    assert sum(p.numel() for p in theirs.parameters() if p.requires_grad) == count


def test_peft_lora_loads_here_with_the_same_logits_and_trainable_count(minilm, batch, tmp_path):
    peft = pytest.importorskip("peft", reason="peft is in the dev extra: pip install -e '.[dev]'")
    base, _ = minilm(num_labels=2)
    # the pooler among modules_to_save: MiniLM's was never trained, so adapterlib's regime trains it with the head
    theirs = peft.get_peft_model(base, peft.LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=12, lora_dropout=0.0,
                                                       target_modules=["query", "value"], modules_to_save=["pooler"]))
    _perturb(theirs, {n for n, p in theirs.named_parameters() if p.requires_grad}, 4)
    expected, count = _logits(theirs, batch), sum(p.numel() for p in theirs.parameters() if p.requires_grad)
    theirs.save_pretrained(tmp_path / "peft")

    model, _ = minilm(num_labels=2)
    name = al.load_adapter(model, tmp_path / "peft")
    assert name == "default" and al.adapter_configs(model)[name] == al.LoRAConfig(r=4, alpha=12)
    _compare("peft -> ours (LoRA)", _logits(model, batch), expected)
    _assert_adapter_acts(model, batch, name, _logits(model, batch))
    assert _trainable(model, name) == count


def test_a_store_run_exported_by_the_command_loads_with_the_printed_code(adapterhub, store_exports, batch):
    """`adapterlib export` on a run of a store, then the peers' loading code it printed (docs/USAGE.md's lines)."""
    _, theirs, _ = adapterhub
    houlsby = store_exports["adapters"]
    assert "AutoAdapterModel.from_pretrained(" in houlsby["code"] and "num_hidden_layers=2" in houlsby["code"]
    assert (houlsby["dir"] / LAYERNORMS_FILE).name in houlsby["code"]  # its trained LayerNorms travel too
    _compare("adapterlib export -> AdapterHub (Houlsby run)", _logits(houlsby["model"], batch),
             theirs["export"]["logits"])

    fusion = store_exports["fusion"]
    assert "load_adapter_fusion(" in fusion["code"]
    _compare("adapterlib export -> AdapterHub (fusion run)", _logits(fusion["model"], batch),
             theirs["export_fusion"]["logits"])

    pytest.importorskip("peft", reason="peft is in the dev extra: pip install -e '.[dev]'")
    lora = store_exports["peft"]
    namespace: dict = {}
    exec(lora["code"], namespace)  # the printed lines, as a user would paste them
    _compare("adapterlib export -> peft (LoRA run)", _logits(lora["model"], batch), _logits(namespace["model"], batch))


def test_export_refuses_runs_without_a_peer_adapter(store_exports, tmp_path):
    from adapterlib.export import export_run

    store, houlsby_run = store_exports["adapters"]["store"], store_exports["adapters"]["run_id"]
    with pytest.raises(ValueError, match="not in the run store"):
        export_run("nope", tmp_path / "a", "peft", store)
    with pytest.raises(al.AdapterError, match="peft export covers LoRA"):
        export_run(houlsby_run, tmp_path / "b", "peft", store)
    with pytest.raises(ValueError, match="MT-A run"):
        export_run(f"{houlsby_run}/rt_polarity", tmp_path / "c", "adapters", store)
    with pytest.raises(ValueError, match="not empty"):
        export_run(houlsby_run, store_exports["adapters"]["dir"], "adapters", store)
    with pytest.raises(ValueError, match="peft has no AdapterFusion"):
        export_run(store_exports["fusion"]["run_id"], tmp_path / "d", "peft", store)


def test_what_a_peer_format_cannot_express_fails_in_one_line(minilm, tmp_path):
    model, _ = minilm(num_labels=2)
    al.add_adapter(model, "bn", al.AdapterConfig.houlsby(8))
    al.add_adapter(model, "lora", al.LoRAConfig(r=2, target_modules=("query", "attention.output.dense")))
    with pytest.raises(al.AdapterError, match="unknown adapter format 'onnx'"):
        al.save_adapter(model, "bn", tmp_path / "x", format="onnx")
    with pytest.raises(al.AdapterError, match="peft export covers LoRA"):
        al.save_adapter(model, "bn", tmp_path / "x", format="peft")
    with pytest.raises(al.AdapterError, match="also adapts attention.output.dense"):
        al.save_adapter(model, "lora", tmp_path / "x", format="adapters")
    assert not (tmp_path / "x").exists()  # refused before anything was written

    al.save_adapter(model, "bn", tmp_path / "bn", format="adapters")
    meta = json.loads((tmp_path / "bn" / "adapter_config.json").read_text())
    for field, value, message in (("is_parallel", True, "parallel adapters"), ("use_gating", True, "gated adapters"),
                                  ("non_linearity", "gelu_new", "non_linearity 'gelu_new'"),
                                  ("original_ln_before", True, "adapterlib's placements are houlsby")):
        bad = tmp_path / f"bad_{field}"
        bad.mkdir()
        (bad / "pytorch_adapter.bin").write_bytes((tmp_path / "bn" / "pytorch_adapter.bin").read_bytes())
        (bad / "adapter_config.json").write_text(json.dumps({**meta, "config": {**meta["config"], field: value}}))
        fresh, _ = minilm(num_labels=2)
        with pytest.raises(al.AdapterLoadError, match=message) as err:
            al.load_adapter(fresh, bad)
        assert "\n" not in str(err.value) and al.adapter_configs(fresh) == {}  # one line; nothing half-loaded

    dora = tmp_path / "dora"
    dora.mkdir()
    (dora / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8, "use_dora": True}))
    with pytest.raises(al.AdapterLoadError, match="DoRA"):
        al.load_adapter(model, dora)
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    (prefix / "adapter_config.json").write_text(json.dumps({"peft_type": "PREFIX_TUNING"}))
    with pytest.raises(al.AdapterLoadError, match="peft 'PREFIX_TUNING' adapters"):
        al.load_adapter(model, prefix)

    two_layers, _ = minilm(num_labels=2, num_hidden_layers=2)
    with pytest.raises(al.AdapterLoadError, match="different base model .*layer 5, the model has 2 layers"):
        al.load_adapter(two_layers, tmp_path / "bn")
    assert al.adapter_configs(two_layers) == {}


def test_mpnet_has_no_adapterhub_export(tmp_path):
    from conftest import tiny_model

    model = tiny_model("mpnet")
    al.add_adapter(model, "x", al.AdapterConfig.pfeiffer(16))
    with pytest.raises(al.AdapterError, match="AdapterHub `adapters` 1.3 has no 'mpnet' models"):
        al.save_adapter(model, "x", tmp_path / "x", format="adapters")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-s"]))
