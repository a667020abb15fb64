"""Small statistics for reports: an interval for a median that assumes no distribution, and a straight-line fit.

Timings on a shared machine are skewed by background load, so a median over rounds with an order-statistic interval
says more than a mean with a normal one; "cost grows linearly" is judged by the R^2 of a least-squares line.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def median_interval(samples: Sequence[float], level: float = 0.9) -> tuple[float, float, float]:
    """Confidence interval for the median of ``samples`` without assuming a distribution: the order statistics
    (x_(k), x_(n+1-k)) with the largest k whose coverage 1 - 2 P(Binomial(n, 1/2) < k) is still >= ``level``.
    Returns (low, high, coverage). Below 5 samples no interval reaches 90%: the full range, with its coverage."""
    x, n = sorted(samples), len(samples)
    coverage = lambda k: 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n  # noqa: E731
    k = max((k for k in range(1, (n + 1) // 2 + 1) if coverage(k) >= level), default=1)
    return x[k - 1], x[n - k], coverage(k)


def line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least squares y = a + b x: (a, b, R^2)."""
    b, a = np.polyfit(x, y, 1)
    return a, b, 1 - ((y - (a + b * x)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
