"""AdapterFusion's cost: the fusion layers' parameters, and time per batch against the number N of fused adapters.

Parameters are counted exactly on a randomly initialised BERT-base (no download: the count does not depend on the
weights); time per batch of real text is measured on the profile's model with N random Pfeiffer adapters fused,
beside one plain adapter. Timings are this machine's, shared with other jobs: read the trend, not the numbers.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from transformers import BertConfig, BertForSequenceClassification

from adapterlib.core.bottleneck import fusion_parameter_names
from adapterlib.core.fusion import add_fusion
from adapterlib.core.inject import add_adapter
from adapterlib.core.methods import added_parameter_names
from adapterlib.core.models import load_model
from adapterlib.core.params import count_named_parameters, count_parameters
from adapterlib.core.trainable import set_trainable
from adapterlib.data.encoding import MODEL_INPUTS, collate, encode
from adapterlib.data.tasks import get_task, load_task
from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import claim_value
from adapterlib.reporting.statistics import line_fit
from adapterlib.runner.profiles import Profile
from adapterlib.runner.scale_grids import ST_A
from adapterlib.runner.loop import make_optimizer, run_device
from adapterlib.runner.settings import DATA_SEED
from adapterlib.studies.base import Study, register
from adapterlib.studies.fusion.report import claims_section

STUDY = register(Study(name="fusion_cost", paper="fusion", title="Cost: parameters and time vs fused adapters",
                       roles=("fusion",)))
N_ADAPTERS = (1, 2, 4, 8, 16)  # numbers of fused adapters timed
TASK = "rt_polarity"  # whose text the timed batch holds


def fusion_parameters(config: BertConfig | None = None, n_adapters: int = 2) -> dict[str, int]:
    """Exact parameter counts of a fusion over ``n_adapters`` Pfeiffer rf 16 adapters on a randomly initialised
    model of ``config`` (default BERT-base: no download needed)."""
    model = BertForSequenceClassification(config or BertConfig())
    for i in range(n_adapters):
        add_adapter(model, f"a{i}", ST_A)
    add_fusion(model, [f"a{i}" for i in range(n_adapters)])
    fusion_names = fusion_parameter_names(model)
    fusion = count_named_parameters(model, fusion_names)
    adapters = count_named_parameters(model, added_parameter_names(model) - fusion_names)
    layers = model.config.num_hidden_layers
    base = count_parameters(model).base
    return {"n_adapters": n_adapters, "fusion": fusion, "fusion_per_layer": fusion // layers, "adapters": adapters,
            "base": base, "layers": layers, "hidden_size": model.config.hidden_size}


def timings(profile: Profile, n_adapters: Sequence[int] = N_ADAPTERS, task: str = TASK, repeats: int = 5,
            batch_size: int | None = None) -> pd.DataFrame:
    """Training-step and inference time per batch of real ``task`` text on the profile's model with N random
    Pfeiffer adapters fused (N = ``n_adapters``) and with one plain adapter (N = 0 row), plus parameter counts.
    Times are the fastest of ``repeats`` after one warm-up (the least disturbed by other jobs on a shared
    machine), on ``loop.run_device`` (the GPU when there is one); the adapters' weights do not affect the time."""
    scale = profile.run_config(task, "head", role="fusion")
    spec = get_task(task)
    data = load_task(task, **scale.caps, seed=DATA_SEED)["train"]
    examples = data.select(range(min(batch_size or scale.batch_size, len(data))))
    rows = []
    for n in (0, *n_adapters):
        torch.manual_seed(0)
        model, tokenizer = load_model(scale.model, task_format=spec.format, num_labels=spec.num_labels,
                                      **scale.model_kwargs)
        names = [f"a{i}" for i in range(max(n, 1))]
        for name in names:
            add_adapter(model, name, ST_A)
        if n:
            add_fusion(model, names)
        set_trainable(model, "fusion" if n else "adapters", adapter=None if n else names[0])
        device = run_device()
        model.to(device)
        batch = collate(encode(spec, examples, tokenizer, scale.max_length, train=True), model.config.pad_token_id or 0)
        batch = {k: v.to(device) for k, v in batch.items()}
        trainable = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
        optimizer, _ = make_optimizer(trainable, 1e-4, 0.0, 0.0, 1)

        def train_step() -> None:
            model.train()
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        def infer() -> None:
            model.eval()
            with torch.no_grad():
                model(**{k: v for k, v in batch.items() if k in MODEL_INPUTS})

        seconds = {}
        for label, fn in (("train_s_per_batch", train_step), ("infer_s_per_batch", infer)):
            fn()
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)  # kernels run asynchronously: time them to their end
                samples.append(time.perf_counter() - start)
            seconds[label] = float(np.min(samples))
        fused = count_named_parameters(model, fusion_parameter_names(model))
        rows.append({"n_adapters": n, **seconds, "fusion_params": fused,
                     "trainable_params": sum(p.numel() for _, p in trainable),
                     "batch": f"{len(batch['input_ids'])} x {batch['input_ids'].shape[-1]} tokens"})
    return pd.DataFrame(rows)


def table(profile: Profile, timings: pd.DataFrame, params: dict[str, int], task: str = TASK) -> pd.DataFrame:
    """The documented table: one row per N and quantity (train / inference seconds per batch on the profile's
    fusion model); the paper-scale fusion parameter count on BERT-base beside the paper's ~21M."""
    model = profile.models.get("fusion", profile.models["glue"])
    rows = []
    for _, r in timings.iterrows():
        method = "adapter" if r["n_adapters"] == 0 else "fusion"
        for metric in ("train_s_per_batch", "infer_s_per_batch"):
            rows.append({"task": task, "paper_task": None, "method": method, "metric": metric, "score": r[metric],
                         "paper_score": float("nan"), "trained_params": r["trainable_params"],
                         "trained_pct": float("nan"), "n_adapters": r["n_adapters"], "model": model})
    rows.append({"task": None, "paper_task": None, "method": "fusion", "metric": "fusion_params_bert_base",
                 "score": params["fusion"], "paper_score": claim_value("fusion_params_total"),
                 "trained_params": params["fusion"], "trained_pct": 100 * params["fusion"] / params["base"],
                 "n_adapters": params["n_adapters"], "model": "bert-base (random init, counted)"})
    return pd.DataFrame(rows)


def plot(timings: pd.DataFrame) -> Figure:
    """Seconds per batch against N, with one plain adapter's as a dotted line; the legend right of the axes, where
    it covers no line (inside, some corner always holds a point of one of the four)."""
    fig, ax = plt.subplots(figsize=(7.5, 3.5))
    fused = timings[timings["n_adapters"] > 0]
    for column, label in (("train_s_per_batch", "training step"), ("infer_s_per_batch", "inference")):
        ax.plot(fused["n_adapters"], fused[column], marker="o", label=f"fusion: {label}")
        single = timings.loc[timings["n_adapters"] == 0, column]
        if len(single):
            ax.axhline(float(single.iloc[0]), linestyle=":", color=ax.lines[-1].get_color(),
                       label=f"one adapter: {label}")
    ax.set_xlabel("fused adapters N")
    ax.set_ylabel("seconds per batch")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def claims(timings: pd.DataFrame, params: dict[str, int]) -> list[ClaimCheck]:
    """fusion_params_total (counted on BERT-base) and linear growth of the cost with N (R^2 of a line)."""
    total, paper_millions = params["fusion"], claim_value("fusion_params_total") / 1e6
    checks = [cl.check("fusion_params_total", total, cl.within(total / 1e6, paper_millions, holds=1.0, partly=3.0),
                       f"exact count of Q, K, V (+ biases) over {params['layers']} layers of a randomly initialised "
                       f"BERT-base ({params['fusion_per_layer']:,} per layer); holds within 1M of "
                       f"{paper_millions:g}M", STUDY.name)]
    fused = timings[timings["n_adapters"] > 0]
    for column in ("train_s_per_batch", "infer_s_per_batch"):
        x, y = fused["n_adapters"].to_numpy(float), fused[column].to_numpy(float)
        _, slope, r2 = line_fit(x, y) if len(x) > 2 else (math.nan,) * 3
        verdict = "not measured" if math.isnan(r2) else ("holds" if r2 >= 0.95 and slope > 0
                                                          else "partly" if slope > 0 else "does not hold")
        checks.append(cl.check(
            f"fusion_cost_linear_{column.split('_')[0]}", r2, verdict,
            f"R^2 of a straight line through {column} vs N = {[int(v) for v in x]} (slope {slope * 1e3:.1f} ms per "
            f"adapter); holds if R^2 >= 0.95 with a positive slope, partly if only the slope is positive", STUDY.name,
            paper_value=1.0, description=f"fusion cost ({column.split('_')[0]}) grows linearly with the number of "
            "fused adapters (paper value 1 = a perfect line)", paper=STUDY.paper, source="Sec. 3"))
    return checks


def findings(timings: pd.DataFrame, params: dict[str, int], checks: Sequence[ClaimCheck]) -> str:
    """The parameter count beside the paper's and the time per batch at the smallest and largest N."""
    fused = timings[timings["n_adapters"] > 0].set_index("n_adapters")
    single = timings[timings["n_adapters"] == 0].iloc[0]
    lo, hi = fused.index.min(), fused.index.max()
    return (f"On BERT-base a fusion layer has {params['fusion_per_layer']:,} parameters per layer, "
            f"{params['fusion']:,} in all ({100 * params['fusion'] / params['base']:.1f}% of the {params['base']:,} "
            f"base parameters), against {params['adapters'] // params['n_adapters']:,} for one rf-16 adapter; the "
            f"paper says about {claim_value('fusion_params_total') / 1e6:g}M. Timing on our model: a training step "
            f"takes {fused.at[lo, 'train_s_per_batch']:.3f} s with N = {lo} and {fused.at[hi, 'train_s_per_batch']:.3f}"
            f" s with N = {hi} ({fused.at[hi, 'train_s_per_batch'] / single['train_s_per_batch']:.1f}x one plain "
            f"adapter's {single['train_s_per_batch']:.3f} s); inference {fused.at[lo, 'infer_s_per_batch']:.3f} s "
            f"to {fused.at[hi, 'infer_s_per_batch']:.3f} s.\n\n" + claims_section(checks))
