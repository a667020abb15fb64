"""Text that several AdapterFusion studies share."""
from __future__ import annotations

from collections.abc import Sequence

from adapterlib.reporting import claims as cl
from adapterlib.reporting.claims import ClaimCheck


def claims_section(checks: Sequence[ClaimCheck]) -> str:
    """The claim verdicts of a closing cell, under their heading."""
    return "**Claims at this scale**\n\n" + cl.describe(checks)
