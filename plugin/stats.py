"""Uncertainty for small counts: Wilson intervals and Newcombe's interval for a difference.

A shop's holdout is often a few dozen carts; a normal approximation would claim far more
certainty than the data holds. Wilson (1927) stays inside [0, 1] and behaves at small n;
Newcombe (1998, method 10) combines two Wilson intervals for the difference of two rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def wilson(successes: int, trials: int, z: float = Z95) -> Interval | None:
    """The Wilson score interval of a rate; None when there are no trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def rate_difference(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, z: float = Z95
) -> Interval | None:
    """Newcombe's hybrid score interval for rate(a) - rate(b); None if either has no trials."""
    a = wilson(successes_a, trials_a, z)
    b = wilson(successes_b, trials_b, z)
    if a is None or b is None:
        return None
    difference = a.estimate - b.estimate
    low = difference - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = difference + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(difference, max(-1.0, low), min(1.0, high))
