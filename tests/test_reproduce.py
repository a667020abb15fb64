"""The reproduce command's input checks, the claim records and the summary generated from them (no notebook runs)."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from adapterlib.reporting import claims
from adapterlib.cli import main
from adapterlib.reporting.outputs import RESULTS_ENV
from adapterlib.reporting.summary import render_summary, write_run_info

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("argv, message", [
    (["reproduce", "--profile", "smoke", "--only", "table9"], "unknown notebook(s) ['table9']"),
    (["reproduce", "--profile", "smoke", "--overrides", '{"max_trian": 10}'], "unknown profile override(s) ['max_trian']"),
    (["reproduce", "--profile", "smoke", "--overrides", '{"grids": {"squad": {"epoch": [1]}}}'],
     ("grid 'squad'", "['epoch']")),
])
def test_reproduce_rejects_bad_input_in_one_line_before_running(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert all(part in err for part in ((message,) if isinstance(message, str) else message)), err
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", ["[1, 2]", "{not json", "@/nonexistent/overrides.json"])
def test_overrides_that_are_not_a_json_object_are_a_usage_error(value, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--profile", "smoke", "--overrides", value])
    assert "--overrides" in capsys.readouterr().err


def test_grid_overrides_change_one_axis_and_keep_the_others():
    from adapterlib.runner.profiles import get_profile

    base, changed = get_profile("cpu").grids, get_profile("cpu", grids={"squad": {"epochs": [1]}}).grids
    assert changed["squad"] == {**base["squad"], "epochs": [1]} and changed["squad"] != base["squad"]
    assert changed["houlsby_glue"] == base["houlsby_glue"]


def test_unknown_profile_is_refused_by_the_command_line(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--profile", "tpu"])
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


def test_claim_checks_take_the_papers_number_and_refuse_unknown_ones():
    c = claims.check("glue_gap", 2.0, claims.within(2.0, 0.4, holds=1.0, partly=3.0), "full - adapters", "t1")
    assert (c.paper_value, c.verdict, c.paper) == (0.4, "partly", "houlsby")
    assert claims.check("glue_gap", float("nan"), "holds", "b", "t1").verdict == "not measured"
    with pytest.raises(ValueError, match="not in in_text_claims.csv"):
        claims.check("made_up", 1.0, "holds", "b", "t1")
    with pytest.raises(ValueError, match="verdict must be one of"):
        claims.check("glue_gap", 1.0, "maybe", "b", "t1")
    assert [claims.at_most(v, 0.75, slack=0.1) for v in (0.7, 0.8, 0.9)] == ["holds", "partly", "does not hold"]
    assert [claims.at_least(v, 10, slack=2) for v in (11, 9, 7)] == ["holds", "partly", "does not hold"]
    # a noisy ratio: a miss whose interval still contains the bound is "partly", a miss by the whole interval is not
    assert [claims.interval_verdict(v, (v - 0.05, v + 0.05), 0.75, at_most=True) for v in (0.74, 0.78, 0.81)] == [
        "holds", "partly", "does not hold"]
    assert [claims.interval_verdict(v, (v - 0.01, v + 0.01), 0.98, at_most=False) for v in (0.99, 0.975, 0.95)] == [
        "holds", "partly", "does not hold"]
    assert claims.worst(["holds", "does not hold", "partly"]) == "does not hold" and claims.worst([]) == "not measured"


def test_summary_lists_every_claim_with_both_numbers_and_the_run_information(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    checks = [claims.check("glue_gap", 2.5, "partly", "mean full - adapters over 5 tasks", "t1"),
              claims.check("t3_rf2", 61.25, "does not hold", "mean over 6 tasks", "t3")]
    claims.save_claims(checks[:1], "cpu", "houlsby_table1_glue")
    claims.save_claims(checks[1:], "cpu", "fusion_table3_reduction")
    write_run_info("cpu", {"git_revision": "abc123", "versions": {"torch": "2.13.0"}, "machine": "x86_64",
                           "notebooks": {"houlsby_table1_glue": 60.0, "fusion_table3_reduction": 30.0}})
    text = render_summary("cpu")
    assert "`abc123`" in text and "torch 2.13.0" in text and "1.5 min" in text
    assert "Verdicts: 0 holds, 1 does not hold, 0 inconclusive, 0 undecidable, 0 not measured, 1 partly" in text
    for c in checks:  # paper, ours, whether the paper's number is in our interval (none here), verdict
        assert f"| {c.paper_value:.4g} | {c.our_value:.4g} | — | **{c.verdict}** |" in text
    assert "## Headlines" in text and "| Abstract: adapters within 0.4 points" in text  # glue_gap heads the table
    assert "predate the decidability rule" not in text
    for old in (tmp_path / "cpu" / "claims").glob("*.csv"):  # records written before the rule
        pd.read_csv(old).drop(columns=["paper_in_interval", "n_needed", "n_tasks"]).to_csv(old, index=False)
    stale = render_summary("cpu")
    assert stale.index("predate the decidability rule") < stale.index("## Headlines")
    loaded = claims.load_claims("cpu")
    assert set(loaded["notebook"]) == {"houlsby_table1_glue", "fusion_table3_reduction"}
    assert not math.isnan(pd.to_numeric(loaded["our_value"]).sum())


# ---------------------------------------------------------------- the kernel, and no path of this machine in the results
def test_reproduce_stops_in_one_line_without_the_projects_kernel_and_says_how_to_register_it(tmp_path):
    from adapterlib.reproduce import run_notebooks

    with pytest.raises(ValueError) as missing:
        run_notebooks("smoke", ["houlsby_table1_glue"], kernel="no-such-kernel", results=tmp_path / "results",
                      runs=tmp_path / "runs")
    message = str(missing.value)
    assert "\n" not in message and "no Jupyter kernel named 'no-such-kernel'" in message
    assert "`make setup`" in message and "-m ipykernel install --sys-prefix --name no-such-kernel" in message
    assert not (tmp_path / "results").exists() and not (tmp_path / "runs").exists()  # before anything ran


def test_the_projects_kernel_is_the_one_reproduce_and_the_makefile_use():
    from adapterlib import reproduce

    makefile = (REPO / "Makefile").read_text()
    assert reproduce.KERNEL == "adapterlib" and reproduce.KERNEL_DISPLAY == "adapterlib (.venv)"
    assert f"KERNEL  := {reproduce.KERNEL}\n" in makefile and f"KERNEL_DISPLAY := {reproduce.KERNEL_DISPLAY}\n" in makefile
    assert "ipykernel install --sys-prefix --name $(KERNEL)" in makefile  # make setup
    assert "ipykernel install --user --name $(KERNEL)" in makefile  # make kernel
    assert "--allow-root" in makefile and 'root_dir="$(CURDIR)"' in makefile  # make lab


def test_the_committed_notebooks_name_the_projects_kernel():
    import json

    from adapterlib.reproduce import KERNEL

    names = {nb.name: json.loads(nb.read_text())["metadata"].get("kernelspec", {}).get("name")
             for nb in (REPO / "notebooks").glob("*.ipynb")}
    others = {nb: name for nb, name in names.items() if name != KERNEL}
    assert names and not others, f"notebooks whose kernelspec is not {KERNEL!r}: {others}"


@pytest.mark.parametrize("inside", [True, False])
def test_an_executed_copy_records_paths_relative_to_the_project_and_the_kernel_it_ran_in(tmp_path, monkeypatch,
                                                                                         inside):
    import json

    from adapterlib.paths import PROJECT_ENV
    from adapterlib.reproduce import portable_metadata

    project = tmp_path / "project"
    results = project / "results" if inside else tmp_path / "elsewhere" / "results"
    notebook, executed = project / "notebooks" / "t1.ipynb", results / "smoke" / "t1.ipynb"
    executed.parent.mkdir(parents=True)
    monkeypatch.setenv(PROJECT_ENV, str(project))
    monkeypatch.setenv(RESULTS_ENV, str(results))
    executed.write_text(json.dumps({"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "papermill": {"input_path": str(notebook), "output_path": str(executed), "parameters": {"profile": "smoke"}}}}))
    portable_metadata(executed, notebook, {"name": "adapterlib", "display_name": "adapterlib (.venv)",
                                           "language": "python"})
    text = executed.read_text()
    meta = json.loads(text)["metadata"]
    assert meta["papermill"] == {"input_path": "notebooks/t1.ipynb", "output_path": "results/smoke/t1.ipynb",
                                 "parameters": {"profile": "smoke"}}
    assert meta["kernelspec"]["name"] == "adapterlib" and str(tmp_path) not in text


def test_run_information_and_summary_carry_no_path_of_this_machine(tmp_path, monkeypatch):
    from adapterlib.paths import PROJECT_ENV
    from adapterlib.reporting.summary import write_summary

    home, project = Path.home(), tmp_path / "project"
    monkeypatch.setenv(PROJECT_ENV, str(project))
    monkeypatch.setenv(RESULTS_ENV, str(project / "results"))
    why = (f"x==1.0.0 is not served by PyPI any more (No matching distribution found for x==1.0.0); if you have that "
           f"file (sha256 ab12), put it at {home}/.cache/adapterlib/downloads/x-1.0.0.tar.gz: it is checked and used")
    path = write_run_info("smoke", {"git_revision": "abc", "notebooks": {"houlsby_table1_glue": 6.0},
                                    "left_out": {"a": f"a: {why}", "b": f"b: no local copy in {project}/data/b"}})
    summary = write_summary("smoke")
    for text in (path.read_text(), summary.read_text()):
        assert str(home) not in text and str(project) not in text
        assert "put it at ~/.cache/adapterlib/downloads/x-1.0.0.tar.gz" in text and "no local copy in data/b" in text


def test_a_refused_sources_message_is_plain_text(tmp_path, monkeypatch):
    """pip's colour codes (rich, under FORCE_COLOR) and a trailing reset line never reach the message, which a
    notebook, a CSV or SUMMARY.md may show; the default cache is shown under ``~``."""
    import hashlib
    import subprocess

    from adapterlib.data.tasks import SourceUnavailable, sources

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ADAPTERLIB_CACHE", raising=False)
    monkeypatch.setattr(sources, "_refused", {})
    src = sources.Source("x", "pypi", "x==1.0.0", "x-1.0.0.tar.gz", hashlib.sha256(b"x").hexdigest(), "MIT")
    monkeypatch.setitem(sources.SOURCES, "x", src)
    fetch = sources.fetch
    monkeypatch.setattr(sources, "fetch", lambda name: Path("pip") if name == "pip" else fetch(name))
    answer = ("\x1b[31mERROR: Could not find a version that satisfies the requirement x==1.0.0\x1b[0m\n"
              "\x1b[31mERROR: No matching distribution found for x==1.0.0\x1b[0m\n\x1b[0m\r\n")
    calls = []

    def client(cmd, **kwargs):
        calls.append((cmd, kwargs))
        return subprocess.CompletedProcess(cmd, 1, "", answer)
    monkeypatch.setattr(sources.subprocess, "run", client)
    with pytest.raises(SourceUnavailable) as refused:
        sources.fetch("x")
    message = str(refused.value)
    assert "\x1b" not in message and "\r" not in message and "()" not in message
    assert "(No matching distribution found for x==1.0.0)" in message
    assert "put it at ~/.cache/adapterlib/downloads/x-1.0.0.tar.gz" in message and str(tmp_path) not in message
    assert "--no-color" in calls[0][0] and calls[0][1]["env"]["NO_COLOR"] == "1"
    sources.unavailable_marker(src).write_text(answer + message)  # a marker written before: read back plain
    assert "\x1b" not in sources.recorded_refusal("x")
