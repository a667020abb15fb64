"""What several Houlsby items report the same way: means over our tasks beside the paper's mean row, the two
verdict rules used across items (a paired gap to full fine-tuning, a share of trained parameters), the bottom line and
bar plot of the score tables (1 and 2), and the closing cell's findings text.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.runner.profiles import Profile
from adapterlib.studies.base import seeds_text, train_cap_text
from adapterlib.studies.common import majority_note, paired_mean_difference
from adapterlib.studies.score_bars import scores_beside_paper

PAPER = "houlsby"


def mean_over_tasks(table: pd.DataFrame, method: str, column: str = "score") -> float:
    """Our mean of ``column`` for ``method`` over the rows of our tasks (NaN if it has no value)."""
    values = table.loc[(table["method"] == method) & table["task"].notna(), column]
    return float(values.mean()) if len(values.dropna()) else float("nan")


def paper_mean(table: pd.DataFrame, method: str, total: str) -> float:
    """The paper's number for ``method`` on its mean row ``total`` (``paper.HOULSBY_MEAN_ROW``), NaN if absent."""
    hit = table.loc[(table["method"] == method) & (table["paper_task"] == total), "paper_score"]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def paired_gap_check(claim: str, table: pd.DataFrame, method: str, paper_gap: float, paper_scores: str, basis: str,
                     csv: str, **given) -> ClaimCheck:
    """"``method`` within ``paper_gap`` points of full fine-tuning" under the one learning rule: full minus
    ``method`` over the learned tasks, paired interval, region (-inf, ``claims.on_par_bound(paper_gap)``): the
    paper's gap plus the margin that makes "within" decidable (where the paper's ``method`` beat full fine-tuning,
    the claim read as "on par" is that it is not worse). ``paper_scores``: the paper's two numbers, e.g. "Table 1:
    80.4 vs 80.0"."""
    interval, tasks, why = paired_mean_difference(table, "full", method)
    bound = cl.on_par_bound(paper_gap)
    region = (f"full fine-tuning minus {method} below {bound:g} points: the paper's gap ({paper_scores}) plus our "
              f"{cl.ON_PAR_MARGIN:g}-point margin for \"within\"")
    used = f"mean over the {len(tasks)} learned tasks ({', '.join(tasks)})" if tasks else "no learned task"
    return cl.learning_check(claim, interval, (-math.inf, bound), region, f"{basis}; {used}", csv,
                             not_measured=why, tasks=tasks, paper_value=paper_gap, **given)


def share_check(claim: str, pct: float, paper_pct: float, csv: str, note: str, **given) -> ClaimCheck:
    """A "adapters train X% of the parameters per task" claim: holds up to 1.25x the paper's share, partly to 3x."""
    verdict = cl.at_most(pct, 1.25 * paper_pct, slack=1.75 * paper_pct) if not math.isnan(pct) else "not measured"
    return cl.check(claim, pct, verdict, "mean trained parameters per task (% of the base model) of the adapters "
                    f"chosen on dev; holds if at most 1.25x the paper's {paper_pct:g}%, partly if at most 3x {note}",
                    csv, paper_value=paper_pct, **given)


# What the adapters' trained counts hold besides adapters, LayerNorms and classifier (core.trainable).
POOLER_NOTE = ("the adapters' counts include the pooler only where it was never pre-trained (MiniLM-L6's, bias all "
               "zero); BERT's pre-trained pooler stays frozen, as in adapter-bert")


def base_size_note(table: pd.DataFrame, paper_params: float, paper_model: str) -> str:
    """Our base model's size beside the paper's, read from the full fine-tuning rows of ``table`` (an adapter of a
    given size is a larger share of a smaller model)."""
    if not {"trained_params", "trained_pct"} <= set(table.columns):
        return ""
    full = table[(table["method"] == "full") & table["task"].notna()].dropna(subset=["trained_params", "trained_pct"])
    if full.empty:
        return ""
    base = float((full["trained_params"] * 100 / full["trained_pct"]).median())
    ratio = paper_params / base
    return (f"(our base model has {base / 1e6:.1f}M parameters, the paper's {paper_model} {paper_params / 1e6:.0f}M"
            + (f": {ratio:.0f}x smaller, so an adapter of the same size is a larger share" if ratio > 1.5 else "")
            + f"; {POOLER_NOTE})")


def summary(table: pd.DataFrame, total: str) -> pd.DataFrame:
    """Per method, as the paper's bottom line: our mean over our tasks, the paper's mean over the same (stand-in)
    tasks and over all its tasks, trained % per task and total params (when the table has them)."""
    ours = table[table["task"].notna()]
    rows = []
    for method, part in table.groupby("method", sort=False):
        mine = ours[ours["method"] == method]
        row = {"method": method, "n_tasks": int(mine["score"].notna().sum()), "score": mine["score"].mean(),
               "paper_score_same_tasks": mine["paper_score"].mean(),
               "paper_score_all_tasks": paper_mean(table, method, total),
               "trained_pct": mine["trained_pct"].mean()}
        for column in ("total_params_x", "paper_total_params_x", "paper_trained_pct"):
            if column in part.columns:
                row[column] = part[column].dropna().iloc[0] if part[column].notna().any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def plot_scores(table: pd.DataFrame, paper_label: str) -> Figure:
    """Ours beside the paper's (Table 1 or 2), per stand-in task and method."""
    methods = list(dict.fromkeys(table.loc[table["task"].notna(), "method"]))
    return scores_beside_paper(table, methods, paper_label=paper_label, ylabel="test score (task metric)")


def findings(checks: Sequence[ClaimCheck], profile: Profile, table: pd.DataFrame | None = None) -> str:
    """The closing cell's text: verdict counts and one line per claim, generated from the checks; with ``table``
    (one with a ``majority`` column), which of its rows sit at the majority-class floor."""
    counts, roles = pd.Series([c.verdict for c in checks]).value_counts(), tuple(profile.suites)
    head = (f"**What we found** (profile `{profile.name}`; model {', '.join(sorted(set(profile.models.values())))}, "
            f"train cap {train_cap_text(profile, roles)}, seeds {seeds_text(profile, roles)}): "
            + ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) + " of the claims checked here.")
    return head + "\n\n" + cl.describe(checks) + ("" if table is None else "\n\n" + majority_note(table))
