"""The runs every AdapterFusion study draws on, and their rows in the output tables.

The runs build on each other through the profile's run store: the ST-A runs (Pfeiffer adapters, reduction factor
16) are trained once and every Fusion w/ ST-A run fuses all of them; the MT-A run (one multi-task run over the
profile's fusion tasks) gives the adapters and encoder of every Fusion w/ MT-A run; Table 3's reduction factor 16
is ST-A itself; Full shares Houlsby Table 1's full fine-tuning runs and ST-A Houlsby its size-64 adapter runs.
Hyperparameters are chosen on dev and scores reported on test (the paper reports dev: it has no test labels).
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import pandas as pd

from adapterlib.data.tasks import get_task
from adapterlib.reporting.paper import fusion_table1
from adapterlib.runner.grid import run_grid, select_best
from adapterlib.runner.profiles import Profile
from adapterlib.runner.scale_grids import ST_A
from adapterlib.runner.settings import MultiTaskConfig, RunConfig
from adapterlib.studies.common import tidy_rows

TABLE1_GRIDS = ("fusion_full", "fusion_st_a", "fusion_st_a_houlsby", "mt_a", "fusion")  # every run of Table 1


def results(profile: Profile, configs: Sequence[RunConfig | MultiTaskConfig]) -> pd.DataFrame:
    """The results of ``configs`` from the profile's run store, training only what is missing, scored as
    ``scored`` says."""
    return scored(profile, run_grid(configs, profile.store()).frame)


def scored(profile: Profile, frame: pd.DataFrame) -> pd.DataFrame:
    """The finished runs of a results ``frame``, ``score`` being the fusion suite's metric (accuracy for MRPC and
    QQP too, as AdapterFusion reports them, where a run records Houlsby's F1 as its score: models are chosen and
    scored on accuracy; a run's best epoch stays its own metric's)."""
    if frame.empty:
        return frame
    frame = frame[frame["status"] == "ok"]
    metric = frame["task"].map(lambda task: get_task(task, profile.suites["fusion"]).metric)
    return frame.assign(score=[frame.at[i, m] for i, m in metric.items()])


def st_a_configs(profile: Profile, grid: str = "fusion_st_a", tasks: Sequence[str] | None = None) -> list[RunConfig]:
    """Single-task adapter runs of ``grid`` on ``tasks`` (default: the profile's fusion tasks)."""
    return profile.configs(grid, tasks or profile.task_names("fusion"), role="fusion", regime="adapters")


def mt_a_configs(profile: Profile) -> list[MultiTaskConfig]:
    """One MT-A run over all of the profile's fusion tasks per point of the ``mt_a`` grid and seed; none with fewer
    than two tasks (the others left out: ``Profile.missing_tasks``), where there is no multi-task run to make."""
    tasks = profile.task_names("fusion")
    if len(tasks) < 2:
        return []
    scales = {task: profile.run_config(task, "head", role="fusion") for task in tasks}  # model, caps and lengths
    scale = scales[tasks[0]]
    # each task at the length of its single-task runs: the profile's, or the task's own where it needs more
    longer = {task: s.max_length for task, s in scales.items() if s.max_length != profile.max_length}
    grid = profile.grids["mt_a"]
    return [MultiTaskConfig(tasks=tuple(tasks), model=scale.model, adapter=ST_A, lr=lr, epochs=epochs,
                            batch_size=scale.batch_size, max_length=profile.max_length, task_max_length=longer,
                            seed=seed,
                            **scale.caps, model_kwargs=scale.model_kwargs,
                            precision=scale.precision)
            for lr, epochs, seed in itertools.product(grid["lr"], grid["epochs"], profile.seeds_for("fusion"))]


def fusion_configs(profile: Profile, sources: Sequence[RunConfig | MultiTaskConfig]) -> list[RunConfig]:
    """For every target task and seed: one fusion of all source adapters of that seed (ST-A runs of one
    hyperparameter point, or one MT-A run), as in the paper (each target fuses all 16 adapters)."""
    configs = []
    for seed in profile.seeds_for("fusion") if sources else ():
        mine = [s for s in sources if s.seed == seed]
        groups = ([m.adapter_ids for m in mine] if mine and isinstance(mine[0], MultiTaskConfig)
                  else [[s.run_id for s in mine]])
        for ids, task in itertools.product(groups, profile.task_names("fusion")):
            configs += profile.configs("fusion", [task], role="fusion", regime="fusion", fusion=[tuple(ids)],
                                       seed=[seed])
    return configs


def table1_configs(profile: Profile) -> dict[str, list[RunConfig | MultiTaskConfig]]:
    """Every run of AdapterFusion Table 1, by the frame it fills: Head and Full (``baselines``), ST-A, ST-A
    Houlsby, MT-A, and the fusions over ST-A and over MT-A (their configs name the source runs' ids, so they are
    known before the sources have trained)."""
    st_a, mt_a = st_a_configs(profile), mt_a_configs(profile)
    return {"baselines": profile.configs("fusion_full", profile.task_names("fusion"), role="fusion",
                                         regime=["head", "full"]),
            "st_a": st_a, "st_a_houlsby": st_a_configs(profile, "fusion_st_a_houlsby"), "mt_a": mt_a,
            "fusion_st_a": fusion_configs(profile, st_a), "fusion_mt_a": fusion_configs(profile, mt_a)}


def method_rows(profile: Profile, frame: pd.DataFrame, method: str, paper_method: str | None = None) -> pd.DataFrame:
    """One row per task for ``method``: hyperparameters chosen on dev (seeds averaged), the paper's number of
    ``paper_method`` (default ``method``) from Table 1 beside ours."""
    if frame.empty:
        return pd.DataFrame()
    selected = select_best(frame, by=["task", "regime"], seeds="mean")
    rows = tidy_rows(selected, method, fusion_table1(), paper_method, suite=profile.suites["fusion"])
    return rows.assign(run_ids=selected["run_ids"].to_numpy())
