"""Houlsby Table 2 (additional tasks): full fine-tuning, variable fine-tuning (top k layers, k on dev), adapters
(size on dev) and a no-BERT baseline; mean and s.e.m. over seeds. Figure 3 reuses these runs.

The paper's no-BERT column is an AutoML search; ours is a tuned linear model on the same examples
(``no_bert_baseline``), so "adapters beat a strong baseline without BERT" can be checked at all.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from adapterlib.data.tasks import get_task, load_task
from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import (BERT_BASE_PARAMS, HOULSBY_ADDITIONAL_N_TASKS, HOULSBY_MEAN_ROW, houlsby_additional,
                                        houlsby_additional_params, paper_score)
from adapterlib.runner.grid import select_best
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import DATA_SEED, RunConfig
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.common import (floor_count, majority_score, paired_mean_difference, score_columns,
                                       split_columns, tidy_rows)
from adapterlib.studies.houlsby.report import (PAPER, base_size_note, mean_over_tasks, paired_gap_check, paper_mean,
                                              share_check)
from adapterlib.studies.houlsby.runs import exact_counts, finished, paper_only_rows, total_params_x

STUDY = register(Study(name="houlsby_table2_additional", paper="houlsby", title="Table 2: additional tasks",
                       roles=("additional",), grids=("houlsby_additional",)))
TRAINED = ("full", "top_k", "adapters")  # the table's columns trained through the run store
METHODS = (*TRAINED, "no_bert_baseline")


@declares_runs(STUDY)
def runs(profile: Profile) -> list[RunConfig]:
    """The ``TRAINED`` columns over the ``houlsby_additional`` grid on every additional-role task (the no-BERT
    baseline is a linear model fitted in the notebook, on the CPU, outside the run store)."""
    return profile.configs("houlsby_additional", profile.task_names("additional"), regime=list(TRAINED))


def no_bert_baseline(task: str, *, max_train: int | None = None, max_eval: int | None = None,
                     max_test: int | None = None,
                     cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0)) -> dict:
    """A tuned linear model without any Transformer, in the role of the paper's AutoML column: TF-IDF of word
    1-2-grams + logistic regression, C chosen on dev; same caps (hence the same examples) as the runs. Its test
    ``predictions`` and ``references`` come with it, for paired intervals against the runs."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from adapterlib.data.metrics import compute_metrics

    spec = get_task(task)
    if spec.format not in ("single", "pair"):
        raise ValueError(f"the no-BERT baseline covers text classification, not {spec.format!r} ({task})")
    data = load_task(task, max_train=max_train, max_eval=max_eval, max_test=max_test, seed=DATA_SEED)

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
    predictions, references = model.predict(x_test).tolist(), list(data["test"]["label"])
    test = compute_metrics(spec, predictions, references)["score"]
    return {"score": test, "dev_score": dev, "C": c, "trained_params": int(model.coef_.size + model.intercept_.size),
            "predictions": predictions, "references": references}


def _baseline_rows(profile: Profile, paper: pd.DataFrame) -> pd.DataFrame:
    """One ``no_bert_baseline`` row per additional-role task, on that role's caps (its BERT runs' data)."""
    suite, rows = profile.suites["additional"], []
    for task in profile.task_names("additional"):
        spec = get_task(task, suite)
        result = no_bert_baseline(task, **profile.caps_for("additional"))
        rows.append({"task": task, "paper_task": spec.reference, "method": "no_bert_baseline",
                     "metric": spec.metric, "score": result["score"], "dev_score": result["dev_score"],
                     "paper_score": paper_score(paper, spec.reference, "no_bert_baseline"),
                     "trained_params": result["trained_params"], "trained_pct": float("nan"),
                     "majority": majority_score(task), "C": result["C"], "n_seeds": 1,
                     **score_columns(task, [result["predictions"]], result["references"])})
    return pd.DataFrame(rows)


def table(profile: Profile) -> pd.DataFrame:
    """One row per additional-role task and method (``METHODS``), plus the paper's tasks without a stand-in;
    ``total_params_x`` as in Table 1 (for the paper's 17 tasks), the paper's s.e.m. and parameter columns."""
    suite = profile.suites["additional"]
    frame = finished(profile, runs(profile))
    paper = houlsby_additional()
    parts = []
    for method in TRAINED:
        selected = select_best(frame[frame["regime"] == method], by=["task", "regime"], seeds="mean")
        rows = tidy_rows(selected, method, paper, suite=suite)
        rows["total_params_x"] = total_params_x(profile, selected, HOULSBY_ADDITIONAL_N_TASKS)
        parts.append(rows)
    ours = pd.concat([*parts, _baseline_rows(profile, paper)], ignore_index=True)
    ours = ours.merge(paper[["paper_task", "method", "paper_sem"]], on=["paper_task", "method"], how="left")
    ours = pd.concat([ours, paper_only_rows(paper, ours, list(METHODS))], ignore_index=True)
    footer = houlsby_additional_params().set_index("method")
    ours["paper_total_params_x"] = ours["method"].map(footer["paper_total_params_x"])
    ours["paper_trained_pct"] = ours["method"].map(footer["paper_trained_pct"])
    return exact_counts(split_columns(ours, suite, "houlsby_table2"))


def claims(saved: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """Table 2's bottom line: adapters and top-k vs full, adapters vs the no-BERT baseline, trained %. Pass
    ``table()`` itself: the gaps' paired intervals need its per-example predictions, which the CSV leaves out."""
    total = HOULSBY_MEAN_ROW["additional"]
    paper = {m: paper_mean(saved, m, total) for m in METHODS}
    n = int(saved.loc[(saved["method"] == "full") & saved["task"].notna(), "score"].notna().sum())
    basis = f"mean test score over our {n} additional-role tasks{floor_count(saved, n)}"
    baseline_gap, baseline_tasks, baseline_why = paired_mean_difference(saved, "adapters", "no_bert_baseline")
    adapters_gap = round(paper["full"] - paper["adapters"], 2)
    pct = float(houlsby_additional_params().set_index("method").loc["adapters", "paper_trained_pct"])
    return [
        paired_gap_check("t2_adapters_gap", saved, "adapters", adapters_gap,
                         f"Table 2 means: {paper['full']:g} vs {paper['adapters']:g}",
                         f"{basis}, full minus adapters (size on dev)", csv, paper=PAPER, source="Table 2",
                         description=f"adapters within {adapters_gap:g} points of full fine-tuning on average "
                         f"({HOULSBY_ADDITIONAL_N_TASKS} tasks)"),
        paired_gap_check("t2_top_k_gap", saved, "top_k", round(paper["full"] - paper["top_k"], 2),
                         f"Table 2 means: {paper['full']:g} vs {paper['top_k']:g}",
                         f"{basis}, full minus variable fine-tuning (k on dev)", csv, paper=PAPER, source="Table 2",
                         description="variable fine-tuning (top k layers) on par with full fine-tuning on average"),
        cl.learning_check(
            "t2_adapters_vs_no_bert", baseline_gap, (0.0, math.inf),
            f"adapters above the no-BERT baseline on average (Table 2 means: {paper['adapters']:g} vs "
            f"{paper['no_bert_baseline']:g})",
            f"{basis}, adapters minus the TF-IDF + logistic regression baseline (C on dev; the paper's column is an "
            f"AutoML search), paired, over the {len(baseline_tasks)} learned tasks", csv, not_measured=baseline_why,
            tasks=baseline_tasks,
            paper_value=round(paper["adapters"] - paper["no_bert_baseline"], 2), paper=PAPER, source="Table 2",
            description="adapters beat the strong no-BERT baseline on average"),
        share_check("t2_trained_pct", mean_over_tasks(saved, "adapters", "trained_pct"), pct, csv,
                    base_size_note(saved, BERT_BASE_PARAMS, "BERT-base"), paper=PAPER, source="Table 2",
                    description=f"adapters train {pct:g}% of the parameters per task"),
    ]
