"""The parameter-vs-accuracy trade-off both papers argue from, drawn the same way for each suite (Houlsby Figs. 1/3,
AdapterFusion's methods): score relative to full fine-tuning against the parameters trained per task.

Beside the papers' own methods every other registered adapter method (``OTHER_METHODS``: LoRA, (IA)³, ...) joins
both figures, trained on the profile grid named by its key (``method_configs``) and drawn as its method registers it
(``method_series``: label and colour), so a new method needs no change here or in the studies.

A study hands in its per-task rows (``tidy_rows`` plus ``suite``, ``series``, ``run_ids``) and the paper's points;
``tradeoff_frame`` reads each point's parameter counts from its run's record, ``summary`` gives the medians and the
parameters to serve every task of the suite, ``plot_tradeoff`` draws it. ``relative``: points of the task metric
(Houlsby Fig. 3's convention), with its paired 95% interval over the test examples (``paired_intervals``).
"""
from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.core.config import AdapterConfig
from adapterlib.core.inject import METHODS, method_of
from adapterlib.core.methods import AdapterMethod
from adapterlib.data.tasks import load_task
from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.outputs import TABLE_COLUMNS
from adapterlib.reporting.statistics import TaskRuns, mean_difference_interval, median_interval
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import DATA_SEED, RunConfig, RunResult
from adapterlib.runner.store import RunStore
from adapterlib.studies.common import paired_mean_difference

COLUMNS = (*TABLE_COLUMNS, "full_score", "relative", "ci_low", "ci_high", "paper_relative", "suite", "series",
           "learned", "n_test", "base_params", "shared_params", "run_trainable")
BAND = (20, 50, 80)  # percentiles of ``relative`` across tasks drawn per method
NUDGE = 1.2  # x factor between methods drawn side by side at one parameter count (log axis: equal steps)
CAPTION = ("relative = score minus full fine-tuning's on the same task (points); only tasks full fine-tuning "
           "learned that stand for a paper task are drawn (the others, named in the panel title, are out of the "
           "figure and every median, baselines included); per-task points faint, lines and markers: median over "
           "those tasks, shaded / bars: 20th-80th percentile; hollow markers, one shape per method family: the "
           "paper's per-task points (small) and median (large) at the paper's model size; methods with the same "
           f"parameter count are drawn side by side (x nudged by a factor of {NUDGE:g} each, exact counts in the CSV); "
           "top axis: % of our base model")
PAPER_MARKERS = ("s", "D", "^", "v", "P", "X", "p", "h", "<", ">", "*", "d")  # the paper's series, in figure order


@dataclass(frozen=True)
class Series:
    """One method family of a figure: the ``series`` value of its rows, its legend label and colour."""

    key: str
    label: str
    color: str


PAPERS_METHOD = method_of(AdapterConfig.houlsby())  # both papers' adapters: their points are the papers' tables' runs
OTHER_METHODS = tuple(m for m in METHODS if m is not PAPERS_METHOD)  # each on the profile grid named by its key
METHOD_GRIDS = tuple(m.key for m in OTHER_METHODS)


def method_series(methods: Sequence[AdapterMethod]) -> tuple[Series, ...]:
    """Each method's series as it registers it: the series of its points is its family, with its label and colour."""
    return tuple(Series(m.family, m.label, m.colour) for m in methods)


def method_configs(profile: Profile, tasks: Sequence[str], *, role: str | None = None) -> list[RunConfig]:
    """The runs of every method of ``OTHER_METHODS`` on ``tasks``: each method's grid (the profile grid named by
    its key: its sizes and the learning rates chosen among on dev) in the ``adapters`` regime."""
    return [cfg for method in OTHER_METHODS
            for cfg in profile.configs(method.key, tasks, role=role, regime=["adapters"], method=method.key)]


def task_params(params: Mapping[str, float]) -> int:
    """Parameters trained for one task: the run's trained ones plus the adapters it uses frozen (a fusion's,
    trained by their own runs). The head is always trained, so the run's trained added parameters are
    ``trainable - trainable_base - head``."""
    trained_added = params["trainable"] - params["trainable_base"] - params["head"]
    return int(params["trainable"] + params["added"] - trained_added)


@cache
def test_size(task: str, max_train: int | None, max_eval: int | None, max_test: int | None = None) -> int:
    """Examples in ``task``'s test split at the caps a run used."""
    return len(load_task(task, max_train=max_train, max_eval=max_eval, max_test=max_test, seed=DATA_SEED)["test"])


def paired_intervals(out: pd.DataFrame) -> np.ndarray:
    """Each row's 95% interval of its score minus full fine-tuning's on the same task and suite, paired over the
    same test examples (``statistics.mean_difference_interval`` on one task: the interval Table 1's claims use, so
    one difference has one interval in every CSV); NaN for full's own rows and rows without predictions."""
    full = out[out["method"] == "full"].set_index(["suite", "task"])
    intervals = []
    for row in out.itertuples():
        key = (row.suite, row.task)
        base = full.loc[key] if key in full.index and row.method != "full" else None
        predictions = getattr(row, "predictions", None)
        if base is None or predictions is None or base.get("predictions") is None:
            intervals.append((math.nan, math.nan))
            continue
        interval = mean_difference_interval([TaskRuns(row.task, base["references"], predictions,
                                                      base["predictions"])])
        intervals.append((interval.low, interval.high))
    return np.array(intervals, dtype=float).reshape(-1, 2)


def run_record(store: RunStore, run_id: str) -> RunResult:
    """The record of ``run_id``; an MT-A task's (``<mt_a run id>/<task>``) as ``MultiTaskResult.per_task`` gives it."""
    run, _, task = run_id.partition("/")
    result = store.get(run)
    return next(r for r in result.per_task() if r.config["task"] == task) if task else result


def drawn(frame: pd.DataFrame) -> pd.Series:
    """The rows drawn and counted in medians: learned tasks that stand for a paper task (as in the claims' means)."""
    return frame["learned"].astype(bool) & frame["paper_task"].notna()


def tradeoff_frame(rows: pd.DataFrame, store: RunStore) -> pd.DataFrame:
    """One row per task and method (``COLUMNS``): counts from the first run of each row's ``run_ids`` in ``store``,
    ``relative`` and its interval against the ``full`` row of the same suite and task, ``paper_relative`` the same
    difference in the paper's numbers for the paper task it stands in for."""
    out = rows.copy()
    records = [run_record(store, list(ids)[0]) for ids in out["run_ids"]]
    out["trained_params"] = [task_params(r.params) for r in records]
    out["run_trainable"] = [int(r.params["trainable"]) for r in records]
    out["base_params"] = [int(r.params["base"]) for r in records]
    out["shared_params"] = (out["base_params"] - [int(r.params["trainable_base"]) for r in records]
                            + out["trained_params"] - out["run_trainable"])
    out["trained_pct"] = 100 * out["trained_params"] / out["base_params"]
    out["n_test"] = [test_size(r.config["task"], r.config.get("max_train"), r.config.get("max_eval"),
                               r.config.get("max_test")) for r in records]
    full = out[out["method"] == "full"].set_index(["suite", "task"])
    key = pd.MultiIndex.from_frame(out[["suite", "task"]])
    out["full_score"] = full["score"].reindex(key).to_numpy()
    out["relative"] = out["score"] - out["full_score"]
    out["paper_relative"] = out["paper_score"] - full["paper_score"].reindex(key).to_numpy()
    out[["ci_low", "ci_high"]] = paired_intervals(out)
    if "learned" not in out.columns:
        out["learned"] = True
    extra = [c for c in out.columns if c not in COLUMNS and c != "run_ids"]
    return out[[*COLUMNS, *extra]].reset_index(drop=True)


def median_gap_check(claim: str, rows: pd.DataFrame, method: str, paper_median: float, paper_text: str, basis: str,
                     csv: str, **given) -> ClaimCheck:
    """"``method`` at full fine-tuning's level" under the one learning rule: the median over the learned tasks of
    ``rows`` (one suite's ``full`` rows and one ``method`` row per task, with their predictions) of ``method``
    minus full fine-tuning, paired interval, region above -``claims.on_par_bound`` of the paper's gap: "at full
    fine-tuning's level" is "within the paper's gap plus the house margin", and where the paper's median is above
    0, not worse by more than the margin. ``paper_text`` says where the paper's median comes from."""
    learned = rows.loc[(rows["method"] == "full") & rows["learned"].astype(bool), "task"]  # ci_* are the gaps'
    interval, tasks, why = paired_mean_difference(rows, method, "full", aggregate=np.median, learned=list(learned))
    bound = -cl.on_par_bound(-paper_median)
    used = f"median over the {len(tasks)} learned tasks ({', '.join(tasks)})" if tasks else "no learned task"
    return cl.learning_check(claim, interval, (bound, math.inf),
                             f"median of {method} minus full fine-tuning above {bound:g} points ({paper_text}; the "
                             f"paper's gap plus our {cl.ON_PAR_MARGIN:g}-point margin for \"within\")",
                             f"{basis}; {used}", csv, not_measured=why, tasks=tasks,
                             paper_value=round(paper_median, 2), **given)


def _stats(values: pd.Series) -> dict[str, float]:
    values = values.dropna()
    if values.empty:
        return {f"p{p}": math.nan for p in BAND} | {"median_ci_low": math.nan, "median_ci_high": math.nan,
                                                      "ci_coverage": math.nan}
    low, high, coverage = median_interval(list(values))
    return ({f"p{p}": float(np.percentile(values, p)) for p in BAND}
            | {"median_ci_low": low, "median_ci_high": high, "ci_coverage": coverage})


def summary(frame: pd.DataFrame, paper_points: pd.DataFrame, paper_label: Mapping[str, str]) -> pd.DataFrame:
    """Per suite and method, ours then the paper's: median trained parameters per task, 20/50/80th percentiles of
    ``relative`` over the learned paper tasks (``drawn``) with an order-statistic interval for the median (90% or
    the coverage the task count allows), and as ``score`` the parameters to store to serve every task of the suite (x the base
    model: shared weights once, per-task ones per task; ``core.params.ParamCount.total_multiple``), ours for our
    tasks beside the paper's (``paper_score``) for its tasks where its tables give them."""
    rows = []
    for (suite, series, method), part in frame.groupby(["suite", "series", "method"], sort=False):
        n = part["task"].nunique()
        total = (part["shared_params"].mean() + n * part["run_trainable"].mean()) / part["base_params"].mean()
        paper = paper_points[(paper_points["suite"] == suite) & (paper_points["method"] == method)]
        rows.append({"task": f"all {n} tasks", "paper_task": None, "method": method, "metric": "total_params_x",
                     "score": total, "paper_score": paper["total_x"].max() if len(paper) else math.nan,
                     "trained_params": int(part["trained_params"].median()),
                     "trained_pct": part["trained_pct"].median(), "suite": suite, "series": series, "source": "ours",
                     "n_tasks": int(drawn(part).sum()), **_stats(part.loc[drawn(part), "relative"])})
    for (suite, series, method), part in paper_points.groupby(["suite", "series", "method"], sort=False):
        rows.append({"task": None, "paper_task": f"{part['paper_task'].nunique()} paper tasks", "method": method,
                     "metric": "total_params_x", "score": math.nan, "paper_score": part["total_x"].max(),
                     "trained_params": int(part["trained_params"].median()), "trained_pct": math.nan,
                     "suite": suite, "series": series, "source": paper_label[suite],
                     "n_tasks": part["paper_task"].nunique(), **_stats(part["relative"])})
    return pd.DataFrame(rows)


def coverage(frame: pd.DataFrame, expected: Mapping[str, Sequence[str]]) -> str:
    """A sentence per suite: how many of its ``expected`` tasks have points here, and which have none (their runs
    failed or are missing)."""
    lines = []
    for suite, tasks in expected.items():
        have = set(frame.loc[frame["suite"] == suite, "task"])
        missing = [t for t in tasks if t not in have]
        lines.append(f"- **{suite}**: {len(tasks) - len(missing)} of {len(tasks)} tasks have points"
                     + (f"; no points (no finished run): {', '.join(missing)}" if missing else ""))
    return "\n".join(lines)


def nudges(x: Mapping[str, float], step: float = NUDGE) -> dict[str, float]:
    """Per method, the factor its x positions are drawn at: 1, unless other methods share its parameter count
    (medians within 1%): then the group is spread ``step`` apart, centred on the true count, in the order given.
    Without it a method's points hide under another's (AdapterFusion's two fusions train the same parameters)."""
    groups: list[list[str]] = []
    for method, value in sorted(x.items(), key=lambda item: item[1]):
        if groups and math.isclose(value, x[groups[-1][0]], rel_tol=0.01):
            groups[-1].append(method)
        else:
            groups.append([method])
    order = list(x)
    return {method: step ** (i - (len(group) - 1) / 2)
            for group in groups for i, method in enumerate(sorted(group, key=order.index))}


def _placed(points: pd.DataFrame) -> pd.DataFrame:
    """``points`` with ``x``: its trained parameters times its method's ``nudges`` factor."""
    shift = nudges(points.groupby("method", sort=False)["trained_params"].median().to_dict())
    return points.assign(x=points["trained_params"] * points["method"].map(shift))


def _draw(ax, stats: pd.DataFrame, color: str, label: str) -> None:
    """Our medians (``stats``: x, low, mid, high per method): a line and band for a family of several methods, a
    marker with a 20-80th percentile bar for a single one."""
    if len(stats) > 1:
        ax.plot(stats["x"], stats["mid"], "o-", color=color, ms=6, label=label)
        ax.fill_between(stats["x"], stats["low"], stats["high"], color=color, alpha=0.15)
    else:
        ax.errorbar(stats["x"], stats["mid"], yerr=[stats["mid"] - stats["low"], stats["high"] - stats["mid"]],
                    fmt="o", color=color, ms=7, capsize=3, label=label)


def _title(title: str, ours: pd.DataFrame) -> str:
    """The panel title: how many tasks the medians cover, and which were left out and why (``drawn``)."""
    floor = sorted(set(ours.loc[~ours["learned"].astype(bool), "task"]))
    left_out = {"full fine-tuning did not learn them": floor,
                "no paper task": sorted(set(ours.loc[ours["paper_task"].isna(), "task"]) - set(floor))}
    return (f"{title}: medians over {ours.loc[drawn(ours), 'task'].nunique()} of {ours['task'].nunique()} tasks "
            "(learned paper tasks)" + "".join("\n" + textwrap.fill(f"not drawn ({why}): {', '.join(tasks)}", 110)
                                               for why, tasks in left_out.items() if tasks))


def plot_tradeoff(frame: pd.DataFrame, paper_points: pd.DataFrame, series: Sequence[Series],
                  titles: Mapping[str, str], paper_label: Mapping[str, str], caption: str = CAPTION) -> Figure:
    """One panel per suite: x trained parameters per task (log; top axis % of our base model), y relative; per
    method family our per-task points, median and 20-80th band over the learned paper tasks (``drawn``), and
    the paper's points hollow in the same colour, one marker shape per family; methods at the same parameter count
    side by side (``nudges``; see ``CAPTION``)."""
    suites = list(dict.fromkeys(frame["suite"]))
    width = max(10.0, 8.0 * len(suites))
    fig, axes = plt.subplots(1, len(suites), figsize=(width, 8.0), squeeze=False)
    for ax, suite in zip(axes[0], suites):
        ours = frame[frame["suite"] == suite]
        learned = _placed(ours[drawn(ours)])
        theirs = _placed(paper_points[paper_points["suite"] == suite])
        for s, marker in zip(series, itertools.cycle(PAPER_MARKERS)):
            part = learned[learned["series"] == s.key]
            if len(part):
                ax.scatter(part["x"], part["relative"], color=s.color, alpha=0.3, s=14, lw=0)
                stats = (part.groupby("method")
                         .agg(x=("x", "median"), low=("relative", lambda v: np.percentile(v, 20)),
                              mid=("relative", "median"), high=("relative", lambda v: np.percentile(v, 80)))
                         .sort_values("x"))
                _draw(ax, stats, s.color, f"{s.label}: ours")
            paper = theirs[theirs["series"] == s.key]
            if len(paper):
                ax.scatter(paper["x"], paper["relative"], marker=marker, facecolors="none", edgecolors=s.color,
                           alpha=0.5, s=14)
                med = paper.groupby("method").agg(x=("x", "median"), mid=("relative", "median")).sort_values("x")
                ax.plot(med["x"], med["mid"], "--", marker=marker, color=s.color, mfc="none", ms=10, mew=1.5,
                        label=f"{s.label}: {paper_label[suite]}")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        base = float(ours["base_params"].median())
        top = ax.secondary_xaxis("top", functions=(lambda x, b=base: 100 * x / b, lambda p, b=base: p * b / 100))
        top.set_xlabel(f"% of our base model ({base / 1e6:.1f}M parameters)", fontsize=9)
        ax.set_xlabel("trained parameters per task")
        ax.set_ylabel("score minus full fine-tuning (points)")
        ax.set_title(_title(titles[suite], ours), fontsize=10)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    text = textwrap.fill(caption, int(16 * width))
    fig.text(0.5, 0.01, text, ha="center", va="bottom", fontsize=8)
    caption_in = (text.count("\n") + 1) * 8 * 1.3 / 72 + 0.15  # its lines at 8 pt, and a gap above the caption
    fig.tight_layout(rect=(0, caption_in / fig.get_figheight(), 1, 1))  # the legends under the axes stay above it
    return fig
