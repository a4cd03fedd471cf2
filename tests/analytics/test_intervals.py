"""The intervals are the published ones, checked against independent implementations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from avis.analytics.stats import nps, wilson


@given(n=st.integers(1, 5000), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_statsmodels(n: int, data: st.DataObject, confidence: float) -> None:
    successes = data.draw(st.integers(0, n))
    estimate = wilson(successes, n, confidence=confidence)
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    assert estimate.ci_low == pytest.approx(low, abs=1e-9)
    assert estimate.ci_high == pytest.approx(high, abs=1e-9)
    assert estimate.value == pytest.approx(successes / n)


def test_nps_adjusted_wald_on_a_worked_example() -> None:
    # 50 promoters, 30 passives, 20 detractors: NPS 30. Adjusted (Rocks 2016):
    # n' = 103, p' = 50.75/103, d' = 20.75/103, NPS' = 0.29126,
    # var = (p' + d' − NPS'²)/n' = 0.0059159, half-width = 1.96·0.076915 = 0.150751.
    estimate = nps(50, 30, 20)
    assert estimate.value == pytest.approx(30.0)
    assert estimate.ci_low == pytest.approx(100 * (0.291262 - 0.150751), abs=1e-3)
    assert estimate.ci_high == pytest.approx(100 * (0.291262 + 0.150751), abs=1e-3)
    assert estimate.n == 100
    assert estimate.method == "adjusted-wald"


@pytest.mark.parametrize(
    ("shares", "n"), [((0.5, 0.3, 0.2), 40), ((0.15, 0.25, 0.6), 25), ((0.7, 0.25, 0.05), 60)]
)
def test_nps_interval_covers_the_true_score_about_95_percent_of_the_time(shares, n) -> None:  # noqa: ANN001
    rng = np.random.default_rng(20261123)
    true_nps = 100 * (shares[0] - shares[2])
    draws = rng.multinomial(n, shares, size=4000)
    covered = 0
    for promoters, passives, detractors in draws:
        estimate = nps(int(promoters), int(passives), int(detractors))
        covered += estimate.ci_low <= true_nps <= estimate.ci_high
    assert 0.93 <= covered / len(draws) <= 0.975


def test_no_answers_means_no_figure() -> None:
    assert nps(0, 0, 0).value is None
    assert wilson(0, 0).ci_low is None


@given(n=st.integers(1, 5000), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_holds_the_observed_rate_at_the_extremes(n: int, confidence: float) -> None:
    none, every = wilson(0, n, confidence=confidence), wilson(n, n, confidence=confidence)
    assert none.ci_low == 0.0 <= none.value < none.ci_high
    assert every.ci_low < every.value <= every.ci_high == 1.0
