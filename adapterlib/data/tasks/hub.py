"""The papers' own tasks, through `datasets.load_dataset` (needs the Hugging Face hub) or a local copy.

Splits: the hub's train is our train; where the hub has no labelled validation+test pair, the official
validation set is our test (AdapterFusion reports dev; Houlsby's GLUE table is the GLUE test server, whose labels
are not public, so tables label both: ``our_split``, ``paper_split``) and a seeded 10% (at most 5,000) of train
becomes our validation set for model selection. Labels are mapped to `Task.label_names` by name.
"""
from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from adapterlib.data.tasks.registry import OFFLINE_FOR, Task, TaskError, list_tasks

HOLDOUT_FRACTION, HOLDOUT_MAX, HOLDOUT_SEED = 0.1, 5000, 0
COLUMN_ORDER = ("id", "title", "context", "text", "text_pair", "question", "choices", "answers", "label")


@dataclass(frozen=True)
class HubSpec:
    convert: Callable[[dict], dict]        # one hub row -> our columns (label still as the hub gives it)
    label_column: str | None = "label"     # hub column whose ClassLabel/str/bool values are mapped by name
    validation: str | None = None          # None: seeded holdout from train
    test: str | None = "validation"        # None: seeded holdout from train as well
    extra: dict[str, str] = field(default_factory=dict)


def cols(text: str, pair: str | None = None, label: str = "label") -> Callable[[dict], dict]:
    if pair is None:
        return lambda r: {"text": r[text], "label": r[label]}
    return lambda r: {"text": r[text], "text_pair": r[pair], "label": r[label]}


def _winogrande(r):
    return {"text": "", "question": "", "choices": [r["sentence"].replace("_", r[o]) for o in ("option1", "option2")],
            "label": int(r["answer"] or 0) - 1}


def _csqa(r):
    keys = r["choices"]["label"]
    return {"text": "", "question": r["question"], "choices": r["choices"]["text"],
            "label": keys.index(r["answerKey"]) if r["answerKey"] in keys else -1}


def _argument(r):  # UKP sentential argument mining columns, or ours
    if "sentence" in r:
        return {"text": r["topic"], "text_pair": r["sentence"], "label": r["annotation"]}
    return {"text": r["text"], "text_pair": r["text_pair"], "label": r["label"]}


_MC = dict(label_column=None)
SPECS: dict[str, HubSpec] = {
    "cola": HubSpec(cols("sentence")), "sst2": HubSpec(cols("sentence")),
    "mrpc": HubSpec(cols("sentence1", "sentence2")), "stsb": HubSpec(cols("sentence1", "sentence2"), label_column=None),
    "qqp": HubSpec(cols("question1", "question2")), "qnli": HubSpec(cols("question", "sentence")),
    "rte": HubSpec(cols("sentence1", "sentence2")),
    "mnli": HubSpec(cols("premise", "hypothesis"), test="validation_matched",
                    extra={"test_mismatched": "validation_mismatched"}),
    "mnli_mm": HubSpec(cols("premise", "hypothesis"), test="validation_mismatched"),
    "squad": HubSpec(lambda r: r, label_column=None),
    "winogrande": HubSpec(_winogrande, **_MC),
    "imdb": HubSpec(cols("text"), test="test"),
    "hellaswag": HubSpec(lambda r: {"text": r["ctx"], "question": "", "choices": r["endings"],
                                    "label": int(r["label"] or -1)}, **_MC),
    "social_i_qa": HubSpec(lambda r: {"text": r["context"], "question": r["question"],
                                      "choices": [r["answerA"], r["answerB"], r["answerC"]],
                                      "label": int(r["label"]) - 1}, **_MC),
    "cosmos_qa": HubSpec(lambda r: {"text": r["context"], "question": r["question"],
                                    "choices": [r[f"answer{i}"] for i in range(4)], "label": r["label"]}, **_MC),
    "scitail": HubSpec(cols("sentence1", "sentence2", "gold_label"), label_column="gold_label",
                       validation="validation", test="test"),
    "argument": HubSpec(_argument, label_column=None, validation="validation", test="test"),
    "commonsense_qa": HubSpec(_csqa, **_MC),
    "boolq": HubSpec(cols("question", "passage", "answer"), label_column="answer"),
    "sick": HubSpec(cols("sentence_A", "sentence_B"), validation="validation", test="test"),
    "cb": HubSpec(cols("premise", "hypothesis")),
    "newsgroups20": HubSpec(cols("text"), test="test"),
    "sms_spam_uci": HubSpec(cols("sms"), test=None),
}
DEFAULT_SPEC = HubSpec(cols("text"), test=None)  # Crowdflower copies and local copies: text,label, train only


def hub_reachable() -> bool:
    """A 3-second check, so that offline use fails at once instead of after datasets' minute of retries."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return True  # offline mode: datasets answers from its local cache (or fails fast)
    host = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


def _fail(task: Task, why: str) -> TaskError:
    return TaskError(f"{task.name} ({task.paper_name}): {why}; offline, use suite '{OFFLINE_FOR[task.suite]}' instead "
                     f"(e.g. load_task('{_example_offline(task)}'))")


def _example_offline(task: Task) -> str:
    offline = list_tasks(OFFLINE_FOR[task.suite])
    return next((t.name for t in offline if t.stands_in_for == task.paper_name), offline[0].name)


def _local(path: str | Path) -> datasets.DatasetDict:
    """train/validation(dev)/test files (csv, tsv, json, jsonl, parquet) in a directory, or one file = train."""
    path = Path(path)
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    out = {}
    for f in files:
        split = {"dev": "validation", "val": "validation"}.get(f.stem.split(".")[0], f.stem.split(".")[0])
        kind = {".tsv": "csv", ".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}.get(f.suffix)
        if kind and (split in ("train", "validation", "test") or not path.is_dir()):
            extra = {"delimiter": "\t"} if f.suffix == ".tsv" else {}
            out[split if path.is_dir() else "train"] = datasets.load_dataset(kind, data_files=str(f), split="train",
                                                                            **extra)
    if "train" not in out:
        raise TaskError(f"no train.(csv|tsv|json|jsonl|parquet) found at {path}")
    return datasets.DatasetDict(out)


def _raw(task: Task, path: str | Path | None) -> datasets.DatasetDict:
    if path is not None:
        return _local(path)
    if task.local_only:
        raise TaskError(f"{task.name} ({task.paper_name}) is not publicly on the Hugging Face hub: pass "
                        f"path=<directory with train/validation/test files or one file> to load_task")
    if not hub_reachable():
        raise _fail(task, f"the Hugging Face hub is not reachable (needed for {task.hub_id})")
    try:
        return datasets.load_dataset(task.hub_id, task.hub_config)
    except Exception as e:  # datasets raises many types offline/misconfigured; the user needs one line
        raise _fail(task, f"datasets.load_dataset({task.hub_id!r}, {task.hub_config!r}) failed with "
                          f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}") from None


def _label_mapper(task: Task, feature) -> Callable:
    if task.format in ("regression", "span_qa", "multiple_choice"):
        return lambda v: v
    ours = [n.lower() for n in task.label_names]
    names = getattr(feature, "names", None)
    if names:
        missing = [n for n in names if n.lower() not in ours]
        if missing:
            raise TaskError(f"{task.name}: hub labels {missing} not in {task.label_names}")
        table = {i: ours.index(n.lower()) for i, n in enumerate(names)}
        return lambda v: table.get(v, -1)
    return lambda v: int(v) if isinstance(v, (bool, int)) else ours.index(str(v).lower()) if str(v).lower() in ours else -1


def load_hub_task(task: Task, path: str | Path | None = None) -> datasets.DatasetDict:
    spec = SPECS.get(task.name, DEFAULT_SPEC)
    raw = _raw(task, path)
    if "set" in raw["train"].column_names and len(raw) == 1:  # UKP style: one table with a split column
        t = raw["train"]
        raw = datasets.DatasetDict({s: t.filter(lambda r, s=k: r["set"] == s)
                                    for s, k in (("train", "train"), ("validation", "val"), ("test", "test"))})
    train = raw["train"]
    splits = {"validation": spec.validation, "test": spec.test}
    if path is not None:
        splits = {s: s if s in raw else None for s in splits}
    carved = {}
    for name in ("test", "validation"):
        if splits[name] is None or splits[name] not in raw:
            n = min(int(HOLDOUT_FRACTION * len(train)), HOLDOUT_MAX)
            parts = train.train_test_split(test_size=n, seed=HOLDOUT_SEED)
            train, carved[name] = parts["train"], parts["test"]
    out = {"train": train, **{s: carved[s] if s in carved else raw[splits[s]] for s in ("validation", "test")},
           **{k: raw[v] for k, v in spec.extra.items() if v in raw}}
    label_feature = train.features.get(spec.label_column) if spec.label_column else None
    to_id = _label_mapper(task, label_feature)

    def convert(row):
        row = spec.convert(row)
        if task.format != "span_qa":
            row["label"] = to_id(row["label"])
        return row

    dd = datasets.DatasetDict({k: v.map(convert, remove_columns=v.column_names) for k, v in out.items()})
    if task.format != "span_qa":
        dd = dd.filter(lambda r: r["label"] is not None and r["label"] != -1)  # hidden test labels
    return datasets.DatasetDict({k: v.select_columns([c for c in COLUMN_ORDER if c in v.column_names])
                                 for k, v in dd.items()})
