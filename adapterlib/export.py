"""`adapterlib export RUN_ID --format adapters|peft OUT`: a finished run of the run store as a peer library's files.

An adapter run becomes an AdapterHub ``adapters`` directory (bottleneck adapters and LoRA) or a ``peft`` directory
(LoRA); a fusion run becomes AdapterHub's fusion layout (its adapters + ``fusion/``). The command prints the peer's
loading code for the output, with the run's base model and model overrides filled in, so the copy-paste that loads
it is the one that was checked (tests/test_interop.py, docs/USAGE.md).

MT-A adapters are refused: they were trained with a fine-tuned encoder beside them (``base.safetensors``), and the
peers load adapters onto the pre-trained base, where they would compute something else.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from transformers import PreTrainedModel

from adapterlib.core.fusion import fused_adapters
from adapterlib.core.interop import ADAPTERHUB, LAYERNORMS_FILE, PEFT, save_adapterhub_fusion
from adapterlib.core.io import save_adapter
from adapterlib.core.models import model_path
from adapterlib.paths import pinned_output_dirs

EXPORT_FORMATS = (ADAPTERHUB, PEFT)


def _auto_class(model: PreTrainedModel) -> str:
    """transformers' Auto class that builds ``model``'s task head (AutoModelForSequenceClassification...)."""
    kind = type(model).__name__
    for suffix in ("ForSequenceClassification", "ForMultipleChoice", "ForQuestionAnswering", "ForTokenClassification"):
        if kind.endswith(suffix):
            return f"AutoModel{suffix}"
    return "AutoModel"


def loading_code(model: PreTrainedModel, base: str, out: Path, format: str, overrides: dict,
                 fused: tuple[str, ...] = ()) -> str:
    """The peer library's code that loads what ``export_model`` wrote to ``out`` (three lines, plus one for the
    LayerNorms of a Houlsby adapter trained with them, one per fused adapter for a fusion)."""
    args = "".join(f", {k}={v!r}" for k, v in overrides.items())
    if format == PEFT:
        auto = _auto_class(model)
        labels = f", num_labels={model.config.num_labels}" if auto != "AutoModel" else ""
        return "\n".join([f"from peft import PeftModel; from transformers import {auto}",
                          f"base = {auto}.from_pretrained({base!r}{labels}{args})",
                          f"model = PeftModel.from_pretrained(base, {str(out)!r})"])
    lines = ["from adapters import AutoAdapterModel",
             f"model = AutoAdapterModel.from_pretrained({base!r}{args})"]
    if fused:
        lines += [f"model.load_adapter({str(out / name)!r})" for name in fused]
        lines.append(f"model.load_adapter_fusion({str(out / 'fusion')!r}, set_active=True)")
        return "\n".join(lines)
    lines.append(f"model.load_adapter({str(out)!r}, set_active=True)")
    if (out / LAYERNORMS_FILE).is_file():
        lines.append("from safetensors.torch import load_file; "
                     f"model.load_state_dict(load_file({str(out / LAYERNORMS_FILE)!r}), strict=False)")
    return "\n".join(lines)


def export_run(run_id: str, out: str | Path, format: str, store=None) -> tuple[Path, str]:
    """Write run ``run_id`` of ``store`` (default: the cpu profile's) to ``out`` in ``format``; returns the directory
    and the peer's loading code. Fails with one line for a run that has no adapter a peer can load."""
    from adapterlib.runner.settings import MultiTaskResult, RunConfig
    from adapterlib.runner.store import RunStore

    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose from {', '.join(EXPORT_FORMATS)}")
    store = store or RunStore()
    if "/" in run_id:
        raise ValueError(f"{run_id!r} is a task of an MT-A run: its adapters were trained with a fine-tuned encoder "
                         f"(base.safetensors), and {format} loads adapters onto the pre-trained base")
    result = store.get(run_id)
    if result is None:
        raise ValueError(f"run {run_id!r} is not in the run store {store.root}")
    if isinstance(result, MultiTaskResult):
        raise ValueError(f"run {run_id!r} is an MT-A run: its adapters were trained with a fine-tuned encoder "
                         f"(base.safetensors), and {format} loads adapters onto the pre-trained base")
    if result.status != "ok":
        raise ValueError(f"run {run_id!r} did not finish (status {result.status!r}): nothing to export")
    cfg = RunConfig.from_dict(result.config)
    if cfg.regime not in ("adapters", "fusion"):
        raise ValueError(f"run {run_id!r} trained regime {cfg.regime!r}: only adapter and fusion runs have an adapter "
                         f"to export")
    if cfg.regime == "fusion" and format == PEFT:
        raise ValueError(f"run {run_id!r} is an AdapterFusion run: peft has no AdapterFusion (use --format adapters)")
    if cfg.regime == "fusion" and any("/" in r for r in cfg.fusion):
        raise ValueError(f"run {run_id!r} fuses MT-A adapters, trained with a fine-tuned encoder: {format} loads "
                         f"adapters onto the pre-trained base")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} exists and is not empty: export into a new directory")
    model, _ = store.load_trained(run_id, device="cpu")
    if cfg.regime == "fusion":
        save_adapterhub_fusion(model, out)
        fused = fused_adapters(model)
    else:
        save_adapter(model, cfg.task, out, format=format)
        fused = ()
    return out, loading_code(model, model_path(cfg.model), out, format, dict(cfg.model_kwargs), fused)


def add_export_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="write a finished adapter or fusion run for AdapterHub `adapters` or peft")
    p.add_argument("run_id", help="a run id of the store (adapterlib plan / the store's directory names)")
    p.add_argument("out", type=Path, help="a new directory for the peer's files")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                   help="adapters: AdapterHub's model.load_adapter; peft: PeftModel.from_pretrained (LoRA runs)")
    p.add_argument("--profile", default="cpu", help="whose run store: runs/<profile>/ (default: cpu)")
    p.add_argument("--runs-dir", type=Path, help="parent of the run store runs/<profile>/ (default: ./runs, or "
                   "$ADAPTERLIB_RUNS)")
    p.set_defaults(func=_export_command)


def _export_command(args: argparse.Namespace) -> int:
    from adapterlib.runner.store import RunStore

    with pinned_output_dirs(runs=args.runs_dir):
        out, code = export_run(args.run_id, args.out, args.format, RunStore(profile=args.profile))
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    print(json.dumps({"run_id": args.run_id, "format": args.format, "out": str(out), "files": files}))
    print(f"# load it with {args.format}:\n{code}")
    return 0
