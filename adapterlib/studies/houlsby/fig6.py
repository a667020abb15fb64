"""Houlsby Figure 6 (with appendix Figure 7 and section 3.6): ablation and robustness, four panels in one table
with a ``panel`` column.

``ablation``: size-64 adapters on BERT-base (``runs.ANALYSIS_ROLE``, Sec. 3.6; Table 1's own runs where one model
serves every role) with the adapters of every contiguous span of layers switched off at evaluation time (nothing
retrained); ``init_std`` and ``lr``: sweeps of size-64 adapters on the MNLI-like task, on BERT-base as well;
``size``: Table 1's adapter sizes by test score (Sec. 3.6 "re-examine[s] the experimental data from Section 3.2":
BERT-large), with Table 1's full fine-tuning rows, which say the tasks learned: means, figure and claims use those
alone, and the claims pair the sizes' test predictions. The paper's printed numbers sit under the paper task they
were printed for (``all_removed_paper_rows``).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from adapterlib.core.inject import adapters_removed
from adapterlib.data.tasks import get_task, load_task
from adapterlib.reporting.claims import ClaimCheck
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.runner.grid import run_grid, select_best
from adapterlib.runner.profiles import Profile
from adapterlib.data.encoding import encode
from adapterlib.runner.evaluate import evaluate_split
from adapterlib.runner.settings import DATA_SEED, RunConfig
from adapterlib.studies.base import Study, declares_runs, register
from adapterlib.studies.common import learned_tasks
from adapterlib.studies.houlsby import fig6_claims
from adapterlib.studies.houlsby.fig6_claims import SIZES
from adapterlib.studies.houlsby.runs import (ANALYSIS_ROLE, exact_counts, figure_suite, figure_tasks, finished,
                                             in_task_order, sweep_points)

BERT_BASE_LAYERS = 12  # the paper's ablation model: "removing all adapters" is removing layers 0-11's

STUDY = register(Study(name="houlsby_fig6_ablation", paper="houlsby",
                       title="Figure 6 (and Figure 7, section 3.6): ablation and robustness", roles=("glue",),
                       model_roles=(ANALYSIS_ROLE,), grids=("houlsby_glue", "init_std", "lr_sweep"),
                       depends=("houlsby_table1_glue",)))


def ablation_configs(profile: Profile, tasks: Sequence[str]) -> list[RunConfig]:
    """Table 1's size-64 adapter runs on ``tasks``: the models the ablation reloads."""
    return [c for c in profile.configs("houlsby_glue", tasks, role=ANALYSIS_ROLE, regime=["adapters"])
            if c.adapter.size == 64]


def sweep_configs(profile: Profile, grid: str, tasks: Sequence[str]) -> list[RunConfig]:
    """A one-key sweep of size-64 adapters (``init_std`` or ``lr_sweep``), on the analysis role's model."""
    return profile.configs(grid, tasks, role=ANALYSIS_ROLE)


def size_configs(profile: Profile) -> list[RunConfig]:
    """Table 1's adapter and full fine-tuning runs on the GLUE role's classification tasks (section 3.6; full
    fine-tuning says which tasks were learned, ``common.learned_tasks``)."""
    tasks = [t for t in profile.task_names("glue") if get_task(t).format != "regression"]
    return profile.configs("houlsby_glue", tasks, regime=["adapters", "full"])


@declares_runs(STUDY)
def runs(profile: Profile) -> list[RunConfig]:
    """The four panels' runs: the ablation's models, the two sweeps on the MNLI-like task, section 3.6's sizes."""
    sweep_task = figure_tasks(profile, 1)
    return [*ablation_configs(profile, figure_tasks(profile)), *sweep_configs(profile, "init_std", sweep_task),
            *sweep_configs(profile, "lr_sweep", sweep_task), *size_configs(profile)]


def ablation_spans(n_layers: int) -> list[tuple[int, int]]:
    """Every contiguous span (first, last) of ``n_layers`` layers, first <= last (the heatmap's cells)."""
    return [(first, last) for first in range(n_layers) for last in range(first, n_layers)]


def _majority_rate(labels: Sequence[int]) -> float:
    values = pd.Series(list(labels))
    return 100.0 * float(values.value_counts(normalize=True).iloc[0]) if len(values) else float("nan")


def _best_run(profile: Profile, winner: pd.Series) -> str:
    """The single best-on-dev run among the winner's seeds."""
    results = [profile.store().get(r) for r in winner["run_ids"]]
    return max(results, key=lambda r: r.metrics["validation"]["score"]).run_id


def ablation(profile: Profile, tasks: Sequence[str] | None = None, split: str = "validation") -> pd.DataFrame:
    """Figure 6 left, on ``split`` (the paper: validation): one row per task and removed span, plus the intact
    model (``first_layer`` NaN); ``majority`` is the majority-class accuracy of that split."""
    tasks = list(tasks or figure_tasks(profile))
    store = profile.store()
    selected = in_task_order(select_best(finished(profile, ablation_configs(profile, tasks)), by=["task", "regime"],
                                         seeds="best"), tasks)
    rows = []
    for _, winner in selected.iterrows():
        run_id = _best_run(profile, winner)
        cfg = RunConfig.from_dict(store.get(run_id).config)
        spec = get_task(cfg.task, figure_suite(profile, cfg.task))
        model, tokenizer = store.load_trained(run_id)
        data = load_task(cfg.task, **cfg.caps, seed=DATA_SEED)[split]
        n_layers = model.config.num_hidden_layers
        majority = _majority_rate(data["label"]) if "label" in data.column_names else float("nan")

        features = encode(spec, data, tokenizer, cfg.max_length, train=False, doc_stride=cfg.doc_stride)

        def score(layers: Iterable[int]) -> dict:
            """Score and per-example predictions with the adapters of ``layers`` off, in the run's precision."""
            with adapters_removed(model, layers):
                result = evaluate_split(model, spec, data, features, 64, precision=cfg.precision)
            return {"score": result.metrics["score"], "predictions": result.predictions,
                    "references": result.references}

        for first, last in [(None, None), *ablation_spans(n_layers)]:
            removed = () if first is None else range(first, last + 1)
            rows.append({"task": spec.name, "paper_task": spec.reference, "method": "adapters_64_ablation",
                         "metric": spec.metric, "split": split, "first_layer": first, "last_layer": last,
                         **score(removed), "trained_params": winner["trainable"],
                         "trained_pct": winner["trainable_pct"], "n_layers": n_layers, "majority": majority,
                         "run_id": run_id})
    return with_paper(pd.DataFrame(rows))


def with_paper(ours: pd.DataFrame) -> pd.DataFrame:
    """The ablation rows ``ours`` with Fig. 6's printed every-adapter-removed scores (``all_removed_paper_rows``): on
    our every-adapter-removed row where our task stands in for the paper task it was printed for (the paper
    profile's MNLI and CoLA), else as a row of its own with no task, so MNLI's 37 never sits under another task."""
    paper = all_removed_paper_rows()
    if ours.empty:
        return paper
    everything = (ours["first_layer"] == 0) & (ours["last_layer"] == ours["n_layers"] - 1)
    ours = ours.assign(paper_score=ours["paper_task"].map(dict(zip(paper["paper_task"], paper["paper_score"])))
                       .where(everything))
    return pd.concat([ours, paper[~paper["paper_task"].isin(ours["paper_task"].dropna())]], ignore_index=True)


def all_removed_paper_rows() -> pd.DataFrame:
    """Fig. 6's printed every-adapter-removed scores (MNLI-m 37%, CoLA 69%: their majority classes, BERT-base dev),
    one row each under the paper task it was printed for, with no task of ours."""
    known = paper_claims()
    return pd.DataFrame([{"task": None, "paper_task": known.loc[claim, "task"], "method": "adapters_64_ablation",
                          "metric": "accuracy", "split": "validation", "first_layer": 0,
                          "last_layer": BERT_BASE_LAYERS - 1, "n_layers": BERT_BASE_LAYERS, "score": float("nan"),
                          "paper_score": known.loc[claim, "value"]} for claim in fig6_claims.ALL_REMOVED])


def _sweep(profile: Profile, grid: str, key: str, tasks: Sequence[str]) -> pd.DataFrame:
    """Rows of a one-key sweep of size-64 adapters; a setting whose runs all failed (diverged) gets a NaN row."""
    suite = figure_suite(profile, tasks[0])
    frame = run_grid(sweep_configs(profile, grid, tasks), profile.store()).frame
    ok = frame[frame["status"] == "ok"]
    points = (sweep_points(ok, suite, by=[key], name=lambda r: f"adapters_64_{key}_{r[key]:g}") if len(ok)
              else pd.DataFrame())
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
    """Section 3.6: test score of each adapter size of Table 1's grid, per classification task of the GLUE role,
    with its test interval, and full fine-tuning's rows; ``learned`` marks the tasks full fine-tuning learned
    (``common.learned_tasks``), the only ones a mean or the figure may use. Test, not dev, although the paper's
    means are validation accuracies: dev chose each size's learning rate and epochs, so its winners' dev scores are
    biased upward and carry no interval, and the claims pair the sizes' test predictions; ``dev_score`` stays
    beside."""
    points = sweep_points(finished(profile, size_configs(profile)), profile.suites["glue"])
    points["paper_score"] = float("nan")
    points["split"] = "test"
    points["learned"] = points["task"].isin(learned_tasks(points))
    return points


def table(profile: Profile) -> pd.DataFrame:
    """The four panels in one tidy table with a ``panel`` column."""
    return exact_counts(pd.concat([ablation(profile).assign(panel="ablation"),
                                   init_std_sweep(profile).assign(panel="init_std"),
                                   lr_sweep(profile).assign(panel="lr"), size_means(profile).assign(panel="size")],
                                  ignore_index=True))


ANNOTATED_LAYERS = 12  # up to this many layers the cells carry their numbers at 8 pt; more (BERT-large): colour only
MIN_SCALE = 1.0  # points: the colour scale reaches at least this far, so sub-point noise stays pale


def plot_ablation(saved: pd.DataFrame) -> Figure:
    """Heatmaps as the paper draws them: first removed layer (x) by last removed layer (y), colour = score minus
    the intact model's on one diverging scale centred on 0 and symmetric (a removal can help as well as hurt, and
    a gain must not look like no change), with the number in each cell up to ``ANNOTATED_LAYERS`` layers, in black
    or white, whichever contrasts more with its cell; one per task of ours (the paper's own rows have none)."""
    part = saved[(saved["panel"] == "ablation") & saved["task"].notna()]
    tasks = list(dict.fromkeys(part["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = part[part["task"] == task]
        intact = rows.loc[rows["first_layer"].isna(), "score"].iloc[0]
        n = int(rows["n_layers"].iloc[0])
        grid = np.full((n, n), np.nan)
        for _, r in rows.dropna(subset=["first_layer"]).iterrows():
            grid[int(r["last_layer"]), int(r["first_layer"])] = r["score"] - intact
        limit = max(float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 0.0, MIN_SCALE)
        image = ax.imshow(grid, origin="lower", cmap="RdBu", vmin=-limit, vmax=limit)
        if n <= ANNOTATED_LAYERS:
            for (i, j), value in np.ndenumerate(grid):
                if not np.isnan(value):
                    ax.text(j, i, f"{value:+.1f}" if value else "0", ha="center", va="center", fontsize=8,
                            color=text_colour(image.cmap(image.norm(value))))
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xlabel("first layer with adapters removed")
        ax.set_ylabel("last layer with adapters removed")
        ax.set_title(f"{task}\nintact {intact:.1f}, majority class {rows['majority'].iloc[0]:.1f}")
        ax.grid(False)
        fig.colorbar(image, ax=ax, label="score change (points)")
    fig.tight_layout()
    return fig


def text_colour(background: tuple[float, ...]) -> str:
    """Black or white, whichever has the higher contrast ratio (WCAG 2) with ``background`` (RGB(A), 0-1): black
    from a relative luminance of 0.179 up, where the two ratios cross."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in background[:3]]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "black" if luminance > 0.179 else "white"


def plot_sweeps(saved: pd.DataFrame) -> Figure:
    """Init std sweep, learning-rate sweep and mean test score by adapter size over the learned tasks (the other
    three panels)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, panel, key, label in ((axes[0], "init_std", "init_std", "adapter init std"),
                                  (axes[1], "lr", "lr", "learning rate")):
        part = saved[saved["panel"] == panel].sort_values(key)
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
    sizes = saved[saved["panel"] == "size"]
    learned = sizes[sizes["learned"].eq(True) & (sizes["method"] != "full")]
    means = learned.groupby("size")["score"].mean()
    floor = sorted(set(sizes["task"]) - set(learned["task"]))
    left_out = f"\n(not learned, left out: {', '.join(floor)})" if floor else ""
    axes[2].plot(means.index, means.to_numpy(), "o-", label=f"ours: mean test score over the "
                 f"{learned['task'].nunique()} learned of {sizes['task'].nunique()} tasks{left_out}")
    known = paper_claims()
    axes[2].plot(SIZES, [known.loc[f"sec36_size{s}", "value"] for s in SIZES], "x--", color="red",
                 label="paper: mean validation accuracy over 8 tasks (BERT-large)")
    axes[2].set_xscale("log", base=2)
    axes[2].set_xlabel("adapter size")
    axes[2].set_ylabel("mean score")  # the split of each is in its legend entry
    axes[2].set_title("Section 3.6: mean score by adapter size")
    axes[2].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3))  # below: the floor list is long
    fig.tight_layout()
    return fig


def claims(table: pd.DataFrame, csv: str = STUDY.name) -> list[ClaimCheck]:
    """fig6_* and sec36_* from ``table()`` itself (``fig6_claims``: the intervals need its per-example predictions,
    which the saved CSV leaves out)."""
    return fig6_claims.claims(table, csv)
