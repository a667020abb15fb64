"""The papers' own tasks, through `datasets.load_dataset` (needs the Hugging Face hub) or a local copy.

Script repos load from their parquet export (`Task.hub_revision`); tasks not on the hub load from
`<data dir>/<task>/{train,validation,test}.{csv,tsv,jsonl,parquet}` (local.py; columns in docs/TASKS.md).

Splits: the hub's train is our train; where the hub has no labelled validation+test pair, the official
validation set is our test (AdapterFusion reports dev; Houlsby's GLUE table is the GLUE test server, whose labels
are not public, so tables label both: ``our_split``, ``paper_split``) and a seeded 10% (at most 5,000) of train
becomes our validation set for model selection. Labels are mapped to `Task.label_names` by name and checked
against `num_labels` (labels.py).
"""
from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from adapterlib.data.tasks.labels import UNLABELLED, check_labels, label_ids
from adapterlib.data.tasks.local import LOCAL_FORMATS, local_dir, local_files, needs_local_data
from adapterlib.data.tasks.registry import OFFLINE_FOR, PARQUET_EXPORT, Task, TaskError, list_tasks

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
    "squad": HubSpec(lambda r: {c: r[c] for c in ("id", "title", "context", "question", "answers")},
                     label_column=None),  # a new dict: map() drops the removed columns of a row returned as is
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


def hub_host() -> str:
    return urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname


def hub_reachable() -> bool:
    """A 3-second check, so that offline use fails at once instead of after datasets' minute of retries."""
    if hub_offline_mode():
        return True  # offline mode: datasets answers from its local cache (or fails fast)
    try:
        socket.create_connection((hub_host(), 443), timeout=3).close()
        return True
    except OSError:
        return False


def hub_source(task: Task) -> dict:
    """Arguments of `datasets.load_dataset` / `load_dataset_builder` for a hub task. A parquet export declares no
    configs, only one folder per config (`default` where the script had none), so there the config is a data_dir."""
    if task.hub_revision == PARQUET_EXPORT:
        return {"path": task.hub_id, "revision": PARQUET_EXPORT, "data_dir": task.hub_config or "default"}
    return {"path": task.hub_id, "name": task.hub_config, "revision": task.hub_revision}


def hub_spec(task: Task) -> HubSpec:
    return SPECS.get(task.name, DEFAULT_SPEC)


def hub_offline_mode() -> bool:
    """``HF_HUB_OFFLINE`` is set: datasets answers from its local cache only."""
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")


def no_network(task: Task) -> str:
    return f"{task.name} ({task.paper_name}): no network (hub unreachable at {hub_host()})"


def not_cached(task: Task) -> str:
    return (f"{task.name} ({task.paper_name}): not in the local cache (HF_HUB_OFFLINE is set: load it once with the "
            "hub reachable, or unset HF_HUB_OFFLINE)")


def offline_alternative(task: Task) -> str | None:
    """What to load in hub task ``task``'s place without the hub: the offline task that stands in for it (or holds
    its data), else the first offline task of its format (and, where there is one, its number of classes) in the
    matching offline suite, named as a stand-in; None
    where that suite has no task of its format (a classifier is no stand-in for STS-B's regression, nor a
    multiple-choice task for SciTail's sentence pairs)."""
    suite = OFFLINE_FOR.get(task.suite)
    offline = list_tasks(suite) if suite else []
    own = next((t for t in offline if t.reference == task.paper_name), None)
    if own is not None:
        return f"offline, load_task('{own.name}') in its place (suite '{suite}')"
    same = min((t for t in offline if t.format == task.format), default=None,
               key=lambda t: t.num_labels != task.num_labels)  # SICK (3 classes): CB before BoolQ
    if same is not None:
        return (f"offline, the nearest is a stand-in of the same format: load_task('{same.name}') "
                f"(suite '{suite}', not {task.paper_name}'s data)")
    return None


def with_alternative(task: Task, why: str) -> str:
    """``why`` and, where there is one, the offline task to load instead (``offline_alternative``)."""
    instead = offline_alternative(task)
    return f"{why}; {instead}" if instead else why


def registry_copy(task: Task, path: str | Path | None = None) -> str | None:
    """The offline task to read instead of hub task ``task`` when the hub is out of reach: one holding the very data
    the hub serves in the same splits (official train; official dev as test: WinoGrande, SocialIQA, HellaSwag,
    CommonsenseQA, BoolQ, from a registry package), so a run does not stop on the hub for them. Only the validation
    set differs: carved from train by groups of related items instead of at random. None otherwise."""
    if path is None and task.offline_copy and not hub_reachable():
        return task.offline_copy
    return None


def hub_problem(task: Task, error: Exception) -> str:
    """One line naming why the hub did not give `task` (script repo, gated, not found, no network, other)."""
    first = str(error).splitlines()[0][:200] if str(error) else ""
    if hub_offline_mode() and isinstance(error, ConnectionError):  # datasets: "... (OfflineModeIsEnabled)"
        return not_cached(task)
    if isinstance(error, ConnectionError):
        return no_network(task)
    if "scripts are no longer supported" in first:
        why = (f"script repo, which datasets {datasets.__version__} cannot run: set hub_revision="
               f"'{PARQUET_EXPORT}' (its parquet export) for it in the task registry")
    elif "gated" in first:
        why = (f"gated: accept its conditions at https://huggingface.co/datasets/{task.hub_id} and log in "
               "(hf auth login)")
    else:
        why = f"{type(error).__name__}: {first}"
    return f"{task.name} ({task.paper_name}) from {task.hub_id}: {why}"


def _read(f: Path) -> datasets.Dataset:
    extra = {"delimiter": "\t"} if f.suffix == ".tsv" else {}
    return datasets.load_dataset(LOCAL_FORMATS[f.suffix], data_files=str(f), split="train", **extra)


def _local(task: Task, path: Path) -> datasets.DatasetDict:
    """A task folder (see `local_files`), or one file read as train."""
    if path.is_file() and path.suffix in LOCAL_FORMATS:
        return datasets.DatasetDict({"train": _read(path)})
    files = local_files(path)
    if "train" not in files:
        if not path.exists() or not any(path.iterdir()):
            raise TaskError(needs_local_data(task, path))
        raise TaskError(f"{task.name}: missing local file: no train.({'|'.join(s[1:] for s in LOCAL_FORMATS)}) in "
                        f"{path} (found {', '.join(sorted(f.name for f in path.iterdir()))})")
    return datasets.DatasetDict({split: _read(f) for split, f in files.items()})


def _raw(task: Task, path: Path | None) -> datasets.DatasetDict:
    if path is not None:
        return _local(task, path)
    if not hub_reachable():
        raise TaskError(with_alternative(task, no_network(task)))
    try:
        return datasets.load_dataset(**hub_source(task))
    except Exception as e:  # datasets raises many types offline/misconfigured; the user needs one line
        why = hub_problem(task, e)
        raise TaskError(with_alternative(task, why) if why in (no_network(task), not_cached(task)) else why) from None


def load_hub_task(task: Task, path: str | Path | None = None, data_dir: str | Path | None = None
                  ) -> datasets.DatasetDict:
    """A paper task's splits with our columns and label ids. `path`: a local copy of any paper task; a task that
    is not on the hub reads `local_dir(task, data_dir)` without it."""
    spec = hub_spec(task)
    if path is None and task.local_only:
        path = local_dir(task, data_dir)
    path = None if path is None else Path(path)
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
    dd = datasets.DatasetDict({k: v.map(spec.convert, remove_columns=v.column_names) for k, v in out.items()})
    if task.format != "span_qa":
        to_id = label_ids(task, label_feature, {v for d in dd.values() for v in d.unique("label")})
        label_type = datasets.Value("float32" if task.format == "regression" else "int64")
        # explicit features: map() would cast the ids back to the column's old type (string, bool)
        dd = datasets.DatasetDict({k: v.map(lambda r: {"label": to_id(r["label"])},
                                            features=datasets.Features({**v.features, "label": label_type}))
                                   for k, v in dd.items()})
        dd = dd.filter(lambda r: r["label"] != UNLABELLED)  # hidden test labels
        check_labels(task, dd)
    return datasets.DatasetDict({k: v.select_columns([c for c in COLUMN_ORDER if c in v.column_names])
                                 for k, v in dd.items()})
