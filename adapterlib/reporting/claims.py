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
points between draws.

Before it judges, the rule asks whether the claim is *decidable* at the precision reached: had our number been the
paper's, with our interval's half-width around it, could the claim hold? If not (the region is narrower than our
interval, or the paper's number sits at its edge) the verdict is *undecidable*, never a quiet *inconclusive* or a
*does not hold* that could not have been anything else, and the record says how many test examples would decide it
(``n_needed``: a half-width shrinks as 1/sqrt(n)). Beside every verdict, ``paper_in_interval`` says whether the
paper's own number lies inside our interval. Non-learning claims (parameter counts, exact arithmetic) keep
``within``/``at_most``.

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

VERDICTS = ("holds", "partly", "inconclusive", "does not hold", "undecidable", "not measured")
CLAIM_COLUMNS = ("claim", "paper", "source", "description", "paper_value", "our_value", "verdict", "basis", "csv",
                 "ci_low", "ci_high", "region_low", "region_high", "n_test", "paper_in_interval", "n_needed",
                 "n_tasks")
NAN = float("nan")


@dataclass(frozen=True)
class ClaimCheck:
    """One claim, the paper's number, ours, and the verdict at our scale. ``basis`` says how ours was computed
    (which rows of which CSV); ``csv`` names the table under ``results/<profile>/`` it comes from. Learning claims
    also carry our 95% interval, the claim's region (``region_low``..``region_high``, infinite for a one-sided
    claim), the test examples behind the interval, whether the paper's number lies inside our interval (1 or 0)
    and, for an *undecidable* claim, the test examples that would decide it, and the learned tasks it rests on; NaN
    for the others."""

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
    paper_in_interval: float = NAN
    n_needed: float = NAN
    n_tasks: float = NAN

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
    extra: tuple[float, ...] = (NAN,) * 7,
    n_tasks: float = NAN,
) -> ClaimCheck:
    """A check of ``claim``: an id of ``in_text_claims.csv`` (paper value and description come from there) or a new
    id with ``paper_value``, ``description``, ``paper`` and ``source`` given. A NaN ``ours`` is "not measured".
    ``extra``: interval, region, n, paper-in-interval and n needed of a learning claim, ``n_tasks`` the tasks it
    rests on (``learning_check`` fills both)."""
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
    record = ClaimCheck(claim, str(paper), str(source), str(description), float(paper_value),
                        NAN if ours is None else float(ours), verdict, basis, csv, *map(float, extra))
    return dataclasses.replace(record, n_tasks=float(n_tasks))


def region_verdict(interval: Interval, low: float, high: float) -> str:
    """"holds" if ``interval`` lies inside the open region (low, high), "does not hold" if it lies wholly outside
    it, else "inconclusive" (our data cannot tell the claim from its negation). Open, so "fusion scores higher",
    (0, inf), fails on a difference pinned at exactly 0."""
    if not low < high:
        raise ValueError(f"a claim's region needs low < high, got ({low}, {high})")
    if low < interval.low and interval.high < high:
        return "holds"
    return "does not hold" if interval.high <= low or interval.low >= high else "inconclusive"


# "Within x points of full fine-tuning" read as a region: the gap may be up to the paper's own gap plus this margin.
# The papers state no margin; without one the paper's own number sits on the region's edge and no precision decides
# the claim. One point: 2.5x the 0.4 the Houlsby abstract calls "within", far below the 6.6 points its Fig. 4 calls
# the loss of fine-tuning the top layer only. Fixed before any result was read, the same for every such claim.
ON_PAR_MARGIN = 1.0


def on_par_bound(paper_gap: float) -> float:
    """The upper edge of the region of "``method`` within ``paper_gap`` points of the reference" (reference minus
    method below it): the paper's gap (0 where the paper's method was better, the claim then read as "not worse")
    plus ``ON_PAR_MARGIN``."""
    return max(paper_gap, 0.0) + ON_PAR_MARGIN


def about(paper_value: float) -> tuple[float, float]:
    """The region of "about ``paper_value``", a size the paper states ("top-1 loses about 6.6"): the paper's number
    give or take ``ON_PAR_MARGIN``, the same margin as "within"."""
    return paper_value - ON_PAR_MARGIN, paper_value + ON_PAR_MARGIN


def either_way_within(spread: float) -> tuple[float, float]:
    """The region of "a difference within ``spread`` points either way" ("the reduction factor matters little"):
    +-``on_par_bound(spread)``."""
    return -on_par_bound(spread), on_par_bound(spread)


def precision_needed(paper_value: float, low: float, high: float) -> float:
    """The largest interval half-width at which a claim with region (``low``, ``high``) could still hold were our
    number the paper's: the paper's distance to the nearer edge (<= 0 when the paper's own number is not inside
    the region, so that no precision decides it). Without a paper number, half the region's width."""
    if math.isnan(paper_value):
        return (high - low) / 2
    return min(paper_value - low, high - paper_value)


def examples_to_decide(interval: Interval, needed_half_width: float) -> float:
    """Test examples at which ``interval``'s half-width would shrink to ``needed_half_width`` (it shrinks as
    1/sqrt(n)); inf when no size decides it."""
    half_width = (interval.high - interval.low) / 2
    if needed_half_width <= 0 or not interval.n:
        return math.inf
    return float(math.ceil(round(interval.n * (half_width / needed_half_width) ** 2, 6)))  # round: 1.4 - 0.4 != 1


def learning_check(
    claim: str, interval: Interval | None, region: tuple[float, float], region_text: str, basis: str, csv: str,
    *, not_measured: str | None = None, tasks: Sequence[str] | None = None, **given,
) -> ClaimCheck:
    """A learning claim judged by the one rule (module docstring): ``region`` is where the claim puts our number,
    ``region_text`` says so in the paper's terms ("full minus adapters at most 0.4 points (Table 1: 80.4 vs 80.0)").
    ``not_measured``: why the claim cannot be judged (the reference has not learned the task, no predictions);
    it then gets "not measured" whatever the interval. A claim is *undecidable* when, at our interval's
    half-width, it could not hold even on the paper's own number (``precision_needed``). ``tasks``: the learned
    tasks the interval is over (recorded as ``n_tasks``: how many tasks a headline rests on)."""
    given["n_tasks"] = NAN if tasks is None else float(len(tasks))
    low, high = region
    if math.isinf(low) and math.isinf(high):
        raise ValueError(f"claim {claim!r}: a region without an edge cannot fail; state where the claim puts ours")
    rule = f"region: {region_text}; holds if our 95% interval lies inside it, does not hold if outside, else inconclusive"
    if not_measured or interval is None:
        why = not_measured or "not measured: no per-example predictions, so no interval"
        return check(claim, NAN if interval is None else interval.estimate, "not measured",
                     f"{basis}; {why}; {rule}", csv, **given, extra=(NAN, NAN, low, high, NAN, NAN, NAN))
    judged = check(claim, interval.estimate, region_verdict(interval, low, high), f"{basis}; {rule}", csv, **given,
                   extra=(interval.low, interval.high, low, high, interval.n))
    paper = judged.paper_value
    inside = NAN if math.isnan(paper) else float(interval.low <= paper <= interval.high)
    needed = precision_needed(paper, low, high)
    half_width = (interval.high - interval.low) / 2
    if half_width < needed:
        return dataclasses.replace(judged, paper_in_interval=inside)
    n_needed = examples_to_decide(interval, needed)
    decide = ("no test size decides it: the paper's own number is not inside the region" if math.isinf(n_needed)
              else f"about {n_needed:,.0f} test examples (now {interval.n:,}) would decide it")
    why = (f"undecidable at this precision: our half-width {half_width:.2f} is not below {max(needed, 0):.2f}, the "
           f"paper's distance to the region's edge, so the claim could not hold even on the paper's own number "
           f"(the interval alone would say {judged.verdict}); {decide}")
    return dataclasses.replace(judged, verdict="undecidable", basis=f"{basis}; {why}; {rule}",
                               paper_in_interval=inside, n_needed=n_needed)


def data_not_available(checks: Sequence[ClaimCheck], left_out: Mapping[str, str]) -> list[ClaimCheck]:
    """``checks`` with every claim *not measured: data not available (<tasks: why>)* when tasks it rests on were left
    out (``left_out``: task -> why, each why starting with its task, as ``data.tasks.available_tasks`` gives it):
    judged on the tasks left, it would compare another task set with the paper's without saying so. Unchanged when
    nothing was left out."""
    if not left_out:
        return list(checks)
    why = f"not measured: data not available ({by_cause(left_out, brief=True)}; SUMMARY.md says what to do)"
    return [dataclasses.replace(c, our_value=NAN, verdict="not measured", basis=why, ci_low=NAN, ci_high=NAN,
                                n_test=NAN, paper_in_interval=NAN, n_needed=NAN) for c in checks]


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
