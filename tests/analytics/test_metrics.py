from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from avis.analytics.queries import metric_values
from avis.analytics.services import update_analytics_settings
from tests.analytics.answering import survey_and_answer
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)  # invitations are sent on commit
PARIS = ZoneInfo("Europe/Paris")


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
    (rate,) = metric_values(organisation=org.organisation, metric="response_rate", period="all")
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


def test_agent_figures_leave_out_not_applicable_and_use_the_organisation_minimum(org) -> None:
    open_all_day(org.organisation)
    survey_and_answer(
        org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, 9, 3, 8], agent_scores=["5", "na", "2", "4"]
    )
    (score,) = metric_values(organisation=org.organisation, metric="agent_score", period="month")
    assert (score.estimate.n, score.estimate.value, score.estimate.method) == (
        3,
        pytest.approx(2 / 3),
        "wilson",
    )
    (mean,) = metric_values(organisation=org.organisation, metric="agent_mean", period="month")
    assert mean.estimate.value == pytest.approx(11 / 3) and mean.estimate.method == "t"
    assert not mean.reliable
    update_analytics_settings(organisation=org.organisation, min_n=3)
    (mean,) = metric_values(organisation=org.organisation, metric="agent_mean", period="month")
    assert mean.reliable and mean.min_n == 3


def test_filters_by_team_channel_and_customer_segment(org) -> None:
    open_all_day(org.organisation)
    march = datetime(2026, 3, 10, 11, tzinfo=PARIS)
    survey_and_answer(org, march, [10, 10], team="lyon", attributes={"segment": "pro"})
    survey_and_answer(org, march, [0, 0, 0], team="paris", attributes={"segment": "retail"})
    by_team = {
        v.team: v.estimate.n
        for v in metric_values(organisation=org.organisation, metric="nps", period="all", group_by=["team"])
    }
    assert by_team == {"lyon": 2, "paris": 3}
    for segment in (None, ("segment", "pro")):  # one figure for everything, from roll-ups or raw answers
        (total,) = metric_values(
            organisation=org.organisation, metric="nps", period="all", group_by=[], segment=segment
        )
        assert total.estimate.n == (5 if segment is None else 2)
    (pro,) = metric_values(organisation=org.organisation, metric="nps", segment=("segment", "pro"))
    assert (pro.estimate.n, pro.estimate.value) == (2, 100.0)
    (paris,) = metric_values(organisation=org.organisation, metric="nps", team="paris", channel="email")
    assert paris.estimate.value == -100.0
    assert metric_values(organisation=org.organisation, metric="nps", channel="sms") == []


def test_metrics_api_groups_by_team_and_agent_and_filters_a_segment(org, api) -> None:
    open_all_day(org.organisation)
    march = datetime(2026, 3, 10, 11, tzinfo=PARIS)
    survey_and_answer(org, march, [10, 9], agent="A-1", team="lyon", attributes={"tier": "gold"})
    survey_and_answer(org, march, [2], agent="A-2", team="paris", attributes={"tier": "basic"})
    rows = api.get(
        "/api/v1/metrics", {"metric": "nps", "period": "quarter", "group_by": ["team", "agent"]}
    ).json()
    assert {(r["team"], r["agent"], r["n"], r["period_start"]) for r in rows} == {
        ("lyon", "A-1", 2, "2026-01-01"),
        ("paris", "A-2", 1, "2026-01-01"),
    }
    assert all(r["min_n"] == 30 and r["reliable"] is False for r in rows)
    (gold,) = api.get("/api/v1/metrics", {"metric": "nps", "period": "all", "segment": "tier=gold"}).json()
    assert (gold["n"], gold["value"], gold["period_start"]) == (2, 100.0, None)
    assert api.get("/api/v1/metrics", {"segment": "no-equals"}).status_code == 422
