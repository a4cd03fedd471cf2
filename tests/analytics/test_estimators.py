"""Means, top-box shares and weighted figures, checked against statsmodels, scipy and weightipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW
from weightipy import weighting_efficiency

from avis.analytics.estimators import (
    design_effect,
    kish_effective_n,
    mean_t,
    top_box,
    weighted_mean,
    weighted_nps,
    weighted_proportion,
)
from avis.analytics.stats import nps, wilson
from avis.errors import ValidationFailed

TOL = 1e-9


def robust_se(y: np.ndarray, w: np.ndarray) -> float:
    """The linearised SE of a weighted mean is the HC1 sandwich SE of an intercept-only WLS."""
    return float(sm.WLS(y, np.ones_like(y), weights=w).fit(cov_type="HC1").bse[0])


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(1, 7, allow_nan=False), min_size=2, max_size=300),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_mean_t_matches_statsmodels_and_scipy(values: list[float], confidence: float) -> None:
    estimate = mean_t(values, confidence=confidence)
    low, high = DescrStatsW(np.array(values)).tconfint_mean(alpha=1 - confidence)
    assert estimate.value == pytest.approx(np.mean(values), abs=TOL)
    assert estimate.ci_low == pytest.approx(low, abs=1e-6)
    assert estimate.ci_high == pytest.approx(high, abs=1e-6)
    if np.std(values) > 0:
        s_low, s_high = stats.t.interval(
            confidence, len(values) - 1, loc=np.mean(values), scale=stats.sem(values)
        )
        assert (estimate.ci_low, estimate.ci_high) == pytest.approx((s_low, s_high), abs=1e-6)
    assert (estimate.n, estimate.method) == (len(values), "t")


def test_a_mean_of_one_answer_has_no_interval_and_of_none_no_value() -> None:
    assert mean_t([5]).value == 5 and mean_t([5]).ci_low is None
    assert mean_t([]).value is None


def test_top_two_box_is_a_wilson_proportion_of_fours_and_fives() -> None:
    scores = [5, 4, 4, 3, 2, 5, 1, 4, 5, 3, 4]
    estimate = top_box(scores)
    low, high = proportion_confint(7, 11, method="wilson")
    assert estimate.value == pytest.approx(7 / 11)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((low, high), abs=TOL)
    assert estimate.method == "wilson"
    assert top_box(scores, top=(5,)).value == pytest.approx(3 / 11)


@pytest.mark.parametrize("seed", range(5))
def test_kish_effective_n_and_design_effect_agree_with_weightipy_and_one_plus_cv_squared(seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0, 0.6, size=250)
    assert kish_effective_n(weights) / 250 * 100 == pytest.approx(
        weighting_efficiency(pd.Series(weights)), abs=TOL
    )
    cv_squared = np.var(weights) / np.mean(weights) ** 2
    assert design_effect(weights) == pytest.approx(1 + cv_squared, abs=TOL)
    assert design_effect(weights) * kish_effective_n(weights) == pytest.approx(250)


def test_equal_weights_cost_nothing() -> None:
    assert kish_effective_n([2.0] * 40) == pytest.approx(40)
    assert design_effect([2.0] * 40) == pytest.approx(1)
    assert kish_effective_n([]) == 0


@pytest.mark.parametrize("seed", range(6))
def test_weighted_proportion_uses_the_linearised_variance_in_a_wilson_interval(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(20, 400))
    weights = rng.lognormal(0, 0.7, size=n)
    outcomes = rng.random(n) < rng.uniform(0.2, 0.9)
    estimate = weighted_proportion(outcomes, weights, confidence=0.9)

    p = float((weights * outcomes).sum() / weights.sum())
    se = robust_se(outcomes.astype(float), weights)
    n_star = p * (1 - p) / se**2
    low, high = proportion_confint(p * n_star, n_star, alpha=0.1, method="wilson")
    assert estimate.value == pytest.approx(p, abs=TOL)
    assert estimate.standard_error == pytest.approx(se, abs=TOL)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((low, high), abs=1e-6)
    assert estimate.effective_n == pytest.approx(weights.sum() ** 2 / (weights**2).sum())
    assert estimate.design_effect == pytest.approx(n / estimate.effective_n)
    assert estimate.unweighted == wilson(int(outcomes.sum()), n, confidence=0.9)
    assert estimate.n == n and estimate.method == "wilson-effective-n"


def test_weighted_proportion_with_equal_weights_is_wilson_on_n_minus_one() -> None:
    # The with-replacement variance carries n/(n − 1), so n* = n − 1 when the weights are equal.
    outcomes = [1] * 30 + [0] * 20
    estimate = weighted_proportion(outcomes, [3.0] * 50)
    low, high = proportion_confint(0.6 * 49, 49, method="wilson")
    assert estimate.value == pytest.approx(0.6)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((low, high), abs=TOL)
    assert estimate.design_effect == pytest.approx(1)


def test_a_weighted_proportion_of_zero_falls_back_on_kish_effective_n() -> None:
    weights = np.array([1.0, 2.0, 3.0, 4.0] * 10)
    estimate = weighted_proportion([0] * 40, weights)
    kish = kish_effective_n(weights)
    low, high = proportion_confint(0, kish, method="wilson")
    assert estimate.value == 0
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((low, high), abs=TOL)


def test_weighted_proportion_interval_covers_about_95_percent_under_unequal_weights() -> None:
    # Two strata sampled at different rates: the heavy-weight stratum is less satisfied.
    rng = np.random.default_rng(20261124)
    true_rate = 0.7 * 0.9 + 0.3 * 0.6
    covered = 0
    replications = 1500
    for _ in range(replications):
        light, heavy = 120, 40
        outcomes = np.concatenate([rng.random(light) < 0.9, rng.random(heavy) < 0.6])
        weights = np.concatenate([np.full(light, 0.7 / light), np.full(heavy, 0.3 / heavy)])
        estimate = weighted_proportion(outcomes, weights)
        covered += estimate.ci_low <= true_rate <= estimate.ci_high
    assert 0.93 <= covered / replications <= 0.97


@pytest.mark.parametrize("seed", range(6))
def test_weighted_nps_is_the_adjusted_wald_interval_on_the_linearised_effective_n(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(20, 400))
    scores = rng.choice(11, size=n, p=rng.dirichlet(np.ones(11)))
    weights = rng.lognormal(0, 0.5, size=n)
    estimate = weighted_nps(scores, weights)

    y = (scores >= 9).astype(float) - (scores <= 6)
    p = weights[scores >= 9].sum() / weights.sum()
    d = weights[scores <= 6].sum() / weights.sum()
    se = robust_se(y, weights)
    n_star = (p + d - (p - d) ** 2) / se**2
    # stats.nps is Rocks' adjusted Wald; fed the effective counts it must give the same interval.
    reference = nps(p * n_star, (1 - p - d) * n_star, d * n_star)  # type: ignore[arg-type]
    assert estimate.value == pytest.approx(100 * (p - d), abs=1e-7)
    assert estimate.standard_error == pytest.approx(100 * se, abs=1e-7)
    assert estimate.ci_low == pytest.approx(reference.ci_low, abs=1e-6)
    assert estimate.ci_high == pytest.approx(reference.ci_high, abs=1e-6)
    promoters, detractors = int((scores >= 9).sum()), int((scores <= 6).sum())
    assert estimate.unweighted == nps(promoters, n - promoters - detractors, detractors)


def test_weighted_nps_rejects_scores_off_the_0_to_10_scale() -> None:
    with pytest.raises(ValidationFailed):
        weighted_nps([3, 11], [1, 1])


@pytest.mark.parametrize("seed", range(4))
def test_weighted_mean_uses_the_linearised_se_and_t_on_n_minus_one(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    n = int(rng.integers(10, 300))
    values = rng.integers(1, 8, size=n).astype(float)
    weights = rng.lognormal(0, 0.5, size=n)
    estimate = weighted_mean(values, weights, confidence=0.99)
    se = robust_se(values, weights)
    mean = float(np.average(values, weights=weights))
    half = stats.t.ppf(0.995, n - 1) * se
    assert estimate.value == pytest.approx(mean, abs=TOL)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((mean - half, mean + half), abs=TOL)
    assert estimate.unweighted == mean_t(values, confidence=0.99)


@pytest.mark.parametrize("weights", [[1.0, -1.0, 2.0], [1.0, 0.0, 2.0], [1.0, 2.0], [1.0, float("nan"), 1.0]])
def test_weights_must_be_positive_finite_and_one_per_answer(weights: list[float]) -> None:
    with pytest.raises(ValidationFailed):
        weighted_proportion([1, 0, 1], weights)


def test_no_answers_means_no_weighted_figure() -> None:
    assert weighted_proportion([], []).value is None
    assert weighted_nps([], []).value is None
    assert weighted_mean([], []).value is None
