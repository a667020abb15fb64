"""The study contract: one paper table or figure = one ``Study`` (declared here) + one notebook of the same name.

A study module declares, in one ``register(Study(...))`` call, what its notebook needs to be run and read:
which studies' runs it reuses (``depends``: ``reproduce`` orders the notebooks from these), which task suites and
grids it draws on (the generated set-up text states them), and the names of its outputs. The module's functions
(``table``, ``plot``, ``claims``, ``findings``...) do the work; the notebook is narrative plus calls.

    STUDY = register(Study("houlsby_table1_glue", paper="houlsby", title="Table 1: GLUE", roles=("glue",),
                           grids=("houlsby_glue",)))
    display(Markdown(setup_text(profile, STUDY)))   # in the notebook: model, data and scale of *this* run
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapterlib.core.models import describe_model
from adapterlib.data.tasks import Task, get_task
from adapterlib.data.tasks.check import cause_lines
from adapterlib.reporting.claims import ClaimCheck, data_not_available
from adapterlib.runner.profiles import Profile
from adapterlib.runner.settings import MultiTaskConfig, RunConfig

PAPERS = {"houlsby": "Houlsby et al. 2019, Parameter-Efficient Transfer Learning for NLP",
          "fusion": "Pfeiffer et al. 2021, AdapterFusion: Non-Destructive Task Composition for Transfer Learning",
          "benchmarks": "performance against AdapterHub `adapters`, `peft` and the FLOP limit (not a paper table)"}


@dataclass(frozen=True)
class Study:
    """``name``: the notebook, and the stem of its CSV, figures and claim file. ``depends``: studies whose runs
    this one reads from the run store (they run first). ``roles``/``grids``: the suites and grids of the profile it
    uses (for the set-up text); ``stand_ins``: the set-up text also lists the tasks of ``roles``, each with the
    paper task it stands in for (where a study's claims are about particular paper tasks). ``model_roles``: roles
    whose model also runs here on the tasks of ``roles`` (Houlsby Fig. 6 sweeps the additional role's model on
    GLUE-role tasks), so the set-up text names it too."""

    name: str
    paper: str
    title: str
    roles: tuple[str, ...] = ()
    grids: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    stand_ins: bool = False
    model_roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.paper not in PAPERS:
            raise ValueError(f"study {self.name!r}: paper must be one of {sorted(PAPERS)}, got {self.paper!r}")


@dataclass(frozen=True)
class PlannedRun:
    """A run a study's notebook needs, listed before anything trains. ``after``: run ids whose results decide
    whether this run is needed at all (Fig. 3's LoRA runs go only on tasks full fine-tuning learned); such a run is
    ``provisional`` until they are finished, when the study lists its runs again from their results."""

    config: RunConfig | MultiTaskConfig
    after: tuple[str, ...] = ()
    provisional: bool = False

    @property
    def needs(self) -> tuple[str, ...]:
        """Run ids that must be finished before this one can start: ``after`` and, for a fusion run, the runs
        whose adapters it fuses (``"<MT-A run id>/<task>"`` names an MT-A run)."""
        fused = self.config.fusion if isinstance(self.config, RunConfig) else ()
        return tuple(dict.fromkeys([*self.after, *(source.split("/")[0] for source in fused)]))


RunList = Callable[[Profile], Sequence[RunConfig | MultiTaskConfig | PlannedRun]]
STUDIES: dict[str, Study] = {}
RUN_LISTS: dict[str, RunList] = {}


def declares_runs(study: Study) -> Callable[[RunList], RunList]:
    """Decorator: the function lists the runs ``study``'s notebook reads from the run store, for a profile,
    without training (``plan`` counts them, ``fill`` trains them); the study's table calls it too, so the two
    cannot drift apart."""
    def register_runs(function: RunList) -> RunList:
        RUN_LISTS[study.name] = function
        return function
    return register_runs


def planned_runs(study: Study, profile: Profile) -> list[PlannedRun]:
    """The runs ``study`` needs at ``profile`` (none for a study that trains nothing into the store), once each."""
    listed = RUN_LISTS.get(study.name, lambda _: ())(profile)
    runs = [item if isinstance(item, PlannedRun) else PlannedRun(item) for item in listed]
    return list({run.config.run_id: run for run in runs}.values())


def not_run(profile: Profile, study: Study) -> dict[str, str]:
    """Task -> why, for the tasks of ``study``'s roles that ``profile`` leaves out (``Profile.missing_tasks``) and,
    for a study whose runs use another role's model (Houlsby Figs. 4 and 6), the profile's left-out analysis tasks."""
    roles = [r for r in study.roles or tuple(profile.suites) if r in profile.suites]
    missing = {task: why for role in roles for task, why in profile.missing_tasks(role).items()}
    if study.model_roles:
        missing |= {task: why for role in ("glue", "additional") if role in profile.suites
                    for task, why in profile.missing_tasks(role).items() if task in profile.analysis_tasks}
    return missing


def left_out(profile: Profile, study: Study) -> dict[str, str]:
    """The tasks ``study``'s claims rest on that ``profile`` leaves out (``not_run``), for a study that trains
    into the run store; none for one that trains nothing there (Fusion cost, benchmarks: their claims are
    parameter counts and timings, not the left-out tasks' data)."""
    return not_run(profile, study) if study.name in RUN_LISTS else {}


def mark_left_out(profile: Profile, study: Study, checks: Sequence[ClaimCheck]) -> list[ClaimCheck]:
    """``checks`` as ``study``'s notebook records them: where ``left_out`` names tasks, every claim is *not measured:
    data not available* with the tasks and why (``claims.data_not_available``), not judged on the tasks left."""
    return data_not_available(checks, left_out(profile, study))


def register(study: Study) -> Study:
    """Add ``study`` to the registry (its module calls this at import time); returns it."""
    if study.name in STUDIES:
        raise ValueError(f"study {study.name!r} is registered twice")
    STUDIES[study.name] = study
    return study


def order(studies: Iterable[Study]) -> list[Study]:
    """``studies`` in an order where every study comes after the ones it depends on (registration order kept
    otherwise); a dependency outside ``studies`` is pulled in, an unknown or circular one is an error."""
    done: dict[str, Study] = {}

    def visit(study: Study, path: tuple[str, ...]) -> None:
        if study.name in done:
            return
        if study.name in path:
            raise ValueError(f"studies depend on each other in a circle: {' -> '.join(path + (study.name,))}")
        for dep in study.depends:
            if dep not in STUDIES:
                raise ValueError(f"study {study.name!r} depends on unknown study {dep!r}")
            visit(STUDIES[dep], path + (study.name,))
        done[study.name] = study

    for study in studies:
        visit(study, ())
    return list(done.values())


def per_role_text(values: Mapping[str, Any]) -> str | None:
    """Each role's value ("glue [0, 1, 2], additional [0]") where ``values`` (role -> value) differ; None where every
    role has the same, which the caller then states once."""
    if len({repr(value) for value in values.values()}) > 1:
        return ", ".join(f"{role} {value}" for role, value in values.items())
    return None


def seeds_text(profile: Profile, roles: tuple[str, ...]) -> str:
    """The seeds of ``roles``' runs: one list when they agree, else one per role."""
    seeds = {role: list(profile.seeds_for(role)) for role in roles}
    only = next(iter(seeds.values()))
    return per_role_text(seeds) or f"{only}" + (" (one seed: no spread over seeds)" if len(only) == 1 else "")


def train_cap_text(profile: Profile, roles: tuple[str, ...]) -> str:
    """The training-set cap of ``roles``' runs (``Profile.caps_for``; "none": all of it): one when they agree, else
    one per role (the gpu profile caps Table 2's and AdapterFusion's sets, not GLUE's)."""
    caps = {role: profile.caps_for(role)["max_train"] or "none" for role in roles}
    return per_role_text(caps) or f"{next(iter(caps.values()))}"


def paper_task_text(task: Task) -> str:
    """What ``task`` is to the paper, for the set-up text: the paper task itself (offline, its own data), a stand-in
    in a paper task's slot, or no paper task."""
    if task.own_data:
        return f"{task.paper_name}, the paper's own data"
    if task.stands_in_for:
        return f"stand-in for {task.stands_in_for}" if task.offline else task.stands_in_for
    return task.paper_name or "no paper task"


def setup_text(profile: Profile, study: Study) -> str:
    """Markdown stating the model, data and scale of this run of ``study``, generated from the profile (so a
    ``paper`` run says BERT and the hub, a ``cpu`` run MiniLM and the offline tasks)."""
    roles = study.roles or tuple(profile.suites)
    models = sorted({profile.models.get(role, profile.models["glue"]) for role in roles + study.model_roles})
    offline = any(profile.suites[r].endswith("_offline") for r in roles if r in profile.suites)
    lines = [f"- **profile** `{profile.name}`: {profile.description}",
             *[f"- **model** `{m}`: {describe_model(m)}" for m in models],
             "- **data**: " + ", ".join(f"{r}: suite `{profile.suites[r]}` ({len(profile.task_names(r))} tasks)"
                                         for r in roles if r in profile.suites)
             + (" (offline: real labelled text from registry packages, the paper's own data where a package "
                "carries it and stand-ins elsewhere, see `docs/TASKS.md`)" if offline
                else " (the papers' datasets from the Hugging Face hub)"),
             *[f"- **not run**: {line}" for line in cause_lines(not_run(profile, study))],
             *[f"- **{r} tasks** (paper task in brackets): " + ", ".join(
                 f"`{t}` ({paper_task_text(get_task(t, profile.suites[r]))})"
                 for t in profile.task_names(r)) for r in roles if study.stand_ins and r in profile.suites],
             *[f"- **grid** `{g}`: `{dict(profile.grids[g])}`" for g in study.grids],
             f"- **scale**: train cap {train_cap_text(profile, roles + study.model_roles)}, eval cap {profile.max_eval or 'none'}, test cap {profile.test_cap or 'none'}, "
             f"max length {profile.max_length} (QA {profile.qa_max_length}), "
             f"seeds {seeds_text(profile, roles + study.model_roles)}"
             + (f", precision {profile.precision}" if profile.precision != "fp32" else "")
             + (f", model config overrides {dict(profile.model_kwargs)}" if profile.model_kwargs else "")]
    return "\n".join(lines)
