"""Whether each paper task can load, said before training: check_task, the local layout, label checks, script repos.

No network: the hub's metadata calls are monkeypatched, and `fake_hub` serves every paper task from schema fixtures.
"""
from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import datasets
import pytest
from datasets.exceptions import DatasetNotFoundError
from fake_hub import fake_hub, fake_hub_files, paper_tasks  # noqa: F401 -- fixtures

from adapterlib.data.tasks import (PAPER_SUITES, TaskError, available_tasks, check, check_task, get_task, hub,
                                   list_tasks, load_task, truncated_share, truncation_text)
from adapterlib.data.tasks.cli import add_data_commands
from adapterlib.data.tasks.local import local_files
from adapterlib.data.tasks.registry import PARQUET_EXPORT, TASKS
from adapterlib.paths import DATA_ENV
from adapterlib.runner.profiles import get_profile

# The script repos of issue #17 and the config each must read from the parquet export.
SCRIPT_REPOS = {"cf_airline": "airline-sentiment", "cf_corporate_messaging": "corporate-messaging",
                "cf_economic_news": "economic-news", "cf_emotion": "text_emotion",
                "cf_global_warming": "tweet_global_warming", "cf_political_audience": "political-media-audience",
                "cf_political_bias": "political-media-bias", "cf_political_message": "political-media-message",
                "hellaswag": "default", "social_i_qa": "default", "cosmos_qa": "default", "sick": "default"}
LOCAL_ONLY = ["cf_disasters", "cf_primary_emotions", "cf_progressive_opinion", "cf_progressive_stance",
              "cf_us_economic_performance", "customer_complaints", "news_aggregator", "argument"]


@pytest.fixture
def no_data_dir(tmp_path, monkeypatch):
    """An empty data dir (and no $ADAPTERLIB_DATA_DIR) so that no local copy is found."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "empty"))
    return tmp_path / "empty"


def write_csv(folder, split: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows).to_csv(str(folder / f"{split}.csv"), index=False)


def single_rows(labels: list) -> list[dict]:
    return [{"text": f"text {i}", "label": lab} for i, lab in enumerate(labels)]


# ---------------------------------------------------------------- script repos
@pytest.mark.parametrize("name", sorted(SCRIPT_REPOS))
def test_script_repo_is_read_from_its_parquet_export(name, monkeypatch):
    task = get_task(name)
    assert task.hub_revision == PARQUET_EXPORT
    seen = {}

    def load_dataset(**kwargs):
        seen.update(kwargs)
        raise ConnectionError("stop here")

    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    with pytest.raises(TaskError):
        load_task(name)
    assert seen == {"path": task.hub_id, "revision": PARQUET_EXPORT, "data_dir": SCRIPT_REPOS[name]}


def test_only_script_repos_pin_a_revision():
    pinned = {t.name for t in paper_tasks() if t.hub_revision}
    assert pinned == set(SCRIPT_REPOS)


# ---------------------------------------------------------------- check_task: hub cases
def test_check_task_passes_every_paper_task_on_the_fake_hub(fake_hub):
    assert {t.name: check_task(t.name) for t in paper_tasks()} == {t.name: None for t in paper_tasks()}


def test_check_task_names_a_script_repo_read_without_its_revision(fake_hub, monkeypatch):
    unpinned = dataclasses.replace(get_task("hellaswag"), hub_revision=None)
    monkeypatch.setattr(check, "get_task", lambda name: unpinned)
    line = check_task("hellaswag")
    assert line.startswith("hellaswag (HSwag) from Rowan/hellaswag: script repo") and PARQUET_EXPORT in line
    assert "offline" not in line and "\n" not in line


def test_check_task_names_a_gated_dataset(monkeypatch):
    def gated(**kwargs):
        raise DatasetNotFoundError(f"Dataset '{kwargs['path']}' is a gated dataset on the Hub. You must be "
                                   "authenticated to access it.")

    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset_builder", gated)
    line = check_task("boolq")
    assert "gated" in line and "https://huggingface.co/datasets/google/boolq" in line and "hf auth login" in line
    assert "offline" not in line and "\n" not in line


@pytest.mark.parametrize("how", ["socket", "datasets"])
def test_check_task_names_an_unreachable_hub(how, monkeypatch):
    def unreachable(**kwargs):
        raise ConnectionError(f"Couldn't reach '{kwargs['path']}' on the Hub (ConnectError)")

    monkeypatch.setattr(hub, "hub_reachable", lambda: how == "datasets")
    monkeypatch.setattr(datasets, "load_dataset_builder", unreachable)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # tests run with it set; offline mode is "not in the local cache"
    line = check_task("mnli")
    assert line == "mnli (MNLI-m): no network (hub unreachable at huggingface.co)"  # the plan groups tasks by it
    if how == "socket":  # loading it names what to load instead
        with pytest.raises(TaskError, match=r"no network .*; offline, load_task\('snli'\) in its place"):
            hub.load_hub_task(get_task("mnli"))


def test_check_task_names_a_missing_split(fake_hub, monkeypatch):
    builder = datasets.load_dataset_builder("nyu-mll/glue", "mnli")
    del builder.config.data_files["validation_mismatched"]
    monkeypatch.setattr(datasets, "load_dataset_builder", lambda **kwargs: builder)
    line = check_task("mnli_mm")
    assert "no split validation_mismatched" in line and "validation_matched" in line


def test_load_error_online_does_not_say_offline(monkeypatch):
    def missing(**kwargs):
        raise DatasetNotFoundError(f"Revision '{PARQUET_EXPORT}' doesn't exist for dataset 'RobZamp/sick'.")

    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", missing)
    with pytest.raises(TaskError) as e:
        load_task("sick")
    assert "DatasetNotFoundError: Revision" in str(e.value) and "offline" not in str(e.value)


# ---------------------------------------------------------------- local layout
def test_local_layout_discovery(tmp_path):
    folder = tmp_path / "argument"
    folder.mkdir()
    for name in ("train.tsv", "dev.jsonl", "test.parquet", "notes.txt", "train.csv.bak"):
        (folder / name).write_text("")
    assert {s: f.name for s, f in local_files(folder).items()} == {
        "train": "train.tsv", "validation": "dev.jsonl", "test": "test.parquet"}


def test_local_task_is_read_from_data_dir_env_or_project_root(tmp_path, monkeypatch):
    rows = [{"text": f"topic {i}", "text_pair": f"sentence {i}",
             "label": ("NoArgument", "Argument_for", "Argument_against")[i % 3]} for i in range(30)]
    for where in ("arg", "env", "project/data"):
        write_csv(tmp_path / where / "argument", "train", rows)
    sizes = lambda dd: sum(map(len, dd.values()))  # noqa: E731
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert sizes(load_task("argument", data_dir=tmp_path / "arg")) == 30
    write_csv(tmp_path / "env" / "argument", "train", rows[:20])
    assert sizes(load_task("argument")) == 20
    monkeypatch.delenv(DATA_ENV)
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.delenv("ADAPTERLIB_PROJECT", raising=False)
    dd = load_task("argument")
    assert sizes(dd) == 30 and dd["train"].column_names == ["text", "text_pair", "label"]
    assert set(dd["train"]["label"]) <= {0, 1, 2}


def test_check_task_local_cases(tmp_path):
    assert check_task("cf_disasters", tmp_path) == (
        f"cf_disasters (Crowdflower disasters): not on the hub: needs local data at {tmp_path / 'cf_disasters'}/ "
        "(train.csv, optionally validation and test; .csv, .json, .jsonl, .parquet, .tsv; columns text,label; "
        "see docs/TASKS.md), or set --data-dir / $ADAPTERLIB_DATA_DIR")
    (tmp_path / "cf_disasters").mkdir()
    (tmp_path / "cf_disasters" / "training.xlsx").write_text("")
    assert "missing local file: no train." in check_task("cf_disasters", tmp_path)
    write_csv(tmp_path / "cf_disasters", "train", single_rows(["relevant", "not_relevant"] * 10))
    assert check_task("cf_disasters", tmp_path) is None
    write_csv(tmp_path / "cf_disasters", "test", single_rows(["relevant", "irrelevant"]))
    assert check_task("cf_disasters", tmp_path) == (
        "cf_disasters: labels ['irrelevant'] are not among ['not_relevant', 'relevant']; rename them in the data")


# ---------------------------------------------------------------- labels
def test_label_names_for_a_numbered_task_are_mapped_not_dropped(tmp_path):
    """cf_progressive_opinion has 3 classes whose names the registry does not know: names given in the files are
    numbered in sorted order, the same in every split."""
    names = ["neutral", "for", "against"]
    write_csv(tmp_path / "cf_progressive_opinion", "train", single_rows(names * 10))
    write_csv(tmp_path / "cf_progressive_opinion", "test", single_rows(["for", "for", "against"]))
    dd = load_task("cf_progressive_opinion", data_dir=tmp_path)
    assert len(dd["train"]) + len(dd["validation"]) == 30 and dd["test"]["label"][:] == [1, 1, 0]
    by_text = dict(zip(dd["train"]["text"][:], dd["train"]["label"][:]))
    assert all(by_text[f"text {i}"] == sorted(names).index(names[i % 3]) for i in range(30) if f"text {i}" in by_text)


@pytest.mark.parametrize(("name", "labels", "bad"), [("cf_progressive_opinion", [0, 1, 2, 3, 7], "[3, 7]"),
                                                      ("cf_primary_emotions", [0, 17, -2], "[-2]")])
def test_label_outside_num_labels_is_a_task_error_before_training(tmp_path, name, labels, bad):
    write_csv(tmp_path / name, "train", single_rows([0, 1] * 10))
    write_csv(tmp_path / name, "test", single_rows(labels))
    k = get_task(name).num_labels
    expected = (f"{name}: test has labels {bad} outside range({k}); fix the data (or the task's num_labels) "
                "before training")
    with pytest.raises(TaskError) as e:
        load_task(name, data_dir=tmp_path)
    assert str(e.value) == expected
    assert check_task(name, tmp_path) == expected


def test_too_many_label_names_for_a_numbered_task(tmp_path):
    write_csv(tmp_path / "cf_us_economic_performance", "train", single_rows(["up", "down", "flat"] * 5))
    with pytest.raises(TaskError, match=r"3 label names .* for 2 classes"):
        load_task("cf_us_economic_performance", data_dir=tmp_path)


def test_hub_label_outside_num_labels_is_a_task_error(fake_hub, monkeypatch):
    real = datasets.load_dataset

    def shifted(**kwargs):  # cosmos_qa with a fifth answer index
        return real(**kwargs).map(lambda r: {"label": r["label"] + 1})

    monkeypatch.setattr(datasets, "load_dataset", shifted)
    with pytest.raises(TaskError, match=r"cosmos_qa: \w+ has labels \[4\] outside range\(4\)"):
        load_task("cosmos_qa")


# ---------------------------------------------------------------- suites without their absent local tasks
def test_absent_local_tasks_are_left_out_of_the_paper_profile(no_data_dir):
    paper = get_profile("paper")
    missing = {**paper.missing_tasks("additional"), **paper.missing_tasks("fusion")}
    assert sorted(missing) == sorted(LOCAL_ONLY)
    assert all(f"needs local data at {no_data_dir / name}/" in why for name, why in missing.items())
    assert len(paper.task_names("additional")) == 17 - 7 and "argument" not in paper.task_names("fusion")
    assert available_tasks("houlsby_additional") == (paper.task_names("additional"), paper.missing_tasks("additional"))
    # the model of a left-out task is still its role's
    assert paper.run_config("argument", "full").model == paper.models["fusion"] != paper.models["glue"]
    # and every notebook's set-up text says which tasks did not run, and where their data goes
    from adapterlib.studies import STUDIES
    from adapterlib.studies.base import setup_text

    text = setup_text(paper, STUDIES["houlsby_table2_additional"])
    where = no_data_dir / "cf_disasters"
    assert f"- **not run**: cf_disasters (Crowdflower disasters): not on the hub: needs local data at {where}/" in text
    assert "argument" not in text and "not run" not in setup_text(get_profile("cpu"), STUDIES["fusion_table1"])


def test_present_local_tasks_are_run(fake_hub):
    paper = get_profile("paper")
    assert len(paper.task_names("additional")) == 17 and "argument" in paper.task_names("fusion")
    assert paper.missing_tasks("additional") == {} == paper.missing_tasks("fusion")


def test_offline_profiles_are_unchanged(no_data_dir):
    for name in ("smoke", "cpu"):
        profile = get_profile(name)
        for role, suite in profile.suites.items():
            assert profile.missing_tasks(role) == {}
            assert profile.task_names(role) == list(profile.tasks.get(role) or [t.name for t in list_tasks(suite)])


# ---------------------------------------------------------------- sequence lengths
def test_the_paper_profile_reads_each_task_at_the_length_chosen_for_it():
    """GLUE and the short inputs at the authors' scripts' 128, SQuAD in 384-token windows, the long inputs at their
    own length (docs/PAPER_SETTINGS.md, "Sequence length"), none beyond BERT's 512 positions; the offline tasks'
    own lengths, which the cpu and smoke profiles read, stay as their committed runs were made."""
    paper = get_profile("paper")
    lengths = {t.name: paper.run_config(t.name, "full").max_length for suite in PAPER_SUITES.values()
               for t in list_tasks(suite) if t.scored_from is None}
    assert {name: n for name, n in lengths.items() if n != 128} == {
        "boolq": 512, "imdb": 512, "newsgroups20": 512, "cf_economic_news": 512, "customer_complaints": 512,
        "hellaswag": 256, "cosmos_qa": 256, "cb": 256, "squad": 384}
    assert all(t.max_length is None or t.max_length <= 512 for t in TASKS)
    assert {t.name: t.max_length for t in TASKS if t.offline and t.max_length} == {
        "rte_dev_split": 256, "hellaswag_offline": 128, "boolq_offline": 256, "cb_dev_split": 256}


def test_the_share_truncated_is_the_measured_one_or_says_why_it_is_not_known(measured_lengths):
    """An offline task's share is its build's; a hub task's is its registry copy's (the same data), unless the copy's
    inputs have another form (HellaSwag's copy drops WikiHow's tags: 2.1% past 128 there, 19.4% on the hub); a
    length no build measures, a copy not prepared and a hub task without a copy say so instead of guessing."""
    measured_lengths("rte_dev_split", {128: 0.119, 256: 0.0})
    measured_lengths("boolq_offline", {128: 0.453, 256: 0.053, 512: 0.002})
    measured_lengths("hellaswag_offline", {128: 0.021, 256: 0.0})

    def text(name: str, length: int) -> str:
        return truncation_text(get_task(name), length)

    assert (text("rte_dev_split", 128), text("rte_dev_split", 256)) == ("11.9% truncated", "0.0% truncated")
    assert truncated_share(get_task("boolq"), 256) == (0.053, "boolq_offline")
    assert text("boolq", 512) == "0.2% truncated (measured on its registry copy boolq_offline)"
    assert text("boolq", 384) == "not measured at 384 (builds measure 64, 96, 128, 256, 512)"
    assert truncated_share(get_task("hellaswag"), 256) is None
    assert text("hellaswag", 256) == ("not measured offline (its registry copy hellaswag_offline has another form: "
                                      "the context as 'activity: ctx', WikiHow's tags removed)")
    assert text("imdb", 512) == text("cosmos_qa", 256) == "not measured offline"
    assert text("winogrande", 128) == ("not measured: winogrande_offline is not prepared here "
                                       "(`adapterlib data prepare`)")
    assert text("squad", 384).startswith("none truncated: a longer context is read in overlapping windows")


# ---------------------------------------------------------------- the fake hub itself
@pytest.mark.parametrize("name", [t.name for t in paper_tasks()])
def test_every_paper_task_loads_from_the_fake_hub(fake_hub, name):
    task = get_task(name)
    dd = load_task(name)
    assert {"train", "validation", "test"} <= set(dd) and all(len(d) for d in dd.values())
    if task.format == "span_qa":
        row = dd["validation"][0]
        start, text = row["answers"]["answer_start"][0], row["answers"]["text"][0]
        assert row["context"][start:start + len(text)] == text
    elif task.format != "regression":
        assert {lab for d in dd.values() for lab in d["label"][:]} <= set(range(task.num_labels))


# ---------------------------------------------------------------- CLI
def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="adapterlib")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", *argv])
    return args.func(args)


def test_cli_check_and_list_take_a_data_dir(fake_hub, tmp_path, capsys):
    assert run_cli("check", "--suite", "fusion_paper") == 0
    assert run_cli("check", "--suite", "fusion_paper", "--data-dir", str(tmp_path)) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"argument (Argument): not on the hub: needs local data at {tmp_path}")
    assert run_cli("list", "--suite", "fusion_paper", "--data-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert f"local {tmp_path / 'argument'}/ (absent)" in out and f"hub@{PARQUET_EXPORT}" in out


def test_cli_prepare_paper_suite_skips_an_absent_local_task(fake_hub, tmp_path, capsys):
    assert run_cli("prepare", "--suite", "fusion_paper", "--data-dir", str(tmp_path)) == 0
    err = capsys.readouterr().err
    assert f"adapterlib: skipped argument (Argument): not on the hub: needs local data at {tmp_path}" in err


def test_fake_hub_serves_the_processes_a_test_starts(fake_hub, monkeypatch):
    fake_hub.install_in_subprocesses(monkeypatch)
    code = ("from adapterlib.data.tasks import check_task, load_task; "
            "print(len(load_task('sick')['test']), len(load_task('cf_disasters')['train']), check_task('hellaswag'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["12", "12", "None"]
