"""Paper claims checked against our numbers: each notebook records what it measured for the claims it covers, and
``SUMMARY.md`` is generated from those records, never written by hand.

A claim is a row of ``paper_numbers/in_text_claims.csv`` (or a table-level claim a notebook states, e.g. "adapters
within 0.4 points of full fine-tuning"). A notebook computes our number from its own table and calls ``check`` with a
verdict rule; ``save_claims`` writes ``results/<profile>/claims/<notebook>.csv``.

Every *learning* claim (a score or a difference of scores) has one rule, ``learning_check``: the claim states its
region in the paper's terms (e.g. full minus adapters in (-inf, 0.4] for "within 0.4 points"), and our 95% paired
bootstrap interval decides: inside the region *holds*, outside it *does not hold*, across its edge *inconclusive*;
*not measured* when full fine-tuning, the reference, has not learned the task (``studies.common.floor_reason``) or
no interval exists. A point estimate alone never gets a verdict: at a few hundred test examples it moves by several
points between draws. Non-learning claims (parameter counts, exact arithmetic) keep ``within``/``at_most``.

    checks = [claims.check("glue_gap", ours=gap, verdict=claims.within(gap, 0.4, holds=1.0, partly=3.0),
                              basis="mean test score of full minus adapters_best_size over 5 tasks", csv="houlsby_table1")]
    claims.save_claims(checks, profile, "houlsby_table1_glue")
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from adapterlib.data.tasks.check import by_cause
from adapterlib.reporting.paper import claims as paper_claims
from adapterlib.reporting.outputs import results_dir
from adapterlib.reporting.statistics import Interval

VERDICTS = ("holds", "partly", "inconclusive", "does not hold", "not measured")
CLAIM_COLUMNS = ("claim", "paper", "source", "description", "paper_value", "our_value", "verdict", "basis", "csv",
                 "ci_low", "ci_high", "region_low", "region_high", "n_test")
NAN = float("nan")


@dataclass(frozen=True)
class ClaimCheck:
    """One claim, the paper's number, ours, and the verdict at our scale. ``basis`` says how ours was computed
    (which rows of which CSV); ``csv`` names the table under ``results/<profile>/`` it comes from. Learning claims
    also carry our 95% interval, the claim's region (``region_low``..``region_high``, infinite for a one-sided
    claim) and the test examples behind the interval; NaN for the others."""

    claim: str
    paper: str
    source: str
    description: str
    paper_value: float
    our_value: float
    verdict: str
    basis: str
    csv: str
    ci_low: float = NAN
    ci_high: float = NAN
    region_low: float = NAN
    region_high: float = NAN
    n_test: float = NAN

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def check(
    claim: str,
    ours: float,
    verdict: str,
    basis: str,
    csv: str,
    *,
    paper_value: float | None = None,
    description: str | None = None,
    paper: str | None = None,
    source: str | None = None,
    extra: tuple[float, float, float, float, float] = (NAN,) * 5,
) -> ClaimCheck:
    """A check of ``claim``: an id of ``in_text_claims.csv`` (paper value and description come from there) or a new
    id with ``paper_value``, ``description``, ``paper`` and ``source`` given. A NaN ``ours`` is "not measured".
    ``extra``: interval, region and n of a learning claim (``learning_check`` fills it)."""
    known = paper_claims()
    if claim in known.index:
        row = known.loc[claim]
        paper_value = row["value"] if paper_value is None else paper_value
        description, paper, source = (description or row["description"], paper or row["paper"],
                                      source or row["source"])
    elif None in (paper_value, description, paper, source):
        raise ValueError(f"claim {claim!r} is not in in_text_claims.csv: give paper_value, description, paper, source")
    if ours is None or (isinstance(ours, float) and math.isnan(ours)):
        verdict = "not measured"
    return ClaimCheck(claim, str(paper), str(source), str(description), float(paper_value),
                      NAN if ours is None else float(ours), verdict, basis, csv, *map(float, extra))


def region_verdict(interval: Interval, low: float, high: float) -> str:
    """"holds" if ``interval`` lies inside the open region (low, high), "does not hold" if it lies wholly outside
    it, else "inconclusive" (our data cannot tell the claim from its negation). Open, so "fusion scores higher",
    (0, inf), fails on a difference pinned at exactly 0."""
    if not low < high:
        raise ValueError(f"a claim's region needs low < high, got ({low}, {high})")
    if low < interval.low and interval.high < high:
        return "holds"
    return "does not hold" if interval.high <= low or interval.low >= high else "inconclusive"


def learning_check(
    claim: str, interval: Interval | None, region: tuple[float, float], region_text: str, basis: str, csv: str,
    *, not_measured: str | None = None, **given,
) -> ClaimCheck:
    """A learning claim judged by the one rule (module docstring): ``region`` is where the claim puts our number,
    ``region_text`` says so in the paper's terms ("full minus adapters at most 0.4 points (Table 1: 80.4 vs 80.0)").
    ``not_measured``: why the claim cannot be judged (the reference has not learned the task, no predictions);
    it then gets "not measured" whatever the interval."""
    low, high = region
    rule = f"region: {region_text}; holds if our 95% interval lies inside it, does not hold if outside, else inconclusive"
    if not_measured or interval is None:
        why = not_measured or "not measured: no per-example predictions, so no interval"
        return check(claim, NAN if interval is None else interval.estimate, "not measured",
                     f"{basis}; {why}; {rule}", csv, **given, extra=(NAN, NAN, low, high, NAN))
    return check(claim, interval.estimate, region_verdict(interval, low, high), f"{basis}; {rule}", csv, **given,
                 extra=(interval.low, interval.high, low, high, interval.n))


def data_not_available(checks: Sequence[ClaimCheck], left_out: Mapping[str, str]) -> list[ClaimCheck]:
    """``checks`` with every claim *not measured: data not available (<tasks: why>)* when tasks it rests on were left
    out (``left_out``: task -> why, each why starting with its task, as ``data.tasks.available_tasks`` gives it):
    judged on the tasks left, it would compare another task set with the paper's without saying so. Unchanged when
    nothing was left out."""
    if not left_out:
        return list(checks)
    why = f"not measured: data not available ({by_cause(left_out, brief=True)}; SUMMARY.md says what to do)"
    return [dataclasses.replace(c, our_value=NAN, verdict="not measured", basis=why, ci_low=NAN, ci_high=NAN,
                                n_test=NAN) for c in checks]


def within(value: float, target: float, *, holds: float, partly: float) -> str:
    """"holds" if ``value`` is at most ``holds`` away from ``target``, "partly" if at most ``partly``, else "does not
    hold" (e.g. a gap to full fine-tuning against the paper's gap)."""
    distance = abs(value - target)
    return "holds" if distance <= holds else "partly" if distance <= partly else "does not hold"


def at_most(value: float, bound: float, *, slack: float) -> str:
    """"holds" if ``value <= bound``, "partly" if ``value <= bound + slack``, else "does not hold"."""
    return "holds" if value <= bound else "partly" if value <= bound + slack else "does not hold"


def at_least(value: float, bound: float, *, slack: float) -> str:
    """"holds" if ``value >= bound``, "partly" if ``value >= bound - slack``, else "does not hold"."""
    return "holds" if value >= bound else "partly" if value >= bound - slack else "does not hold"


def interval_verdict(value: float, interval: tuple[float, float], bound: float, *, at_most: bool) -> str:
    """For a noisy measurement (e.g. a timing ratio) with a confidence ``interval``: "holds" if ``value`` meets the
    bound, "partly" if it misses but the bound lies inside the interval (not distinguishable from the target at
    this noise), "does not hold" if the whole interval misses it."""
    lo, hi = interval
    if at_most:
        return "holds" if value <= bound else "partly" if lo <= bound else "does not hold"
    return "holds" if value >= bound else "partly" if hi >= bound else "does not hold"


def worst(verdicts: Sequence[str]) -> str:
    """The least favourable of several verdicts (a claim checked in several settings holds only if all hold)."""
    return max(verdicts, key=VERDICTS.index) if verdicts else "not measured"


def save_claims(checks: Sequence[ClaimCheck], profile: str, notebook: str) -> Path:
    """Write ``results/<profile>/claims/<notebook>.csv`` (one row per check) and return its path."""
    if not checks:
        raise ValueError(f"{notebook}: no claims to save")
    directory = results_dir(profile) / "claims"
    directory.mkdir(exist_ok=True)
    path = directory / f"{notebook}.csv"
    frame = pd.DataFrame([asdict(c) for c in checks], columns=list(CLAIM_COLUMNS))
    frame.to_csv(path, index=False, float_format="%.4g")
    return path


def load_claims(profile: str) -> pd.DataFrame:
    """Every notebook's claim checks for ``profile``, with a ``notebook`` column."""
    directory = results_dir(profile) / "claims"
    frames = [pd.read_csv(p).assign(notebook=p.stem) for p in sorted(directory.glob("*.csv"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*CLAIM_COLUMNS, "notebook"])


def describe(checks: Sequence[ClaimCheck]) -> str:
    """Markdown lines for a notebook's closing cell: one per claim, paper vs ours and the verdict."""
    return "\n".join(f"- **{c.verdict}** — {c.description} (paper, {c.source}: {c.paper_value:g}; "
                     f"ours: {c.our_value:.4g}; {c.basis})" for c in checks)
