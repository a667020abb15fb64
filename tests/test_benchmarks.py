"""The benchmark harness (benchmarks/bench.py, our side only, at the smoke profile: schema, sane values, arithmetic)
and its report (adapterlib.studies.benchmarks: statistics, target checks, figure, table).

No timing assertions: timings on a shared CPU say nothing in a unit test. The peer side needs its own venv
(`make peers`) and runs in the main job; here we only check that asking for it without the venv fails loudly.
"""
from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from adapterlib.reporting.statistics import line_fit, median_interval
from adapterlib.studies import benchmarks

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench as module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


@pytest.fixture(scope="module")
def gpu_check(bench):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_check as module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


def test_every_profile_has_a_benchmark_protocol(bench):
    """The notebook runs for every profile: the paper profile once raised KeyError here, so SUMMARY.md was never
    written for it."""
    from adapterlib.runner.profiles import PROFILES

    for name in PROFILES:
        assert name in bench.THREADS
        assert bench.groups(name)


def test_the_paper_profile_gets_a_summary(tmp_path, monkeypatch):
    from adapterlib.reporting.outputs import RESULTS_ENV
    from adapterlib.reporting.summary import write_summary

    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    assert write_summary("paper").read_text().startswith("# Reproduction summary: profile `paper`")


def test_requested_peers_without_their_venv_fail_loudly(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "PEERS_VENV", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="make peers"):
        bench.run("smoke", peers=True)
    with pytest.raises(FileNotFoundError, match="make peers"):
        bench.run("cpu")  # the cpu profile measures the peers unless told not to


def test_median_interval_takes_order_statistics_with_binomial_coverage():
    assert median_interval([5, 1, 3, 2, 4]) == (1, 5, 1 - 2 / 32)  # n=5: the range, 93.75%
    low, high, coverage = median_interval(list(range(1, 10)))  # n=9: drop one at each end
    assert (low, high) == (2, 8) and coverage == pytest.approx(1 - 2 * 10 / 512)
    assert median_interval([2.0, 1.0]) == (1.0, 2.0, 0.5)  # too few rounds for 90%: the range, and it says so


def test_line_fit_gives_intercept_slope_and_r2():
    import numpy as np

    x = np.array([1.0, 2.0, 4.0, 8.0])
    assert line_fit(x, 3 + 0.5 * x) == (pytest.approx(3), pytest.approx(0.5), pytest.approx(1))
    assert line_fit(x, x**2)[2] < 0.98


def test_fusion_fit_interval_separates_noise_from_a_bent_line():
    def frame(times):  # five rounds per N, spread +-2% around the given medians
        return pd.DataFrame([dict(library="adapterlib", mode="train", config=f"fusion{n}", time_s=t,
                                  round_times_s=" ".join(str(t * f) for f in (0.98, 0.99, 1.0, 1.01, 1.02)))
                             for n, t in zip(benchmarks.FUSION_N, times)])

    a, b, r2, low, high = benchmarks.fusion_fit(frame([0.5 + 0.02 * n for n in benchmarks.FUSION_N]), "adapterlib",
                                                "train")
    assert (a, b, r2) == (pytest.approx(0.5), pytest.approx(0.02), pytest.approx(1.0)) and low > 0.99
    *_, r2, low, high = benchmarks.fusion_fit(frame([0.5 + 0.002 * n * n for n in benchmarks.FUSION_N]), "adapterlib",
                                              "train")
    assert r2 < 0.98 and high < 0.98 and low <= r2  # quadratic cost: the whole interval misses a line


def test_run_overhead_summary_takes_ratios_within_pairs():
    """Two pairs, the second on a machine twice as busy: within-pair ratios are unchanged by it."""
    runs = pd.DataFrame([dict(pair=p, config=c, wall_s=w * slow, train_s=t * slow)
                         for p, slow in ((0, 1.0), (1, 2.0))
                         for c, w, t in (("full", 40.0, 30.0), ("houlsby64", 32.5, 22.5))])
    summary = benchmarks.run_overhead_summary(runs, "full", "houlsby64").set_index("measure")
    assert summary.loc["end-to-end ratio", "median"] == pytest.approx(32.5 / 40)
    assert summary.loc["training-step ratio", "median"] == pytest.approx(0.75)
    assert summary.loc["end-to-end minus step ratio", "median"] == pytest.approx(32.5 / 40 - 0.75, )
    assert summary.loc["full: share outside training steps", "median"] == pytest.approx(0.25)
    assert summary.loc["houlsby64: share outside training steps", "median"] == pytest.approx(10 / 32.5, )
    assert (summary.low == summary["median"]).all() and (summary.pairs == 2).all()


def test_run_times_compare_the_runs_both_stores_trained(tmp_path):
    """The machine's speed between two timed runs: only shared run ids count, a run only one side trained does not;
    a store exported to CSV compares as the store itself."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import compare_run_times as crt
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    for name, times in (("new", {"a": 12.0, "b": 30.0, "c": 9.0, "only_new": 500.0}),
                        ("old", {"a": 10.0, "b": 20.0, "c": 9.0, "only_old": 1.0})):
        for run_id, wall in times.items():
            (tmp_path / name / run_id).mkdir(parents=True)
            (tmp_path / name / run_id / "record.json").write_text(json.dumps({"run_id": run_id, "wall_time": wall}))
    crt.main([str(tmp_path / "new"), "--export", str(tmp_path / "new.csv")])
    from_store = crt.compare(crt.wall_times(tmp_path / "new"), crt.wall_times(tmp_path / "old"))
    from_csv = crt.compare(crt.wall_times(tmp_path / "new.csv"), crt.wall_times(tmp_path / "old"))
    assert from_store == pytest.approx(from_csv)
    assert from_store["shared_runs"] == 3
    assert from_store["ratio_of_sums"] == pytest.approx(51 / 39)
    assert from_store["median_ratio"] == pytest.approx(1.2)
    assert (from_store["min_ratio"], from_store["max_ratio"]) == pytest.approx((1.0, 1.5))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no run records"):
        crt.wall_times(tmp_path / "empty")
    with pytest.raises(SystemExit, match="share no run id"):
        crt.compare(crt.wall_times(tmp_path / "new"), pd.Series({"x": 1.0}))


class FakeWorker:
    """Answers the driver's commands with fixed step times: ``speed`` scales every step of this library."""

    def __init__(self, library: str, speed: float) -> None:
        self.library, self.speed, self.threads = library, speed, 1
        self.versions = {library: "0", "transformers": "5" if library == "adapterlib" else "4"}

    def call(self, op: str, config: str | None = None, **_) -> dict:
        name = config.rpartition("/")[2] if config else None
        if op == "setup":
            return dict(ok=True, library=self.library if "/" in config or self.library == "adapterlib" else
                        "transformers", trainable_params=1, flops={"full": 3, "houlsby64": 2}[name])
        if op == "step":
            t = self.speed * {"full": 1.0, "houlsby64": 0.8}[name]
            return dict(ok=True, step=t, fwd=t / 3, bwd=t / 2, opt=t / 6)
        return dict(ok=True)


def test_peer_ratio_over_own_base_cancels_a_slower_base_model(bench):
    """The peers' whole stack 10% slower: ours/theirs is 0.8/0.88 absolute but exactly 1 over each own base."""
    import random

    workers = {"ours": FakeWorker("adapterlib", 1.0), "peers": FakeWorker("adapters", 1.1)}
    group = bench.Group("minilm-l6", "train", 32, 128, ("full", "houlsby64"), reps=5, peer_extras=False)
    rows = pd.DataFrame(bench.measure(group, workers, random.Random(0))).set_index(["worker", "config"])
    ours = rows.loc[("ours", "houlsby64")]
    assert ours.ratio_vs_adapters == pytest.approx(0.8 / 0.88) and ours.ratio_vs_adapters_own_base == pytest.approx(1)
    assert ours.ratio_vs_baseline == pytest.approx(0.8) and ours.ideal_ratio == pytest.approx(2 / 3)
    assert ("peers", "full") in rows.index and ("peers", "lora_qv64") not in rows.index  # baseline in, LoRA out


@pytest.mark.slow
def test_smoke_profile_ours(bench, tmp_path, monkeypatch):
    from adapterlib.reporting.outputs import RESULTS_ENV, results_dir

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
    fusion = train.ideal_ratio[list(benchmarks.FUSION[:3])]
    assert fusion.is_monotonic_increasing  # more adapters fused, more arithmetic
    params = train.trainable_params
    assert params["head"] < params["pfeiffer16"] < params["houlsby64"] < params["full"]
    assert train.peak_mib["full"] > train.peak_mib["houlsby64"]  # gradients + AdamW state of every weight

    checks = benchmarks.claims(df)
    verdicts = {c.claim: c.verdict for c in checks}
    assert len(verdicts) == 7
    assert {verdicts[c] for c in verdicts if c.endswith("_vs_adapters")} == {"not measured"}
    path = benchmarks.save(df, "smoke")
    assert path == results_dir("smoke") / "benchmarks.csv" and path.is_relative_to(tmp_path)
    assert pd.read_csv(path).shape == df.shape
    assert "not measured" in benchmarks.findings(df, checks)
    assert len(benchmarks.plot(df).axes) == 4
    assert len(benchmarks.table(df)) == len(df)


@pytest.mark.parametrize("precision, dtype", [("bf16", "bfloat16"), ("fp32", "float32")])
def test_every_worker_runs_forward_passes_in_the_asked_precision(bench, tmp_path, monkeypatch, precision, dtype):
    """``--precision`` reaches both workers' environment, where ``_common.precision_context`` turns it into CPU
    autocast (bf16) or plain fp32: the ratios of ours over the peers stay at matched precision."""
    seen = {}

    class FakeProcess:
        def __init__(self, cmd, env, **kwargs):
            seen[cmd[-1]] = env["BENCH_PRECISION"]
            self.stdout = io.StringIO(json.dumps({"versions": {}, "threads": 1}) + "\n")

    monkeypatch.setattr(bench.subprocess, "Popen", FakeProcess)
    for name in ("ours", "peers"):
        bench.Worker(name, ["python", name], tmp_path / f"{name}.log", threads=1, precision=precision)
    assert seen == {"ours": precision, "peers": precision}

    monkeypatch.setenv("BENCH_PRECISION", precision)
    layer = torch.nn.Linear(4, 4)
    with bench.C.precision_context():  # benchmarks/_common.py
        out = layer(torch.ones(2, 4))
    assert out.dtype == getattr(torch, dtype)


def test_figure_legends_sit_under_their_panels_off_the_data():
    """Drawn from the committed cpu measurements: no legend overlaps any panel."""
    fig = benchmarks.plot(pd.read_csv(ROOT / "results" / "cpu" / "benchmarks.csv"))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 3  # the inference panel's colours are the first panel's
    for legend in legends:
        assert not any(legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)


@pytest.mark.slow
def test_gpu_check_dry_run_reports_every_part(gpu_check, tmp_path):
    """The GPU check's one entry point on its CPU path (tiny shapes, ours only): every part ran, and the report
    carries each part's fields, in the JSON and in the text a person reads (also printed)."""
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--no-peers", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["check"] == "dry-run" and report["problems"] == [] and report["seconds"] > 0
    assert {"name", "torch", "cuda", "python", "precision", "tf32_matmuls"} <= set(report["device"])
    assert report["model"]["weights"] and report["model"]["path"]

    study = report["study"]
    assert study["notebook"] == gpu_check.STUDY and study["overrides"] == gpu_check.study_overrides(gpu_check.DRY_RUN)
    assert study["overrides"]["precision"] == "bf16" and study["seconds"] > 0
    assert study["runs"] == 2 and {row["method"] for row in study["rows"]} == {"full", "adapters_8"}
    for row in study["rows"]:
        assert 0 <= row["test_score"] <= 100 and row["wall_s"] > 0 and row["examples_per_s"] > 0
        assert row["committed_cpu_score"] is None  # the dry run's scale is not the committed run's

    bench_part = report["bench"]
    assert (bench_part["precision"], bench_part["device"], bench_part["peers"]) == ("bf16", "cpu", False)
    measured = {(row["mode"], row["config"]) for row in bench_part["rows"]}
    assert measured == {(group.mode, config) for group in gpu_check.DRY_RUN.groups for config in group.configs}
    for row in bench_part["rows"]:
        assert row["library"] == "adapterlib" and row["step_ms"] > 0 and row["peak_mib"] > 0
        assert row["trainable_params"] > 0 and row["x_adapters"] is None
    assert set(bench_part["versions"]) == {"ours"}
    assert {"adapterlib", "transformers"} <= set(bench_part["versions"]["ours"])

    text = (tmp_path / "gpu_check.txt").read_text()
    for line in ("device: ", "model: MiniLM-L6", "study: houlsby_table1_glue", "bench: bf16 on cpu", "result: ok"):
        assert line in text and line in done.stdout
    assert {"study-fill.log", "bench-ours.log"} <= {path.name for path in tmp_path.iterdir()}


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU this would run the whole check")
def test_gpu_check_without_a_gpu_stops_at_the_device(gpu_check, tmp_path):
    """Asked for CUDA where torch sees none, the check stops before the study with exit status 2 and says why."""
    assert gpu_check.main(["--no-peers", "--out", str(tmp_path)]) == 2
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert "no CUDA device" in report["device"]["error"] and "study" not in report and "bench" not in report
    assert "device: FAILED: RuntimeError: no CUDA device" in (tmp_path / "gpu_check.txt").read_text()
