"""Houlsby Figure 5 (SQuAD v1.1): F1 and EM of full fine-tuning and adapter sizes (each chosen on dev F1), on the
held-out SQuAD test split and the SQuADShifts test sets the task carries (not in the paper: robustness under
distribution shift).
"""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.data.tasks import get_task
from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import HOULSBY_FIG5_TRAINED_PCT
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.runner.grid import select_best
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import RunConfig
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.houlsby.report import gap_check
from adapterlib.studies.houlsby.runs import exact_counts, finished, method_name

STUDY = register(Study(name="houlsby_fig5_squad", paper="houlsby", title="Figure 5: SQuAD v1.1", roles=("squad",),
                       grids=("squad",)))
@declares_runs(STUDY)
def runs(profile: Profile) -> list[RunConfig]:
    """Full fine-tuning and adapters over the ``squad`` grid on the SQuAD-role tasks."""
    return profile.configs("squad", profile.task_names("squad"), regime=["full", "adapters"])


SQUAD_LEARNED = 0.5  # full fine-tuning below this share of the paper's F1 has not learned SQuAD: gap claims unjudged


def table(profile: Profile) -> pd.DataFrame:
    """One row per method, evaluated split (``split``: test, and the SQuADShifts test sets) and metric (F1, EM)."""
    suite = profile.suites["squad"]
    frame = finished(profile, runs(profile))
    selected = select_best(frame, by=["task", "regime", "size"], seeds="mean")
    known = paper_claims()
    paper = {"full": known.loc["fig5_full", "value"], "adapters_64": known.loc["fig5_adapter64", "value"],
             "adapters_2": known.loc["fig5_adapter2", "value"]}
    rows = []
    for _, winner in selected.iterrows():
        method, spec = method_name(winner), get_task(winner["task"], suite)
        runs = frame[frame["run_id"].isin(winner["run_ids"]) & (frame["split"] != "validation")]
        for split, part in runs.groupby("split"):
            for metric in ("f1", "exact_match"):
                rows.append({"task": spec.name, "paper_task": spec.reference, "method": method, "split": split,
                             "metric": metric, "score": part[metric].mean(),
                             "paper_score": paper.get(method, float("nan")) if (split, metric) == ("test", "f1")
                             else float("nan"),
                             "trained_params": winner["trainable"], "trained_pct": winner["trainable_pct"],
                             "regime": winner["regime"], "dev_score": winner["dev_score"],
                             "n_seeds": winner["n_seeds"], "lr": winner["lr"]})
    return exact_counts(pd.DataFrame(rows))


def plot(saved: pd.DataFrame) -> Figure:
    """F1 and EM vs trained parameters (log x) for each evaluated split: adapters (line over sizes) and full
    fine-tuning (star); the paper's SQuAD v1.1 F1 points as crosses (BERT-base, % of its 110M parameters)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    splits = sorted(saved["split"].unique(), key=lambda s: (s != "test", s))
    colors = dict(zip(splits, plt.cm.tab10.colors))
    for ax, metric in zip(axes, ("f1", "exact_match")):
        part = saved[saved["metric"] == metric]
        for split in splits:
            rows = part[part["split"] == split].sort_values("trained_pct")
            adapters = rows[rows["regime"] == "adapters"]
            ax.plot(adapters["trained_pct"], adapters["score"], "o-", color=colors[split], label=f"{split}: adapters")
            full = rows[rows["regime"] == "full"]
            ax.plot(full["trained_pct"], full["score"], "*", color=colors[split], markersize=12)
        paper = part.dropna(subset=["paper_score"])
        if len(paper):
            ax.plot(paper["method"].map(HOULSBY_FIG5_TRAINED_PCT), paper["paper_score"], "x", color="red", mew=2,
                    markersize=9, label="paper (BERT-base, SQuAD v1.1 dev)")
        ax.set_xscale("log")
        ax.set_xlabel("trained parameters per task (% of base model); star: full fine-tuning")
        ax.set_ylabel(metric)
        ax.set_title(f"SQuAD {metric}")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def claims(saved: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """fig5_*: our full fine-tuning F1 on the held-out SQuAD test split against the paper's, and the adapters'
    gaps to full fine-tuning against the paper's gaps."""
    f1 = saved[(saved["split"] == "test") & (saved["metric"] == "f1")].set_index("method")["score"]
    known = paper_claims()
    full, paper_full = f1.get("full", float("nan")), known.loc["fig5_full", "value"]
    checks = [cl.check("fig5_full", full, cl.within(full, paper_full, holds=2.0, partly=10.0),
                       "full fine-tuning F1 on our SQuAD test split (held-out SQuAD v1.1 dev articles); holds if "
                       "within 2 F1 of the paper, partly within 10 (absolute F1 depends on model and training "
                       "size, both far smaller here)", csv)]
    unlearned = full < SQUAD_LEARNED * paper_full  # gaps between near-zero F1s say nothing about adapters
    for claim, method in (("fig5_adapter64", "adapters_64"), ("fig5_adapter2", "adapters_2")):
        gap = full - f1.get(method, float("nan"))
        paper_gap = round(paper_full - known.loc[claim, "value"], 2)
        check = gap_check(claim, gap, paper_gap, f"full minus {method} F1 on our SQuAD test split",
                          csv, description=f"{method.replace('_', ' size ')} within {paper_gap:g} F1 "
                          f"of full fine-tuning ({known.loc[claim, 'value']:g} vs {paper_full:g})")
        if unlearned:
            check = dataclasses.replace(check, verdict="not measured", basis=(
                f"{check.basis}; not measured: full fine-tuning reaches F1 {full:.1f}, below {SQUAD_LEARNED:g}x the "
                f"paper's {paper_full:g}, so the model has not learned SQuAD at this scale"))
        checks.append(check)
    return checks
