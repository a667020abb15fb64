"""Results, run stores and notebooks live under the project root (the working directory), never in the package."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

import adapterlib
from adapterlib import paths
from adapterlib.cli import main
from adapterlib.reporting.outputs import results_dir
from adapterlib.reproduce import Reproduction
from adapterlib.runner.store import RunStore, default_root, git_revision

PACKAGE = Path(adapterlib.__file__).resolve().parent
ENV = (paths.PROJECT_ENV, paths.RESULTS_ENV, paths.RUNS_ENV)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """An empty working directory with none of the path variables set."""
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path.resolve()


def _package_files() -> set[Path]:
    return set(PACKAGE.rglob("*"))


def test_outputs_default_to_the_working_directory_and_nothing_lands_in_the_package(project):
    before = _package_files()
    assert results_dir("smoke") == project / "results" / "smoke" and (project / "results" / "smoke").is_dir()
    assert default_root("smoke") == project / "runs" / "smoke"
    assert RunStore(profile="smoke").root == project / "runs" / "smoke"
    assert paths.notebooks_root() == project / "notebooks"
    assert git_revision() is None  # the project root, not the package's checkout, is asked
    assert {p for p in _package_files() - before if "__pycache__" not in p.parts} == set()


def test_a_notebook_kernel_in_notebooks_sees_the_project_root(project):
    (project / "notebooks").mkdir()
    os.chdir(project / "notebooks")
    assert paths.project_root() == project and paths.results_root() == project / "results"


def test_environment_variables_move_each_root(project, monkeypatch, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere").resolve()
    monkeypatch.setenv(paths.PROJECT_ENV, str(elsewhere))
    assert default_root("cpu") == elsewhere / "runs" / "cpu" and paths.notebooks_root() == elsewhere / "notebooks"
    monkeypatch.setenv(paths.RESULTS_ENV, str(project / "r"))
    monkeypatch.setenv(paths.RUNS_ENV, str(project / "s"))
    assert results_dir("cpu") == project / "r" / "cpu" and default_root("cpu") == project / "s" / "cpu"


def test_pinned_output_dirs_are_absolute_while_inside_and_restored_after(project, monkeypatch):
    monkeypatch.setenv(paths.RUNS_ENV, "relative-runs")
    with paths.pinned_output_dirs(results="out"):
        assert os.environ[paths.RESULTS_ENV] == str(project / "out")
        assert os.environ[paths.RUNS_ENV] == str(project / "relative-runs")
        assert os.environ[paths.PROJECT_ENV] == str(project)
    assert os.environ[paths.RUNS_ENV] == "relative-runs"
    assert paths.RESULTS_ENV not in os.environ and paths.PROJECT_ENV not in os.environ


def test_reproduce_options_reach_the_notebook_run(project, monkeypatch):
    seen = {}

    def execute(profile, selected, source, kernel, *, partial, overrides, workers):
        seen.update({key: os.environ.get(key) for key in ENV}, source=source, selected=selected, overrides=overrides,
                    workers=workers)
        return Reproduction([source], {})

    monkeypatch.setattr("adapterlib.reproduce._execute", execute)
    notebooks = project / "mine"
    notebooks.mkdir()
    (notebooks / "benchmarks.ipynb").write_text("{}")
    argv = ["reproduce", "--profile", "smoke", "--only", "benchmarks", "--notebooks-dir", "mine",
            "--results-dir", "res", "--runs-dir", "store", "--overrides", '{"seeds": [1, 2]}', "--workers", "1"]
    assert main(argv) == 0
    assert seen == {paths.PROJECT_ENV: str(project), paths.RESULTS_ENV: str(project / "res"),
                    paths.RUNS_ENV: str(project / "store"), "source": notebooks, "selected": ["benchmarks"],
                    "overrides": {"seeds": [1, 2]}, "workers": 1}
    assert all(key not in os.environ for key in ENV)


def test_reproduce_without_notebooks_fails_in_one_line(project, capsys):
    assert main(["reproduce", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert f"{project / 'notebooks'} has no notebook houlsby_table1_glue" in err and err.count("\n") == 1


def test_grid_runs_dir_moves_the_run_store(project, monkeypatch):
    roots = []

    def run_grid(configs, store, progress):
        roots.append(store.root)
        return SimpleNamespace(failed=[])

    monkeypatch.setattr("adapterlib.runner.grid.run_grid", run_grid)
    argv = ["grid", "--profile", "smoke", "--grid", "houlsby_glue", "--role", "glue", "--runs-dir", "store"]
    assert main(argv) == 0
    assert roots == [project / "store" / "smoke"]
