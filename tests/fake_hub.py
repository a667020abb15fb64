"""A fake Hugging Face hub serving every task of both paper suites from tiny local files, for tests.

These are schema fixtures, not data: for each hub dataset the paper suites read, a parquet file per split with
that dataset's columns and feature types (ClassLabel names and order, string or bool labels, nested answers and
choices: what `hub.SPECS` converts) and 12 made-up rows, laid out under a temporary folder by repo, revision and
config. `FakeHub.install(monkeypatch)` makes `datasets.load_dataset` and `datasets.load_dataset_builder` answer
for the real hub ids, configs and revisions from these files, and, like the hub with datasets >= 4, refuses a
script repo read without its parquet export revision. The paper tasks that are not on the hub are written in the
documented local layout (`<data dir>/<task>/{train,validation,test}.csv`) and $ADAPTERLIB_DATA_DIR points there,
so every code path that calls `load_task` finds them. `install_in_subprocesses` does the same for the Python
processes a test starts (notebook kernels, `accelerate launch` workers).

    def test_x(fake_hub):            # the fixture below; import it into the test module
        load_task("cosmos_qa")       # served by the fake hub
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pytest

from adapterlib.data.tasks import hub
from adapterlib.data.tasks.registry import PARQUET_EXPORT, PAPER_SUITES, Task, list_tasks
from adapterlib.paths import DATA_ENV

SUBPROCESS_ENV = "ADAPTERLIB_FAKE_HUB"  # the fake hub's root, for the processes a test starts
SITECUSTOMIZE = f'''"""Written by tests/fake_hub.py: serve its fake hub in this process too (while ${SUBPROCESS_ENV} is set)."""
import os

if os.environ.get("{SUBPROCESS_ENV}"):
    from pathlib import Path

    import pytest
    from fake_hub import FakeHub

    FakeHub(Path(os.environ["{SUBPROCESS_ENV}"]), write=False).install(pytest.MonkeyPatch())
'''
ROWS = 12  # per split: enough for the two seeded 10% holdouts a train-only dataset gets
STR, I32, I64, F32, BOOL = (datasets.Value(t) for t in ("string", "int32", "int64", "float32", "bool"))
STRINGS = datasets.List(STR)
GLUE = "nyu-mll/glue"


def labels(*names: str) -> datasets.ClassLabel:
    return datasets.ClassLabel(names=list(names))


@dataclass(frozen=True)
class Schema:
    """One hub dataset config: features, splits (name -> labelled?) and the columns a generic value cannot fill."""

    features: dict
    splits: dict[str, bool]
    special: dict[str, Callable[[int, bool], object]] = field(default_factory=dict)
    script: bool = False  # a script repo: only its parquet export loads

    def row(self, i: int, labelled: bool, split: str) -> dict:
        return {col: self.special[col](i, labelled) if col in self.special else _value(col, feature, i, labelled, split)
                for col, feature in self.features.items()}


def _value(col: str, feature, i: int, labelled: bool, split: str):
    if isinstance(feature, datasets.ClassLabel):
        return i % feature.num_classes if labelled else -1
    if isinstance(feature, datasets.List):
        return [f"{col} {split} {i} {k}" for k in range(3)]
    if feature.dtype == "string":
        return f"{col} {split} {i}"
    if feature.dtype == "bool":
        return i % 2 == 1
    if feature.dtype.startswith("float"):
        return float(i % 5) if labelled or col != "label" else -1.0
    return i


def _squad_context(i: int, labelled: bool) -> str:
    return f"Paragraph {i} says that the answer is word{i} and nothing else."


TRAIN_VAL = {"train": True, "validation": True}
GLUE_SPLITS = {"train": True, "validation": True, "test": False}
SCHEMAS: dict[tuple[str, str | None], Schema] = {
    (GLUE, "cola"): Schema({"sentence": STR, "label": labels("unacceptable", "acceptable"), "idx": I32}, GLUE_SPLITS),
    (GLUE, "sst2"): Schema({"sentence": STR, "label": labels("negative", "positive"), "idx": I32}, GLUE_SPLITS),
    (GLUE, "mrpc"): Schema({"sentence1": STR, "sentence2": STR, "label": labels("not_equivalent", "equivalent"),
                            "idx": I32}, GLUE_SPLITS),
    (GLUE, "stsb"): Schema({"sentence1": STR, "sentence2": STR, "label": F32, "idx": I32}, GLUE_SPLITS),
    (GLUE, "qqp"): Schema({"question1": STR, "question2": STR, "label": labels("not_duplicate", "duplicate"),
                           "idx": I32}, GLUE_SPLITS),
    (GLUE, "mnli"): Schema({"premise": STR, "hypothesis": STR,
                            "label": labels("entailment", "neutral", "contradiction"), "idx": I32},
                           {"train": True, "validation_matched": True, "validation_mismatched": True,
                            "test_matched": False, "test_mismatched": False}),
    (GLUE, "qnli"): Schema({"question": STR, "sentence": STR, "label": labels("entailment", "not_entailment"),
                            "idx": I32}, GLUE_SPLITS),
    (GLUE, "rte"): Schema({"sentence1": STR, "sentence2": STR, "label": labels("entailment", "not_entailment"),
                           "idx": I32}, GLUE_SPLITS),
    ("rajpurkar/squad", None): Schema(
        {"id": STR, "title": STR, "context": STR, "question": STR,
         "answers": {"text": STRINGS, "answer_start": datasets.List(I32)}}, TRAIN_VAL,
        {"context": _squad_context,
         "answers": lambda i, _: {"text": [f"word{i}"], "answer_start": [_squad_context(i, True).index(f"word{i}")]}}),
    ("SetFit/20_newsgroups", None): Schema({"text": STR, "label": I64, "label_text": STR},
                                           {"train": True, "test": True}, {"label": lambda i, _: i % 20}),
    ("ucirvine/sms_spam", None): Schema({"sms": STR, "label": labels("ham", "spam")}, {"train": True}),
    ("allenai/winogrande", "winogrande_xl"): Schema(
        {"sentence": STR, "option1": STR, "option2": STR, "answer": STR}, GLUE_SPLITS,
        {"sentence": lambda i, _: f"Sentence {i}: the _ was late.",
         "answer": lambda i, lab: str(1 + i % 2) if lab else ""}),
    ("stanfordnlp/imdb", None): Schema({"text": STR, "label": labels("neg", "pos")},
                                       {"train": True, "test": True, "unsupervised": False}),
    ("Rowan/hellaswag", None): Schema(
        {"ind": I32, "activity_label": STR, "ctx_a": STR, "ctx_b": STR, "ctx": STR, "endings": STRINGS,
         "source_id": STR, "split": STR, "split_type": STR, "label": STR}, GLUE_SPLITS,
        {"endings": lambda i, _: [f"ending {i} {k}" for k in range(4)],
         "label": lambda i, lab: str(i % 4) if lab else ""},
        script=True),
    ("allenai/social_i_qa", None): Schema(
        {"context": STR, "question": STR, "answerA": STR, "answerB": STR, "answerC": STR, "label": STR}, TRAIN_VAL,
        {"label": lambda i, _: str(1 + i % 3)}, script=True),
    ("allenai/cosmos_qa", None): Schema(
        {"id": STR, "context": STR, "question": STR, "answer0": STR, "answer1": STR, "answer2": STR, "answer3": STR,
         "label": I32}, GLUE_SPLITS, {"label": lambda i, lab: i % 4 if lab else -1}, script=True),
    ("allenai/scitail", "snli_format"): Schema(
        {"sentence1_binary_parse": STR, "sentence1_parse": STR, "sentence1": STR, "sentence2_parse": STR,
         "sentence2": STR, "annotator_labels": STRINGS, "gold_label": STR}, {**TRAIN_VAL, "test": True},
        {"gold_label": lambda i, _: ("entailment", "neutral")[i % 2]}),
    ("tau/commonsense_qa", None): Schema(
        {"id": STR, "question": STR, "question_concept": STR, "choices": {"label": STRINGS, "text": STRINGS},
         "answerKey": STR}, GLUE_SPLITS,
        {"choices": lambda i, _: {"label": list("ABCDE"), "text": [f"choice {i} {k}" for k in "ABCDE"]},
         "answerKey": lambda i, lab: "ABCDE"[i % 5] if lab else ""}),
    ("google/boolq", None): Schema({"question": STR, "answer": BOOL, "passage": STR}, TRAIN_VAL),
    ("RobZamp/sick", None): Schema(
        {"id": STR, "sentence_A": STR, "sentence_B": STR, "label": labels("entailment", "neutral", "contradiction"),
         "relatedness_score": F32, "entailment_AB": STR, "entailment_BA": STR, "sentence_A_original": STR,
         "sentence_B_original": STR, "sentence_A_dataset": STR, "sentence_B_dataset": STR},
        {**TRAIN_VAL, "test": True}, script=True),
    ("aps/super_glue", "cb"): Schema({"premise": STR, "hypothesis": STR, "idx": I32,
                                      "label": labels("entailment", "contradiction", "neutral")}, GLUE_SPLITS),
}


def paper_tasks() -> list[Task]:
    """Every task of both paper suites, once."""
    return list({t.name: t for suite in PAPER_SUITES.values() for t in list_tasks(suite)}.values())


def _schema(task: Task) -> Schema:
    """The hub schema of a task; the Crowdflower configs share one (text and the script's ClassLabel)."""
    if (task.hub_id, task.hub_config) in SCHEMAS:
        return SCHEMAS[task.hub_id, task.hub_config]
    return Schema({"text": STR, "label": labels(*task.label_names)}, {"train": True}, script=True)


class FakeHub:
    """Writes the schema fixtures under `root` and serves them in place of the hub (see the module docstring)."""

    def __init__(self, root: Path, write: bool = True):
        """`write=False`: serve the files an earlier FakeHub(root) wrote."""
        self.root = root
        self.data_dir = root / "data"
        self.repos: dict[tuple[str, str | None, str | None], dict[str, Path]] = {}  # (repo, revision, config)
        self.scripts: set[str] = set()
        for task in paper_tasks():
            if task.local_only:
                if write:
                    self._write_local(task)
            else:
                self._add_hub(task, write)

    def _add_hub(self, task: Task, write: bool) -> None:
        schema = _schema(task)
        revision = PARQUET_EXPORT if schema.script else None
        config = task.hub_config or "default"
        key = (task.hub_id, revision, config)
        if key in self.repos:
            return
        if schema.script:
            self.scripts.add(task.hub_id)
        folder = self.root / "hub" / task.hub_id / (revision or "main").replace("/", "_") / config
        self.repos[key] = {split: folder / split / "0000.parquet" for split in schema.splits}
        for split, labelled in schema.splits.items() if write else ():
            rows = [schema.row(i, labelled, split) for i in range(ROWS)]
            self.repos[key][split].parent.mkdir(parents=True, exist_ok=True)
            datasets.Dataset.from_list(rows, features=datasets.Features(schema.features)).to_parquet(
                str(self.repos[key][split]))

    def _write_local(self, task: Task) -> None:
        folder = self.data_dir / task.name
        folder.mkdir(parents=True, exist_ok=True)
        for split in ("train", "validation", "test"):
            pair = {"text_pair": "a sentence about it"} if task.format == "pair" else {}
            rows = [{"text": f"{task.name} {split} {i}", **pair, "label": task.label_names[i % task.num_labels]}
                    for i in range(ROWS)]
            datasets.Dataset.from_list(rows).to_csv(str(folder / f"{split}.csv"), index=False)

    def files(self, path: str, name: str | None = None, revision: str | None = None,
              data_dir: str | None = None) -> dict[str, str]:
        """Split -> local file for a hub read, failing as the hub does for a script repo or a wrong config."""
        if path in self.scripts and revision != PARQUET_EXPORT:
            raise RuntimeError(f"Dataset scripts are no longer supported, but found {path.split('/')[-1]}.py")
        if revision == PARQUET_EXPORT and name is not None:
            raise ValueError(f"BuilderConfig '{name}' not found. Available: ['default']")
        config = data_dir if revision == PARQUET_EXPORT else (name or "default")
        key = (path, revision, config)
        if key not in self.repos:
            known = sorted(c for p, r, c in self.repos if p == path and r == revision)
            raise ValueError(f"BuilderConfig '{config}' not found for {path}@{revision}. Available: {known}")
        return {split: str(f) for split, f in self.repos[key].items()}

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
        real_load, real_builder = datasets.load_dataset, datasets.load_dataset_builder
        cache = str(self.root / "cache")

        def served(real):
            def call(path, name=None, *args, revision=None, data_dir=None, **kwargs):
                if path in ("csv", "json", "parquet") or Path(path).exists():
                    return real(path, name, *args, revision=revision, data_dir=data_dir, **kwargs)
                files = self.files(path, name, revision, data_dir)
                return real("parquet", data_files=files, cache_dir=cache, **kwargs)
            return call

        monkeypatch.setattr(datasets, "load_dataset", served(real_load))
        monkeypatch.setattr(datasets, "load_dataset_builder", served(real_builder))
        monkeypatch.setattr(hub, "hub_reachable", lambda: True)
        monkeypatch.setenv(DATA_ENV, str(self.data_dir))
        return self

    def install_in_subprocesses(self, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
        """Serve the same files in the Python processes started while `monkeypatch` holds: a sitecustomize module
        put first on their PYTHONPATH installs this fake hub when the interpreter starts."""
        site = self.root / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        path = [str(site), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in path if p))
        monkeypatch.setenv(SUBPROCESS_ENV, str(self.root))
        return self


@pytest.fixture(scope="session")
def fake_hub_files(tmp_path_factory) -> FakeHub:
    return FakeHub(tmp_path_factory.mktemp("fake_hub"))


@pytest.fixture
def fake_hub(fake_hub_files: FakeHub, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The paper suites served from schema fixtures for the duration of one test."""
    return fake_hub_files.install(monkeypatch)
