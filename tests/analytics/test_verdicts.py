"""Never over-claim: "significant" and "the interval excludes 0" agree, before and after BH.

Property tests over random counts: each comparison's test inverts its own interval, and the
family's verdicts (Benjamini–Hochberg, rows below the minimum n left out) agree with the
intervals drawn at the family's level; no point estimate lies outside its interval.
"""

from __future__ import annotations

from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avis.analytics.comparison import (
    difference_of_mean_summaries,
    difference_of_nps,
    difference_of_proportions,
    excludes_zero,
    judge_family,
)
from avis.analytics.stats import nps, wilson

ALPHAS = (0.2, 0.1, 0.05, 0.01, 0.001)
count = st.integers(0, 120)
trinomial = st.tuples(count, count, count).filter(lambda c: sum(c) > 0)


@st.composite
def binomial(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, 400))
    return draw(st.integers(0, n)), n


def inside(difference) -> bool:  # noqa: ANN001
    if difference.ci_low is None:
        return True
    return difference.ci_low - 1e-9 <= difference.value <= difference.ci_high + 1e-9


@settings(max_examples=300, deadline=None)
@given(a=binomial(), b=binomial(), alpha=st.sampled_from(ALPHAS))
def test_a_difference_of_proportions_is_significant_exactly_when_its_interval_excludes_zero(
    a: tuple[int, int], b: tuple[int, int], alpha: float
) -> None:
    result = difference_of_proportions(*a, *b, confidence=1 - alpha)
    assert (result.p_value <= alpha) == excludes_zero(result)
    assert inside(result)


@settings(max_examples=300, deadline=None)
@given(a=trinomial, b=trinomial, alpha=st.sampled_from(ALPHAS))
def test_a_difference_of_nps_is_significant_exactly_when_its_interval_excludes_zero(
    a: tuple[int, int, int], b: tuple[int, int, int], alpha: float
) -> None:
    result = difference_of_nps(a, b, confidence=1 - alpha)
    assert (result.p_value <= alpha) == excludes_zero(result)
    assert inside(result)


@settings(max_examples=200, deadline=None)
@given(
    a=st.tuples(st.floats(1, 7), st.floats(0, 4), st.integers(0, 300)),
    b=st.tuples(st.floats(1, 7), st.floats(0, 4), st.integers(0, 300)),
    alpha=st.sampled_from(ALPHAS),
)
def test_a_difference_of_means_is_significant_exactly_when_its_interval_excludes_zero(
    a: tuple[float, float, int], b: tuple[float, float, int], alpha: float
) -> None:
    result = difference_of_mean_summaries(a, b, confidence=1 - alpha)
    if result.ci_low is None:  # no interval (n < 2 or no spread): no verdict either
        assert result.p_value is None or result.p_value == 1.0 or result.value != 0
        return
    assert (result.p_value <= alpha) == excludes_zero(result)
    assert inside(result)


@settings(max_examples=300, deadline=None)
@given(counts=trinomial, confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_an_nps_is_never_outside_its_own_interval(counts: tuple[int, int, int], confidence: float) -> None:
    estimate = nps(*counts, confidence=confidence)
    assert estimate.ci_low <= estimate.value <= estimate.ci_high


def test_one_detractor_is_shown_inside_its_interval() -> None:
    # The issue: "NPS −100 [−98–48] n=1".
    estimate = nps(0, 0, 1)
    assert estimate.value == -100 and estimate.ci_low == -100 and estimate.ci_high > 0


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.one_of(
            st.tuples(st.just("nps"), trinomial, trinomial),
            st.tuples(st.just("share"), binomial(), binomial()),
        ),
        min_size=1,
        max_size=12,
    ),
    data=st.data(),
    q=st.sampled_from([0.01, 0.05, 0.1, 0.2]),
)
def test_after_benjamini_hochberg_every_verdict_agrees_with_the_interval_shown(rows, data, q) -> None:  # noqa: ANN001
    compare = [
        partial(difference_of_nps, a, b) if kind == "nps" else partial(_shares, a, b) for kind, a, b in rows
    ]
    judged = data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    family = judge_family(compare, judged, q=q)
    m = family.tested
    assert m == sum(judged)
    assert family.level == pytest.approx(1 - max(family.rejected, 1) * q / m if m else 1 - q)
    for row, enough in zip(family.rows, judged, strict=True):
        assert inside(row.difference)
        if enough:
            assert row.judged and row.adjusted_p is not None
            assert row.significant == excludes_zero(row.difference)
        else:
            assert not row.judged and row.adjusted_p is None and not row.significant
    assert sum(r.significant for r in family.rows) == family.rejected


def _shares(a: tuple[int, int], b: tuple[int, int], confidence: float):  # noqa: ANN202
    return difference_of_proportions(*a, *b, confidence=confidence)


def test_the_finding_four_answers_against_sixty_eight_get_no_verdict() -> None:
    # web.chat: NPS 6 on 68 answers, then 75 on 4 (two days of a month): no verdict below min n.
    family = judge_family([partial(difference_of_nps, (3, 1, 0), (22, 28, 18))], [False], q=0.05)
    (row,) = family.rows
    assert not row.significant and row.adjusted_p is None
    assert wilson(3, 4).n == 4  # the row is still shown, greyed, with its interval
    assert row.difference.ci_low < 0 < row.difference.ci_high
