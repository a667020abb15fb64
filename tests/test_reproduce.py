"""The reproduce command's input checks, the claim records and the summary generated from them (no notebook runs)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from adapterlib.reporting import claims
from adapterlib.cli import main
from adapterlib.reporting.outputs import RESULTS_ENV
from adapterlib.reporting.summary import render_summary, write_run_info


@pytest.mark.parametrize("argv, message", [
    (["reproduce", "--profile", "smoke", "--only", "table9"], "unknown notebook(s) ['table9']"),
    (["reproduce", "--profile", "smoke", "--overrides", '{"max_trian": 10}'], "unknown profile override(s) ['max_trian']"),
    (["reproduce", "--profile", "smoke", "--overrides", '{"grids": {"squad": {"epoch": [1]}}}'],
     "grid 'squad' has unknown keys ['epoch']"),
])
def test_reproduce_rejects_bad_input_in_one_line_before_running(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


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
        main(["reproduce", "--profile", "gpu"])
    assert "invalid choice: 'gpu'" in capsys.readouterr().err


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
    assert "Verdicts: 0 holds, 1 does not hold, 0 inconclusive, 0 not measured, 1 partly" in text
    for c in checks:
        assert f"| {c.paper_value:.4g} | {c.our_value:.4g} | **{c.verdict}** |" in text
    loaded = claims.load_claims("cpu")
    assert set(loaded["notebook"]) == {"houlsby_table1_glue", "fusion_table3_reduction"}
    assert not math.isnan(pd.to_numeric(loaded["our_value"]).sum())
