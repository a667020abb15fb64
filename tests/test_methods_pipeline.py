"""A method is one unit from core to the plots (issue 33): every registered method reaches the grids, the run store's
runs table, model selection, the trade-off figures' points and series and the plan through the registry alone, and
no module of the runner, the studies or the reporting names a method other than the papers' own. No training: the
results here are hand-made records."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import adapterlib as al
import adapterlib.runner.store as store_module
from adapterlib.core.inject import METHODS, method_of
from adapterlib.data.tasks import get_task
from adapterlib.runner.profiles import PROFILES, get_profile
from adapterlib.runner.settings import RunConfig, RunResult
from adapterlib.runner.store import results_frame
from adapterlib.studies import tradeoff
from adapterlib.studies.base import planned_runs
from adapterlib.studies.fusion import tradeoff as fusion_tradeoff
from adapterlib.studies.fusion import table3 as fusion_table3
from adapterlib.studies.houlsby import fig3
from adapterlib.studies.houlsby.runs import sweep_points

PACKAGE = Path(al.__file__).parent
TASK = "sst2_dev_split"


def result(cfg: RunConfig, score: float, n_examples: int = 200) -> RunResult:
    """A finished run of ``cfg`` scoring ``score`` (accuracy) on dev and test, with per-example predictions that
    give it (a learned task must show its interval above the majority class)."""
    metrics = {"score": score, get_task(cfg.task).metric: score}
    references = [i % 2 for i in range(n_examples)]
    right = round(score / 100 * n_examples)
    predictions = [r if i < right else 1 - r for i, r in enumerate(references)]
    return RunResult(cfg.run_id, cfg.to_dict(), "ok", {"validation": metrics, "test": metrics}, 1, [],
                     {"trainable": 1000, "total": 10 ** 6, "trainable_pct": 0.1}, 1.0, 1.0,
                     predictions={"validation": predictions, "test": predictions},
                     references={"validation": references, "test": references})


def test_every_other_method_trains_on_the_grid_of_its_key_in_every_profile():
    assert {m.key for m in tradeoff.OTHER_METHODS} == {m.key for m in METHODS} - {tradeoff.PAPERS_METHOD.key}
    for name in PROFILES:
        profile = get_profile(name)
        configs = tradeoff.method_configs(profile, [TASK])
        assert {method_of(c.adapter) for c in configs} == set(tradeoff.OTHER_METHODS), name
        assert {c.regime for c in configs} == {"adapters"}


def test_ia3_learning_rates_are_its_own_not_the_adapters():
    """(IA)³'s published rate is 10-100x the adapters': its grid is its own in every profile."""
    for name in PROFILES:
        grid = get_profile(name).grids["ia3"]
        assert min(grid["lr"]) >= 1e-3 and grid["method"] == ["ia3"], name
    assert get_profile("paper").grids["ia3"]["lr"] == [1e-3, 3e-3, 1e-2]  # Liu et al.'s 3e-3 and its neighbours


def test_each_point_is_named_and_drawn_as_its_method_registers_it():
    adapters = [al.AdapterConfig.houlsby(8), *(m.config_type() for m in METHODS)]
    configs = [RunConfig(TASK, adapter=a, lr=3e-3) for a in adapters]
    configs += [RunConfig(TASK, regime="full"), RunConfig(TASK, regime="top_k", top_k=1)]
    points = sweep_points(results_frame([result(c, 80.0 + i) for i, c in enumerate(configs)]), "glue_offline")
    named = dict(zip(points["method"], points["series"]))
    expected = {method_of(a).point_name(a): method_of(a).family for a in adapters}
    assert named == {**expected, "full": "full", "top_k_1": "top_k"}
    for series in (fig3.SERIES, fusion_tradeoff.SERIES):
        drawn = {s.key: s for s in series}
        assert len({s.color for s in series}) == len(series)  # no two series share a colour
        for method in (METHODS if series is fig3.SERIES else tradeoff.OTHER_METHODS):
            assert (drawn[method.family].label, drawn[method.family].color) == (method.label, method.colour)


def test_the_trade_off_studies_list_the_other_methods_and_then_only_on_learned_tasks(monkeypatch, tmp_path):
    """Provisional on every task until full fine-tuning has run; then only where it learned the task."""
    monkeypatch.setenv("ADAPTERLIB_RUNS", str(tmp_path))
    profile = get_profile("smoke", tasks={**get_profile("smoke").tasks, "fusion": ("uci_sentiment", "cb_dev_split")})
    on_glue = {c.run_id for c in tradeoff.method_configs(profile, profile.task_names("glue"))}
    assert on_glue <= {r.config.run_id for r in planned_runs(fig3.STUDY, profile) if r.provisional}
    full = fusion_table3.full_configs(profile)
    provisional = [run for run in fusion_tradeoff.runs(profile) if getattr(run, "provisional", False)]
    others = [run for run in provisional if method_of(run.config.adapter) in tradeoff.OTHER_METHODS]
    assert {(method_of(r.config.adapter), r.config.task) for r in others} == {
        (m, t) for m in tradeoff.OTHER_METHODS for t in ("uci_sentiment", "cb_dev_split")}
    # the rest are Table 3's reduction factors other than Table 1's 16, also only needed on learned tasks
    assert {(r.config.adapter.reduction_factor, r.config.task) for r in provisional if r not in others} == {
        (rf, t) for rf in (2, 64) for t in ("uci_sentiment", "cb_dev_split")}
    assert all(r.after == tuple(c.run_id for c in full) for r in provisional)
    scores = {"uci_sentiment": 99.0, "cb_dev_split": 0.0}  # learned (far above its majority class), and not
    monkeypatch.setattr(store_module, "train_and_evaluate",
                        lambda cfg, save_to, **kw: (save_to.mkdir(parents=True), result(cfg, scores[cfg.task]))[1])
    for cfg in full:
        profile.store().run(cfg, progress=False)
    decided = {c.run_id for c in fusion_tradeoff.runs(profile) if isinstance(c, RunConfig) and c.adapter is not None
               and method_of(c.adapter) in tradeoff.OTHER_METHODS}
    assert decided == {c.run_id for c in tradeoff.method_configs(profile, ["uci_sentiment"], role="fusion")}


@pytest.mark.parametrize("layer", ["runner", "studies", "reporting"])
def test_no_runner_study_or_reporting_module_imports_another_methods_own_module(layer):
    """Adding a method touches its own file, its test and the registry; only the profiles' grids (scale_grids)
    say how each method is trained at each scale."""
    own = {m.config_type.__module__ for m in tradeoff.OTHER_METHODS}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        if path.name == "scale_grids.py":
            continue
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not imported & own, f"{path.relative_to(PACKAGE)} imports {sorted(imported & own)}"
