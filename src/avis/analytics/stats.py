"""Interval estimates for the figures avis reports.

Every function returns the point estimate with a two-sided interval at the
requested confidence, so no screen ever shows a bare number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from scipy.stats import norm
from scipy.stats import t as student_t


@dataclass(frozen=True)
class Estimate:
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str


@lru_cache(maxsize=32)
def _z(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


def wilson(successes: int, n: int, *, confidence: float = 0.95) -> Estimate:
    """A proportion with the Wilson score interval (good coverage even near 0 or 1)."""
    if n == 0:
        return Estimate(None, None, None, 0, "wilson")
    low, high = wilson_bounds(successes, n, _z(confidence))
    return Estimate(successes / n, low, high, n, "wilson")


def wilson_bounds(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson's bounds at a normal quantile z (n > 0): what ``wilson`` and the tests that invert it share."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 or n successes the exact bound is 0 or 1; rounding would leave it a
    # hair inside, and the interval would not hold the observed rate.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def nps(promoters: int, passives: int, detractors: int, *, confidence: float = 0.95) -> Estimate:
    """Net Promoter Score in points (−100…100) with the adjusted-Wald interval.

    Rocks (2016), "Interval estimation for the 'net promoter score'": add 3/4
    of a response to promoters and to detractors before the Wald
    formula, and 3 to the sample size; coverage stays close to nominal even
    for small samples. The adjustment pulls the interval towards 0, so at a
    handful of answers it can miss the observed score (one detractor: −100,
    Rocks' interval [−98; 48]); the interval is then stretched to the observed
    score, which only widens it: an estimate is never shown outside its interval.
    """
    n = promoters + passives + detractors
    if n == 0:
        return Estimate(None, None, None, 0, "adjusted-wald")
    z = _z(confidence)
    score = (promoters - detractors) / n
    n_adj = n + 3
    p_adj = (promoters + 3 / 4) / n_adj
    d_adj = (detractors + 3 / 4) / n_adj
    centre = p_adj - d_adj
    half = z * math.sqrt((p_adj + d_adj - centre**2) / n_adj)
    low, high = min(score, max(-1.0, centre - half)), max(score, min(1.0, centre + half))
    return Estimate(100 * score, 100 * low, 100 * high, n, "adjusted-wald")


def mean_from_sums(n: int, total: float, total_of_squares: float, *, confidence: float = 0.95) -> Estimate:
    """A mean (CSAT, CES…) with Student's t interval, from n, Σx and Σx² (what the roll-ups keep).

    The sample variance is (Σx² − (Σx)²/n)/(n − 1); with whole-number scores the sums are exact
    integers, so this equals the two-pass formula of ``estimators.mean_t``.
    """
    if n == 0:
        return Estimate(None, None, None, 0, "t")
    mean = total / n
    if n == 1:
        return Estimate(mean, None, None, 1, "t")
    variance = max(0.0, (total_of_squares - total * total / n) / (n - 1))
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half, n, "t")
