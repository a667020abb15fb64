"""What a task is (``Task``), the suites of each experiment, and the small vocabulary the task declarations share."""
from __future__ import annotations

from dataclasses import dataclass

# The suite of each experiment ("role": Houlsby's GLUE table, his additional tasks, SQuAD, AdapterFusion): offline
# (registry packages) and the papers' (hub); a profile picks one of the two mappings.
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
    copy_form: str | None = None    # hub task: how its copy's inputs differ from the hub's (its lengths are not theirs)
    max_length: int | None = None   # tokens this task's inputs need to keep what decides the answer (a profile
                                    # with a shorter max_length uses this one for it; `data list` and `plan
                                    # --verbose` show the shares truncated)

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


def class_names(names: str) -> dict:
    """``num_labels`` and ``label_names`` of comma-separated class names, in the label order given."""
    labels = tuple(names.split(","))
    return dict(num_labels=len(labels), label_names=labels)


SINGLE_ACC = dict(format="single", metric="accuracy")
PAIR_ACC = dict(format="pair", metric="accuracy")
MC = dict(format="multiple_choice", metric="accuracy", label_names=())
SCRIPT_REPO = dict(hub_revision=PARQUET_EXPORT)
NLI3 = class_names("entailment,neutral,contradiction")
