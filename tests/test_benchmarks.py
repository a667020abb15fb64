"""The benchmark harness (benchmarks/bench.py), our side only, at the smoke profile: schema, sane values, arithmetic.

No timing assertions: timings on a shared CPU say nothing in a unit test. The peer side needs its own venv
(`make peers`) and runs in the main job; here we only check that asking for it without the venv fails loudly.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench as module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


def test_requested_peers_without_their_venv_fail_loudly(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "PEERS_VENV", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="make peers"):
        bench.run("smoke", peers=True)


@pytest.mark.slow
def test_smoke_profile_ours(bench, tmp_path, monkeypatch):
    from adapterlib.results import RESULTS_ENV, results_dir

    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "results"))
    df = bench.run("smoke", peers=False, log_dir=tmp_path)
    assert set(df.library) == {"adapterlib"}
    for group in bench.groups("smoke"):
        sub = df[(df["mode"] == group.mode) & (df.seq_len == group.seq_len)]
        assert set(sub.config) == set(group.configs) and (sub.reps == group.reps).all()
    numbers = df[["time_s", "throughput", "gflops", "peak_mib", "ratio_vs_baseline", "ideal_ratio"]]
    assert numbers.map(math.isfinite).all().all() and (numbers > 0).all().all()
    assert df.ratio_vs_adapters.isna().all()  # no peers in this run

    train = df[df["mode"] == "train"].set_index("config")
    assert train.ratio_vs_baseline["full"] == pytest.approx(1.0)
    assert (train[["fwd_s", "bwd_s", "opt_s"]] >= 0).all().all()
    # arithmetic: an adapter step skips the frozen weights' gradients (about 2/3 of full); head-only about 1/3
    assert 0.6 < train.ideal_ratio["houlsby64"] < 0.8 and 0.6 < train.ideal_ratio["pfeiffer16"] < 0.75
    assert 0.25 < train.ideal_ratio["head"] < 0.4
    fusion = train.ideal_ratio[list(bench.FUSION[:3])]
    assert fusion.is_monotonic_increasing  # more adapters fused, more arithmetic
    params = train.trainable_params
    assert params["head"] < params["pfeiffer16"] < params["houlsby64"] < params["full"]
    assert train.peak_mib["full"] > train.peak_mib["houlsby64"]  # gradients + AdamW state of every weight

    checks = bench.claims(df)
    verdicts = {c.claim: c.verdict for c in checks}
    assert len(verdicts) == 7
    assert {verdicts[c] for c in verdicts if c.endswith("_vs_adapters")} == {"not measured"}
    path = bench.save(df, "smoke")
    assert path == results_dir("smoke") / "benchmarks.csv" and path.is_relative_to(tmp_path)
    assert pd.read_csv(path).shape == df.shape
    assert "not measured" in bench.findings(df, checks)
    assert len(bench.plot(df).axes) == 4
    assert len(bench.table(df)) == len(df)
