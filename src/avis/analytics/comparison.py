"""Is a change real? Differences between periods, waves or groups, with a test and an interval.

Each comparison returns the difference (a − b), its interval, the two-sided
p-value and the method named; test and interval are one method, so p ≤ α
exactly when the (1 − α) interval excludes 0. ``benjamini_hochberg`` keeps the
false discovery rate in check when many teams or agents are compared at once,
and ``judge_family`` gives each compared row its verdict with an interval at the
level that keeps that agreement after the adjustment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq
from scipy.stats import norm
from scipy.stats import t as student_t

from avis.analytics.stats import wilson_bounds
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


# Beyond this normal quantile (two-sided p < 1e-15) a difference is certain for any reader.
_Z_MAX = 8.0


def _inverted_p(excludes_zero_at: Callable[[float], float]) -> float:
    """The two-sided p-value of an interval family: 2·(1 − Φ(z*)) where the interval at quantile z*
    touches 0, so p ≤ α exactly when the (1 − α) interval excludes 0.

    ``excludes_zero_at(z)`` is the bound nearest 0, signed so it is positive while the interval
    at quantile z excludes 0; it must fall as z grows (wider intervals).
    """
    if excludes_zero_at(0.0) <= 0:
        return 1.0
    if excludes_zero_at(_Z_MAX) > 0:
        return 0.0
    return float(2 * norm.sf(brentq(excludes_zero_at, 0.0, _Z_MAX, xtol=1e-13)))


def _newcombe(successes_a: int, n_a: int, successes_b: int, n_b: int, z: float) -> tuple[float, float]:
    p_a, p_b = successes_a / n_a, successes_b / n_b
    low_a, high_a = wilson_bounds(successes_a, n_a, z)
    low_b, high_b = wilson_bounds(successes_b, n_b, z)
    low = p_a - p_b - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = p_a - p_b + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return low, high


def difference_of_proportions(
    successes_a: int, n_a: int, successes_b: int, n_b: int, *, confidence: float = 0.95
) -> Difference:
    """p_a − p_b with Newcombe's hybrid score interval and the test that inverts it.

    Newcombe (1998), *Stat. Med.* 17:873–890, method 10: it combines the two Wilson intervals and
    keeps coverage close to nominal where the Wald interval fails (small n, rates near 0 or 1).
    The p-value is that interval's own: the smallest α at which the (1 − α) interval excludes 0,
    found by root-finding on the normal quantile. A test from another family (the pooled z) can
    call a change significant while the interval shown holds 0; this one cannot. Samples with the
    same rate (all successes, all failures) give p = 1.
    """
    method = "newcombe-hybrid-score; its inverted test"
    if n_a == 0 or n_b == 0:
        return Difference(None, None, None, None, n_a, n_b, method)
    low, high = _newcombe(successes_a, n_a, successes_b, n_b, _z(confidence))
    diff = successes_a / n_a - successes_b / n_b
    sign = 1.0 if diff > 0 else -1.0

    def nearest_zero(z: float) -> float:
        bounds = _newcombe(successes_a, n_a, successes_b, n_b, z)
        return bounds[0] if sign > 0 else -bounds[1]

    p_value = 1.0 if diff == 0 else _inverted_p(nearest_zero)
    return Difference(diff, low, high, p_value, n_a, n_b, method)


def difference_of_nps(
    a: tuple[int, int, int], b: tuple[int, int, int], *, confidence: float = 0.95
) -> Difference:
    """NPS_a − NPS_b in points, from (promoters, passives, detractors) counts.

    NPS is the mean of a trinomial y ∈ {+1, 0, −1}, so Var(NPŜ) = (p + d − (p − d)²)/n and the
    difference of independent samples adds the two. Interval and test are one method, the
    adjusted Wald of Rocks (2016) for each sample (3/4 added to promoters and to detractors, 3 to
    n), as ``stats.nps`` does for one score: z = (NPS'_a − NPS'_b)/SE', interval NPS'_a − NPS'_b ±
    z_α·SE', so p ≤ α exactly when the interval excludes 0. The adjustment pulls both scores
    towards 0; when it leaves the observed difference outside the interval (a handful of answers)
    the interval is stretched to it, and if that stretch reaches across 0 the test says so (p = 1).
    """
    method = "adjusted-wald; its z test"
    n_a, n_b = sum(a), sum(b)
    if n_a == 0 or n_b == 0:
        return Difference(None, None, None, None, n_a, n_b, method)

    def shares(counts: tuple[int, int, int], added: float) -> tuple[float, float]:
        promoters, passives, detractors = counts
        n = promoters + passives + detractors + 4 * added
        p, d = (promoters + added) / n, (detractors + added) / n
        return p - d, (p + d - (p - d) ** 2) / n

    observed = shares(a, 0.0)[0] - shares(b, 0.0)[0]
    adjusted_a, adjusted_var_a = shares(a, 3 / 4)
    adjusted_b, adjusted_var_b = shares(b, 3 / 4)
    centre = adjusted_a - adjusted_b
    se = math.sqrt(adjusted_var_a + adjusted_var_b)  # > 0: the 3/4 added makes every variance positive
    half = _z(confidence) * se
    low = min(observed, max(-2.0, centre - half))
    high = max(observed, min(2.0, centre + half))
    p_value = _two_sided(centre / se) if observed * centre > 0 else 1.0
    return Difference(100 * observed, 100 * low, 100 * high, p_value, n_a, n_b, method)


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
    spread = var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1)
    # A variance so small its square underflows: Welch's df is then the pooled one's.
    df = (var_a + var_b) ** 2 / spread if spread > 0 else float(n_a + n_b - 2)
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


@dataclass(frozen=True)
class Judged:
    """One compared row: its difference with the interval at the family's level, and the verdict."""

    difference: Difference
    judged: bool  # enough answers on both sides to be tested at all
    adjusted_p: float | None
    significant: bool


@dataclass(frozen=True)
class Family:
    level: float  # confidence of every interval in the family
    q: float
    tested: int  # m, the rows that entered the Benjamini–Hochberg procedure
    rejected: int  # R
    rows: list[Judged]


def excludes_zero(difference: Difference) -> bool:
    low, high = difference.ci_low, difference.ci_high
    return low is not None and high is not None and (low > 0 or high < 0)


def judge_family(
    compare: Sequence[Callable[[float], Difference]], judged: Sequence[bool], *, q: float = 0.05
) -> Family:
    """Verdicts for rows compared at once, each consistent with the interval shown beside it.

    ``compare[i](confidence=…)`` computes row i's difference; ``judged[i]`` is False where a side
    has fewer answers than the minimum n: such a row gets no test, no adjusted p and no verdict,
    and does not enter the family. The others are tested and Benjamini–Hochberg controls the
    false discovery rate at q. With R rows rejected among m, BH rejects exactly the p-values
    ≤ R·q/m, so every interval is drawn at the level 1 − R·q/m (1 − q/m when R = 0): the false
    coverage-statement rate intervals of Benjamini & Yekutieli (2005), *JASA* 100:71–81. Since each
    test inverts its interval, a row is significant exactly when its interval excludes 0.
    """
    nominal = [compute(confidence=1 - q) if ok else None for compute, ok in zip(compare, judged, strict=True)]
    tested = [i for i, d in enumerate(nominal) if d is not None and d.p_value is not None]
    control = benjamini_hochberg([nominal[i].p_value for i in tested], q=q)  # type: ignore[union-attr]
    m, rejected = len(tested), int(control.rejected.sum())
    level = 1 - max(rejected, 1) * q / m if m else 1 - q
    verdicts = {i: (float(control.adjusted[j]), bool(control.rejected[j])) for j, i in enumerate(tested)}
    rows = []
    for i, compute in enumerate(compare):
        difference = compute(confidence=level)
        adjusted_p, rejected_here = verdicts.get(i, (None, False))
        # At an exact tie the bound sits on 0: the interval is what the reader sees, it decides.
        significant = rejected_here and excludes_zero(difference)
        rows.append(Judged(difference, i in verdicts, adjusted_p, significant))
    return Family(level, q, m, rejected, rows)
