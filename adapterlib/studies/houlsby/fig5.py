"""Houlsby Figure 5 (SQuAD v1.1): F1 and EM of full fine-tuning and adapter sizes (each chosen on dev F1), on the
held-out SQuAD test split and any extra test splits the task carries (none offline since the SQuADShifts sets left
with the withdrawn bigbench archive).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.data.tasks import get_task
from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.outputs import TABLE_COLUMNS
from adapterlib.reporting.paper import HOULSBY_FIG5_TRAINED_PCT
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.reporting.statistics import Interval, TaskRuns, mean_difference_interval
from adapterlib.runner.grid import select_best
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import RunConfig
from adapterlib.runner.store import METHOD_POINT
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.common import score_columns
from adapterlib.studies.houlsby.runs import exact_counts, finished, point_name

STUDY = register(Study(name="houlsby_fig5_squad", paper="houlsby", title="Figure 5: SQuAD v1.1", roles=("squad",),
                       grids=("squad",)))
@declares_runs(STUDY)
def runs(profile: Profile) -> list[RunConfig]:
    """Full fine-tuning and adapters over the ``squad`` grid on the SQuAD-role tasks."""
    return profile.configs("squad", profile.task_names("squad"), regime=["full", "adapters"])


SQUAD_LEARNED = 0.5  # full fine-tuning below this share of the paper's F1 has not learned SQuAD: gap claims unjudged


def table(profile: Profile) -> pd.DataFrame:
    """One row per method, evaluated split (``split``: test, and any extra test split) and metric (F1, EM); the
    test F1 rows carry ``ci_low``/``ci_high``/``n_test`` and, in memory, the per-example predictions behind them
    (``common.score_columns``), for the claims' paired intervals. No rows (only the columns) where the profile
    has no SQuAD-role task (left out: ``Profile.missing_tasks``)."""
    suite = profile.suites["squad"]
    frame = finished(profile, runs(profile))
    selected = select_best(frame, by=["task", "regime", METHOD_POINT], seeds="mean")
    known = paper_claims()
    paper = {"full": known.loc["fig5_full", "value"], "adapters_64": known.loc["fig5_adapter64", "value"],
             "adapters_2": known.loc["fig5_adapter2", "value"]}
    rows = []
    for _, winner in selected.iterrows():
        method, spec = point_name(winner), get_task(winner["task"], suite)
        evaluated = frame[frame["run_id"].isin(winner["run_ids"]) & (frame["split"] != "validation")]
        for split, part in evaluated.groupby("split"):
            for metric in ("f1", "exact_match"):
                scored = (split, metric) == ("test", "f1")  # the claims' numbers: their examples, for intervals
                examples = score_columns(spec.name, winner.get("predictions") if scored else None,
                                         winner.get("references"))
                rows.append({"task": spec.name, "paper_task": spec.reference, "method": method, "split": split,
                             "metric": metric, "score": part[metric].mean(),
                             "paper_score": paper.get(method, float("nan")) if scored
                             else float("nan"),
                             "trained_params": winner["trainable"], "trained_pct": winner["trainable_pct"],
                             "regime": winner["regime"], "dev_score": winner["dev_score"],
                             "n_seeds": winner["n_seeds"], "lr": winner["lr"], **examples})
    return exact_counts(pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*TABLE_COLUMNS, "split", "regime"]))


def plot(saved: pd.DataFrame) -> Figure:
    """F1 and EM vs trained parameters (log x) for each evaluated split: adapters (line over sizes) and full
    fine-tuning (star); the paper's SQuAD v1.1 F1 points as crosses (BERT-large, as the paper's 90.7 F1 says)."""
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
                    markersize=9, label="paper (BERT-large, SQuAD v1.1 dev)")
        ax.set_xscale("log")
        ax.set_xlabel("trained parameters per task (% of base model); star: full fine-tuning")
        ax.set_ylabel(metric)
        ax.set_title(f"SQuAD {metric}")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def claims(table: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """fig5_*: the adapters' F1 gaps to full fine-tuning on the held-out SQuAD test split under the one learning
    rule, from ``table()`` itself (the paired intervals need its per-example predictions, which the saved CSV
    leaves out). The paper's absolute F1 is not measured here: it is BERT-large's on all of SQuAD."""
    f1 = table[(table["split"] == "test") & (table["metric"] == "f1")].set_index("method")
    known = paper_claims()
    full, paper_full = f1["score"].get("full", float("nan")), known.loc["fig5_full", "value"]
    checks = [cl.check("fig5_full", full, "not measured",
                       f"full fine-tuning F1 on our SQuAD test split (held-out SQuAD v1.1 dev articles); not measured: "
                       f"the paper's {paper_full:g} is BERT-large trained on all of SQuAD, so an absolute F1 compares "
                       "models and training sizes, not adapters; the adapters' claims are their gaps below", csv)]
    unlearned = not full >= SQUAD_LEARNED * paper_full  # gaps between near-zero F1s say nothing about adapters
    for claim, method in (("fig5_adapter64", "adapters_64"), ("fig5_adapter2", "adapters_2")):
        paper_gap = round(paper_full - known.loc[claim, "value"], 2)
        why = (f"not measured: full fine-tuning reaches F1 {full:.1f}, below {SQUAD_LEARNED:g}x the paper's "
               f"{paper_full:g}, so the model has not learned SQuAD at this scale") if unlearned else None
        checks.append(cl.learning_check(
            claim, _gap_interval(f1, method), (-math.inf, cl.on_par_bound(paper_gap)),
            f"full fine-tuning minus {method} below {cl.on_par_bound(paper_gap):g} F1: the paper's gap (Fig. 5: "
            f"{paper_full:g} vs {known.loc[claim, 'value']:g}) plus our {cl.ON_PAR_MARGIN:g}-point margin for "
            "\"within\"", f"full minus {method} F1 on our SQuAD test split, paired", csv,
            not_measured=why, paper_value=paper_gap,
            description=f"{method.replace('_', ' size ')} within {paper_gap:g} F1 of full fine-tuning "
            f"({known.loc[claim, 'value']:g} vs {paper_full:g})"))
    return checks


def _gap_interval(f1: pd.DataFrame, method: str) -> Interval | None:
    """Full fine-tuning minus ``method`` F1 with its paired interval (``f1``: test F1 rows by method); None
    without both rows' per-example predictions."""
    if not {"full", method} <= set(f1.index) or "predictions" not in f1.columns:
        return None
    full, other = f1.loc["full"], f1.loc[method]
    if full["predictions"] is None or other["predictions"] is None:
        return None
    return mean_difference_interval([TaskRuns(full["task"], full["references"], full["predictions"],
                                              other["predictions"])])
