"""Named presets of model, tasks, data caps, grids and seeds: the one knob every notebook takes (``profile``):
``smoke`` (what the tests run), ``cpu`` (the default), ``cpu-long``, ``paper`` and ``gpu``, one row each in
docs/PROFILES.md (their grids, and why each point: ``scale_grids``).

    profile = get_profile("cpu", seeds=(0, 1, 2))          # overrides fail at once if unknown or bad
    configs = profile.configs("houlsby_glue", profile.task_names("glue"), regime=["full", "adapters"])
    report = run_grid(configs, profile.store())
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapterlib.runner.grid import expand, unknown_grid_keys
from adapterlib.runner.scale_grids import CPU_GRIDS, GPU_GRIDS, PAPER_GRIDS, SMOKE_GRIDS
from adapterlib.core.models import PAPER_MODELS
from adapterlib.runner.store import RunStore
from adapterlib.data.tasks import OFFLINE_SUITES, PAPER_SUITES, SUITES, Task, available_tasks, get_task, list_tasks
from adapterlib.runner.settings import PRECISIONS, RunConfig, is_int

ROLES = ("glue", "additional", "squad", "fusion")  # which suite a notebook draws its tasks from


@dataclass(frozen=True)
class Profile:
    """``suites``: role -> task suite; ``tasks``: role -> the suite's tasks this profile uses (missing: all);
    ``models``: role -> model (the papers use BERT-large for Houlsby's GLUE table and SQuAD, BERT-base elsewhere);
    ``grids``: named grids (see ``grid.expand``) for this scale; ``max_length`` applies to every task format but
    span_qa, which uses ``qa_max_length`` and ``doc_stride`` (a task that needs longer inputs, ``Task.max_length``,
    gets its own; ``task_max_length``: task -> the tokens this profile reads it at, where that differs from both).
    ``role_seeds``: role -> seeds where a role's paper used another number of seeds than ``seeds``;
    ``role_max_train``: role -> its training-set cap where it is not ``max_train``; ``precision``: every run's
    (``TrainingSettings.precision``); ``max_eval`` caps validation, ``max_test`` the test splits (None: as
    ``max_eval``); ``analysis_tasks``: the tasks of Houlsby Figures 4 and 6 (default: the stand-ins of MNLI-m and
    CoLA, ``houlsby.runs.figure_tasks``); ``curve_tasks``/``curve_sizes``: the learning curve's tasks and training-set
    sizes (``studies.learning_curve``), none where the profile has no curve."""

    name: str
    description: str
    models: Mapping[str, str]
    suites: Mapping[str, str]
    max_train: int | None
    max_eval: int | None
    max_length: int
    qa_max_length: int
    doc_stride: int
    batch_size: int
    seeds: tuple[int, ...]
    grids: Mapping[str, Mapping[str, Any]]
    tasks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    role_seeds: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    role_max_train: Mapping[str, int | None] = field(default_factory=dict)
    task_max_length: Mapping[str, int] = field(default_factory=dict)
    precision: str = "fp32"
    max_test: int | None = None
    analysis_tasks: tuple[str, ...] = ()
    curve_tasks: tuple[str, ...] = ()
    curve_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "analysis_tasks", tuple(self.analysis_tasks))
        object.__setattr__(self, "curve_tasks", tuple(self.curve_tasks))
        object.__setattr__(self, "curve_sizes", tuple(self.curve_sizes))
        object.__setattr__(self, "role_seeds", {role: tuple(s) for role, s in self.role_seeds.items()})
        problems = []
        caps = {**{key: getattr(self, key) for key in ("max_train", "max_eval", "max_test")},
                **{f"role_max_train[{role!r}]": cap for role, cap in self.role_max_train.items()}}
        for key, value in caps.items():
            if value is not None and not (is_int(value) and value >= 1):
                problems.append(f"{key} must be None or an int >= 1, got {value!r}")
        sizes = {**{key: getattr(self, key) for key in ("max_length", "qa_max_length", "doc_stride", "batch_size")},
                 **{f"task_max_length[{task!r}]": n for task, n in self.task_max_length.items()}}
        problems += [f"{key} must be an int >= 1, got {n!r}" for key, n in sizes.items() if not (is_int(n) and n >= 1)]
        if not self.doc_stride < self.qa_max_length:
            problems.append(f"doc_stride ({self.doc_stride}) must be below qa_max_length ({self.qa_max_length})")
        for role, seeds in {None: self.seeds, **self.role_seeds}.items():
            if not seeds or not all(is_int(s) for s in seeds):
                where = "seeds" if role is None else f"role_seeds[{role!r}]"
                problems.append(f"{where} must be a non-empty sequence of ints, got {seeds!r}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        for role in {*self.suites, *self.models, *self.tasks, *self.role_seeds, *self.role_max_train}:
            if role not in ROLES:
                problems.append(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        for role, suite in self.suites.items():
            if suite not in SUITES:
                problems.append(f"suite for {role!r} must be one of {SUITES}, got {suite!r}")
            elif role in self.tasks:
                known = {t.name for t in list_tasks(suite)}
                problems += [f"task {t!r} is not in suite {suite!r}" for t in self.tasks[role] if t not in known]
        for grid_name, grid in self.grids.items():
            unknown = unknown_grid_keys(grid)
            if unknown:
                problems.append(f"grid {grid_name!r}: {unknown}")
        trainable = {t for role in ("glue", "additional") if role in self.suites  # as _role_tasks reads them
                     for t in self.tasks.get(role) or [task.name for task in list_tasks(self.suites[role])]}
        problems += [f"analysis task {t!r} is not a task of the glue or additional role" for t in self.analysis_tasks
                     if t not in trainable]
        problems += [f"curve size {n!r} is not an int >= 1" for n in self.curve_sizes if not (is_int(n) and n >= 1)]
        if list(self.curve_sizes) != sorted(set(self.curve_sizes)):
            problems.append(f"curve_sizes must be distinct and ascending, got {list(self.curve_sizes)}")
        for task, where in {**dict.fromkeys(self.curve_tasks, "curve task"),
                            **dict.fromkeys(self.task_max_length, "task_max_length")}.items():
            try:
                get_task(task)
            except ValueError as err:
                problems.append(f"{where}: {err}")
        if problems:
            raise ValueError(f"bad profile {self.name!r}: " + "; ".join(problems))

    def caps_for(self, role: str) -> dict[str, int | None]:
        """``role``'s split caps, as ``load_task`` takes them (train: ``role_max_train[role]``, else ``max_train``)."""
        return {"max_train": self.role_max_train.get(role, self.max_train), "max_eval": self.max_eval,
                "max_test": self.max_test}

    @property
    def test_cap(self) -> int | None:
        """The cap on test splits: ``max_test``, else ``max_eval``."""
        return self.max_eval if self.max_test is None else self.max_test

    def task_names(self, role: str) -> list[str]:
        """The tasks this profile trains for ``role`` ("glue", "additional", "squad", "fusion"): a paper task that is
        not on the hub is left out while its local folder is absent (``missing_tasks`` says where it goes); a task
        scored on another's runs (``Task.scored_from``: MNLI-mm) is not one of them, ``scored_from`` lists it."""
        return available_tasks(self._role_tasks(role))[0]

    def missing_tasks(self, role: str) -> dict[str, str]:
        """Task -> why it is left out of ``task_names(role)`` ("not on the hub: needs local data at ...")."""
        return available_tasks(self._role_tasks(role))[1]

    def curve_task_names(self) -> list[str]:
        """The learning-curve tasks (``curve_tasks``) whose data is here; the others are in ``left_out``."""
        return available_tasks(list(self.curve_tasks))[0]

    def left_out(self) -> dict[str, str]:
        """Task -> why, for every task of every role this profile leaves out here (``missing_tasks``): a local-only
        paper task without its folder, an offline task whose source its registry refused. Runs go on without them
        and say so (plan, tables, figures, SUMMARY.md)."""
        return {**{task: why for role in self.suites for task, why in self.missing_tasks(role).items()},
                **available_tasks(list(self.curve_tasks))[1]}

    def registry_copies(self) -> dict[str, str]:
        """Hub task -> the offline task it is read from here because the hub is out of reach (``Task.offline_copy``:
        the same data in the same splits), for the tasks this profile trains; empty where the hub answers."""
        from adapterlib.data.tasks.hub import hub_reachable

        chosen = {get_task(t, self.suites[role]) for role in self.suites for t in self.task_names(role)}
        copies = {t.name: t.offline_copy for t in chosen if t.offline_copy}
        return dict(sorted(copies.items())) if copies and not hub_reachable() else {}

    def _role_tasks(self, role: str) -> list[str]:
        if role not in self.suites:
            raise ValueError(f"unknown role {role!r}; profile {self.name!r} has {sorted(self.suites)}")
        names = self.tasks.get(role) or [t.name for t in list_tasks(self.suites[role])]
        return [t for t in names if get_task(t, self.suites[role]).scored_from is None]

    def scored_from(self, role: str) -> list[Task]:
        """The ``role`` suite's tasks scored on the runs of a task this profile trains (MNLI-mm on MNLI's)."""
        trained = self.task_names(role)
        return [t for t in list_tasks(self.suites[role]) if t.scored_from and t.scored_from[0] in trained]

    def seeds_for(self, role: str) -> tuple[int, ...]:
        """The seeds of ``role``'s runs: ``role_seeds[role]``, else ``seeds``."""
        return self.role_seeds.get(role, self.seeds)

    def run_config(self, task: str, regime: str = "adapters", *, role: str | None = None, **fields: Any) -> RunConfig:
        """One run at this profile's scale; ``fields`` override any RunConfig field."""
        return RunConfig(**{**self._defaults(task, role), "task": task, "regime": regime, **fields})

    def configs(
        self, grid: str | Mapping[str, Any], tasks: Sequence[str], *, role: str | None = None, **axes: Any
    ) -> list[RunConfig]:
        """``grid`` (a name in ``grids``, or a grid) x ``tasks`` x ``axes`` (default ``seed``: the role's seeds) at
        this profile's scale."""
        if isinstance(grid, str):
            if grid not in self.grids:
                raise ValueError(f"unknown grid {grid!r}; profile {self.name!r} has {sorted(self.grids)}")
            grid = self.grids[grid]
        return [cfg for task in tasks for cfg in expand(
            {**self._defaults(task, role), **grid}, task=task,
            **{"seed": list(self.seeds_for(self._role(task, role))), **axes})]

    def _role(self, task: str, role: str | None) -> str:
        """``role``, or the role whose suite ``task`` is in (span QA: "squad")."""
        if role is not None:
            return role
        return "squad" if get_task(task).format == "span_qa" else next(
            (r for r in ROLES if task in self._role_tasks(r)), "glue")

    def _defaults(self, task: str, role: str | None) -> dict[str, Any]:
        spec = get_task(task)
        # ``Task.max_length``: a task that needs more tokens to keep what decides its answer (BoolQ passages) gets them
        length = self.qa_max_length if spec.format == "span_qa" else max(self.max_length, spec.max_length or 0)
        length = self.task_max_length.get(task, length)
        role = self._role(task, role)
        return {"model": self.models.get(role, self.models["glue"]), **self.caps_for(role),
                "batch_size": self.batch_size, "max_length": length, "doc_stride": self.doc_stride,
                "model_kwargs": dict(self.model_kwargs), "precision": self.precision}

    def store(self) -> RunStore:
        """The shared run store of this profile (``runs/<name>/``, or ``$ADAPTERLIB_RUNS/<name>/``)."""
        return RunStore(profile=self.name)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", description="pipeline check: MiniLM-L6's first 2 layers, tiny slices, 1 epoch",
        models={"glue": "minilm-l6"}, suites=OFFLINE_SUITES, max_train=64, max_eval=32, max_length=64,
        qa_max_length=128, doc_stride=64, batch_size=16, seeds=(0,), grids=SMOKE_GRIDS,
        tasks={"glue": ("sst2_dev_split", "rte_dev_split", "vader_movie"),
               "additional": ("sms_spam", "bbc_news"), "squad": ("squad_v1_dev",),
               "fusion": ("social_i_qa_offline", "cb_dev_split", "uci_sentiment")},
        curve_tasks=("sst2_dev_split", "social_i_qa_offline"), curve_sizes=(32, 64),
        model_kwargs={"num_hidden_layers": 2}),
    "cpu": Profile(
        name="cpu", description="MiniLM-L6 on the offline suites at reduced scale: under 90 minutes on 2 CPU cores",
        models={"glue": "minilm-l6"}, suites=OFFLINE_SUITES, max_train=256, max_eval=256, max_length=128,
        qa_max_length=256, doc_stride=96, batch_size=32, seeds=(0,), grids=CPU_GRIDS,
        # test sets of up to 1,000 (dev 256: it is evaluated every epoch): a paired difference on 256 test examples
        # is +-5-6 points at 95%, on 1,000 +-2-3. bf16: 1.4-1.8x faster steps with AVX512-BF16, same accuracy within
        # the noise (docs/BUDGET.md); without native bf16 it is emulated and slower: {"precision": "fp32"}.
        max_test=1000, precision="bf16",
        analysis_tasks=("bbc_news", "sst2_dev_split"),  # Figs. 4 and 6: SNLI (MNLI's place) is not learned at 256
        # BBC News stands for a headline task: 64 tokens keep the title and the lead paragraph (35 tokens at the median,
        # 43 at the 90th percentile): its 18 runs took 8.7 minutes at 128, its 16 took 3.9 at 64 on a slower machine.
        task_max_length={"bbc_news": 64},
        # The learning curve: SNLI and SocialIQA go from the floor at 256 to learned at 2,000 (../shared/OFFLINE.md),
        # the IMDB stand-in is learned at 256; 4,000 and CommonsenseQA (five answers) are cpu-long's (docs/BUDGET.md).
        curve_tasks=("snli", "social_i_qa_offline", "uci_sentiment"), curve_sizes=(256, 1000),
        # AdapterFusion on all 11 offline fusion tasks; Houlsby's tables on the offline tasks that stand for a paper
        # task (one without is in no paper mean: vader_movie, vader_amazon, spam_assassin, rt_polarity, ...).
        tasks={"glue": ("sst2_dev_split", "mrpc_dev_split", "snli", "qnli_squad", "rte_dev_split"),
               "additional": ("sms_spam", "debate_party", "bbc_news", "medmcqa_subject", "vader_tweets",
                              "vader_nyt")}),
    "paper": Profile(
        name="paper", description="the papers' models, hub task suites, grids and seeds (needs the hub and GPUs)",
        # SQuAD on BERT-large: Sec. 3.5 names no model, but its full fine-tuning F1 of 90.7 is BERT-large's (Devlin
        # et al. 2019 report 90.9 dev F1 for BERT-large, 88.5 for BERT-base), the model of Sec. 3.2.
        models={"glue": PAPER_MODELS["houlsby"], "additional": PAPER_MODELS["houlsby_additional"],
                "squad": PAPER_MODELS["houlsby"], "fusion": PAPER_MODELS["fusion"]},
        suites=PAPER_SUITES,
        max_train=None, max_eval=None, max_length=128, qa_max_length=384, doc_stride=128, batch_size=32,
        # Five seeds for GLUE (Sec. 3.2: "re-run 5 times with different random seeds"); three where Houlsby's
        # error bars say three (Figs. 4, 5, 7): Table 2 states no count, the BERT-base analyses share its role.
        seeds=(0, 1, 2, 3, 4), role_seeds={"additional": (0, 1, 2), "squad": (0, 1, 2)}, grids=PAPER_GRIDS,
        curve_tasks=("mnli", "qnli", "sst2"), curve_sizes=(1000, 10000, 100000),  # the largest GLUE tasks
        precision="auto"),  # bf16 autocast where the GPU supports it, TF32 matmuls (runner.loop)
}
# What does not fit the cpu profile's 90 minutes (docs/BUDGET.md): the curve's 4,000 point, a second seed for both
# Tables 1 (AdapterFusion's means draw seeds too) and Houlsby Table 1's learning rate chosen on dev.
PROFILES["cpu-long"] = dataclasses.replace(
    PROFILES["cpu"], name="cpu-long", description="the cpu profile plus the learning curve at 4,000 examples, a "
    "second seed for Houlsby's and AdapterFusion's Table 1 and Table 1's learning rate chosen on dev: about 7 hours "
    "on 2 CPU cores", grids={**CPU_GRIDS, "houlsby_glue": {**CPU_GRIDS["houlsby_glue"], "lr": [3e-5, 3e-4, 3e-3]}},
    curve_tasks=("snli", "social_i_qa_offline", "uci_sentiment", "commonsense_qa_offline"),
    curve_sizes=(256, 1000, 4000), role_seeds={"glue": (0, 1), "fusion": (0, 1)})
# The papers on one GPU in a day: why each grid point stays in ``GPU_GRIDS``, why the training-set caps in docs/PROFILES.md
PROFILES["gpu"] = dataclasses.replace(
    PROFILES["paper"], name="gpu", description="the papers on one GPU in a day: BERT-base, the hub suites, one seed, "
    "thinned grids, Table 2's and AdapterFusion's training sets capped at 10,000", grids=GPU_GRIDS, seeds=(0,),
    role_seeds={}, models={"glue": PAPER_MODELS["fusion"]}, role_max_train={"additional": 10_000, "fusion": 10_000})


def get_profile(name: str = "cpu", **overrides: Any) -> Profile:
    """The named profile with ``overrides`` (Profile fields). ``grids`` merge key by key: ``{"squad": {"epochs":
    [1]}}`` changes one axis of the profile's ``squad`` grid and keeps the others; a new grid name is added.
    ``seeds`` alone sets every role's seeds. Fails at once, before any training, on an unknown profile, an unknown
    field or a bad value."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    known = {f.name for f in dataclasses.fields(Profile)} - {"name"}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown profile override(s) {sorted(unknown)}; overridable: {', '.join(sorted(known))}")
    profile = PROFILES[name]
    if "grids" in overrides:
        overrides["grids"] = {**profile.grids, **{name: {**profile.grids.get(name, {}), **grid}
                                                  for name, grid in overrides["grids"].items()}}
    if "seeds" in overrides:
        overrides.setdefault("role_seeds", {})
    return dataclasses.replace(profile, **overrides)


def profile_overrides(text: str) -> dict[str, Any]:
    """The ``--overrides`` argument of reproduce, plan and fill: a JSON object of Profile fields, inline or
    ``@path``; anything else is a one-line usage error (the fields themselves are checked by ``get_profile``)."""
    try:
        value = json.loads(Path(text[1:]).read_text() if text.startswith("@") else text)
    except (OSError, json.JSONDecodeError) as err:
        raise argparse.ArgumentTypeError(f"not a JSON object or @file ({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object of Profile fields, got {type(value).__name__}")
    return value
