"""Task registry, offline suites built from the pinned registry packages, hub loading and its errors, CLI."""
import argparse
import json
import time
from collections import Counter

import datasets
import pytest

from adapterlib.data.tasks import (SourceUnavailable, TaskError, check_task, get_task, list_tasks, load_task, prepare,
                                   task_dir, task_meta)
from adapterlib.data.tasks import hub
from adapterlib.data.tasks.cli import add_data_commands
from adapterlib.data.tasks.offline import input_key
from adapterlib.data.tasks.registry import OFFLINE_SUITES

# Spellings of the reference CSVs in shared/reference/.
HOULSBY_T1 = ["CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI-m", "MNLI-mm", "QNLI", "RTE"]
HOULSBY_T2 = ["20 newsgroups", "Crowdflower airline", "Crowdflower corporate messaging", "Crowdflower disasters",
              "Crowdflower economic news relevance", "Crowdflower emotion", "Crowdflower global warming",
              "Crowdflower political audience", "Crowdflower political bias", "Crowdflower political message",
              "Crowdflower primary emotions", "Crowdflower progressive opinion", "Crowdflower progressive stance",
              "Crowdflower US economic performance", "Customer complaint database", "News aggregator dataset",
              "SMS spam collection"]
FUSION_T1 = ["MNLI", "QQP", "SST", "WGrande", "IMDB", "HSwag", "SocIQA", "CosQA", "SciTail", "Argument", "CSQA",
             "BoolQ", "MRPC", "SICK", "RTE", "CB"]
REFERENCE = {"glue_offline": HOULSBY_T1, "additional_offline": HOULSBY_T2, "squad_offline": ["SQuAD v1.1"],
             "fusion_offline": FUSION_T1}
COLUMNS = {"single": ["text", "label"], "pair": ["text", "text_pair", "label"], "regression": ["text", "label"],
           "multiple_choice": ["text", "question", "choices", "label"],
           "span_qa": ["id", "title", "context", "question", "answers"]}
OFFLINE = sorted({t.name for s in OFFLINE_SUITES.values() for t in list_tasks(s)})


# ---------------------------------------------------------------- registry (no data needed)
def test_paper_registry_covers_both_papers():
    assert [t.paper_name for t in list_tasks("houlsby_glue")] == HOULSBY_T1
    assert [t.paper_name for t in list_tasks("houlsby_additional")] == HOULSBY_T2
    assert sorted(t.paper_name for t in list_tasks("fusion_paper")) == sorted(FUSION_T1)
    assert get_task("squad").hub_id == "rajpurkar/squad"
    assert get_task("winogrande").hub_config == "winogrande_xl" and get_task("scitail").hub_config == "snli_format"
    assert get_task("argument").local_only and get_task("argument").hub_id is None


def test_offline_suites_shape_and_stand_in_spellings():
    for suite, names in REFERENCE.items():
        for t in list_tasks(suite):
            assert t.reference is None or t.reference in names, (suite, t.name)
            assert not (t.paper_name and t.stands_in_for), t.name  # the paper's task or a look-alike, never both
            assert t.rationale and t.source and t.licence and t.split and t.files
    assert len(list_tasks("glue_offline")) >= 5 and len(list_tasks("fusion_offline")) >= 11
    assert sum(t.own_data for t in list_tasks("fusion_offline")) >= 9
    additional = list_tasks("additional_offline")
    assert len(additional) >= 8 and {t.format for t in additional} == {"single"}
    assert sum(t.format == "multiple_choice" for t in list_tasks("fusion_offline")) >= 4
    # a task shared by two suites keeps each suite's spelling (and metric: Houlsby reports MRPC's F1)
    assert get_task("sst2_dev_split").paper_name == "SST-2"
    assert get_task("sst2_dev_split", "fusion_offline").paper_name == "SST"
    assert get_task("snli").stands_in_for == "MNLI-m" and get_task("snli", "fusion_offline").stands_in_for == "MNLI"
    assert get_task("mrpc_dev_split").metric == "f1" and get_task("mrpc_dev_split", "fusion_offline").metric == "accuracy"
    assert get_task("mnli", "fusion_paper").paper_name == "MNLI"
    # no honest stand-in for these
    stood_in = {t.reference for s in OFFLINE_SUITES.values() for t in list_tasks(s)}
    assert not stood_in & {"CoLA", "QQP", "STS-B"}


PAPER_SUITE_OF = {"glue_offline": "houlsby_glue", "fusion_offline": "fusion_paper", "squad_offline": "squad_paper"}


def test_the_papers_own_data_offline_is_that_paper_task_with_its_class_names_and_order():
    """An offline copy of a paper's dataset is that paper task read from another place: the same format, class
    names and label order as its hub version, so its rows stand beside the paper's number."""
    own = [t for s in PAPER_SUITE_OF for t in list_tasks(s) if t.own_data]
    assert {t.paper_name for t in own} >= {"SST-2", "MRPC", "RTE", "SST", "CB", "WGrande", "SocIQA", "HSwag", "CSQA",
                                           "BoolQ", "SQuAD v1.1"}
    for t in own:
        (hub_task,) = [h for h in list_tasks(PAPER_SUITE_OF[t.suite]) if h.paper_name == t.paper_name]
        assert (t.format, t.num_labels, t.label_names, t.metric) == (
            hub_task.format, hub_task.num_labels, hub_task.label_names, hub_task.metric), t.name
    # where the registry copy holds the hub's own splits, the hub task knows it
    copies = {t.name: t.offline_copy for t in list_tasks("fusion_paper") if t.offline_copy}
    assert copies == {"winogrande": "winogrande_offline", "hellaswag": "hellaswag_offline",
                      "social_i_qa": "social_i_qa_offline", "commonsense_qa": "commonsense_qa_offline",
                      "boolq": "boolq_offline"}


def test_unknown_task_or_suite_is_one_clear_line():
    with pytest.raises(TaskError) as e:
        get_task("not_a_task")
    msg = str(e.value)
    assert "\n" not in msg and "rt_polarity" in msg and "mnli" in msg
    assert isinstance(e.value, ValueError) and not isinstance(e.value, KeyError)
    with pytest.raises(TaskError, match="available: glue_offline"):
        list_tasks("nope")


def test_paper_task_offline_fails_fast_with_one_line(monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    start = time.time()
    with pytest.raises(TaskError) as e:
        load_task("mnli")
    msg = str(e.value)
    assert time.time() - start < 5 and "\n" not in msg
    assert "glue_offline" in msg and "snli" in msg and "hub" in msg


def test_paper_task_when_load_dataset_raises(monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)

    def boom(*a, **k):
        raise ConnectionError("Couldn't reach 'allenai/winogrande' on the Hub\nlong traceback text")

    monkeypatch.setattr(datasets, "load_dataset", boom)
    with pytest.raises(TaskError) as e:
        load_task("winogrande")
    assert "\n" not in str(e.value) and "fusion_offline" in str(e.value) and "winogrande_offline" in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_a_hub_task_with_a_registry_copy_reads_it_when_the_hub_is_out_of_reach(monkeypatch, capsys):
    """WinoGrande's official train and dev sets are packaged: offline, the paper task reads them (and says so)
    instead of failing, and `check_task` (what `plan` reads) finds nothing to stop for."""
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    assert check_task("winogrande") is None and check_task("mnli") is not None
    data = load_task("winogrande", max_train=16, max_eval=8)
    assert data["test"]["choices"][:] == load_task("winogrande_offline", max_eval=8)["test"]["choices"][:]
    assert len(data["train"]) == 16
    assert "reading the same data from the registry copy winogrande_offline" in capsys.readouterr().err


def test_local_only_task_names_its_local_folder(tmp_path):
    with pytest.raises(TaskError, match=f"needs local data at {tmp_path / 'argument'}/"):
        load_task("argument", data_dir=tmp_path)


def test_hub_conversion_maps_labels_by_name_and_splits(monkeypatch):
    """super_glue/cb orders its labels entailment, contradiction, neutral; ours are entailment, neutral,
    contradiction. The official validation set becomes test; validation is a seeded holdout of train."""
    names = ["entailment", "contradiction", "neutral"]
    feats = datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                               "idx": datasets.Value("int32"), "label": datasets.ClassLabel(names=names)})
    rows = lambda n, off: {"premise": [f"p{i}" for i in range(off, off + n)],  # noqa: E731
                           "hypothesis": [f"h{i}" for i in range(off, off + n)], "idx": list(range(n)),
                           "label": [i % 3 for i in range(n)]}
    fake = datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows(250, 0), features=feats),
                                 "validation": datasets.Dataset.from_dict(rows(56, 1000), features=feats),
                                 "test": datasets.Dataset.from_dict({**rows(30, 2000), "label": [-1] * 30},
                                                                    features=feats)})
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: fake)
    dd = load_task("cb")
    assert {s: len(d) for s, d in dd.items()} == {"train": 225, "validation": 25, "test": 56}
    assert dd["test"].column_names == ["text", "text_pair", "label"]
    ours = get_task("cb").label_names
    for row, orig in zip(dd["test"], fake["validation"]):
        assert ours[row["label"]] == names[orig["label"]] and row["text"] == orig["premise"]
    assert not set(dd["train"]["text"]) & set(dd["validation"]["text"])


# ---------------------------------------------------------------- offline data (built once, cached)
class BuildRecords(dict):
    """Task -> build record of every prepared offline task; looking up one that is not prepared builds it, so a
    task whose source its registry refuses raises SourceUnavailable there and only its test is skipped (conftest)."""

    def __missing__(self, name: str) -> dict:
        prepare(tasks=[name])
        self[name] = task_meta(name)
        return self[name]


@pytest.fixture(scope="session")
def prepared():
    try:
        prepare()  # every offline suite; a no-op when the cache is warm
    except SourceUnavailable:
        pass  # the other sources' tasks are built; the refused ones skip their tests where they are looked up
    return BuildRecords({name: meta for name in OFFLINE if (meta := task_meta(name)) is not None})


@pytest.mark.slow
@pytest.mark.parametrize("name", OFFLINE)
def test_offline_task_splits(prepared, name):
    task, meta = get_task(name), prepared[name]
    dd = load_task(name)
    assert list(dd)[:3] == ["train", "validation", "test"]
    assert {s: len(d) for s, d in dd.items()} == meta["sizes"]
    for split in dd.values():
        assert split.column_names == COLUMNS[task.format]
    # every source example is accounted for: kept in exactly one split or dropped for a recorded reason
    assert sum(meta["sizes"].values()) + sum(meta["dropped"].values()) == meta["source_count"]
    if task.format == "span_qa":
        return
    keys = {s: {input_key(r) for r in d} for s, d in dd.items()}
    assert all(len(keys[s]) == len(dd[s]) for s in dd), "duplicate inputs inside a split"
    assert not keys["train"] & keys["validation"] and not keys["train"] & keys["test"]
    assert not keys["validation"] & keys["test"]
    if task.format == "regression":
        assert all(-4 <= v <= 4 for v in dd["train"]["label"][:])
        return
    k = task.num_labels
    if task.format == "multiple_choice":
        assert {len(c) for d in dd.values() for c in d["choices"][:]} == {k}
    # labels keep the source's balance: every split within a few points of the overall distribution
    total = Counter(lab for d in dd.values() for lab in d["label"][:])
    assert set(total) <= set(range(k))
    n = sum(total.values())
    for split, d in dd.items():
        counts = Counter(d["label"][:])
        tol = 0.05 if len(d) >= 1000 else 0.12
        for lab in total:
            assert abs(counts[lab] / len(d) - total[lab] / n) < tol, (split, lab)


@pytest.mark.slow
def test_source_counts_match_the_sources(prepared):
    m = prepared
    assert m["sms_spam"]["source_count"] == 4862                # OFFLINE.md: ham 4,220 / spam 642
    assert m["rt_polarity"]["source_count"] == 7403 + 5405      # fresh + rotten
    assert m["rt_subjectivity"]["source_count"] == 13905
    assert m["spam_assassin"]["source_count"] == 6046
    assert m["uci_sentiment"]["source_count"] == 3003           # 3 x 1,000 + one empty record per file
    # shared/OFFLINE.md: official train (deduplicated by doc_id) + official dev
    assert m["winogrande_offline"]["source_count"] == 40398 + 1267
    assert m["social_i_qa_offline"]["source_count"] == 33410 + 1954
    assert m["hellaswag_offline"]["source_count"] == 39905 + 10042
    assert m["commonsense_qa_offline"]["source_count"] == 9741 + 1221
    assert m["boolq_offline"]["source_count"] == 9427 + 3270
    assert m["snli"]["source_count"] == 100000 - 110 + 10000 - 176   # '-' (no gold label) left out by the reader
    for name, n in {"sst2_dev_split": 872, "mrpc_dev_split": 408, "rte_dev_split": 277, "cb_dev_split": 56,
                    "bbc_news": 2225, "medmcqa_subject": 4183}.items():
        assert m[name]["source_count"] == n, name
    assert m["hellaswag_offline"]["sizes"]["test"] == 10042 and m["boolq_offline"]["sizes"]["test"] == 3270
    squad = m["squad_v1_dev"]["sizes"]
    assert squad["train"] + squad["validation"] + squad["test"] == 1000   # the packaged SQuAD v1.1 dev questions
    sms = Counter(load_task("sms_spam")["train"]["label"][:])
    assert 0.10 < sms[1] / (sms[0] + sms[1]) < 0.16              # spam share as in the source (13%)
    small = [t.name for t in list_tasks("fusion_offline") if m[t.name]["sizes"]["train"] < 3000]
    assert len(small) >= 3


@pytest.mark.slow
def test_offline_labels_are_the_hub_class_names_of_the_same_rows(prepared):
    """CB's official file orders its classes entailment, contradiction, neutral, ours entailment, neutral,
    contradiction: every built row's label, read by name, is the one the official file gives that very pair."""
    from adapterlib.data.tasks.members import member_path

    for name, member, (first, second) in (("cb_dev_split", "cb_dev", ("premise", "hypothesis")),
                                          ("rte_dev_split", "rte_dev", ("sentence1", "sentence2")),
                                          ("mrpc_dev_split", "mrpc_dev", ("sentence1", "sentence2")),
                                          ("boolq_offline", "boolq_dev", ("question", "passage"))):
        source = datasets.Dataset.from_file(str(member_path(member)))
        feature = source.features["label" if "label" in source.features else "answer"]
        names = getattr(feature, "names", None)
        truth = {(r[first], r[second]): names[r["label"]] if names else str(r["answer"]) for r in source}
        task, built = get_task(name), load_task(name)
        split = built["test"]
        assert len(split) and all(task.label_names[r["label"]] == truth[(r["text"], r["text_pair"])] for r in split)


@pytest.mark.slow
def test_squad_split_by_article_and_answers_point_into_context(prepared):
    dd = load_task("squad_v1_dev")
    titles = {s: set(dd[s]["title"][:]) for s in ("train", "validation", "test")}
    assert not titles["train"] & titles["validation"] and not titles["train"] & titles["test"]
    assert not titles["validation"] & titles["test"]
    assert list(dd) == ["train", "validation", "test"]  # no SQuADShifts offline
    for row in dd["validation"]:
        for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"]):
            assert row["context"][start:start + len(text)] == text
    qnli = load_task("qnli_squad")
    questions = {s: set(qnli[s]["text"][:]) for s in ("train", "validation", "test")}
    assert not questions["train"] & questions["test"] and not questions["train"] & questions["validation"]


@pytest.mark.slow
def test_caps_are_seeded_stratified_and_explicit(prepared):
    full = load_task("snli")
    a = load_task("snli", max_train=1000, max_eval=300, seed=1)
    b = load_task("snli", max_train=1000, max_eval=300, seed=1)
    c = load_task("snli", max_train=1000, max_eval=300, seed=2)
    assert len(a["train"]) == 1000 and len(a["validation"]) == len(a["test"]) == 300
    assert a["train"]["text"][:] == b["train"]["text"][:] != c["train"]["text"][:]
    whole, capped = Counter(full["train"]["label"][:]), Counter(a["train"]["label"][:])
    for lab, n in whole.items():
        assert abs(capped[lab] - 1000 * n / len(full["train"])) <= 1
    assert len(load_task("snli", max_train=10 ** 9)["train"]) == len(full["train"])  # no silent truncation
    squad = load_task("squad_v1_dev", max_eval=50)
    assert len(squad["test"]) == 50 and len(squad["train"]) == len(load_task("squad_v1_dev")["train"])
    tested = load_task("snli", max_train=1000, max_eval=300, max_test=700, seed=1)  # test capped on its own
    assert len(tested["validation"]) == 300 and len(tested["test"]) == 700
    assert tested["validation"]["text"][:] == a["validation"]["text"][:]
    assert len(load_task("squad_v1_dev", max_eval=50, max_test=80)["test"]) == 80


@pytest.mark.slow
def test_warm_load_is_fast(prepared):
    start = time.time()
    load_task("winogrande_offline", max_train=2000, max_eval=500)
    assert time.time() - start < 1.0


@pytest.mark.slow
def test_cli_list_shows_every_task_with_sizes(prepared, capsys):
    parser = argparse.ArgumentParser(prog="adapterlib")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    for t in list_tasks():
        assert t.name in out
    assert f"train={prepared['sms_spam']['sizes']['train']}" in out and "= SST-2 (the paper's own data)" in out
    assert "~ MNLI-m (stand-in)" in out and "= MNLI-mm" in out and "[fusion_offline] 11 tasks, 9 of them" in out
    assert "% truncated at 256 (the task's own length" in out
    assert "hub@refs/convert/parquet" in out and "/argument/" in out


@pytest.mark.slow
def test_cli_prepare_builds_a_suite(prepared):
    prepared["squad_v1_dev"]  # built here, or the test is skipped where its source is refused (conftest)
    parser = argparse.ArgumentParser(prog="adapterlib")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "prepare", "--suite", "squad_offline"])
    assert args.func(args) == 0
    assert json.loads((task_dir("squad_v1_dev") / "meta.json").read_text())["split_seed"] == 0


def test_cli_prepare_paper_suite_offline_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    parser = argparse.ArgumentParser(prog="adapterlib")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "prepare", "--suite", "fusion_paper"])
    assert args.func(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "fusion_offline" in err[-1]
