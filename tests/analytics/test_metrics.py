from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from avis.analytics.queries import metric_values
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from avis.surveys.services import submit_response
from tests.factories import interaction_payload
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)  # invitations are sent on commit
PARIS = ZoneInfo("Europe/Paris")


def survey_and_answer(
    org, at: datetime, scores: list[int | None], touchpoint: str = "call_center.call"
) -> None:  # noqa: ANN001
    items = [
        InteractionIn(
            **interaction_payload(
                f"{touchpoint}-{at:%Y%m%d}-{i}",
                customer=f"{at:%m%d}-{i}",
                touchpoint=touchpoint,
                occurred_at=at,
            )
        )
        for i in range(len(scores))
    ]
    results = ingest_interactions(organisation=org.organisation, items=items, now=at)
    for result, score in zip(results, scores, strict=True):
        if score is not None:
            submit_response(
                token=result.invitation.token,
                answers={"nps": str(score), "resolved": "yes" if score > 6 else "no"},
                now=at + timedelta(hours=1),
            )


def test_nps_and_resolution_per_touchpoint_per_month_with_n(org) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, 9, 8, 3])
    survey_and_answer(org, datetime(2026, 4, 10, 11, tzinfo=PARIS), [10, 2, None])
    survey_and_answer(org, datetime(2026, 4, 12, 11, tzinfo=PARIS), [9], touchpoint="branch.visit")
    values = metric_values(organisation=org.organisation, metric="nps", period="month")
    table = {(v.touchpoint, v.period_start.isoformat()): v.estimate for v in values}
    assert table[("call_center.call", "2026-03-01")].value == pytest.approx(25.0)
    assert table[("call_center.call", "2026-03-01")].n == 4
    assert table[("call_center.call", "2026-04-01")].value == pytest.approx(0.0)
    assert table[("branch.visit", "2026-04-01")].n == 1
    march = table[("call_center.call", "2026-03-01")]
    assert march.ci_low < march.value < march.ci_high

    resolution = metric_values(organisation=org.organisation, metric="resolution_rate", period="month")
    assert {(v.touchpoint, v.period_start.isoformat()): v.estimate.value for v in resolution}[
        ("call_center.call", "2026-03-01")
    ] == pytest.approx(0.75)


def test_response_rate_counts_sent_invitations_answered(org) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, None, None, 3])
    (rate,) = metric_values(organisation=org.organisation, metric="response_rate", period="month")
    assert (rate.estimate.n, rate.estimate.value) == (4, 0.5)


def test_weeks_start_on_monday_in_the_organisation_time_zone(org) -> None:
    open_all_day(org.organisation)
    # Sunday 23:30 in Paris is still the week that began on Monday 9 March.
    survey_and_answer(org, datetime(2026, 3, 15, 22, 30, tzinfo=PARIS), [10])
    (value,) = metric_values(organisation=org.organisation, metric="nps", period="week")
    assert value.period_start.isoformat() == "2026-03-09"


def test_metrics_api_gives_n_and_interval(org, api) -> None:
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, 9, 8, 3])
    (row,) = api.get("/api/v1/metrics", {"metric": "nps", "period": "month"}).json()
    assert row["n"] == 4 and row["method"] == "adjusted-wald" and row["reliable"] is False
    assert row["ci_low"] < row["value"] < row["ci_high"]
    assert api.get("/api/v1/metrics", {"metric": "bogus"}).status_code == 422
