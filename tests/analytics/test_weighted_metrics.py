"""CSAT top-2-box and resolution rate are weighted like NPS: raked figure, design effect, Kish's n."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from avis.analytics.estimators import weighted_proportion
from avis.analytics.weighted import weighted_overview
from tests.analytics.answering import survey_and_answer
from tests.analytics.test_pages import signed_in
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)  # invitations are sent on commit
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def skewed(org):  # noqa: ANN001, ANN201
    """Six calls, four answered, all happy; six visits, one answered, unhappy.

    Half the interactions are calls, half visits, so raking gives each call answer 0.5 × 5 / 4 and
    the visit answer 0.5 × 5 / 1 (no sampling: every design weight is 1).
    """
    open_all_day(org.organisation)
    at = datetime(2026, 3, 10, 11, tzinfo=PARIS)
    survey_and_answer(org, at, [10, 10, 10, 10, None, None], agent_scores=["5", "4", "5", "4", "", ""])
    survey_and_answer(
        org, at, [0, None, None, None, None, None], "branch.visit", agent_scores=["1"] + [""] * 5
    )
    return org


WEIGHTS = np.array([0.625, 0.625, 0.625, 0.625, 2.5])


@pytest.mark.parametrize("metric", ["csat", "resolution_rate"])
def test_a_proportion_is_raked_to_the_interactions_with_its_design_effect(skewed, metric: str) -> None:  # noqa: ANN001
    overview = weighted_overview(organisation=skewed.organisation, metric=metric)
    overall = overview.figures[0].estimate
    outcomes = np.array([1, 1, 1, 1, 0], dtype=float)  # the calls' 4s and 5s / "yes"; the visit's 1 / "no"

    low, high = proportion_confint(4, 5, alpha=0.05, method="wilson")
    assert (overall.unweighted.value, overall.unweighted.n, overall.unweighted.method) == (0.8, 5, "wilson")
    assert (overall.unweighted.ci_low, overall.unweighted.ci_high) == (
        pytest.approx(low, abs=1e-6),
        pytest.approx(high, abs=1e-6),
    )
    assert overall.value == pytest.approx(DescrStatsW(outcomes, weights=WEIGHTS).mean, abs=1e-6)  # 0.5
    assert overall.value == pytest.approx(0.5)
    assert overall.design_effect == pytest.approx(5 * (WEIGHTS**2).sum() / WEIGHTS.sum() ** 2, abs=1e-6)
    assert overall.effective_n == pytest.approx(WEIGHTS.sum() ** 2 / (WEIGHTS**2).sum(), abs=1e-6)  # 3.2
    reference = weighted_proportion(outcomes, WEIGHTS)
    assert (overall.ci_low, overall.ci_high, overall.method) == (
        pytest.approx(reference.ci_low, abs=1e-6),
        pytest.approx(reference.ci_high, abs=1e-6),
        "wilson-effective-n",
    )
    per_touchpoint = {f.touchpoint: f.estimate.value for f in overview.figures[1:]}
    assert per_touchpoint == {"call_center.call": 1.0, "branch.visit": 0.0}


def test_the_weighting_page_and_api_show_all_three_side_by_side(skewed, api) -> None:  # noqa: ANN001
    page = signed_in(skewed).get("/analytics/weighting/").content.decode()
    for metric in ("nps", "csat", "resolution_rate"):
        assert f'id="weighted-{metric}"' in page
    assert "CSAT top-2-box" in page and "Resolution rate" in page and "Design effect" in page
    assert "80 %" in page and "50 %" in page  # unweighted and weighted top-2-box

    body = api.get("/api/v1/metrics/weighted", {"metric": "csat"}).json()
    assert body["metric"] == "csat" and "touchpoint" in body["margins"]
    overall = body["figures"][0]
    assert overall["touchpoint"] == "" and overall["unweighted"]["value"] == pytest.approx(0.8)
    assert overall["weighted"]["value"] == pytest.approx(0.5) and overall["weighted"]["n"] == 5
    assert overall["effective_n"] == pytest.approx(3.2) and overall["design_effect"] == pytest.approx(1.5625)
    assert api.get("/api/v1/metrics/weighted", {"metric": "ces"}).status_code == 422


def test_a_window_that_cannot_be_raked_still_has_its_figures_and_says_why(org, api) -> None:  # noqa: ANN001
    """Calls answered only in Lyon, visits only in Paris, while Lyon had nine of the ten interactions
    and calls one: no weights can meet both margins. The pages and the API keep their figures,
    weighted by the sampling design alone, and say so (the monthly PDF report answered 500)."""
    open_all_day(org.organisation)
    at = datetime(2026, 3, 10, 11, tzinfo=PARIS)
    survey_and_answer(org, at, [10], "call_center.call", team="lyon")
    survey_and_answer(org, at, [0], "branch.visit", team="paris")
    survey_and_answer(org, at, [None] * 8, "branch.visit", team="lyon")

    overview = weighted_overview(organisation=org.organisation)
    assert overview.not_raked and overview.margins == ()
    assert overview.figures[0].estimate.value == pytest.approx(overview.figures[0].estimate.unweighted.value)
    page = signed_in(org).get("/analytics/weighting/")
    assert page.status_code == 200
    assert "cannot be raked to its interactions" in page.content.decode()
    body = api.get("/api/v1/metrics/weighted").json()
    assert body["not_raked"] and body["margins"] == [] and body["figures"][0]["weighted"]["n"] == 2
