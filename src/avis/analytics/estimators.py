"""Means, top-box shares and weighted figures, each with its interval and the method named.

The unweighted estimators complete ``stats.py`` (t interval for means such as
CES, Wilson for top-box shares). The weighted ones take the raked weights from
``weighting.py`` and report, beside the weighted figure, the unweighted one,
Kish's design effect and effective sample size, so a reader sees what the
weighting cost in precision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm
from scipy.stats import t as student_t

from avis.analytics.stats import Estimate, nps, wilson
from avis.errors import ValidationFailed

PROMOTER_MIN = 9
DETRACTOR_MAX = 6


@dataclass(frozen=True)
class WeightedEstimate(Estimate):
    """A weighted figure shown beside its unweighted twin and the price of weighting.

    ``effective_n`` and ``design_effect`` are Kish's, from the weights alone;
    ``standard_error`` is the linearised one of this particular estimate.
    """

    effective_n: float | None
    design_effect: float | None
    standard_error: float | None
    unweighted: Estimate


def _values(values: ArrayLike, name: str = "values") -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(array)):
        raise ValidationFailed(f"{name} must be finite numbers", field=name)
    return array


def _weights(weights: ArrayLike, n: int) -> NDArray[np.float64]:
    array = _values(weights, "weights")
    if array.size != n:
        raise ValidationFailed(f"{array.size} weights for {n} answers", field="weights")
    if np.any(array <= 0):
        raise ValidationFailed("weights must be positive", field="weights")
    return array


def kish_effective_n(weights: ArrayLike) -> float:
    """Kish's effective sample size (Σw)²/Σw²: the simple random sample as precise as these weights."""
    w = _values(weights, "weights")
    if w.size == 0:
        return 0.0
    return float(w.sum() ** 2 / np.square(w).sum())


def design_effect(weights: ArrayLike) -> float:
    """Kish's (1965) design effect of unequal weighting, 1 + CV² of the weights = n Σw²/(Σw)².

    The CV uses the population variance of the weights (divisor n), as in Kish's formula.
    """
    w = _values(weights, "weights")
    if w.size == 0:
        raise ValidationFailed("no weights: the design effect is undefined", field="weights")
    return float(w.size * np.square(w).sum() / w.sum() ** 2)


def mean_t(values: ArrayLike, *, confidence: float = 0.95) -> Estimate:
    """A mean (e.g. CES on a 1–7 scale) with Student's t interval on n − 1 degrees of freedom."""
    x = _values(values)
    n = int(x.size)
    if n == 0:
        return Estimate(None, None, None, 0, "t")
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, None, None, 1, "t")
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * float(x.std(ddof=1)) / np.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n, "t")


def top_box(scores: ArrayLike, top: Iterable[float] = (4, 5), *, confidence: float = 0.95) -> Estimate:
    """Share of answers in the top boxes (CSAT top-2-box by default) with the Wilson interval."""
    x = _values(scores, "scores")
    hits = int(np.isin(x, np.asarray(list(top), dtype=float)).sum())
    return wilson(hits, int(x.size), confidence=confidence)


def _weighted(
    value: float | None,
    low: float | None,
    high: float | None,
    method: str,
    w: NDArray[np.float64],
    standard_error: float | None,
    unweighted: Estimate,
) -> WeightedEstimate:
    kish = kish_effective_n(w) if w.size else None
    return WeightedEstimate(
        value=value,
        ci_low=low,
        ci_high=high,
        n=int(w.size),
        method=method,
        effective_n=kish,
        design_effect=w.size / kish if kish else None,
        standard_error=standard_error,
        unweighted=unweighted,
    )


def _linearised_ratio(y: NDArray[np.float64], w: NDArray[np.float64]) -> tuple[float, float]:
    """The ratio mean Σwy/Σw and its Taylor-linearised variance.

    With-replacement single-stage estimator n/(n − 1) Σ (w_i (y_i − ȳ_w))² / (Σw)² (Wolter 2007,
    *Introduction to Variance Estimation*, ch. 6; Särndal, Swensson & Wretman 1992, ch. 5), the
    one R's ``survey`` and Stata's ``svy`` use for a design with neither strata nor clusters.
    """
    total = w.sum()
    estimate = float((w * y).sum() / total)
    n = y.size
    variance = float(n / (n - 1) * np.square(w * (y - estimate)).sum() / total**2) if n > 1 else 0.0
    return estimate, variance


def weighted_proportion(
    outcomes: ArrayLike, weights: ArrayLike, *, confidence: float = 0.95
) -> WeightedEstimate:
    """A weighted proportion with a Wilson interval on the linearised effective sample size.

    The variance is the Taylor-linearised one of the ratio Σwy/Σw; the interval is Wilson's evaluated
    at n* = p̂(1 − p̂)/v̂ (Korn & Graubard 1998, *Survey Methodology* 24:193–201, who substitute this
    n* into an exact binomial interval; Dean & Pagano 2015, *J. Survey Stat. Methodol.* 3:484–503,
    show the Wilson form with n* keeps coverage near nominal). When p̂ is 0 or 1 the linearised
    variance is zero and Kish's effective n stands in for n*.
    """
    y = _values(outcomes, "outcomes")
    if np.any((y != 0) & (y != 1)):
        raise ValidationFailed("outcomes must be 0/1 (or booleans)", field="outcomes")
    n = int(y.size)
    unweighted = wilson(int(y.sum()), n, confidence=confidence)
    if n == 0:
        return _weighted(None, None, None, "wilson-effective-n", np.empty(0), None, unweighted)
    w = _weights(weights, n)
    p, variance = _linearised_ratio(y, w)
    kish = kish_effective_n(w)
    n_star = p * (1 - p) / variance if variance > 0 else kish
    z = float(norm.ppf(0.5 + confidence / 2))
    denominator = 1 + z * z / n_star
    centre = (p + z * z / (2 * n_star)) / denominator
    half = z * np.sqrt(p * (1 - p) / n_star + z * z / (4 * n_star * n_star)) / denominator
    low, high = max(0.0, float(centre - half)), min(1.0, float(centre + half))
    return _weighted(p, low, high, "wilson-effective-n", w, float(np.sqrt(variance)), unweighted)


def weighted_nps(scores: ArrayLike, weights: ArrayLike, *, confidence: float = 0.95) -> WeightedEstimate:
    """A weighted Net Promoter Score (points) with an adjusted-Wald interval on the linearised n*.

    NPS is the ratio mean of y = +1 (promoter, 9–10), 0 (passive), −1 (detractor, 0–6); its variance
    is Taylor-linearised like ``weighted_proportion``. The interval is Rocks' (2016) adjusted Wald
    (as ``stats.nps``) applied to the weighted shares with n* = (p + d − NPS²)/v̂ in place of n,
    the Korn & Graubard (1998) effective-sample-size substitution; Kish's effective n stands in
    when v̂ is zero (every answer in the same class).
    """
    s = _values(scores, "scores")
    if np.any((s < 0) | (s > 10) | (s != np.round(s))):
        raise ValidationFailed("NPS scores are whole numbers from 0 to 10", field="scores")
    n = int(s.size)
    promoter = s >= PROMOTER_MIN
    detractor = s <= DETRACTOR_MAX
    passives = n - int(promoter.sum()) - int(detractor.sum())
    unweighted = nps(int(promoter.sum()), passives, int(detractor.sum()), confidence=confidence)
    if n == 0:
        return _weighted(None, None, None, "adjusted-wald-effective-n", np.empty(0), None, unweighted)
    w = _weights(weights, n)
    y = promoter.astype(float) - detractor.astype(float)
    score, variance = _linearised_ratio(y, w)
    p = float(w[promoter].sum() / w.sum())
    d = float(w[detractor].sum() / w.sum())
    kish = kish_effective_n(w)
    n_star = (p + d - score**2) / variance if variance > 0 else kish
    z = float(norm.ppf(0.5 + confidence / 2))
    n_adj = n_star + 3
    p_adj = (p * n_star + 3 / 4) / n_adj
    d_adj = (d * n_star + 3 / 4) / n_adj
    centre = p_adj - d_adj
    half = z * np.sqrt((p_adj + d_adj - centre**2) / n_adj)
    # As ``stats.nps``: stretched to the observed score when the adjustment would leave it outside.
    low = 100 * min(score, max(-1.0, float(centre - half)))
    high = 100 * max(score, min(1.0, float(centre + half)))
    se = 100 * float(np.sqrt(variance))
    return _weighted(100 * score, low, high, "adjusted-wald-effective-n", w, se, unweighted)


def weighted_mean(values: ArrayLike, weights: ArrayLike, *, confidence: float = 0.95) -> WeightedEstimate:
    """A weighted mean with its Taylor-linearised standard error and a t interval on n − 1 df.

    n − 1 is the design degrees of freedom of a single-stage design without strata (Korn &
    Graubard 1999, *Analysis of Health Surveys*, ch. 5).
    """
    x = _values(values)
    n = int(x.size)
    unweighted = mean_t(x, confidence=confidence)
    if n == 0:
        return _weighted(None, None, None, "t-linearised", np.empty(0), None, unweighted)
    w = _weights(weights, n)
    mean, variance = _linearised_ratio(x, w)
    if n == 1:
        return _weighted(mean, None, None, "t-linearised", w, None, unweighted)
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * np.sqrt(variance)
    return _weighted(mean, mean - half, mean + half, "t-linearised", w, float(np.sqrt(variance)), unweighted)
