"""Fair comparisons of agents, teams and sites: funnel plots and shrinkage instead of league tables.

A league table ranks noise: with 40 equally good agents, half sit "below
average" by construction, and the smallest samples fill both ends. Here a unit
is only called unusual when it falls outside funnel limits that widen with its
smaller n (Spiegelhalter 2005), estimates are pulled toward the team mean in
proportion to how little their own data say (empirical Bayes), and a unit with
fewer than ``MIN_RANKED_N`` answers is neither flagged nor ranked at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import beta, binom, norm

from avis.analytics.stats import wilson
from avis.errors import ValidationFailed

MIN_RANKED_N = 30

Status = Literal["below", "within", "above", "not_ranked"]


@dataclass(frozen=True)
class UnitRate:
    """An agent, team or site's count of successes (e.g. satisfied answers) out of n."""

    key: str
    successes: int
    n: int


@dataclass(frozen=True)
class UnitMean:
    """An agent, team or site's mean score with its within-unit sample variance (ddof=1)."""

    key: str
    mean: float
    variance: float
    n: int


@dataclass(frozen=True)
class FunnelPoint:
    key: str
    n: int
    value: float | None
    lower: float | None
    upper: float | None
    status: Status


@dataclass(frozen=True)
class Funnel:
    target: float
    level: float
    method: str
    points: list[FunnelPoint]


@dataclass(frozen=True)
class Shrunk:
    """A unit's raw and shrunk figure; ``weight`` is the share the estimate gives its own data."""

    key: str
    n: int
    raw: float | None
    value: float
    ci_low: float
    ci_high: float
    weight: float
    ranked: bool


@dataclass(frozen=True)
class Shrinkage:
    """``heterogeneity`` is the intraclass correlation ρ for rates, the between-unit variance τ² for means."""

    centre: float
    heterogeneity: float
    method: str
    units: list[Shrunk]


def _tails(levels: Iterable[float]) -> list[float]:
    levels = list(levels)
    if any(not 0 < level < 1 for level in levels):
        raise ValidationFailed("funnel levels must lie strictly between 0 and 1", field="levels")
    return levels


def funnel_limits(
    target: float, n: ArrayLike, levels: Iterable[float] = (0.95, 0.998)
) -> dict[float, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Funnel limits for a proportion: exact binomial quantiles, interpolated for discreteness.

    Spiegelhalter (2005), "Funnel plots for comparing institutional performance", *Stat. Med.*
    24:1185–1202, appendix A.1.1: with r_p the p-quantile of Binomial(n, target) and
    α = (F(r_p) − p)/(F(r_p) − F(r_p − 1)), the limit is (r_p − α)/n. Exact rather than normal
    because satisfaction rates sit near 1, where the normal approximation is badly skewed at the
    small n that matter most. Returns {level: (lower, upper)} over the given n.
    """
    if not 0 <= target <= 1:
        raise ValidationFailed("the target of a proportion lies in [0, 1]", field="target")
    sizes = np.asarray(n, dtype=float)
    limits = {}
    for level in _tails(levels):
        bounds = []
        for p in ((1 - level) / 2, (1 + level) / 2):
            if target in (0, 1):
                bounds.append(np.full(sizes.shape, float(target)))
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                r = binom.ppf(p, sizes, target)
                at_r = binom.cdf(r, sizes, target)
                below_r = binom.cdf(r - 1, sizes, target)
                alpha = (at_r - p) / (at_r - below_r)
                bounds.append(np.clip((r - alpha) / sizes, 0.0, 1.0))
        limits[level] = (bounds[0], bounds[1])
    return limits


def funnel_limits_mean(
    target: float, sd: float, n: ArrayLike, levels: Iterable[float] = (0.95, 0.998)
) -> dict[float, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Funnel limits for a mean: target ± z·sd/√n (Spiegelhalter 2005, normal outcome)."""
    sizes = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore"):
        se = sd / np.sqrt(sizes)
    limits = {}
    for level in _tails(levels):
        z = float(norm.ppf((1 + level) / 2))
        limits[level] = (target - z * se, target + z * se)
    return limits


def _pooled_sd(units: Sequence[UnitMean]) -> float:
    df = np.array([u.n - 1 for u in units if u.n > 1], dtype=float)
    if df.sum() == 0:
        raise ValidationFailed("at least one unit needs two answers to estimate the spread")
    variances = np.array([u.variance for u in units if u.n > 1], dtype=float)
    return float(np.sqrt((df * variances).sum() / df.sum()))


def _kind(units: Sequence[UnitRate | UnitMean]) -> type[UnitRate] | type[UnitMean]:
    if all(isinstance(u, UnitRate) for u in units):
        return UnitRate
    if all(isinstance(u, UnitMean) for u in units):
        return UnitMean
    raise ValidationFailed("compare rates with rates and means with means")


def flag_outliers(
    units: Sequence[UnitRate] | Sequence[UnitMean],
    *,
    level: float = 0.998,
    target: float | None = None,
    min_n: int = MIN_RANKED_N,
) -> Funnel:
    """Place each unit against funnel limits at ``level`` around the target (by default the team's).

    A unit is "below" or "above" only when outside the limits; 99.8 % (≈ 3 standard errors) is
    Spiegelhalter's limit for calling a unit divergent, 95 % a warning. Units with fewer than
    ``min_n`` answers are "not_ranked": plotted, but never flagged.
    """
    if not units:
        return Funnel(float("nan") if target is None else target, level, "", [])
    kind = _kind(units)
    n = np.array([u.n for u in units], dtype=float)
    if np.any(n < 0):
        raise ValidationFailed("a unit cannot have a negative count", field="n")
    if kind is UnitRate:
        successes = np.array([u.successes for u in units], dtype=float)  # type: ignore[union-attr]
        if np.any((successes < 0) | (successes > n)):
            raise ValidationFailed("successes must lie between 0 and n", field="successes")
        centre = float(successes.sum() / n.sum()) if target is None else target
        lower, upper = funnel_limits(centre, n, (level,))[level]
        with np.errstate(divide="ignore", invalid="ignore"):
            values = successes / n
        method = "exact binomial funnel (Spiegelhalter 2005)"
    else:
        values = np.array([u.mean for u in units], dtype=float)  # type: ignore[union-attr]
        centre = float((values * n).sum() / n.sum()) if target is None else target
        lower, upper = funnel_limits_mean(centre, _pooled_sd(units), n, (level,))[level]  # type: ignore[arg-type]
        method = "normal funnel, pooled within-unit sd (Spiegelhalter 2005)"
    points = []
    for i, unit in enumerate(units):
        if unit.n == 0:
            points.append(FunnelPoint(unit.key, 0, None, None, None, "not_ranked"))
            continue
        status: Status = "within"
        if unit.n < min_n:
            status = "not_ranked"
        elif values[i] < lower[i]:
            status = "below"
        elif values[i] > upper[i]:
            status = "above"
        points.append(
            FunnelPoint(unit.key, unit.n, float(values[i]), float(lower[i]), float(upper[i]), status)
        )
    return Funnel(centre, level, method, points)


def _shrink_rates(units: Sequence[UnitRate], confidence: float, min_n: int) -> Shrinkage:
    """Beta-binomial empirical Bayes with Kleinman's (1973) moment estimator.

    Kleinman, "Proportions with extraneous variance: single and independent samples", *JASA*
    68:46–54, with weights n_i: S = Σ n_i (p_i − μ)² has expectation
    μ(1 − μ)[(k − 1) + ρ(N − Σn_i²/N − (k − 1))], which gives the intraclass correlation ρ and the
    prior's size M = 1/ρ − 1 (α = μM, β = (1 − μ)M). Each unit's posterior is
    Beta(s_i + α, n_i − s_i + β), its mean (s_i + μM)/(n_i + M). M is capped at N: the team mean is
    itself known from N answers only, so the prior may not claim more, which also keeps the
    intervals honest when ρ̂ = 0 (no detectable difference between units).
    """
    s = np.array([u.successes for u in units], dtype=float)
    n = np.array([u.n for u in units], dtype=float)
    if np.any(n < 0) or np.any((s < 0) | (s > n)):
        raise ValidationFailed("successes must lie between 0 and n", field="successes")
    answered = n > 0
    total = n.sum()
    if total == 0:
        raise ValidationFailed("no answers to compare")
    mu = float(s.sum() / total)
    k = int(answered.sum())
    rho = 0.0
    denominator = total - np.square(n).sum() / total - (k - 1)
    if 0 < mu < 1 and denominator > 0:
        spread = float((n[answered] * np.square(s[answered] / n[answered] - mu)).sum())
        rho = float(np.clip((spread / (mu * (1 - mu)) - (k - 1)) / denominator, 0.0, 1.0))
    prior_n = total if rho == 0 else float(np.clip(1 / rho - 1, 1e-9, total))
    tail = (1 - confidence) / 2
    if 0 < mu < 1:
        a = s + mu * prior_n
        b = n - s + (1 - mu) * prior_n
        values = a / (a + b)
        lows, highs = beta.ppf(tail, a, b), beta.ppf(1 - tail, a, b)
    else:
        pooled = wilson(int(s.sum()), int(total), confidence=confidence)
        values = np.full(n.shape, mu)
        lows, highs = np.full(n.shape, pooled.ci_low), np.full(n.shape, pooled.ci_high)
    weights = n / (n + prior_n)
    shrunk = [
        Shrunk(
            u.key,
            u.n,
            u.successes / u.n if u.n else None,
            float(values[i]),
            float(lows[i]),
            float(highs[i]),
            float(weights[i]),
            u.n >= min_n,
        )
        for i, u in enumerate(units)
    ]
    return Shrinkage(mu, rho, "beta-binomial empirical Bayes, Kleinman (1973) moments", shrunk)


def _shrink_means(units: Sequence[UnitMean], confidence: float, min_n: int) -> Shrinkage:
    """Normal-normal empirical Bayes with the DerSimonian–Laird (1986) between-unit variance.

    Each unit mean y_i has sampling variance σ_i² = s²/n_i (s the pooled within-unit sd, steadier
    than each unit's own). τ² is DerSimonian & Laird's moment estimate, μ the random-effects mean
    with weights 1/(σ_i² + τ²); the unit's estimate is μ + B_i(y_i − μ) with B_i = τ²/(τ² + σ_i²),
    and its variance B_i σ_i² + (1 − B_i)²/Σ_j 1/(σ_j² + τ²) adds the uncertainty of μ
    (the best linear unbiased predictor's, Raudenbush & Bryk 2002, *Hierarchical Linear Models*, ch. 3).
    """
    n = np.array([u.n for u in units], dtype=float)
    if np.any(n < 0):
        raise ValidationFailed("a unit cannot have a negative count", field="n")
    answered = n > 0
    if not answered.any():
        raise ValidationFailed("no answers to compare")
    sd = _pooled_sd(units)
    if sd == 0:
        raise ValidationFailed("every answer is the same: there is nothing to shrink")
    y = np.array([u.mean if u.n else np.nan for u in units], dtype=float)
    with np.errstate(divide="ignore"):
        within = sd**2 / n
    w = 1 / within[answered]
    fixed = float((w * y[answered]).sum() / w.sum())
    q = float((w * np.square(y[answered] - fixed)).sum())
    k = int(answered.sum())
    scale = float(w.sum() - np.square(w).sum() / w.sum())
    tau2 = max(0.0, (q - (k - 1)) / scale) if scale > 0 else 0.0
    w_random = 1 / (within[answered] + tau2)
    mu = float((w_random * y[answered]).sum() / w_random.sum())
    own = np.where(answered, tau2 / (tau2 + within), 0.0)
    values = np.where(answered, mu + own * (np.nan_to_num(y) - mu), mu)
    variance = (
        np.where(answered, own * np.where(answered, within, 0.0), tau2) + (1 - own) ** 2 / w_random.sum()
    )
    half = float(norm.ppf((1 + confidence) / 2)) * np.sqrt(variance)
    shrunk = [
        Shrunk(
            u.key,
            u.n,
            u.mean if u.n else None,
            float(values[i]),
            float(values[i] - half[i]),
            float(values[i] + half[i]),
            float(own[i]),
            u.n >= min_n,
        )
        for i, u in enumerate(units)
    ]
    return Shrinkage(mu, tau2, "normal-normal empirical Bayes, DerSimonian–Laird τ²", shrunk)


def shrink(
    units: Sequence[UnitRate] | Sequence[UnitMean], *, confidence: float = 0.95, min_n: int = MIN_RANKED_N
) -> Shrinkage:
    """Empirical-Bayes estimates pulled toward the team mean; units under ``min_n`` are not ranked.

    Rates use the beta-binomial model, means the normal-normal one (see the two helpers). The
    intervals plug in the estimated prior and so slightly understate uncertainty about it (Morris
    1983, *JASA* 78:47–55); with a few dozen units this is small beside the sampling error.
    """
    if not units:
        raise ValidationFailed("no units to compare")
    if _kind(units) is UnitRate:
        return _shrink_rates(units, confidence, min_n)  # type: ignore[arg-type]
    return _shrink_means(units, confidence, min_n)  # type: ignore[arg-type]
