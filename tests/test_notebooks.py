"""Every notebook runs end to end under the smoke profile (through `adapterlib reproduce`, as users run it) and honours
the output contract; the committed cpu results have the documented columns and SUMMARY.md agrees with them."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from conftest import stale_marks

from adapterlib.data.tasks import prepare
from adapterlib.paths import RESULTS_ENV
from adapterlib.reporting.claims import CLAIM_COLUMNS, VERDICTS
from adapterlib.reproduce import notebooks, run_notebooks
from adapterlib.reporting.outputs import TABLE_COLUMNS
from adapterlib.reporting.summary import SUMMARY, render_summary
from adapterlib.runner.profiles import get_profile

REPO = Path(__file__).resolve().parents[1]  # the checkout: its notebooks and committed results
NOTEBOOKS_DIR = REPO / "notebooks"
NOTEBOOKS = notebooks()
NON_TABLE_CSV = ("benchmarks",)  # the benchmark table has its own columns (library, config, seq_len, ...)


def _tables(directory: Path) -> list[Path]:
    return [p for p in sorted(directory.glob("*.csv")) if not p.stem.startswith(NON_TABLE_CSV)]


def test_every_notebook_is_listed_parameterised_and_stored_without_outputs():
    on_disk = {p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")}
    assert on_disk == set(NOTEBOOKS), f"notebooks/ and the registered studies differ: {on_disk ^ set(NOTEBOOKS)}"
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1 and 'profile = "cpu"' in tagged[0].source, name
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name} is stored with outputs"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_names_its_kernel_and_checks_before_it_trains(name):
    """The project's kernel, and how to get it in a Jupyter that lacks it, in the first markdown cell; the cell
    right after the parameters is the check (``setup(profile, "<name>", ...)``: the plan, and a one-line stop when
    data is missing; the benchmarks notebook's ``check_benchmarks``)."""
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    assert nb.metadata.kernelspec == {"name": "adapterlib", "display_name": "adapterlib (.venv)", "language": "python"}
    assert nb.cells[0].cell_type == "markdown" and "adapterlib (.venv)" in nb.cells[0].source
    assert "`make kernel`" in nb.cells[0].source
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    check = nb.cells[index + 1]
    assert check.cell_type == "code"
    assert (f'setup(profile, "{name}", **overrides)' in check.source if name != "benchmarks"
            else "check_benchmarks(profile, peers)" in check.source), check.source
    assert sum("setup(" in c.source for c in nb.cells if c.cell_type == "code") == (name != "benchmarks")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_cell_shows_a_stray_return_value(name):
    """A cell ending in ``save_figure(...)`` would print the list of paths it wrote under the figure."""
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        lines = cell.source.rstrip().splitlines() if cell.cell_type == "code" else []
        if lines and "save_figure(" in lines[-1]:
            assert lines[-1].rstrip().endswith(";") or " = " in lines[-1].split("save_figure(")[0], lines[-1]


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory) -> Path:
    """Run every notebook once under smoke, with the results and the run store in a temporary directory."""
    smoke = get_profile("smoke")
    prepare(tasks=sorted({task for role in smoke.suites for task in smoke.task_names(role)}))  # refused: skipped
    root = tmp_path_factory.mktemp("smoke")
    run_notebooks("smoke", notebooks_dir=NOTEBOOKS_DIR, results=root / "results", runs=root / "runs")
    return root / "results" / "smoke"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_under_smoke_and_writes_its_outputs(smoke_results, name):
    executed = nbformat.read(smoke_results / f"{name}.ipynb", as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    index = next(i for i, c in enumerate(executed.cells) if "injected-parameters" in c.metadata.get("tags", []))
    check = "".join(o.get("text", "") for o in executed.cells[index + 1].outputs if o.output_type == "stream")
    assert check.startswith(f"plan of {name} at profile 'smoke'"), check  # what it will run, stated first
    claims = pd.read_csv(smoke_results / "claims" / f"{name}.csv")
    assert list(claims.columns) == list(CLAIM_COLUMNS) and set(claims["verdict"]) <= set(VERDICTS)
    figures = {p.stem for p in smoke_results.glob("*.png")}
    assert figures == {p.stem for p in smoke_results.glob("*.svg")}, "every figure in PNG and SVG"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_executed_smoke_notebook_keeps_the_committed_notebook_contract(smoke_results, name):
    """What tests/test_committed_notebooks.py asks of results/*/*.ipynb, asked of a fresh run, so that regenerated
    results keep it: few outputs, a small file, no absolute path, no redraws or escape codes (the kernel is the one
    ``reproduce`` ran, so it is not checked here)."""
    from test_committed_notebooks import notebook_problems

    problems = notebook_problems(smoke_results / f"{name}.ipynb", kernel=None)
    assert not problems, f"{name}: " + "; ".join(problems)


def test_smoke_tables_have_the_documented_columns_and_the_summary_covers_every_claim(smoke_results):
    tables = _tables(smoke_results)
    assert tables
    for path in tables:
        frame = pd.read_csv(path)
        assert list(frame.columns[: len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS), path.name
        assert len(frame) and frame["score"].notna().any(), f"{path.name} has no scores"
    summary = (smoke_results / SUMMARY).read_text()
    claims = pd.concat([pd.read_csv(p) for p in (smoke_results / "claims").glob("*.csv")])
    assert all(description in summary for description in claims["description"])


COMMITTED = REPO / "results" / "cpu"


@pytest.mark.parametrize("profile", [pytest.param("cpu", marks=stale_marks("cpu"))])
def test_committed_cpu_results_are_complete_and_have_the_documented_columns(profile):
    committed = REPO / "results" / profile
    assert {p.stem for p in committed.glob("*.ipynb")} == set(NOTEBOOKS)
    for path in _tables(committed):
        assert list(pd.read_csv(path).columns[: len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS), path.name
    for name in NOTEBOOKS:
        assert (committed / "claims" / f"{name}.csv").is_file(), name


def test_committed_summary_is_exactly_what_the_committed_claims_generate(monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(REPO / "results"))
    assert (COMMITTED / SUMMARY).read_text() == render_summary("cpu")
