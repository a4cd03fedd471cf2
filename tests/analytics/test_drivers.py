"""Which answers move the overall score: checked against statsmodels fits of every sub-model."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import statsmodels.api as sm

from avis.analytics.drivers import PredictorGroup, _keep_strongest, explain_score, lmg, subset_r_squared


def _dummies(values: np.ndarray, levels: int) -> np.ndarray:
    return np.column_stack([(values == level).astype(float) for level in range(1, levels)])


@pytest.fixture
def survey() -> tuple[np.ndarray, list[PredictorGroup]]:
    """400 answers where resolution matters most, the agent score some, a topic a little, the team not."""
    rng = np.random.default_rng(7)
    n = 400
    resolved = rng.choice(3, n, p=[0.6, 0.25, 0.15])  # yes, partly, no
    agent = rng.integers(1, 6, n).astype(float)
    team = rng.choice(4, n)
    waiting = (rng.random(n) < 0.25).astype(float)
    y = np.clip(
        np.round(
            6
            + 2.5 * (resolved == 0)
            - 3 * (resolved == 2)
            + 0.4 * agent
            - 1.2 * waiting
            + rng.normal(0, 1.5, n)
        ),
        0,
        10,
    )
    groups = [
        PredictorGroup("question", "resolved", "Resolved", ["partly", "no"], _dummies(resolved, 3), "yes"),
        PredictorGroup("question", "agent", "Agent", ["agent"], agent[:, None]),
        PredictorGroup("attribute", "team", "Team", ["b", "c", "d"], _dummies(team, 4), "a"),
        PredictorGroup("topic", "waiting_time", "Waiting time", ["waiting"], waiting[:, None]),
    ]
    return y, groups


def _statsmodels_r2(y: np.ndarray, groups: list[PredictorGroup], subset: tuple[int, ...]) -> float:
    if not subset:
        return 0.0
    x = np.hstack([groups[j].matrix for j in subset])
    return float(sm.OLS(y, sm.add_constant(x)).fit().rsquared)


def test_every_sub_model_r_squared_equals_statsmodels(survey) -> None:
    y, groups = survey
    r2 = subset_r_squared(y, [g.matrix for g in groups])
    for size in range(1, len(groups) + 1):
        for subset in itertools.combinations(range(len(groups)), size):
            mask = sum(1 << j for j in subset)
            assert r2[mask] == pytest.approx(_statsmodels_r2(y, groups, subset), abs=1e-9)


def test_lmg_is_the_shapley_value_of_statsmodels_r_squared(survey) -> None:
    y, groups = survey
    p = len(groups)
    expected = []
    for j in range(p):
        others = [k for k in range(p) if k != j]
        value = 0.0
        for size in range(p):
            for subset in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
                with_j = tuple(sorted((*subset, j)))
                value += weight * (_statsmodels_r2(y, groups, with_j) - _statsmodels_r2(y, groups, subset))
        expected.append(value)
    shares = lmg(subset_r_squared(y, [g.matrix for g in groups]))
    np.testing.assert_allclose(shares, expected, atol=1e-9)
    assert shares.sum() == pytest.approx(_statsmodels_r2(y, groups, tuple(range(p))), abs=1e-9)


def test_two_predictors_split_r_squared_as_the_closed_form_says() -> None:
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=200), rng.normal(size=200)
    x2 = x2 + 0.5 * x1  # correlated, so the order of entry matters
    y = x1 + 0.5 * x2 + rng.normal(size=200)
    r1 = sm.OLS(y, sm.add_constant(x1)).fit().rsquared
    r2 = sm.OLS(y, sm.add_constant(x2)).fit().rsquared
    r12 = sm.OLS(y, sm.add_constant(np.column_stack([x1, x2]))).fit().rsquared
    shares = lmg(subset_r_squared(y, [x1[:, None], x2[:, None]]))
    assert shares[0] == pytest.approx((r1 + r12 - r2) / 2, abs=1e-9)
    assert shares[1] == pytest.approx((r2 + r12 - r1) / 2, abs=1e-9)


def test_effects_and_standardised_coefficients_match_statsmodels(survey) -> None:
    y, groups = survey
    fit = explain_score(y, groups, bootstrap=0)
    x = np.hstack([g.matrix for g in groups])
    raw = sm.OLS(y, sm.add_constant(x)).fit()
    z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    standard = sm.OLS((y - y.mean()) / y.std(ddof=1), sm.add_constant(z)).fit()
    terms = {(d.key, t.label): t for d in fit.drivers for t in d.terms}
    column = 1
    for group in groups:
        for label in group.terms:
            term = terms[(group.key, label)]
            assert term.coefficient == pytest.approx(raw.params[column], abs=1e-6)
            assert (term.ci_low, term.ci_high) == pytest.approx(tuple(raw.conf_int()[column]), abs=1e-6)
            assert term.p_value == pytest.approx(raw.pvalues[column], abs=1e-6)
            assert term.standardised == pytest.approx(standard.params[column], abs=1e-6)
            assert (term.standardised_ci_low, term.standardised_ci_high) == pytest.approx(
                tuple(standard.conf_int()[column]), abs=1e-6
            )
            column += 1
    assert fit.r_squared == pytest.approx(raw.rsquared, abs=1e-9)


def test_the_driver_that_matters_comes_first_with_an_interval_clear_of_the_others(survey) -> None:
    y, groups = survey
    fit = explain_score(y, groups, bootstrap=200, seed=1)
    by_key = {d.key: d for d in fit.drivers}
    assert [d.key for d in fit.drivers][:2] == ["resolved", "agent"]
    assert by_key["resolved"].ci_low > by_key["agent"].ci_high
    # The team has no effect: it gets only the sliver of R² any predictor takes from noise.
    assert by_key["team"].importance < by_key["waiting_time"].importance
    assert by_key["team"].ci_high < 0.03
    for driver in fit.drivers:
        assert driver.ci_low <= driver.importance <= driver.ci_high
    low, high = fit.r_squared_ci
    assert low < fit.r_squared < high
    resolved_no = next(t for t in by_key["resolved"].terms if t.label == "no")
    # True effect −5.5 points against "yes" (a little less after rounding and clipping to 0–10).
    assert -6.5 < resolved_no.ci_low < resolved_no.coefficient < resolved_no.ci_high < -4


def test_bootstrap_is_reproducible(survey) -> None:
    y, groups = survey
    first = explain_score(y, groups, bootstrap=50, seed=4)
    again = explain_score(y, groups, bootstrap=50, seed=4)
    assert [(d.key, d.ci_low, d.ci_high) for d in first.drivers] == [
        (d.key, d.ci_low, d.ci_high) for d in again.drivers
    ]


def test_a_group_the_others_already_determine_is_left_out(survey) -> None:
    """Each team works for one site: the site adds nothing the team doesn't say."""
    y, groups = survey
    team = groups[2].matrix
    site = PredictorGroup("attribute", "site", "Site", ["north"], team[:, :1] + team[:, 1:2])
    kept = _keep_strongest(y, [*groups, site])
    assert [g.key for g in kept if g.key in ("team", "site")] == ["team"]


def test_a_level_missing_from_a_bootstrap_sample_keeps_the_intervals_sane() -> None:
    rng = np.random.default_rng(5)
    n = 120
    rare = np.zeros(n)
    rare[:2] = 1.0  # two answers only: absent from about one resample in eight
    score = rng.integers(1, 6, n).astype(float)
    y = np.clip(np.round(2 * score - 1 + rng.normal(0, 1, n)), 0, 10)
    groups = [
        PredictorGroup("question", "agent", "Agent", ["agent"], score[:, None]),
        PredictorGroup("attribute", "channel", "Channel", ["fax"], rare[:, None], "sms"),
    ]
    fit = explain_score(y, groups, bootstrap=200, seed=2)
    for driver in fit.drivers:
        assert 0.0 <= driver.ci_low <= driver.importance <= driver.ci_high <= 1.0
    assert fit.drivers[0].key == "agent"
