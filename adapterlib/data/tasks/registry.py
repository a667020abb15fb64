"""Every task of both papers (loaded from the hub) and the offline tasks (built from registry packages): the papers'
own datasets where a package carries them (``Task.own_data``), look-alike stand-ins elsewhere.

A task shared by two suites (e.g. `sst2_dev_split` is SST-2 for Houlsby and "SST" for AdapterFusion) is registered
once per suite under the same name, so `list_tasks(suite)` gives each suite's own reference spelling in
`stands_in_for`/`paper_name`, while the data and the cache are shared. `get_task(name)` returns the first one.
"""
from __future__ import annotations

from dataclasses import replace

from adapterlib.data.tasks.offline_tasks import FUSION_OFFLINE_VIEWS, OFFLINE_TASKS
from adapterlib.data.tasks.task import (MC, NLI3, OFFLINE_FOR, OFFLINE_SUITES, PAIR_ACC, PAPER_SUITES, PARQUET_EXPORT,
                                        SCRIPT_REPO, SINGLE_ACC, Task, TaskError, class_names)

__all__ = ["OFFLINE_FOR", "OFFLINE_SUITES", "PAPER_SUITES", "PARQUET_EXPORT", "SUITES", "TASKS", "Task", "TaskError",
           "get_task", "list_tasks"]


# ---------------------------------------------------------------- paper tasks (hub)
# Tokens the runs of a paper task read where a profile's 128 would cut what decides its answer (``Task.max_length``;
# docs/PAPER_SETTINGS.md, "Sequence length"). Neither paper states a length; the authors' scripts default to 128
# (adapter-bert's run_classifier.py, AdapterHub's run_fusion_glue.py), which the GLUE tasks keep. No script covers
# the tasks below: each gets the shorter of 256 and 512 that keeps 95% of its examples whole, measured with BERT's
# uncased WordPiece on the paper's data (a registry package's copy, or the dataset's own repository); where that data
# is not here, 512 (BERT's positions, all there are) for text a source calls long.
PAPER_LENGTHS = {
    "boolq": 512,        # passages: 5.3% of train and dev are longer than 256 tokens, 0.2% longer than 512
    "cb": 256,           # premises: 16.1% of the dev set longer than 128, 3.6% longer than 256
    "hellaswag": 256,    # the hub's contexts keep WikiHow's [header]/[title]/[step] tags: 19.4% of dev longer than 128
    "cosmos_qa": 256,    # blog paragraphs: 19.1% of dev longer than 128, none longer than 256 (its authors used 220)
    "imdb": 512,         # "long movie reviews" (AdapterFusion App. A.1)
    # Houlsby Table 3's mean texts of 1,903, 1,400 and 1,046 characters are about 410, 300 and 230 tokens (4.3-4.7
    # characters a token on English news and debate text here): with a mean near or past 256, lengths that skew
    # right as text lengths do leave far more than 5% past 256
    "newsgroups20": 512, "cf_economic_news": 512, "customer_complaints": 512,
}


def _paper(name, suite, paper_name, hub_id, hub_config=None, paper="houlsby", local_only=False, source=None,
           licence="see dataset card", rationale="", **kw) -> Task:
    return Task(name, suite, stands_in_for=None, paper=paper, paper_name=paper_name, hub_id=hub_id,
                hub_config=hub_config, local_only=local_only, rationale=rationale or "the paper's own task",
                source=source or (f"hub:{hub_id}" + (f"/{hub_config}" if hub_config else "")), licence=licence,
                max_length=PAPER_LENGTHS.get(name), **kw)


GLUE = "nyu-mll/glue"
_PAPER = [
    _paper("cola", "houlsby_glue", "CoLA", GLUE, "cola", format="single", metric="matthews", **class_names("unacceptable,acceptable")),
    _paper("sst2", "houlsby_glue", "SST-2", GLUE, "sst2", paper="both", **SINGLE_ACC, **class_names("negative,positive")),
    _paper("mrpc", "houlsby_glue", "MRPC", GLUE, "mrpc", paper="both", format="pair", metric="f1", **class_names("not_equivalent,equivalent")),
    _paper("stsb", "houlsby_glue", "STS-B", GLUE, "stsb", format="regression", metric="spearman", num_labels=1, label_names=()),
    _paper("qqp", "houlsby_glue", "QQP", GLUE, "qqp", paper="both", format="pair", metric="f1", **class_names("not_duplicate,duplicate")),
    _paper("mnli", "houlsby_glue", "MNLI-m", GLUE, "mnli", paper="both", **PAIR_ACC, **NLI3),
    _paper("mnli_mm", "houlsby_glue", "MNLI-mm", GLUE, "mnli", **PAIR_ACC, **NLI3,
           scored_from=("mnli", "test_mismatched"),
           rationale="MNLI's own runs (`mnli`) scored on validation_mismatched: one MNLI model, two test sets, "
                     "as GLUE scores MNLI-m and MNLI-mm (Houlsby Table 1 stores 9 models for its 10 columns)"),
    _paper("qnli", "houlsby_glue", "QNLI", GLUE, "qnli", **PAIR_ACC, **class_names("entailment,not_entailment")),
    _paper("rte", "houlsby_glue", "RTE", GLUE, "rte", paper="both", **PAIR_ACC, **class_names("entailment,not_entailment")),
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
    return class_names(spec) if isinstance(spec, str) else dict(num_labels=spec, label_names=tuple(map(str, range(spec))))


_PAPER += [_paper(name, "houlsby_additional", ref, hub, cfg, local_only=hub is None, **SINGLE_ACC, **_labels(lab),
                  hub_revision=PARQUET_EXPORT if hub == _CF else None,
                  source=None if hub else "not on the hub: local copy at <data dir>/<name>/ (columns text,label)")
           for name, ref, hub, cfg, lab in _ADDITIONAL]
_PAPER += [
    _paper("winogrande", "fusion_paper", "WGrande", "allenai/winogrande", "winogrande_xl", paper="fusion", **MC, num_labels=2, offline_copy="winogrande_offline"),
    _paper("imdb", "fusion_paper", "IMDB", "stanfordnlp/imdb", paper="fusion", **SINGLE_ACC, **class_names("neg,pos")),
    _paper("hellaswag", "fusion_paper", "HSwag", "Rowan/hellaswag", paper="fusion", **SCRIPT_REPO, **MC,
           num_labels=4, offline_copy="hellaswag_offline",
           copy_form="the context as 'activity: ctx', WikiHow's tags removed"),
    _paper("social_i_qa", "fusion_paper", "SocIQA", "allenai/social_i_qa", paper="fusion", **SCRIPT_REPO, **MC,
           num_labels=3, offline_copy="social_i_qa_offline"),
    _paper("cosmos_qa", "fusion_paper", "CosQA", "allenai/cosmos_qa", paper="fusion", **SCRIPT_REPO, **MC,
           num_labels=4),
    _paper("scitail", "fusion_paper", "SciTail", "allenai/scitail", "snli_format", paper="fusion", **PAIR_ACC,
           **class_names("entailment,neutral")),
    _paper("argument", "fusion_paper", "Argument", None, paper="fusion", local_only=True, **PAIR_ACC,
           **class_names("NoArgument,Argument_for,Argument_against"),
           source="UKP Sentential Argument Mining corpus: not redistributable, local copy at <data dir>/argument/"),
    _paper("commonsense_qa", "fusion_paper", "CSQA", "tau/commonsense_qa", paper="fusion", **MC, num_labels=5, offline_copy="commonsense_qa_offline"),
    _paper("boolq", "fusion_paper", "BoolQ", "google/boolq", paper="fusion", **PAIR_ACC, **class_names("False,True"), offline_copy="boolq_offline"),
    _paper("sick", "fusion_paper", "SICK", "RobZamp/sick", paper="fusion", **SCRIPT_REPO, **PAIR_ACC, **NLI3),
    _paper("cb", "fusion_paper", "CB", "aps/super_glue", "cb", paper="fusion", **PAIR_ACC, **NLI3),
]
_FUSION_PAPER_VIEWS = {"mnli": "MNLI", "qqp": "QQP", "sst2": "SST", "mrpc": "MRPC", "rte": "RTE"}


def _views(tasks: list[Task], views: dict[str, str], suite: str, **changes) -> list[Task]:
    """The tasks ``views`` names, in ``suite`` under its paper's spelling (the field the task already uses)."""
    by_name = {t.name: t for t in tasks}
    return [replace(by_name[n], suite=suite, **{"paper_name" if by_name[n].paper_name else "stands_in_for": ref},
                    **changes) for n, ref in views.items()]


TASKS: list[Task] = (OFFLINE_TASKS + _views(OFFLINE_TASKS, FUSION_OFFLINE_VIEWS, "fusion_offline", metric="accuracy")
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
