"""The figures pages: every number with its interval, weighting shown, fair views, in both languages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from avis.analytics.services import update_analytics_settings
from tests.analytics.answering import survey_and_answer
from tests.factories import PASSWORD
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)
PARIS = ZoneInfo("Europe/Paris")


def signed_in(org, language: str = "en") -> Client:  # noqa: ANN001
    client = Client(headers={"Accept-Language": language})
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


@pytest.fixture
def answered(org):  # noqa: ANN001, ANN201
    open_all_day(org.organisation)
    for month, scores in ((3, [10, 9, 8, 3, 10, 9]), (4, [0, 2, 3, 4, 9, 10])):
        at = datetime(2026, month, 10, 11, tzinfo=PARIS)
        for agent, team in (("A-1", "lyon"), ("A-2", "lyon"), ("A-3", "paris")):
            survey_and_answer(
                org, at, scores, agent=agent, team=team, agent_scores=["5", "4", "na", "2", "5", "3"]
            )
    return org


def test_overview_shows_intervals_weighting_and_changes(answered) -> None:  # noqa: ANN001
    update_analytics_settings(organisation=answered.organisation, min_n=10)
    # The window ends with April: April (complete) is compared with March.
    page = signed_in(answered).get("/analytics/?metric=nps&period=month&until=2026-04-30").content.decode()
    assert 'id="summary"' in page and "n=36" in page  # all touchpoints, both months
    assert 'id="weighted-nps"' in page and "Design effect" in page and "Effective n (Kish)" in page
    assert '<svg role="img"' in page  # the series chart, with its accessible name
    assert "Benjamini–Hochberg" in page and "▼ significant fall" in page  # 50 → −33 points
    assert "/analytics/export/answers.csv" in page and "/analytics/export/metrics.parquet" in page


def test_overview_is_in_french(answered) -> None:  # noqa: ANN001
    page = signed_in(answered, "fr").get("/analytics/").content.decode()
    assert '<html lang="fr">' in page


def test_fair_view_has_a_funnel_and_no_ranking_below_the_minimum(answered) -> None:  # noqa: ANN001
    client = signed_in(answered)
    page = client.get("/analytics/people/?level=agent").content.decode()
    assert "Funnel plot" in page  # the chart's accessible description
    assert page.count("too few answers to judge") >= 3  # 8 agent answers each, under 30
    assert "A-1" in page or "Julie Martin" in page
    teams = client.get("/analytics/people/?level=team").content.decode()
    assert "lyon" in teams and "paris" in teams


def test_contact_pressure_and_closed_loop_pages(answered) -> None:  # noqa: ANN001
    client = signed_in(answered)
    pressure = client.get("/analytics/contact-pressure/").content.decode()
    assert 'id="per-customer"' in pressure and '<svg role="img"' in pressure
    loop = client.get("/analytics/closed-loop/").content.decode()
    assert "Cases opened" in loop and "n=" in loop
