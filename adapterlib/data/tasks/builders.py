"""The builders of the offline tasks, one per task (``BUILDERS``): each turns pinned files (``members.MEMBERS``) into
labelled examples. A builder here yields examples with the label as a *name* for classification, and
``offline.build`` dedupes, splits and writes them; the tasks that come with their own splits are built in
``packaged_splits``. No example is synthesised, relabelled or rebalanced; filters are listed per task in
docs/TASKS.md.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import tarfile
from collections.abc import Callable, Iterable, Iterator

from adapterlib.data.tasks import packaged_splits as packaged
from adapterlib.data.tasks.members import read_bytes, read_path


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
    for d in packaged.requests("medmcqa_dev"):
        subject = d["subject_name"]
        yield {"text": d["question"].strip(), "label": None if subject == "Unknown" else subject}


# ---------------------------------------------------------------- registry of builders
BUILDERS: dict[str, Callable[[], Iterable[dict] | dict[str, list[dict]]]] = {
    "sst2_dev_split": packaged.dev_split("sst2_dev", "sst2"),
    "mrpc_dev_split": packaged.dev_split("mrpc_dev", "mrpc"),
    "rte_dev_split": packaged.dev_split("rte_dev", "rte"),
    "cb_dev_split": packaged.dev_split("cb_dev", "cb"),
    "snli": packaged.snli,
    "qnli_squad": packaged.qnli_squad,
    "squad_v1_dev": packaged.squad_split,
    "winogrande_offline": packaged.winogrande,
    "social_i_qa_offline": packaged.social_i_qa,
    "hellaswag_offline": packaged.hellaswag,
    "commonsense_qa_offline": packaged.commonsense_qa,
    "boolq_offline": packaged.boolq,
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
