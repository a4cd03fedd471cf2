"""Tests of change, checked against statsmodels and scipy, and by their error rates under H0."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats import proportion as sm_proportion
from statsmodels.stats.multitest import multipletests

from avis.analytics.comparison import (
    benjamini_hochberg,
    difference_of_means,
    difference_of_nps,
    difference_of_proportions,
)
from avis.errors import ValidationFailed

TOL = 1e-9


# statsmodels also computes the ratio and odds ratio, which divide by zero when a sample has none.
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@settings(max_examples=150, deadline=None)
@given(
    n_a=st.integers(1, 2000),
    n_b=st.integers(1, 2000),
    data=st.data(),
    confidence=st.sampled_from([0.9, 0.95, 0.99]),
)
def test_difference_of_proportions_matches_statsmodels(
    n_a: int, n_b: int, data: st.DataObject, confidence: float
) -> None:
    x_a = data.draw(st.integers(0, n_a))
    x_b = data.draw(st.integers(0, n_b))
    assume(0 < x_a + x_b < n_a + n_b)
    result = difference_of_proportions(x_a, n_a, x_b, n_b, confidence=confidence)

    low, high = sm_proportion.confint_proportions_2indep(
        x_a, n_a, x_b, n_b, method="newcomb", alpha=1 - confidence
    )
    assert result.value == pytest.approx(x_a / n_a - x_b / n_b, abs=TOL)
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), abs=1e-6)
    # The p-value is the interval's own: at confidence 1 − p a bound sits on 0.
    if 1e-9 < result.p_value < 1:
        touching = difference_of_proportions(x_a, n_a, x_b, n_b, confidence=1 - result.p_value)
        assert min(abs(touching.ci_low), abs(touching.ci_high)) == pytest.approx(0, abs=1e-5)


def test_two_samples_of_only_satisfied_answers_show_no_difference() -> None:
    result = difference_of_proportions(50, 50, 80, 80)
    assert result.value == 0 and result.p_value == 1.0
    assert result.ci_low < 0 < result.ci_high


def test_an_empty_period_has_no_difference() -> None:
    assert difference_of_proportions(0, 0, 4, 10).value is None
    assert difference_of_nps((0, 0, 0), (1, 2, 3)).p_value is None


def test_difference_of_nps_on_a_worked_example() -> None:
    # A: 60 promoters, 25 passives, 15 detractors (NPS 45); B: 45, 30, 25 (NPS 20).
    # Var A = (0.60 + 0.15 − 0.45²)/100 = 0.005475; Var B = (0.45 + 0.25 − 0.20²)/100 = 0.0066.
    # z = 0.25/√0.012075 = 2.275079, two-sided p = 0.022901.
    # Adjusted Wald (Rocks 2016): A' = (60.75 − 15.75)/103 = 0.436893, var (76.5/103 − A'²)/103 =
    # 0.00535770; B' = (45.75 − 25.75)/103 = 0.194175, var (71.5/103 − B'²)/103 = 0.00637350;
    # half-width = 1.959964·√0.0117312 = 0.212285, so 24.2718 ± 21.2285 points.
    # The test is the same adjusted Wald: z = 0.242718/√0.0117312 = 2.240947, p = 0.025030.
    result = difference_of_nps((60, 25, 15), (45, 30, 25))
    assert result.value == pytest.approx(25.0)
    a, b = 45 / 103, 20 / 103
    var = (76.5 / 103 - a**2) / 103 + (71.5 / 103 - b**2) / 103
    assert result.p_value == pytest.approx(2 * stats.norm.sf((a - b) / np.sqrt(var)), abs=TOL)
    assert result.p_value == pytest.approx(0.025029, abs=1e-5)
    half = stats.norm.ppf(0.975) * np.sqrt(var)
    assert result.ci_low == pytest.approx(100 * (a - b - half), abs=1e-9)
    assert result.ci_high == pytest.approx(100 * (a - b + half), abs=1e-9)
    assert result.ci_low == pytest.approx(24.27184 - 21.22850, abs=1e-4)
    assert (result.n_a, result.n_b) == (100, 100)


def test_an_nps_estimate_at_a_handful_of_answers_stays_inside_its_interval() -> None:
    # One detractor against 68 answers: Rocks' shrinkage alone would put −100 outside [−98; 48].
    result = difference_of_nps((0, 0, 1), (20, 28, 20))
    assert result.ci_low <= result.value <= result.ci_high
    assert result.ci_low < 0 < result.ci_high and result.p_value > 0.05


def test_the_nps_test_holds_its_size_and_its_interval_its_coverage() -> None:
    rng = np.random.default_rng(20261125)
    shares = (0.45, 0.3, 0.25)
    true_difference = 0.0
    draws_a = rng.multinomial(80, shares, size=2000)
    draws_b = rng.multinomial(120, shares, size=2000)
    rejected = covered = 0
    for a, b in zip(draws_a, draws_b, strict=True):
        result = difference_of_nps(tuple(int(v) for v in a), tuple(int(v) for v in b))
        rejected += result.p_value < 0.05
        covered += result.ci_low <= true_difference <= result.ci_high
    assert 0.035 <= rejected / 2000 <= 0.065
    assert 0.935 <= covered / 2000 <= 0.965


@pytest.mark.parametrize(("seed", "confidence"), [(1, 0.95), (2, 0.9), (3, 0.99), (4, 0.95), (5, 0.95)])
def test_difference_of_means_is_welch_as_in_scipy(seed: int, confidence: float) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 8, size=int(rng.integers(2, 200))).astype(float)
    b = rng.normal(4, 2.5, size=int(rng.integers(2, 200)))
    result = difference_of_means(a, b, confidence=confidence)
    reference = stats.ttest_ind(a, b, equal_var=False)
    interval = reference.confidence_interval(confidence)
    assert result.value == pytest.approx(a.mean() - b.mean(), abs=TOL)
    assert result.p_value == pytest.approx(reference.pvalue, abs=1e-6)
    assert (result.ci_low, result.ci_high) == pytest.approx((interval.low, interval.high), abs=1e-6)
    assert result.method == "welch t"


def test_means_of_single_answers_have_no_test() -> None:
    result = difference_of_means([5.0], [3.0, 4.0])
    assert result.value == pytest.approx(1.5) and result.p_value is None


@settings(max_examples=200, deadline=None)
@given(
    p_values=st.lists(
        st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.01, 0.04, 0.05, 1.0])), min_size=1, max_size=80
    ),
    q=st.sampled_from([0.01, 0.05, 0.1, 0.2]),
)
def test_benjamini_hochberg_matches_statsmodels(p_values: list[float], q: float) -> None:
    result = benjamini_hochberg(p_values, q=q)
    rejected, adjusted, _, _ = multipletests(p_values, alpha=q, method="fdr_bh")
    assert result.adjusted == pytest.approx(adjusted, abs=TOL)
    assert list(result.rejected) == list(rejected)


def test_benjamini_hochberg_on_the_published_example() -> None:
    # Benjamini & Hochberg (1995), §4: 15 p-values, q = 0.05 rejects the four smallest.
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262,
         0.5719, 0.6528, 0.7590, 1.0000]  # fmt: skip
    result = benjamini_hochberg(p, q=0.05)
    assert result.rejected.sum() == 4 and result.rejected[:4].all()


def test_benjamini_hochberg_keeps_false_flags_rare_among_forty_equal_agents() -> None:
    rng = np.random.default_rng(20261126)
    flagged_any = 0
    for _ in range(500):
        p_values = rng.uniform(size=40)
        flagged_any += benjamini_hochberg(p_values).rejected.any()
    # Under the global null FDR = P(any rejection) ≤ q; unadjusted, 1 − 0.95⁴⁰ = 87 % would flag one.
    assert flagged_any / 500 <= 0.075


def test_benjamini_hochberg_refuses_what_is_not_a_p_value() -> None:
    with pytest.raises(ValidationFailed):
        benjamini_hochberg([0.2, 1.3])
    with pytest.raises(ValidationFailed):
        benjamini_hochberg([0.2], q=0)
    assert benjamini_hochberg([]).adjusted.size == 0
