"""Houlsby et al. 2019, *Parameter-Efficient Transfer Learning for NLP*: every table and figure as functions of a
profile.

Each study runs its grid through the profile's run store (finished runs are read, not retrained: Table 1's runs
feed Figures 3, 4 and 6), selects hyperparameters on dev, and returns a tidy table (``results.TABLE_COLUMNS``)
with the paper's number beside ours. ``plot_*`` draw a table, ``claims_*`` check the paper's claims against the
saved table with the verdict rule stated in each check's ``basis``.

    table = houlsby.table1(profile)
    results.save_table(table, profile.name, "houlsby_table1_glue")
    checks = houlsby.claims_table1(table)
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.runner.grid import run_grid, select_best
from adapterlib.core.inject import adapters_removed
from adapterlib.core.params import ParamCount
from adapterlib.runner.profiles import Profile
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.reporting.paper import houlsby_additional, houlsby_glue, paper_score
from adapterlib.data.tasks import get_task, load_task
from adapterlib.runner.single import DATA_SEED, RunConfig, evaluate
from adapterlib.studies.common import floor_count, floor_reason, majority_note, tidy_rows

PAPER = "houlsby"
GLUE_N_TASKS = 9  # Table 1 prints total parameters for the 9 GLUE tasks
ADDITIONAL_N_TASKS = 17  # Table 2: for its 17 tasks
# Table 2's footer (paper_numbers/houlsby_table2_additional_tasks.csv): total params (x, 17 tasks), trained % / task.
PAPER_TABLE2_PARAMS = {"full": (17.0, 100.0), "top_k": (9.9, 52.9), "adapters": (1.19, 1.14)}
# Fig. 4's in-text points on MNLI-m (houlsby_in_text_numbers.md): trained parameters of BERT-base (110M).
PAPER_FIG4_PARAMS = {"full": 110e6, "top_k_1": 9e6, "adapters_64": 2e6, "layernorm": 40e3}
BERT_BASE_PARAMS = 110e6
PAPER_FIG5_PCT = {"full": 100.0, "adapters_64": 2.0, "adapters_2": 0.1}  # Fig. 5's in-text trained % per point
# Fig. 4 and Fig. 6 use MNLI and CoLA; offline, CoLA has no stand-in and SST-2's takes its place.
FIGURE_TASK_REFERENCES = ("MNLI-m", "CoLA", "SST-2")
PAPER_TOTAL = {"glue": "total", "additional": "Average"}  # the paper's mean row in each reference frame
GAP_RULE = "holds if the gap is at most max(1, paper's gap) points, partly if at most 2 points more"


# ---------------------------------------------------------------------------------------------------- shared
def describe_setup(profile: Profile, grids: Sequence[str]) -> str:
    """Markdown stating model, data and scale of this run, for a notebook's intro (generated, never hand-typed)."""
    models = sorted(set(profile.models.values()))
    lines = [f"- **profile** `{profile.name}`: {profile.description}",
             *[f"- **grid** `{g}`: `{dict(profile.grids[g])}`" for g in grids],
             f"- **model**: {', '.join(models)}" + ("" if profile.name == "paper" else
                                                   " (the paper: BERT-large for GLUE, BERT-base elsewhere)"),
             f"- **task suites**: {', '.join(f'{r}: `{s}`' for r, s in profile.suites.items() if r != 'fusion')}",
             f"- **scale**: train cap {profile.max_train or 'none'}, eval cap {profile.max_eval or 'none'}, "
             f"max length {profile.max_length} (QA {profile.qa_max_length}), seeds {list(profile.seeds)}"
             + (" (one seed: no spread over seeds, s.e.m. is NaN)" if len(profile.seeds) == 1 else "")]
    return "\n".join(lines)


def _frame(profile: Profile, configs: Sequence[RunConfig]) -> pd.DataFrame:
    """The results of ``configs`` from the profile's run store, training only what is missing."""
    frame = run_grid(configs, profile.store()).frame
    return frame[frame["status"] == "ok"] if not frame.empty else frame


def method_name(row: pd.Series) -> str:
    """``full``, ``adapters_<size>``, ``top_k_<k>``, ``layernorm``: one name per point of a sweep."""
    if row["regime"] == "adapters":
        return f"adapters_{int(row['size'])}"
    if row["regime"] == "top_k":
        return f"top_k_{int(row['top_k'])}"
    return str(row["regime"])


def _points(frame: pd.DataFrame, suite: str, paper: pd.DataFrame | None = None,
            by: Sequence[str] = ("size", "top_k"), name=method_name) -> pd.DataFrame:
    """One tidy row per task and sweep point (hyperparameters not in ``by`` chosen on dev, seeds averaged)."""
    if frame.empty:
        return pd.DataFrame()
    group = ["task", "regime", *[c for c in by if c in frame.columns]]
    selected = select_best(frame, by=group, seeds="mean")
    selected["method"] = selected.apply(name, axis=1)
    parts = [tidy_rows(rows, method, paper, suite=suite).assign(regime=rows["regime"].to_numpy())
             for method, rows in selected.groupby("method", sort=False)]
    return pd.concat(parts, ignore_index=True)


def figure_tasks(profile: Profile, n: int = 2) -> list[str]:
    """The tasks of Figures 4 and 6: the stand-ins for MNLI-m and CoLA (else SST-2), filled up with the profile's
    other classification tasks of the GLUE role."""
    tasks = [t for t in profile.task_names("glue") if get_task(t).format != "regression"]
    chosen = [t for ref in FIGURE_TASK_REFERENCES for t in tasks if get_task(t).reference == ref]
    chosen += [t for t in tasks if t not in chosen]
    return list(dict.fromkeys(chosen))[:n]


def _paper_gap_check(claim: str, gap: float, paper_gap: float, basis: str, csv: str, **given) -> ClaimCheck:
    """A "method X is within ``paper_gap`` points of full fine-tuning" claim, checked on our gap (uniform rule)."""
    bound = max(1.0, paper_gap)
    verdict = cl.at_most(gap, bound, slack=2.0) if not math.isnan(gap) else "not measured"
    return cl.check(claim, gap, verdict, f"{basis}; {GAP_RULE}", csv, paper_value=paper_gap, **given)


def _share_check(claim: str, pct: float, paper_pct: float, csv: str, note: str, **given) -> ClaimCheck:
    """A "adapters train X% of the parameters per task" claim: holds up to 1.25x the paper's share, partly to 3x."""
    verdict = cl.at_most(pct, 1.25 * paper_pct, slack=1.75 * paper_pct) if not math.isnan(pct) else "not measured"
    return cl.check(claim, pct, verdict, "mean trained parameters per task (% of the base model) of the adapters "
                    f"chosen on dev; holds if at most 1.25x the paper's {paper_pct:g}%, partly if at most 3x {note}",
                    csv, paper_value=paper_pct, **given)


def _exact(table: pd.DataFrame) -> pd.DataFrame:
    """Parameter counts as exact integers (NaN-able), so the CSV keeps every digit."""
    return table.assign(trained_params=pd.to_numeric(table["trained_params"]).round().astype("Int64"))


def _mean(table: pd.DataFrame, method: str, column: str = "score") -> float:
    values = table.loc[(table["method"] == method) & table["task"].notna(), column]
    return float(values.mean()) if len(values.dropna()) else float("nan")


def _paper_mean(table: pd.DataFrame, method: str, total: str) -> float:
    hit = table.loc[(table["method"] == method) & (table["paper_task"] == total), "paper_score"]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def _paper_only_rows(paper: pd.DataFrame, ours: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Paper rows for the paper's tasks (and mean row) that have no stand-in here: our score is NaN."""
    covered = set(ours["paper_task"].dropna())
    rows = paper[paper["method"].isin(methods) & ~paper["paper_task"].isin(covered)].copy()
    for column in ("task", "metric"):
        rows[column] = None
    rows[["score", "trained_params", "trained_pct"]] = float("nan")
    return rows


PARAM_FIELDS = [f.name for f in dataclasses.fields(ParamCount)]


def _params(profile: Profile, run_ids) -> ParamCount:
    """Parameter counts of a finished run (the first of ``run_ids``), as recorded by the run store."""
    record = profile.store().get(list(run_ids)[0]).params
    return ParamCount(**{k: int(record[k]) for k in PARAM_FIELDS})


def _total_multiple(counts: Sequence[ParamCount], n_tasks: int) -> float:
    """Total parameters for ``n_tasks`` tasks (x base), as the paper prints it, from our mean per-task counts."""
    mean = ParamCount(**{k: float(np.mean([getattr(c, k) for c in counts])) for k in PARAM_FIELDS})
    return mean.total_multiple(n_tasks)


# ---------------------------------------------------------------------------------------------------- Table 1
def table1(profile: Profile) -> pd.DataFrame:
    """Houlsby Table 1: full fine-tuning, adapters with size chosen on dev, adapters of size 64, on the GLUE role.

    As in the paper the best run on dev wins, seeds included. Extra columns: ``total_params_x`` (parameters to
    store for the paper's 9 tasks, x base, from the mean per-task counts of ours) and the paper's two columns."""
    tasks, suite = profile.task_names("glue"), profile.suites["glue"]
    frame = _frame(profile, profile.configs("houlsby_glue", tasks, regime=["full", "adapters"]))
    paper = houlsby_glue()
    adapters = frame[frame["regime"] == "adapters"]
    chosen = {"full": frame[frame["regime"] == "full"], "adapters_best_size": adapters,
              "adapters_64": adapters[adapters["size"] == 64]}
    parts = []
    for method, runs in chosen.items():
        selected = select_best(runs, by=["task", "regime"], seeds="best")
        rows = tidy_rows(selected, method, paper, suite=suite)
        counts = [_params(profile, ids) for ids in selected["run_ids"]]
        rows["total_params_x"] = _total_multiple(counts, GLUE_N_TASKS) if counts else float("nan")
        parts.append(rows)
    table = pd.concat(parts, ignore_index=True)
    table = pd.concat([table, _paper_only_rows(paper, table, list(chosen))], ignore_index=True)
    per_method = paper.drop_duplicates("method").set_index("method")
    table["paper_total_params_x"] = table["method"].map(per_method["paper_total_params_x"])
    table["paper_trained_pct"] = table["method"].map(per_method["paper_trained_pct"])
    return _exact(table)


def summary(table: pd.DataFrame, total: str) -> pd.DataFrame:
    """Per method, as the paper's bottom line: our mean over our tasks, the paper's mean over the same (stand-in)
    tasks and over all its tasks, trained % per task and total params (when the table has them)."""
    ours = table[table["task"].notna()]
    rows = []
    for method, part in table.groupby("method", sort=False):
        mine = ours[ours["method"] == method]
        row = {"method": method, "n_tasks": int(mine["score"].notna().sum()), "score": mine["score"].mean(),
               "paper_score_same_tasks": mine["paper_score"].mean(),
               "paper_score_all_tasks": _paper_mean(table, method, total),
               "trained_pct": mine["trained_pct"].mean()}
        for column in ("total_params_x", "paper_total_params_x", "paper_trained_pct"):
            if column in part.columns:
                row[column] = part[column].dropna().iloc[0] if part[column].notna().any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def claims_table1(table: pd.DataFrame, csv: str = "houlsby_table1_glue") -> list[ClaimCheck]:
    """glue_gap, glue_trained_pct and the size-64 gap, from the saved Table 1."""
    gap = _mean(table, "full") - _mean(table, "adapters_best_size")
    gap64 = _mean(table, "full") - _mean(table, "adapters_64")
    paper_gap64 = _paper_mean(table, "full", "total") - _paper_mean(table, "adapters_64", "total")
    pct = _mean(table, "adapters_best_size", "trained_pct")
    n = int(table.loc[(table["method"] == "full") & table["task"].notna(), "score"].notna().sum())
    basis = f"mean test score of full minus the adapters over our {n} GLUE-role tasks{floor_count(table, n)}"
    return [
        _paper_gap_check("glue_gap", gap, float(paper_claims().loc["glue_gap", "value"]),
                         f"{basis} (size chosen on dev)", csv),
        _paper_gap_check("t1_adapters64_gap", gap64, round(paper_gap64, 2), f"{basis} (size 64)", csv,
                         description=f"adapters of size 64 within {paper_gap64:.1f} points of full fine-tuning on GLUE",
                         paper=PAPER, source="Table 1"),
        _share_check("glue_trained_pct", pct, 3.6, csv, "(MiniLM is 15x smaller than BERT-large, so an adapter of "
                     "the same size is a larger share)"),
    ]


def plot_scores(table: pd.DataFrame, paper_label: str) -> Figure:
    """Ours beside the paper's (Table 1 or 2), per stand-in task and method (bars)."""
    ours = table[table["task"].notna()]
    methods = list(dict.fromkeys(ours["method"]))
    labels = [f"{t}\n({p})" if isinstance(p, str) else t for t, p in
              ours.drop_duplicates("task")[["task", "paper_task"]].itertuples(index=False)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, column, title in zip(axes, ("score", "paper_score"), ("ours", paper_label)):
        wide = ours.pivot_table(index="task", columns="method", values=column, sort=False)[methods]
        wide.plot.bar(ax=ax, rot=0)
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_title(title)
        ax.set_xlabel("")
    axes[0].set_ylabel("test score (task metric)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- Table 2
def no_bert_baseline(task: str, *, max_train: int | None = None, max_eval: int | None = None,
                     cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0)) -> dict[str, float]:
    """A tuned linear model without any Transformer, in the role of the paper's AutoML column: TF-IDF of word
    1-2-grams + logistic regression, C chosen on dev; same caps (hence the same examples) as the runs."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from adapterlib.data.metrics import compute_metrics

    spec = get_task(task)
    if spec.format not in ("single", "pair"):
        raise ValueError(f"the no-BERT baseline covers text classification, not {spec.format!r} ({task})")
    data = load_task(task, max_train=max_train, max_eval=max_eval, seed=DATA_SEED)

    def texts(split: str) -> list[str]:
        ds = data[split]
        pairs = ds["text_pair"] if "text_pair" in ds.column_names else [""] * len(ds)
        return [f"{a} {b}".strip() for a, b in zip(ds["text"], pairs)]

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x_train = vectorizer.fit_transform(texts("train"))
    x_dev, x_test = vectorizer.transform(texts("validation")), vectorizer.transform(texts("test"))
    best = None
    for c in cs:
        model = LogisticRegression(C=c, max_iter=2000).fit(x_train, data["train"]["label"])
        dev = compute_metrics(spec, model.predict(x_dev), data["validation"]["label"])["score"]
        if best is None or dev > best[0]:
            best = (dev, c, model)
    dev, c, model = best
    test = compute_metrics(spec, model.predict(x_test), data["test"]["label"])["score"]
    return {"score": test, "dev_score": dev, "C": c, "trained_params": int(model.coef_.size + model.intercept_.size)}


def table2(profile: Profile) -> pd.DataFrame:
    """Houlsby Table 2: full fine-tuning, variable fine-tuning (top k, k on dev), adapters (size on dev) and the
    no-BERT baseline on the additional-tasks role; mean and s.e.m. over seeds (``sem``)."""
    tasks, suite = profile.task_names("additional"), profile.suites["additional"]
    frame = _frame(profile, profile.configs("houlsby_additional", tasks, regime=["full", "top_k", "adapters"]))
    paper = houlsby_additional()
    parts = []
    for method in ("full", "top_k", "adapters"):
        selected = select_best(frame[frame["regime"] == method], by=["task", "regime"], seeds="mean")
        rows = tidy_rows(selected, method, paper, suite=suite)
        counts = [_params(profile, ids) for ids in selected["run_ids"]]
        rows["total_params_x"] = _total_multiple(counts, ADDITIONAL_N_TASKS) if counts else float("nan")
        parts.append(rows)
    baseline = []
    for task in tasks:
        spec = get_task(task, suite)
        result = no_bert_baseline(task, max_train=profile.max_train, max_eval=profile.max_eval)
        baseline.append({"task": task, "paper_task": spec.reference, "method": "no_bert_baseline",
                         "metric": spec.metric, "score": result["score"], "dev_score": result["dev_score"],
                         "paper_score": paper_score(paper, spec.reference, "no_bert_baseline"),
                         "trained_params": result["trained_params"], "trained_pct": float("nan"),
                         "C": result["C"], "n_seeds": 1})
    table = pd.concat([*parts, pd.DataFrame(baseline)], ignore_index=True)
    table = table.merge(paper[["paper_task", "method", "paper_sem"]], on=["paper_task", "method"], how="left")
    methods = ["full", "top_k", "adapters", "no_bert_baseline"]
    table = pd.concat([table, _paper_only_rows(paper, table, methods)], ignore_index=True)
    table["paper_total_params_x"] = table["method"].map({m: v[0] for m, v in PAPER_TABLE2_PARAMS.items()})
    table["paper_trained_pct"] = table["method"].map({m: v[1] for m, v in PAPER_TABLE2_PARAMS.items()})
    return _exact(table)


def claims_table2(table: pd.DataFrame, csv: str = "houlsby_table2_additional") -> list[ClaimCheck]:
    """Table 2's bottom line: adapters and top-k vs full, adapters vs the no-BERT baseline, trained %."""
    total = PAPER_TOTAL["additional"]
    paper = {m: _paper_mean(table, m, total) for m in ("full", "top_k", "adapters", "no_bert_baseline")}
    ours = {m: _mean(table, m) for m in paper}
    n = int(table.loc[(table["method"] == "full") & table["task"].notna(), "score"].notna().sum())
    basis = f"mean test score over our {n} additional-role tasks{floor_count(table, n)}"
    vs_baseline = ours["adapters"] - ours["no_bert_baseline"]
    paper_vs_baseline = paper["adapters"] - paper["no_bert_baseline"]
    pct = _mean(table, "adapters", "trained_pct")
    return [
        _paper_gap_check("t2_adapters_gap", ours["full"] - ours["adapters"],
                         round(paper["full"] - paper["adapters"], 2), f"{basis}, full minus adapters (size on dev)",
                         csv, paper=PAPER, source="Table 2",
                         description="adapters within 0.4 points of full fine-tuning on average (17 tasks)"),
        _paper_gap_check("t2_top_k_gap", ours["full"] - ours["top_k"], round(paper["full"] - paper["top_k"], 2),
                         f"{basis}, full minus variable fine-tuning (k on dev)", csv, paper=PAPER, source="Table 2",
                         description="variable fine-tuning (top k layers) on par with full fine-tuning on average"),
        cl.check("t2_adapters_vs_no_bert", vs_baseline,
                 cl.at_least(vs_baseline, 0.0, slack=2.0) if not math.isnan(vs_baseline) else "not measured",
                 f"{basis}, adapters minus the TF-IDF + logistic regression baseline (C on dev; the paper's column "
                 "is an AutoML search); holds if adapters are at least as good, partly if at most 2 points worse",
                 csv, paper_value=round(paper_vs_baseline, 2), paper=PAPER, source="Table 2",
                 description="adapters beat the strong no-BERT baseline on average"),
        _share_check("t2_trained_pct", pct, 1.14, csv, "(MiniLM is 5x smaller than BERT-base)", paper=PAPER,
                     source="Table 2", description="adapters train 1.14% of the parameters per task"),
    ]


# ---------------------------------------------------------------------------------------------------- Figs 1, 3
def tradeoff(profile: Profile) -> pd.DataFrame:
    """Figures 1 and 3: every adapter size and every top-k point per task, with ``delta`` (score minus full
    fine-tuning's) and ``suite``; GLUE from Table 1's runs plus top-k runs, additional tasks from Table 2's."""
    parts = []
    for role, grids in (("glue", (("houlsby_glue", ["full", "adapters"]), ("size_sweep", ["top_k"]))),
                        ("additional", (("houlsby_additional", ["full", "top_k", "adapters"]),))):
        tasks, suite = profile.task_names(role), profile.suites[role]
        configs = [cfg for grid, regimes in grids for cfg in profile.configs(grid, tasks, regime=regimes)]
        points = _points(_frame(profile, configs), suite, houlsby_glue() if role == "glue" else houlsby_additional())
        full = points[points["method"] == "full"].set_index("task")["score"]
        points["delta"] = points["score"] - points["task"].map(full)
        parts.append(points.assign(suite=role))
    return _exact(pd.concat(parts, ignore_index=True))


def percentiles(table: pd.DataFrame, q: Sequence[float] = (20, 50, 80)) -> pd.DataFrame:
    """Per suite and point: the 20th/50th/80th percentile of ``delta`` across tasks, median trained params."""
    rows = []
    for (suite, method), part in table.groupby(["suite", "method"], sort=False):
        deltas = part["delta"].dropna()
        rows.append({"suite": suite, "method": method, "regime": part["regime"].iloc[0], "n_tasks": len(deltas),
                     "trained_params": part["trained_params"].median(), "trained_pct": part["trained_pct"].median(),
                     **{f"p{int(p)}": np.percentile(deltas, p) if len(deltas) else float("nan") for p in q}})
    return pd.DataFrame(rows).sort_values(["suite", "regime", "trained_params"], ignore_index=True)


def plot_tradeoff(table: pd.DataFrame) -> Figure:
    """Score minus full fine-tuning's vs trained parameters per task (log x): median line and 20-80th percentile
    band across tasks, adapters vs top-k fine-tuning, one panel per suite (the paper's Figures 1 and 3)."""
    stats = percentiles(table)
    suites = list(dict.fromkeys(table["suite"]))
    fig, axes = plt.subplots(1, len(suites), figsize=(6 * len(suites), 4), squeeze=False)
    for ax, suite in zip(axes[0], suites):
        for regimes, color, label in ((["adapters"], "tab:orange", "adapters"),
                                      (["top_k", "full"], "tab:blue", "fine-tune top k (up to all: full)")):
            part = stats[(stats["suite"] == suite) & stats["regime"].isin(regimes)].sort_values("trained_params")
            ax.plot(part["trained_params"], part["p50"], "o-", color=color, label=f"{label} (median)")
            ax.fill_between(part["trained_params"], part["p20"], part["p80"], color=color, alpha=0.2)
        full = stats[(stats["suite"] == suite) & (stats["regime"] == "full")]
        ax.plot(full["trained_params"], full["p50"], "k*", markersize=12, label="full fine-tuning")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("trained parameters per task")
        ax.set_ylabel("score minus full fine-tuning (points)")
        n = int(stats.loc[stats["suite"] == suite, "n_tasks"].max())
        ax.set_title(f"{suite} role: {n} tasks (band: 20th-80th percentile)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def claims_tradeoff(table: pd.DataFrame, csv: str = "houlsby_fig3_tradeoff") -> list[ClaimCheck]:
    """Adapters reach full fine-tuning's level with far fewer trained parameters, on each suite: median over tasks
    of (best adapter size on dev minus full), against the same median in the paper's Table 1/2."""
    checks = []
    for suite, paper, full_m, adapters_m in (("glue", houlsby_glue(), "full", "adapters_best_size"),
                                             ("additional", houlsby_additional(), "full", "adapters")):
        part = table[(table["suite"] == suite) & (table["regime"] == "adapters")]
        best = part.loc[part.groupby("task")["dev_score"].idxmax()] if len(part) else part
        ours = float(best["delta"].median()) if len(best) else float("nan")
        full_params = table[(table["suite"] == suite) & (table["method"] == "full")].set_index("task")["trained_params"]
        ratio = float((best["trained_params"] / best["task"].map(full_params)).median()) if len(best) else float("nan")
        wide = paper[paper["method"].isin([full_m, adapters_m])].pivot_table(
            index="paper_task", columns="method", values="paper_score").drop(index=PAPER_TOTAL[suite])
        paper_delta = float((wide[adapters_m] - wide[full_m]).median())
        verdict = cl.at_least(ours, paper_delta - 1, slack=2.0) if not math.isnan(ours) else "not measured"
        checks.append(cl.check(
            f"fig3_{suite}_adapters", ours, verdict,
            f"median over our {len(best)} {suite}-role tasks of adapters (size chosen on dev) minus full fine-tuning, "
            f"at a median {100 * ratio:.2g}% of full fine-tuning's trained parameters; holds if at least the "
            "paper's median minus 1 point, partly if within 2 more", csv, paper_value=round(paper_delta, 2),
            paper=PAPER, source="Fig. 1/3 (medians from Table 1/2)",
            description=f"adapters near full fine-tuning with far fewer trained parameters ({suite} tasks)"))
    return checks


# ---------------------------------------------------------------------------------------------------- Fig 4
def size_sweep(profile: Profile, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Figure 4: adapter sizes, top-k fine-tuning and LayerNorm-only on two tasks (full fine-tuning from Table 1's
    runs), with ``delta`` to full fine-tuning; the paper's Fig. 4 points on the MNLI-like task."""
    tasks = list(tasks or figure_tasks(profile))
    suite = profile.suites["glue"]
    configs = (profile.configs("houlsby_glue", tasks, regime=["full"])
               + profile.configs("size_sweep", tasks, regime=["adapters", "top_k", "layernorm"]))
    points = _points(_frame(profile, configs), suite)
    full = points[points["method"] == "full"].set_index("task")["score"]
    points["delta"] = points["score"] - points["task"].map(full)
    known = paper_claims()
    paper = {"full": known.loc["fig4_full", "value"], "top_k_1": known.loc["fig4_top1", "value"],
             "adapters_64": known.loc["fig4_adapter64", "value"],
             "layernorm": known.loc["fig4_full", "value"] + known.loc["fig4_layernorm_drop_mnli", "value"]}
    mnli = points["paper_task"] == "MNLI-m"
    points["paper_score"] = np.where(mnli, points["method"].map(paper), np.nan)
    return _exact(_in_order(points, tasks))


def _in_order(table: pd.DataFrame, tasks: Sequence[str]) -> pd.DataFrame:
    """Rows in the order of ``tasks`` (claims read the MNLI-like task first, as ``figure_tasks`` orders them)."""
    return table.sort_values("task", key=lambda s: s.map({t: i for i, t in enumerate(tasks)}), kind="stable",
                             ignore_index=True)


def plot_size_sweep(table: pd.DataFrame) -> Figure:
    """Score minus full fine-tuning vs trained parameters (% of the base model, log x), one panel per task; the
    paper's in-text points (BERT-base, MNLI-m) as crosses on the MNLI-like panel."""
    tasks = list(dict.fromkeys(table["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False, sharey=True)
    style = {"adapters": ("o-", "tab:orange", "adapters (sizes)"), "top_k": ("s-", "tab:blue", "fine-tune top k"),
             "layernorm": ("D", "tab:green", "LayerNorm only"), "full": ("*", "black", "full fine-tuning")}
    for ax, task in zip(axes[0], tasks):
        part = table[table["task"] == task].sort_values("trained_pct")
        for regime, (marker, color, label) in style.items():
            rows = part[part["regime"] == regime]
            ax.plot(rows["trained_pct"], rows["delta"], marker, color=color, label=label, markersize=8)
            if regime == "adapters":
                for _, r in rows.iterrows():
                    ax.annotate(r["method"].split("_")[-1], (r["trained_pct"], r["delta"]), fontsize=7,
                                textcoords="offset points", xytext=(3, 3))
        paper = part.dropna(subset=["paper_score"])
        if len(paper):
            full = paper.loc[paper["method"] == "full", "paper_score"].iloc[0]
            x = [100 * PAPER_FIG4_PARAMS[m] / BERT_BASE_PARAMS for m in paper["method"]]
            ax.plot(x, paper["paper_score"] - full, "x", color="red", markersize=9, mew=2,
                    label="paper, BERT-base MNLI-m (in-text points)")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("trained parameters per task (% of base model)")
        ref = part["paper_task"].dropna()
        ax.set_title(f"{task}" + (f" (stand-in for {ref.iloc[0]})" if len(ref) else ""))
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("test score minus full fine-tuning (points)")
    fig.tight_layout()
    return fig


def claims_size_sweep(table: pd.DataFrame, csv: str = "houlsby_fig4_size_sweep") -> list[ClaimCheck]:
    """fig4_*: the paper's MNLI-m points as gaps to full fine-tuning, checked on the MNLI-like task (the first);
    the CoLA LayerNorm claim on the second task."""
    tasks = list(dict.fromkeys(table["task"]))
    known = paper_claims()
    full_paper = known.loc["fig4_full", "value"]

    def delta(task: str | None, method: str) -> float:
        hit = table.loc[(table["task"] == task) & (table["method"] == method), "delta"]
        return float(hit.iloc[0]) if len(hit) else float("nan")

    first, second = (tasks + [None, None])[:2]
    top1, a64 = -delta(first, "top_k_1"), -delta(first, "adapters_64")
    others = table[(table["task"] == first) & (table["method"] != "full")]["delta"]
    best_other = float(others.max()) if len(others) else float("nan")
    checks = [
        _paper_gap_check("fig4_adapter64", a64, round(full_paper - known.loc["fig4_adapter64", "value"], 2),
                         f"full minus size-64 adapters on {first} (test)", csv,
                         description="adapter size 64 within 0.7 points of full fine-tuning (MNLI-m 83.7 vs 84.4)"),
        cl.check("fig4_top1", top1, "not measured" if math.isnan(top1) else
                 "holds" if top1 >= 3 else "partly" if top1 > 1 else "does not hold",
                 f"full minus top-1-layer fine-tuning on {first} (test); holds if top-1 loses at least 3 points, "
                 "partly if more than 1", csv, paper_value=round(full_paper - known.loc["fig4_top1", "value"], 2),
                 description="fine-tuning only the top layer loses 6.6 points (MNLI-m 77.8 vs 84.4)"),
        cl.check("fig4_full", best_other, "not measured" if math.isnan(best_other) else
                 cl.at_most(best_other, 1.0, slack=2.0),
                 f"best score of any other point minus full fine-tuning on {first}; holds if none beats full "
                 "fine-tuning by more than 1 point, partly by at most 3", csv, paper_value=0.0,
                 description="full fine-tuning is the top of the curve (MNLI-m 84.4)"),
    ]
    for claim, task in (("fig4_layernorm_drop_mnli", first), ("fig4_layernorm_drop_cola", second)):
        drop, paper_drop = delta(task, "layernorm"), known.loc[claim, "value"]
        verdict = ("not measured" if math.isnan(drop) else "holds" if abs(drop - paper_drop) <= 2
                   else "partly" if drop < 0 else "does not hold")
        checks.append(cl.check(claim, drop, verdict, f"LayerNorm-only minus full fine-tuning on {task} (test); holds "
                               "if within 2 points of the paper's drop, partly if it still loses", csv))
    on_task = {check.claim: first for check in checks} | {"fig4_layernorm_drop_cola": second}
    return [_unless_unlearned(check, table, on_task[check.claim]) for check in checks]


def _unless_unlearned(check: ClaimCheck, table: pd.DataFrame, task: str | None) -> ClaimCheck:
    """``check``, or "not measured" with the reason if ``task`` sits at its majority-class floor in ``table``."""
    reason = floor_reason(table, task)
    return check if reason is None else dataclasses.replace(check, verdict="not measured",
                                                            basis=f"{check.basis}; {reason}")


# ---------------------------------------------------------------------------------------------------- Fig 5
def squad(profile: Profile) -> pd.DataFrame:
    """Figure 5: SQuAD F1 and EM of full fine-tuning and adapter sizes (chosen on dev F1), one row per method,
    evaluated split (``split``: test, and the SQuADShifts test sets) and metric."""
    tasks, suite = profile.task_names("squad"), profile.suites["squad"]
    frame = _frame(profile, profile.configs("squad", tasks, regime=["full", "adapters"]))
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
    return _exact(pd.DataFrame(rows))


def plot_squad(table: pd.DataFrame) -> Figure:
    """F1 and EM vs trained parameters (log x) for each evaluated split: adapters (line over sizes) and full
    fine-tuning (star); the paper's SQuAD v1.1 F1 points as crosses (BERT-base, % of its 110M parameters)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    splits = sorted(table["split"].unique(), key=lambda s: (s != "test", s))
    colors = dict(zip(splits, plt.cm.tab10.colors))
    for ax, metric in zip(axes, ("f1", "exact_match")):
        part = table[table["metric"] == metric]
        for split in splits:
            rows = part[part["split"] == split].sort_values("trained_pct")
            adapters = rows[rows["regime"] == "adapters"]
            ax.plot(adapters["trained_pct"], adapters["score"], "o-", color=colors[split], label=f"{split}: adapters")
            full = rows[rows["regime"] == "full"]
            ax.plot(full["trained_pct"], full["score"], "*", color=colors[split], markersize=12)
        paper = part.dropna(subset=["paper_score"])
        if len(paper):
            ax.plot(paper["method"].map(PAPER_FIG5_PCT), paper["paper_score"], "x", color="red", mew=2,
                    markersize=9, label="paper (BERT-base, SQuAD v1.1 dev)")
        ax.set_xscale("log")
        ax.set_xlabel("trained parameters per task (% of base model); star: full fine-tuning")
        ax.set_ylabel(metric)
        ax.set_title(f"SQuAD {metric}")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


SQUAD_LEARNED = 0.5  # full fine-tuning below this share of the paper's F1 has not learned SQuAD: gap claims unjudged


def claims_squad(table: pd.DataFrame, csv: str = "houlsby_fig5_squad") -> list[ClaimCheck]:
    """fig5_*: our full fine-tuning F1 on the held-out SQuAD test split against the paper's, and the adapters'
    gaps to full fine-tuning against the paper's gaps."""
    f1 = table[(table["split"] == "test") & (table["metric"] == "f1")].set_index("method")["score"]
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
        check = _paper_gap_check(claim, gap, paper_gap, f"full minus {method} F1 on our SQuAD test split",
                                 csv, description=f"{method.replace('_', ' size ')} within {paper_gap:g} F1 "
                                 f"of full fine-tuning ({known.loc[claim, 'value']:g} vs {paper_full:g})")
        if unlearned:
            check = dataclasses.replace(check, verdict="not measured", basis=(
                f"{check.basis}; not measured: full fine-tuning reaches F1 {full:.1f}, below {SQUAD_LEARNED:g}x the "
                f"paper's {paper_full:g}, so the model has not learned SQuAD at this scale"))
        checks.append(check)
    return checks


# ---------------------------------------------------------------------------------------------------- Fig 6
def ablation_spans(n_layers: int) -> list[tuple[int, int]]:
    """Every contiguous span (first, last) of ``n_layers`` layers, first <= last (the heatmap's cells)."""
    return [(first, last) for first in range(n_layers) for last in range(first, n_layers)]


def _majority_rate(labels: Sequence[int]) -> float:
    values = pd.Series(list(labels))
    return 100.0 * float(values.value_counts(normalize=True).iloc[0]) if len(values) else float("nan")


def ablation(profile: Profile, tasks: Sequence[str] | None = None, split: str = "validation") -> pd.DataFrame:
    """Figure 6 left: the size-64 adapters of Table 1 (best on dev) with the adapters of every contiguous span of
    layers removed at evaluation time, on ``split`` (the paper: validation). One row per task and span, plus the
    intact model (``first_layer`` NaN); ``majority`` is the majority-class accuracy of that split."""
    tasks = list(tasks or figure_tasks(profile))
    suite, store = profile.suites["glue"], profile.store()
    configs = [c for c in profile.configs("houlsby_glue", tasks, regime=["adapters"]) if c.adapter.size == 64]
    selected = _in_order(select_best(_frame(profile, configs), by=["task", "regime"], seeds="best"), tasks)
    known = paper_claims()
    rows = []
    for _, winner in selected.iterrows():
        run_id = _best_run(profile, winner)
        cfg = RunConfig.from_dict(store.get(run_id).config)
        spec = get_task(cfg.task, suite)
        model, tokenizer = store.load_trained(run_id)
        data = load_task(cfg.task, max_train=cfg.max_train, max_eval=cfg.max_eval, seed=DATA_SEED)[split]
        n_layers = model.config.num_hidden_layers
        majority = _majority_rate(data["label"]) if "label" in data.column_names else float("nan")

        def score(layers) -> float:
            with adapters_removed(model, layers):
                return evaluate(model, tokenizer, spec, data, max_length=cfg.max_length, doc_stride=cfg.doc_stride,
                                batch_size=64)["score"]

        paper_all = known.loc["fig6_all_removed_mnli", "value"] if spec.reference == "MNLI-m" else float("nan")
        for first, last in [(None, None), *ablation_spans(n_layers)]:
            removed = () if first is None else range(first, last + 1)
            everything = first == 0 and last == n_layers - 1
            rows.append({"task": spec.name, "paper_task": spec.reference, "method": "adapters_64_ablation",
                         "metric": spec.metric, "split": split, "first_layer": first, "last_layer": last,
                         "score": score(removed), "paper_score": paper_all if everything else float("nan"),
                         "trained_params": winner["trainable"], "trained_pct": winner["trainable_pct"],
                         "n_layers": n_layers, "majority": majority, "run_id": run_id})
    return pd.DataFrame(rows)


def _best_run(profile: Profile, winner: pd.Series) -> str:
    """The single best-on-dev run among the winner's seeds."""
    results = [profile.store().get(r) for r in winner["run_ids"]]
    return max(results, key=lambda r: r.metrics["validation"]["score"]).run_id


def _sweep(profile: Profile, grid: str, key: str, tasks: Sequence[str]) -> pd.DataFrame:
    """Rows of a one-key sweep of size-64 adapters; a setting whose runs all failed (diverged) gets a NaN row."""
    suite = profile.suites["glue"]
    configs = profile.configs(grid, tasks, role="additional")
    frame = run_grid(configs, profile.store()).frame
    ok = frame[frame["status"] == "ok"]
    points = _points(ok, suite, by=[key], name=lambda r: f"adapters_64_{key}_{r[key]:g}") if len(ok) else pd.DataFrame()
    failed = frame[(frame["status"] != "ok") & ~frame[key].isin(points[key] if len(points) else [])]
    extra = [{"task": t, "paper_task": get_task(t, suite).reference, "method": f"adapters_64_{key}_{v:g}",
              "metric": get_task(t, suite).metric, "score": float("nan"), "paper_score": float("nan"),
              "trained_params": float("nan"), "trained_pct": float("nan"), key: v, "regime": "adapters",
              "status": "failed"} for (t, v), _ in failed.groupby(["task", key])]
    table = pd.concat([points.assign(status="ok") if len(points) else points, pd.DataFrame(extra)], ignore_index=True)
    return table.assign(split="test")


def init_std_sweep(profile: Profile, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Figure 6 right: test score of size-64 adapters by init std (the MNLI-like task by default)."""
    return _sweep(profile, "init_std", "init_std", list(tasks or figure_tasks(profile, 1)))


def lr_sweep(profile: Profile, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Appendix Figure 7: test score of size-64 adapters by learning rate (the MNLI-like task by default)."""
    return _sweep(profile, "lr_sweep", "lr", list(tasks or figure_tasks(profile, 1)))


def size_means(profile: Profile) -> pd.DataFrame:
    """Section 3.6: dev score of each adapter size of Table 1's grid, per classification task of the GLUE role
    (the paper: mean validation accuracy over eight classification tasks); ``score`` is the dev score."""
    tasks = [t for t in profile.task_names("glue") if get_task(t).format != "regression"]
    points = _points(_frame(profile, profile.configs("houlsby_glue", tasks, regime=["adapters"])),
                     profile.suites["glue"])
    points["test_score"], points["score"] = points["score"], points["dev_score"]
    points["paper_score"] = float("nan")
    points["split"] = "validation"
    return points


def figure6(profile: Profile) -> pd.DataFrame:
    """The four panels of Figure 6 (and appendix Figure 7) in one tidy table with a ``panel`` column."""
    return _exact(pd.concat([ablation(profile).assign(panel="ablation"),
                             init_std_sweep(profile).assign(panel="init_std"), lr_sweep(profile).assign(panel="lr"),
                             size_means(profile).assign(panel="size")], ignore_index=True))


def plot_ablation(table: pd.DataFrame) -> Figure:
    """Heatmaps as the paper draws them: first removed layer (x) by last removed layer (y), colour = score minus
    the intact model's; one per task."""
    part = table[table["panel"] == "ablation"]
    tasks = list(dict.fromkeys(part["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = part[part["task"] == task]
        intact = rows.loc[rows["first_layer"].isna(), "score"].iloc[0]
        n = int(rows["n_layers"].iloc[0])
        grid = np.full((n, n), np.nan)
        for _, r in rows.dropna(subset=["first_layer"]).iterrows():
            grid[int(r["last_layer"]), int(r["first_layer"])] = r["score"] - intact
        image = ax.imshow(grid, origin="lower", cmap="Blues_r", vmax=0)
        for (i, j), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xlabel("first layer with adapters removed")
        ax.set_ylabel("last layer with adapters removed")
        ax.set_title(f"{task}\nintact {intact:.1f}, majority class {rows['majority'].iloc[0]:.1f}")
        ax.grid(False)
        fig.colorbar(image, ax=ax, label="score change (points)")
    fig.tight_layout()
    return fig


def plot_sweeps(table: pd.DataFrame) -> Figure:
    """Init std sweep, learning-rate sweep and mean dev score by adapter size (the other three panels)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, panel, key, label in ((axes[0], "init_std", "init_std", "adapter init std"),
                                  (axes[1], "lr", "lr", "learning rate")):
        part = table[table["panel"] == panel].sort_values(key)
        for task, rows in part.groupby("task"):
            ax.plot(rows[key], rows["score"], "o-", label=task)
            failed = rows[rows["score"].isna()]
            if len(failed):
                ax.plot(failed[key], [ax.get_ylim()[0]] * len(failed), "rx", label="diverged")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("test score")
        ax.set_title(f"size-64 adapters by {label}")
        ax.legend(fontsize=8)
    sizes = table[table["panel"] == "size"]
    means = sizes.groupby("size")["score"].mean()
    axes[2].plot(means.index, means.to_numpy(), "o-", label=f"ours: mean over {sizes['task'].nunique()} tasks")
    known = paper_claims()
    axes[2].plot([8, 64, 256], [known.loc[f"sec36_size{s}", "value"] for s in (8, 64, 256)], "x--", color="red",
                 label="paper: mean over 8 tasks (BERT-base)")
    axes[2].set_xscale("log", base=2)
    axes[2].set_xlabel("adapter size")
    axes[2].set_ylabel("mean dev score")
    axes[2].set_title("Section 3.6: mean dev score by adapter size")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def claims_figure6(table: pd.DataFrame, csv: str = "houlsby_fig6_ablation") -> list[ClaimCheck]:
    """fig6_* and sec36_*, from the saved Figure 6 table."""
    part = table[table["panel"] == "ablation"]
    tasks = list(dict.fromkeys(part["task"]))
    checks = []
    drops = []
    for task in tasks:
        rows = part[part["task"] == task]
        intact = rows.loc[rows["first_layer"].isna(), "score"].iloc[0]
        single = rows[rows["first_layer"] == rows["last_layer"]]
        drops.append(float((intact - single["score"]).max()))
    drop = max(drops) if drops else float("nan")
    checks.append(cl.check("fig6_single_layer_max_drop", drop, cl.at_most(drop, 2.0, slack=3.0),
                           f"largest drop from removing the adapters of one layer, over {', '.join(tasks)} "
                           "(dev); holds if at most 2 points, partly if at most 5", csv))
    for claim, task in zip(("fig6_all_removed_mnli", "fig6_all_removed_cola"), tasks):
        rows = part[part["task"] == task]
        n = int(rows["n_layers"].iloc[0])
        intact = rows.loc[rows["first_layer"].isna(), "score"].iloc[0]
        gone = float(rows.loc[(rows["first_layer"] == 0) & (rows["last_layer"] == n - 1), "score"].iloc[0])
        majority = float(rows["majority"].iloc[0])
        verdict = ("not measured" if intact - majority < 5 else "holds" if abs(gone - majority) <= 5 else
                   "partly" if intact - gone >= (intact - majority) / 2 else "does not hold")
        checks.append(cl.check(claim, gone, verdict,
                               f"{task} dev score with every adapter removed (intact {intact:.1f}, majority class "
                               f"{majority:.1f}); holds if within 5 points of the majority-class rate, partly if it "
                               "loses at least half the way from intact to majority; not measured if the intact model "
                               "is not 5 points above the majority class", csv))
    init = table[table["panel"] == "init_std"].sort_values("init_std")
    if len(init):
        scores, stds = init["score"].to_numpy(), init["init_std"]
        best = np.nanmax(scores)
        ok = np.nan_to_num(scores, nan=-np.inf) >= best - 2
        robust = float(init["init_std"].iloc[int(np.argmin(ok)) - 1]) if not ok.all() else float(init["init_std"].max())
        robust = robust if ok[0] else float("nan")
        verdict = (cl.within(math.log10(robust), -2, holds=1, partly=2) if not math.isnan(robust) else "does not hold")
        checks.append(cl.check("fig6_init_robust_below", robust, verdict,
                               f"largest init std up to which every swept std ({', '.join(f'{v:g}' for v in stds)}) "
                               f"scores within 2 points of the best on {init['task'].iloc[0]} (test; diverged runs "
                               "count as degraded); holds if within one decade of 1e-2, partly within two", csv))
    sizes = table[table["panel"] == "size"]
    means = sizes.groupby("size")["score"].mean()
    for size in (8, 64, 256):
        ours = float(means.get(size, float("nan")))
        best = float(means.max()) if len(means) else float("nan")
        checks.append(cl.check(f"sec36_size{size}", ours,
                               cl.at_least(ours, best - 1, slack=2.0) if not math.isnan(ours) else "not measured",
                               f"mean dev score of size-{size} adapters over our {sizes['task'].nunique()} GLUE-role "
                               "classification tasks (the paper's point: size matters little); holds if within 1 "
                               "point of our best size's mean, partly within 3", csv))
    return checks


def findings(checks: Sequence[ClaimCheck], profile: Profile, table: pd.DataFrame | None = None) -> str:
    """The closing cell's text: verdict counts and one line per claim, generated from the checks; with ``table``
    (one with a ``majority`` column), which of its rows sit at the majority-class floor."""
    counts = pd.Series([c.verdict for c in checks]).value_counts()
    head = (f"**What we found** (profile `{profile.name}`; model {', '.join(sorted(set(profile.models.values())))}, "
            f"train cap {profile.max_train or 'none'}, seeds {list(profile.seeds)}): "
            + ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) + " of the claims checked here.")
    return head + "\n\n" + cl.describe(checks) + ("" if table is None else "\n\n" + majority_note(table))
