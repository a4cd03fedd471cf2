"""One organisation's bad data never stops the others' background work.

Regression: a sampling goal with a margin of 5e-324 was stored, its refresh divided by
zero (5e-324² is 0.0), and the hourly refresh stopped for every organisation after it.
The margin is now validated on every path, and each organisation's work runs apart.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from avis.accounts.models import Organisation
from avis.analytics.services import send_due_reports, update_analytics_settings
from avis.errors import ValidationFailed
from avis.governance.models import SamplingGoal, StratumRate
from avis.governance.services import create_sampling_goal
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from avis.surveys.tasks import refresh_sampling_rates
from tests.analytics.answering import survey_and_answer
from tests.factories import PASSWORD, interaction_payload, make_organisation
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 2, 10, tzinfo=PARIS)


@pytest.mark.parametrize("margin", [5e-324, 0.0, -10.0, 0.4, 100.5, math.nan, math.inf, -math.inf])
def test_a_margin_out_of_range_is_refused_by_the_service(org, margin: float) -> None:
    with pytest.raises(ValidationFailed) as refused:
        create_sampling_goal(
            organisation=org.organisation, metric="nps", dimension="team", period="month", margin=margin
        )
    assert refused.value.field == "margin"
    assert "between 0.5 and 100" in refused.value.message
    assert not SamplingGoal.objects.exists()


@pytest.mark.parametrize("margin", [0.5, 10, 100])
def test_a_margin_in_range_is_kept(org, margin: float) -> None:
    goal = create_sampling_goal(
        organisation=org.organisation, metric="nps", dimension="team", period="month", margin=margin
    )
    assert goal.margin == margin


def test_the_api_answers_422_naming_the_margin(org, api) -> None:
    reply = api.post(
        "/api/v1/policy/sampling-goals",
        {"metric": "nps", "dimension": "team", "period": "month", "margin": 5e-324},
        content_type="application/json",
    )
    assert reply.status_code == 422, reply.content
    assert "margin" in reply.content.decode()
    assert not SamplingGoal.objects.exists()


@pytest.mark.parametrize("margin", ["5e-324", "0", "nan", "inf", "1e309", "x"])
def test_the_page_explains_a_bad_margin(org, margin: str) -> None:
    admin = Client()
    assert admin.login(username=org.admin_email, password=PASSWORD)
    reply = admin.post(
        "/settings/sampling/",
        {"metric": "nps", "dimension": "team", "period": "month", "margin": margin},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert reply.status_code == 422
    assert "margin" in reply.content.decode().lower() or "points" in reply.content.decode()
    assert not SamplingGoal.objects.exists()


def _history(organisation: Organisation, prefix: str) -> None:
    open_all_day(organisation, quarantine_days=0)
    items = [
        InteractionIn(
            **interaction_payload(
                f"{prefix}-{i}",
                customer=f"{prefix}-C-{i}",
                team="lyon",
                occurred_at=START + timedelta(hours=i),
            )
        )
        for i in range(20)
    ]
    ingest_interactions(organisation=organisation, items=items, replay=True)


def test_a_goal_stored_before_the_check_fails_alone_and_the_others_are_refreshed(org, caplog) -> None:
    broken = org.organisation  # created first: the refresh meets it first
    healthy = make_organisation("Banque du Nord", slug="banque-du-nord").organisation
    _history(broken, "b")
    _history(healthy, "h")
    # As stored before the margin was checked (the model field takes any float).
    SamplingGoal.objects.create(
        organisation=broken, metric="nps", dimension="team", period="month", margin=5e-324
    )
    goal = SamplingGoal.objects.create(
        organisation=healthy, metric="nps", dimension="team", period="month", margin=10
    )
    assert broken.id < healthy.id
    with time_machine.travel(START + timedelta(days=3), tick=False), caplog.at_level(logging.ERROR):
        strata = refresh_sampling_rates.call_local()
    assert strata == 1
    assert StratumRate.objects.filter(goal=goal, stratum="lyon").exists()
    assert not StratumRate.objects.filter(organisation=broken).exists()
    (record,) = [r for r in caplog.records if r.name == "avis.tasks"]
    assert record.getMessage() == (
        f"refresh_sampling_rates failed for organisation {broken.id}; the others go on"
    )
    assert record.exc_info[0] is ZeroDivisionError


@pytest.mark.clock
def test_one_organisations_failing_report_does_not_stop_the_others(org, smtp_server, caplog) -> None:
    broken = org.organisation
    healthy_setup = make_organisation("Banque du Nord", slug="banque-du-nord")
    for setup in (org, healthy_setup):
        open_all_day(setup.organisation)
        survey_and_answer(setup, datetime(2026, 3, 10, 11, tzinfo=PARIS), [10, 2])
        update_analytics_settings(
            organisation=setup.organisation,
            report_period="month",
            report_recipients=[f"dg@{setup.organisation.slug}.fr"],
        )
    # Bad data in one organisation: a time zone that does not exist (stored before any check).
    Organisation.objects.filter(id=broken.id).update(default_time_zone="Mars/Olympus_Mons")
    with caplog.at_level(logging.ERROR):
        assert send_due_reports(now=datetime(2026, 4, 1, 8, tzinfo=UTC)) == [healthy_setup.organisation.slug]
    assert smtp_server.to(f"dg@{healthy_setup.organisation.slug}.fr")
    assert any(
        r.getMessage().startswith(f"send_due_reports failed for organisation {broken.id}")
        for r in caplog.records
    )
