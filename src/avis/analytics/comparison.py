"""Is a change real? Differences between periods, waves or groups, with a test and an interval.

Each comparison returns the difference (a − b), its interval, the two-sided
p-value and the method named; ``benjamini_hochberg`` then keeps the false
discovery rate in check when many teams or agents are compared at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm
from scipy.stats import t as student_t

from avis.analytics.stats import wilson
from avis.errors import ValidationFailed


@dataclass(frozen=True)
class Difference:
    value: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_a: int
    n_b: int
    method: str


@dataclass(frozen=True)
class MultipleTests:
    adjusted: NDArray[np.float64]
    rejected: NDArray[np.bool_]
    q: float


def _z(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


def _two_sided(z: float) -> float:
    return float(2 * norm.sf(abs(z)))


def difference_of_proportions(
    successes_a: int, n_a: int, successes_b: int, n_b: int, *, confidence: float = 0.95
) -> Difference:
    """p_a − p_b with Newcombe's hybrid score interval and the pooled two-proportion z test.

    Newcombe (1998), *Stat. Med.* 17:873–890, method 10: it combines the two Wilson intervals and
    keeps coverage close to nominal where the Wald interval fails (small n, rates near 0 or 1). The
    p-value is the classical z test with the pooled variance under H0: p_a = p_b. When both samples
    are all successes or all failures there is no evidence of a difference and p is 1.
    """
    method = "newcombe-hybrid-score; pooled z test"
    if n_a == 0 or n_b == 0:
        return Difference(None, None, None, None, n_a, n_b, method)
    a = wilson(successes_a, n_a, confidence=confidence)
    b = wilson(successes_b, n_b, confidence=confidence)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    assert a.ci_low is not None and a.ci_high is not None and b.ci_low is not None and b.ci_high is not None
    low = p_a - p_b - math.sqrt((p_a - a.ci_low) ** 2 + (b.ci_high - p_b) ** 2)
    high = p_a - p_b + math.sqrt((a.ci_high - p_a) ** 2 + (p_b - b.ci_low) ** 2)
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p_value = _two_sided((p_a - p_b) / se) if se > 0 else 1.0
    return Difference(p_a - p_b, low, high, p_value, n_a, n_b, method)


def difference_of_nps(
    a: tuple[int, int, int], b: tuple[int, int, int], *, confidence: float = 0.95
) -> Difference:
    """NPS_a − NPS_b in points, from (promoters, passives, detractors) counts.

    NPS is the mean of a trinomial y ∈ {+1, 0, −1}, so Var(NPŜ) = (p + d − (p − d)²)/n and the
    difference of independent samples adds the two. The p-value is the Wald z test on the observed
    shares; the interval is the adjusted Wald of Rocks (2016) for each sample (3/4 added to
    promoters and to detractors, 3 to n), which keeps coverage near nominal for small samples, as
    ``stats.nps`` does for one score.
    """
    method = "adjusted-wald; wald z test"
    n_a, n_b = sum(a), sum(b)
    if n_a == 0 or n_b == 0:
        return Difference(None, None, None, None, n_a, n_b, method)

    def shares(counts: tuple[int, int, int], added: float) -> tuple[float, float]:
        promoters, passives, detractors = counts
        n = promoters + passives + detractors + 4 * added
        p, d = (promoters + added) / n, (detractors + added) / n
        return p - d, (p + d - (p - d) ** 2) / n

    score_a, var_a = shares(a, 0.0)
    score_b, var_b = shares(b, 0.0)
    se = math.sqrt(var_a + var_b)
    diff = score_a - score_b
    p_value = _two_sided(diff / se) if se > 0 else (1.0 if diff == 0 else None)
    adjusted_a, adjusted_var_a = shares(a, 3 / 4)
    adjusted_b, adjusted_var_b = shares(b, 3 / 4)
    centre = adjusted_a - adjusted_b
    half = _z(confidence) * math.sqrt(adjusted_var_a + adjusted_var_b)
    return Difference(
        100 * diff, 100 * max(-2.0, centre - half), 100 * min(2.0, centre + half), p_value, n_a, n_b, method
    )


def difference_of_means(a: ArrayLike, b: ArrayLike, *, confidence: float = 0.95) -> Difference:
    """mean_a − mean_b with Welch's t test and interval (Welch–Satterthwaite degrees of freedom).

    Welch (1947) does not assume equal variances, which two periods or teams rarely have.
    """
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    return difference_of_mean_summaries(
        (float(x.mean()) if x.size else 0.0, float(x.var(ddof=1)) if x.size > 1 else 0.0, int(x.size)),
        (float(y.mean()) if y.size else 0.0, float(y.var(ddof=1)) if y.size > 1 else 0.0, int(y.size)),
        confidence=confidence,
    )


def difference_of_mean_summaries(
    a: tuple[float, float, int], b: tuple[float, float, int], *, confidence: float = 0.95
) -> Difference:
    """Welch's difference from (mean, sample variance, n) of each side: what the roll-ups give."""
    (mean_a, variance_a, n_a), (mean_b, variance_b, n_b) = a, b
    method = "welch t"
    if n_a < 2 or n_b < 2:
        diff = mean_a - mean_b if n_a and n_b else None
        return Difference(diff, None, None, None, n_a, n_b, method)
    var_a, var_b = variance_a / n_a, variance_b / n_b
    diff = mean_a - mean_b
    se = math.sqrt(var_a + var_b)
    if se == 0:
        return Difference(diff, None, None, 1.0 if diff == 0 else None, n_a, n_b, method)
    df = (var_a + var_b) ** 2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
    t = diff / se
    half = float(student_t.ppf(0.5 + confidence / 2, df)) * se
    p_value = float(2 * student_t.sf(abs(t), df))
    return Difference(diff, diff - half, diff + half, p_value, n_a, n_b, method)


def benjamini_hochberg(p_values: ArrayLike, q: float = 0.05) -> MultipleTests:
    """Benjamini & Hochberg (1995) step-up adjusted p-values; reject where adjusted ≤ q.

    Comparing 40 agents at 5 % each would flag two by chance alone; controlling the false discovery
    rate at q keeps the expected share of false flags among the flagged at or below q.
    """
    p = np.asarray(p_values, dtype=float).ravel()
    if not 0 < q < 1:
        raise ValidationFailed("q must lie strictly between 0 and 1", field="q")
    if np.any(~np.isfinite(p) | (p < 0) | (p > 1)):
        raise ValidationFailed("p-values must lie in [0, 1]", field="p_values")
    m = p.size
    if m == 0:
        return MultipleTests(np.empty(0), np.empty(0, dtype=bool), q)
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    monotone = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(monotone, 1.0)
    # Reject with the step-up rule on the raw p-values, p(k) ≤ k/m·q: comparing the
    # adjusted values with q instead can miss a p-value sitting exactly on its threshold.
    below = p[order] <= np.arange(1, m + 1) / m * q
    rejected = np.zeros(m, dtype=bool)
    if below.any():
        rejected[order[: int(np.nonzero(below)[0].max()) + 1]] = True
    return MultipleTests(adjusted, rejected, q)
