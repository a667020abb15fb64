"""The papers' numbers as tidy pandas frames, so every result of ours can stand beside the paper's.

Sources (copied verbatim into ``adapterlib/reporting/paper_numbers/``): Houlsby et al. 2019 Table 1 (GLUE test, BERT-large) and
Table 2 (17 additional tasks, BERT-base) and its footer; Pfeiffer et al. 2021 Table 1 (dev, BERT-base); numbers from
the papers' text and figures in ``in_text_claims.csv``; the facts the AdapterFusion comparisons are made under
(``fusion_in_text_numbers.md``) as constants.
"""
from __future__ import annotations

from importlib import resources

import pandas as pd

_METHOD_NAMES = {  # paper column -> our method name
    "full_finetune": "full", "adapters_8-256": "adapters_best_size", "adapters_64": "adapters_64",
    "finetune": "full", "variable_finetune": "top_k", "adapters": "adapters", "automl_no_bert": "no_bert_baseline",
    "Head": "head", "Full": "full", "ST-A": "st_a", "MT-A": "mt_a", "F_w_ST-A": "fusion_st_a",
    "F_w_MT-A": "fusion_mt_a", "ST-A_Houlsby": "st_a_houlsby",
}

# Pfeiffer et al. 2021 (fusion_in_text_numbers.md): Table 2 counts a difference of at most 0.3 points as "same";
# Fig. 4 shows the small (<5k) targets CB, RTE and MRPC leaning on the adapter of the large NLI task MNLI.
FUSION_SAME_THRESHOLD = 0.3
FUSION_SMALL_TASKS = ("RTE", "CB", "MRPC")
FUSION_NLI_SOURCE = "MNLI"


def _read(name: str) -> pd.DataFrame:
    with (resources.files("adapterlib.reporting") / "paper_numbers" / name).open() as f:
        return pd.read_csv(f, comment="#")


def houlsby_glue() -> pd.DataFrame:
    """Houlsby Table 1: one row per (method, paper_task) with paper_score; params columns per method."""
    wide = _read("houlsby_table1_glue_test.csv")
    tasks = [c for c in wide.columns if c not in ("method", "total_params_x", "trained_params_per_task_pct")]
    tidy = wide.melt(id_vars=["method", "total_params_x", "trained_params_per_task_pct"], value_vars=tasks,
                     var_name="paper_task", value_name="paper_score")
    tidy["method"] = tidy["method"].map(_METHOD_NAMES)
    return tidy.rename(columns={"trained_params_per_task_pct": "paper_trained_pct",
                                "total_params_x": "paper_total_params_x"})


def houlsby_additional() -> pd.DataFrame:
    """Houlsby Table 2: one row per (method, paper_task) with paper_score and paper_sem (when given)."""
    wide = _read("houlsby_table2_additional_tasks.csv").rename(columns={"dataset": "paper_task"})
    rows = []
    for column in ("automl_no_bert", "finetune", "variable_finetune", "adapters"):
        part = wide[["paper_task", column]].rename(columns={column: "paper_score"})
        part["paper_sem"] = wide.get(f"{column}_sem")
        part["method"] = _METHOD_NAMES[column]
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


def houlsby_additional_params() -> pd.DataFrame:
    """Houlsby Table 2's footer, one row per method: ``paper_total_params_x`` (parameters to store for its 17 tasks,
    x the base model) and ``paper_trained_pct`` (trained parameters per task, % of the base model)."""
    frame = _read("houlsby_table2_params.csv")
    frame["method"] = frame["method"].map(_METHOD_NAMES)
    return frame.rename(columns={"trained_params_per_task_pct": "paper_trained_pct",
                                 "total_params_x": "paper_total_params_x"})


# Counts and sizes the papers state in words, not in a table (sources cited per constant).
HOULSBY_GLUE_N_TASKS = 9  # Table 1's total params are for 9 GLUE tasks (its MNLI-m and MNLI-mm columns are one task)
HOULSBY_ADDITIONAL_N_TASKS = 17  # Table 2: 17 additional classification tasks
HOULSBY_MEAN_ROW = {"glue": "total", "additional": "Average"}  # the mean row of houlsby_glue(), houlsby_additional()
BERT_BASE_PARAMS = 110e6  # Houlsby Fig. 4 (houlsby_in_text_numbers.md): shares of BERT-base's 110M parameters
BERT_LARGE_PARAMS = 340e6  # Houlsby Table 1's model; its size as Devlin et al. 2019 give it (340M)
# Fig. 4's in-text points on MNLI-m (houlsby_in_text_numbers.md): "about 9M", "about 2M", "about 40k" trained params.
HOULSBY_FIG4_TRAINED_PARAMS = {"full": BERT_BASE_PARAMS, "top_k_1": 9e6, "adapters_64": 2e6, "layernorm": 40e3}
# Fig. 5's in-text points (houlsby_in_text_numbers.md): trained parameters per task, % of the base model (BERT-large:
# Sec. 3.5 names none, its fine-tuning F1 of 90.7 is BERT-large's; size 64 is 1.9% of it, 2.2% of BERT-base).
HOULSBY_FIG5_TRAINED_PCT = {"full": 100.0, "adapters_64": 2.0, "adapters_2": 0.1}


# What each paper table's numbers are measured on, for a ``paper_split`` column beside ours (``our_split``), so no
# one compares a dev score with a test one unknowingly. Houlsby Sec. 3.1: "For the GLUE tasks, we report the test
# metrics provided by the submission website. For the other classification tasks we report test-set accuracy";
# Pfeiffer et al. 2021 Table 1 is on the development sets.
PAPER_SPLITS = {"houlsby_table1": "GLUE test server", "houlsby_table2": "test set", "fusion_table1": "dev set"}


def fusion_table1() -> pd.DataFrame:
    """AdapterFusion Table 1: one row per (method, paper_task) with paper_score (dev accuracy)."""
    wide = _read("fusion_table1_dev.csv")
    tidy = wide.melt(id_vars=["task", "train_size_bucket"], var_name="method", value_name="paper_score")
    tidy["method"] = tidy["method"].map(_METHOD_NAMES)
    return tidy.rename(columns={"task": "paper_task"})


def claims() -> pd.DataFrame:
    """Numbers from the papers' text and figures, one row per claim id."""
    return _read("in_text_claims.csv").set_index("claim")


def paper_score(table: pd.DataFrame, paper_task: str | None, method: str) -> float:
    """The paper's number for (task, method) in one of the frames above, or NaN when the paper has none."""
    hit = table[(table["paper_task"] == paper_task) & (table["method"] == method)]["paper_score"]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def claim_value(claim: str) -> float:
    """The paper's number for ``claim``, an id of ``in_text_claims.csv``."""
    return float(claims().at[claim, "value"])


def fusion_n_tasks() -> int:
    """How many tasks AdapterFusion's Table 1 (and its Table 2 counts) cover: 16."""
    return int((_read("fusion_table1_dev.csv")["task"] != "Mean").sum())
