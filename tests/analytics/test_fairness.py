"""Funnel plots and shrinkage: equal agents are not called unequal, small samples are not ranked."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from avis.analytics.fairness import (
    MIN_RANKED_N,
    UnitMean,
    UnitRate,
    flag_outliers,
    funnel_limits,
    funnel_limits_mean,
    shrink,
)
from avis.errors import ValidationFailed


@pytest.mark.parametrize("target", [0.5, 0.8, 0.93])
def test_funnel_limits_are_spiegelhalters_interpolated_binomial_quantiles(target: float) -> None:
    # Spiegelhalter (2005), A.1.1: the limit is where the binomial CDF, linearly interpolated between
    # integers, reaches the tail probability; check that independently with np.interp.
    n = np.array([30, 47, 100, 263, 400, 1000])
    limits = funnel_limits(target, n)
    for level, (lower, upper) in limits.items():
        for tail, limit in (((1 - level) / 2, lower), ((1 + level) / 2, upper)):
            for size, value in zip(n, limit, strict=True):
                if 0 < value < 1:
                    k = np.arange(-1, size + 1)
                    cdf = stats.binom.cdf(k, size, target)
                    assert np.interp(value * size, k, cdf) == pytest.approx(tail, abs=1e-9)
    assert np.all(limits[0.998][0] <= limits[0.95][0]) and np.all(limits[0.95][1] <= limits[0.998][1])


def test_funnel_limits_approach_the_normal_ones_as_n_grows() -> None:
    n = np.array([10_000, 100_000])
    lower, upper = funnel_limits(0.85, n, (0.998,))[0.998]
    half = stats.norm.ppf(0.999) * np.sqrt(0.85 * 0.15 / n)
    assert np.all(np.abs(lower - (0.85 - half)) < 2 / n)
    assert np.all(np.abs(upper - (0.85 + half)) < 2 / n)


def test_funnel_limits_for_a_mean_are_target_plus_minus_z_se() -> None:
    lower, upper = funnel_limits_mean(5.2, 1.4, [30, 120], (0.998,))[0.998]
    z = stats.norm.ppf(0.999)
    assert lower == pytest.approx(5.2 - z * 1.4 / np.sqrt([30, 120]), abs=1e-12)
    assert upper == pytest.approx(5.2 + z * 1.4 / np.sqrt([30, 120]), abs=1e-12)


def test_with_forty_equal_agents_the_funnel_flags_almost_none_and_a_league_table_half() -> None:
    # 40 agents, all truly 85 % satisfied, with uneven realistic sample sizes (30–400 answers).
    rng = np.random.default_rng(20261127)
    n = rng.integers(30, 401, size=40)
    replications = 300
    funnel_998 = funnel_95 = naive_below = 0.0
    for _ in range(replications):
        successes = rng.binomial(n, 0.85)
        units = [
            UnitRate(f"agent-{i}", int(s), int(m)) for i, (s, m) in enumerate(zip(successes, n, strict=True))
        ]
        funnel_998 += np.mean([p.status in ("below", "above") for p in flag_outliers(units).points])
        funnel_95 += np.mean([p.status != "within" for p in flag_outliers(units, level=0.95).points])
        naive_below += np.mean(successes / n < successes.sum() / n.sum())
    funnel_998, funnel_95, naive_below = (x / replications for x in (funnel_998, funnel_95, naive_below))
    assert funnel_998 < 0.05
    assert funnel_998 < 0.01  # about the nominal 0.2 %
    assert 0.03 < funnel_95 < 0.07  # the 95 % limits are calibrated too
    assert 0.4 < naive_below < 0.6  # "below average" is a coin toss


def test_a_truly_weaker_agent_with_enough_answers_is_flagged_below() -> None:
    units = [UnitRate(f"agent-{i}", 170, 200) for i in range(20)] + [UnitRate("weak", 120, 200)]
    funnel = flag_outliers(units)
    statuses = {p.key: p.status for p in funnel.points}
    assert statuses["weak"] == "below"
    assert all(status == "within" for key, status in statuses.items() if key != "weak")
    assert funnel.target == pytest.approx((20 * 170 + 120) / (21 * 200))


def test_units_below_the_minimum_n_are_never_flagged_or_ranked() -> None:
    units = [UnitRate(f"agent-{i}", 170, 200) for i in range(10)] + [
        UnitRate("new", 2, 12),
        UnitRate("idle", 0, 0),
    ]
    points = {p.key: p for p in flag_outliers(units).points}
    assert points["new"].status == "not_ranked" and points["new"].value == pytest.approx(2 / 12)
    assert points["idle"].status == "not_ranked" and points["idle"].value is None
    shrunk = {u.key: u for u in shrink(units).units}
    assert not shrunk["new"].ranked and not shrunk["idle"].ranked and shrunk["agent-0"].ranked
    assert MIN_RANKED_N == 30


def test_means_use_the_pooled_within_unit_sd() -> None:
    units = [UnitMean("a", 5.0, 1.0, 50), UnitMean("b", 6.0, 4.0, 150), UnitMean("c", 2.0, 2.0, 40)]
    funnel = flag_outliers(units, level=0.95)
    sd = np.sqrt((49 * 1.0 + 149 * 4.0 + 39 * 2.0) / (49 + 149 + 39))
    target = (5 * 50 + 6 * 150 + 2 * 40) / 240
    z = stats.norm.ppf(0.975)
    assert funnel.target == pytest.approx(target)
    assert funnel.points[0].lower == pytest.approx(target - z * sd / np.sqrt(50), abs=1e-12)
    assert [p.status for p in funnel.points] == ["within", "above", "below"]


def test_kleinman_moment_estimate_on_a_small_example() -> None:
    # s = (20, 30, 45), n = (50, 50, 60): N = 160, μ = 95/160 = 0.59375.
    # S = Σ n(p − μ)² = 50·0.19375² + 50·0.00625² + 60·0.15625² = 3.343750;
    # S/(μ(1 − μ)) = 13.862348; N − Σn²/N − (k − 1) = 160 − 8600/160 − 2 = 104.25;
    # ρ = (13.862348 − 2)/104.25 = 0.113788, M = 1/ρ − 1 = 7.788311.
    units = [UnitRate("a", 20, 50), UnitRate("b", 30, 50), UnitRate("c", 45, 60)]
    result = shrink(units)
    mu = 95 / 160
    spread = 50 * (0.4 - mu) ** 2 + 50 * (0.6 - mu) ** 2 + 60 * (0.75 - mu) ** 2
    rho = (spread / (mu * (1 - mu)) - 2) / (160 - (50**2 + 50**2 + 60**2) / 160 - 2)
    prior_n = 1 / rho - 1
    assert result.centre == pytest.approx(mu)
    assert result.heterogeneity == pytest.approx(rho, abs=1e-12)
    assert rho == pytest.approx(0.1137875, abs=1e-6)
    assert prior_n == pytest.approx(7.788311, abs=1e-6)
    a = 20 + mu * prior_n
    b = 30 + (1 - mu) * prior_n
    first = result.units[0]
    assert first.value == pytest.approx(a / (a + b), abs=1e-12)
    assert (first.ci_low, first.ci_high) == pytest.approx(
        (stats.beta.ppf(0.025, a, b), stats.beta.ppf(0.975, a, b)), abs=1e-9
    )
    assert first.weight == pytest.approx(50 / (50 + prior_n))


def test_kleinman_estimate_recovers_the_between_agent_spread() -> None:
    rng = np.random.default_rng(20261128)
    true_rho = 0.05  # Beta(α, β) with α + β = 1/ρ − 1 = 19
    rates = rng.beta(0.8 * 19, 0.2 * 19, size=3000)
    n = rng.integers(30, 200, size=3000)
    successes = rng.binomial(n, rates)
    result = shrink(
        [UnitRate(str(i), int(s), int(m)) for i, (s, m) in enumerate(zip(successes, n, strict=True))]
    )
    assert result.heterogeneity == pytest.approx(true_rho, abs=0.01)
    assert result.centre == pytest.approx(0.8, abs=0.01)


def test_shrinkage_pulls_equal_agents_together_and_small_samples_hardest() -> None:
    rng = np.random.default_rng(20261129)
    n = rng.integers(30, 401, size=40)
    successes = rng.binomial(n, 0.85)
    result = shrink(
        [UnitRate(str(i), int(s), int(m)) for i, (s, m) in enumerate(zip(successes, n, strict=True))]
    )
    raw = successes / n
    shrunk = np.array([u.value for u in result.units])
    assert np.std(shrunk) < 0.5 * np.std(raw)
    weights = np.array([u.weight for u in result.units])
    assert np.all(np.diff(weights[np.argsort(n)]) >= 0)  # more answers, more say in one's own figure
    assert np.all(np.abs(shrunk - result.centre) <= np.abs(raw - result.centre) + 1e-12)


def test_normal_shrinkage_uses_dersimonian_laird_as_statsmodels_does() -> None:
    rng = np.random.default_rng(20261130)
    n = rng.integers(30, 300, size=25)
    true_means = rng.normal(5.0, 0.3, size=25)
    variances = rng.uniform(1.0, 2.5, size=25)
    means = true_means + rng.normal(0, np.sqrt(variances / n))
    units = [
        UnitMean(str(i), float(m), float(v), int(k))
        for i, (m, v, k) in enumerate(zip(means, variances, n, strict=True))
    ]
    result = shrink(units)

    pooled = ((n - 1) * variances).sum() / (n - 1).sum()
    reference = combine_effects(means, pooled / n, method_re="dl")
    assert result.heterogeneity == pytest.approx(reference.tau2, abs=1e-9)
    assert result.centre == pytest.approx(reference.mean_effect_re, abs=1e-9)
    own = reference.tau2 / (reference.tau2 + pooled / n)
    expected = reference.mean_effect_re + own * (means - reference.mean_effect_re)
    assert [u.value for u in result.units] == pytest.approx(expected, abs=1e-9)
    variance = own * pooled / n + (1 - own) ** 2 / reference.w_total_re
    z = stats.norm.ppf(0.975)
    assert [u.ci_high for u in result.units] == pytest.approx(expected + z * np.sqrt(variance), abs=1e-9)


def test_rates_and_means_cannot_be_mixed() -> None:
    with pytest.raises(ValidationFailed):
        flag_outliers([UnitRate("a", 1, 40), UnitMean("b", 5.0, 1.0, 40)])  # type: ignore[list-item]
    with pytest.raises(ValidationFailed):
        flag_outliers([UnitRate("a", 50, 40)])
