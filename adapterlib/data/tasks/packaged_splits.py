"""The offline tasks that come with their own splits: the papers' datasets from AI2's evaluation packages (an
official dev set as the hub's own Arrow file, an official train split as evaluation request files), SNLI as
released (train subset and test), and SQuAD and QNLI split by article.

An official dev set goes through the very conversion the hub path applies to that task (``hub.SPECS`` and
``labels.label_ids``), so the offline task has the hub task's columns, class names and label order; request files
(one JSON per line, the original fields or a prompt in ``doc``) are parsed back into the same columns. Each builder
returns ready splits; ``offline.build`` dedupes and writes them.
"""
from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator

from adapterlib.data.tasks.members import read_bytes, read_path
from adapterlib.data.tasks.registry import get_task
from adapterlib.data.tasks.splits import SPLITS, assign_groups, carve_validation, stratified_split


def requests(member: str) -> list[dict]:
    """The ``doc`` of every request in an OE-Eval request file, once per ``doc_id`` (a doc has one request per
    answer option)."""
    docs: dict[int, dict] = {}
    for line in gzip.decompress(read_bytes(member)).decode("utf-8").splitlines():
        request = json.loads(line)
        docs.setdefault(request["doc_id"], request["doc"])
    return list(docs.values())


_OPTION = re.compile(r"\n ([A-E])\. ")


def lettered(query: str) -> tuple[str, list[str]]:
    """A multiple-choice prompt "<stem>\\n A. <x>\\n B. <y>...\\nAnswer:" -> (stem, [x, y, ...])."""
    body = query.removesuffix("\nAnswer:")
    parts = _OPTION.split(body)  # stem, "A", x, "B", y, ...
    return parts[0], [p.strip() for p in parts[2::2]]


def hub_rows(member: str, hub_task: str) -> list[dict]:
    """An official dev set packaged as the hub's Arrow file, converted exactly as the hub path converts that task,
    with classification labels as our class names."""
    import datasets

    from adapterlib.data.tasks.hub import hub_spec
    from adapterlib.data.tasks.labels import UNLABELLED, label_ids

    task, table = get_task(hub_task), datasets.Dataset.from_file(str(read_path(member)))
    spec = hub_spec(task)
    rows = [spec.convert(r) for r in table]
    if task.format in ("single", "pair"):
        to_id = label_ids(task, table.features.get(spec.label_column), {r["label"] for r in rows})
        rows = [{**r, "label": task.label_names[to_id(r["label"])]} for r in rows if to_id(r["label"]) != UNLABELLED]
    return rows


def official(train: list[dict], train_groups: list[str], test: list[dict]) -> dict[str, list[dict]]:
    """Official train (less a grouped, seeded validation carved from it) and the official dev set as test."""
    kept, validation = carve_validation(train, train_groups)
    return {"train": kept, "validation": validation, "test": test}


# ---------------------------------------------------------------- the papers' own data, SNLI, SQuAD and QNLI
def dev_split(member: str, hub_task: str) -> Callable[[], dict[str, list[dict]]]:
    """A task packaged only as its official dev set: a seeded, label-stratified split of it (splits.DEV_FRACTIONS)."""
    return lambda: stratified_split(hub_rows(member, hub_task))


def winogrande() -> dict[str, list[dict]]:
    from adapterlib.data.tasks.hub import hub_spec

    convert = hub_spec(get_task("winogrande")).convert
    docs = requests("winogrande_train")
    # twins share their two options (and most words): keep each option pair in one split
    return official([convert(d) for d in docs], ["|".join(sorted((d["option1"], d["option2"]))) for d in docs],
                    hub_rows("winogrande_dev", "winogrande"))


def social_i_qa() -> dict[str, list[dict]]:
    from adapterlib.data.tasks.hub import hub_spec

    convert = hub_spec(get_task("social_i_qa")).convert
    docs = requests("socialiqa_train")
    return official([convert(d) for d in docs], [d["context"] for d in docs], hub_rows("social_i_qa_dev", "social_i_qa"))


def commonsense_qa() -> dict[str, list[dict]]:
    train = []
    for d in requests("csqa_train"):
        stem, choices = lettered(d["query"])
        train.append({"text": "", "question": stem.removeprefix("Question: ").strip(), "choices": choices,
                      "label": d["gold"]})
    return official(train, [r["question"] for r in train], hub_rows("commonsense_qa_dev", "commonsense_qa"))


def hellaswag_text(text: str) -> str:
    """HellaSwag's packaged form (lm-eval-harness): WikiHow's "[title]" becomes a full stop, other brackets go."""
    text = re.sub(r"\[.*?\]", "", text.strip().replace(" [title]", ". "))
    return text.replace("  ", " ")


def hellaswag() -> dict[str, list[dict]]:
    import datasets

    train = []
    for d in requests("hellaswag_train"):
        stem, choices = lettered(d["query"])
        train.append({"text": stem.removesuffix("\nChoose the best continuation:"), "question": "",
                      "choices": choices, "label": d["gold"]})
    test = [{"text": hellaswag_text(f"{r['activity_label']}: {r['ctx_a']} {r['ctx_b'].capitalize()}"),
             "question": "", "choices": [hellaswag_text(e) for e in r["endings"]], "label": int(r["label"])}
            for r in datasets.Dataset.from_file(str(read_path("hellaswag_dev")))]
    return official(train, [r["text"] for r in train], test)


_BOOLQ = re.compile(r"^(?P<title>.*?) -- (?P<passage>.*)\nQuestion: (?P<question>.*)$", re.S)


def boolq() -> dict[str, list[dict]]:
    """Train prompts are "<title> -- <passage>\\nQuestion: <q>" with yes (A) / no (B); the dev set (like the hub's
    google/boolq) has the passage without its title, so the title is dropped from train too."""
    train = []
    for d in requests("boolq_train"):
        stem, _ = lettered(d["query"])
        m = _BOOLQ.match(stem)
        train.append({"text": m["question"].strip(), "text_pair": m["passage"].strip(),
                      "label": ("True", "False")[d["gold"]], "group": m["passage"]})
    groups = [r.pop("group") for r in train]
    return official(train, groups, hub_rows("boolq_dev", "boolq"))


def snli() -> dict[str, list[dict]]:
    """SNLI 1.0 as released (JSON lines); pairs without a gold label ("-") are dropped, as everyone does."""
    def rows(member: str) -> list[dict]:
        out = []
        for line in read_bytes(member).decode("utf-8").splitlines():
            r = json.loads(line)
            if r["gold_label"] != "-":
                out.append({"text": r["sentence1"], "text_pair": r["sentence2"], "label": r["gold_label"],
                            "group": r["captionID"]})
        return out

    train = rows("snli_train_subset")
    groups = [r.pop("group") for r in train]
    test = [{k: v for k, v in r.items() if k != "group"} for r in rows("snli_test")]
    return official(train, groups, test)


def squad_records() -> list[dict]:
    """The 1,000 packaged SQuAD v1.1 dev questions; each answer's offset is its first occurrence in the context
    (every answer occurs there; the package dropped the offsets)."""
    records = []
    for d in requests("squad_dev_1000"):
        context, question = d["query"].split("\nBackground: ", 1)[1].rsplit("\nQuestion: ", 1)
        question = question.removesuffix("\nAnswer:")
        answers = [a for a in d["answers_text"] if a in context]
        records.append({"id": d["id"], "title": d["title"], "context": context, "question": question.strip(),
                        "answers": {"text": answers, "answer_start": [context.index(a) for a in answers]}})
    return records


# 48 articles of about 20 questions each: a 10% test set would be two articles, so the test gets 30%
SQUAD_FRACTIONS = (0.6, 0.1, 0.3)


def squad_split() -> dict[str, list[dict]]:
    """By article title (seeded, SQUAD_FRACTIONS), so no paragraph appears in two splits."""
    records = squad_records()
    return assign_groups(records, [r["title"] for r in records], SQUAD_FRACTIONS)


_STOP = set("a an the of in on at to for by with from and or is are was were be been what which who whom whose when "
            "where why how did do does that this these those it its as into than then there their".split())
_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+[\"')\]]*|$)")


def _words(s: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", s.lower()) if w not in _STOP}


def qnli_pairs(records: list[dict]) -> Iterator[dict]:
    """GLUE's QNLI recipe: (question, each context sentence); entailment iff the sentence contains the answer span.
    Pairs without any content-word overlap are dropped, as are questions whose answer crosses a sentence boundary."""
    for r in records:
        spans = [(m.start(), m.end()) for m in _SENTENCE.finditer(r["context"]) if m.group().strip()]
        answers = [(s, s + len(t)) for s, t in zip(r["answers"]["answer_start"], r["answers"]["text"])]
        inside = [any(a <= s0 and s1 <= b for s0, s1 in answers) for a, b in spans]
        if not any(inside):
            continue
        q = _words(r["question"])
        for (a, b), pos in zip(spans, inside):
            sentence = r["context"][a:b].strip()
            if q & _words(sentence):
                yield {"text": r["question"], "text_pair": sentence,
                       "label": "entailment" if pos else "not_entailment", "group": r["title"]}


def qnli_squad() -> dict[str, list[dict]]:
    squad = squad_split()
    return {s: list(qnli_pairs(squad[s])) for s in SPLITS}
