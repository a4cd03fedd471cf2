"""Each interaction gets a recorded decision with its reason, under a named policy version."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from avis.customers.services import opt_out_customer
from avis.governance.models import Decision
from avis.governance.queries import explain
from avis.governance.services import update_policy
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from tests.factories import interaction_payload
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def decide(org, external_id: str, at: datetime, **kwargs) -> Decision:  # noqa: ANN001
    item = InteractionIn(**interaction_payload(external_id, occurred_at=at, **kwargs))
    (result,) = ingest_interactions(organisation=org.organisation, items=[item], now=at)
    assert not result.errors, result.errors
    return result.decision


@pytest.mark.clock
def test_second_interaction_within_quarantine_is_skipped(org) -> None:
    open_all_day(org.organisation, quarantine_days=14, windows=[{"max": 5, "days": 90}])
    start = datetime(2026, 3, 2, 11, 0, tzinfo=PARIS)
    assert decide(org, "e1", start).outcome == "invite"
    second = decide(org, "e2", start + timedelta(days=3), touchpoint="branch.visit")
    assert (second.outcome, second.reason) == ("skip", "quarantine")
    assert "02/03/2026" in explain(second, "fr")  # as the page's dates are written: one format a page
    assert "14" in explain(second, "en")
    assert decide(org, "e3", start + timedelta(days=15)).outcome == "invite"


@pytest.mark.clock
def test_cap_counts_surveys_across_touchpoints_in_the_rolling_window(org) -> None:
    open_all_day(org.organisation, quarantine_days=0, windows=[{"max": 2, "days": 30}])
    start = datetime(2026, 3, 2, 11, 0, tzinfo=PARIS)
    assert decide(org, "e1", start).outcome == "invite"
    assert decide(org, "e2", start + timedelta(days=5), touchpoint="branch.visit").outcome == "invite"
    third = decide(org, "e3", start + timedelta(days=10), touchpoint="claim.settled")
    assert (third.outcome, third.reason) == ("skip", "cap_reached")
    assert third.context["count"] == 2
    assert decide(org, "e4", start + timedelta(days=31)).outcome == "invite"


def test_decision_names_the_policy_version_it_used(org) -> None:
    open_all_day(org.organisation)
    first = decide(org, "e1", datetime(2026, 3, 2, 11, tzinfo=PARIS))
    update_policy(organisation=org.organisation, changes={"quarantine_days": 1})
    second = decide(org, "e2", datetime(2026, 3, 20, 11, tzinfo=PARIS), customer="C-2")
    assert second.policy.version == first.policy.version + 1


def test_sampling_rate_draws_the_stated_share_and_records_it(org) -> None:
    open_all_day(org.organisation, sampling_rates={"call_center.call": 0.3})
    at = datetime(2026, 3, 2, 11, tzinfo=PARIS)
    items = [
        InteractionIn(**interaction_payload(f"s-{i}", customer=f"S-{i}", occurred_at=at)) for i in range(1000)
    ]
    results = ingest_interactions(organisation=org.organisation, items=items, now=at)
    invited = sum(r.decision.outcome == "invite" for r in results)
    assert 240 <= invited <= 360
    assert {r.decision.inclusion_probability for r in results} == {0.3}
    skipped = next(r.decision for r in results if r.decision.outcome == "skip")
    assert skipped.reason == "not_sampled"
    assert "30 %" in explain(skipped, "en")


def test_global_opt_out_is_honoured_and_explained(org) -> None:
    open_all_day(org.organisation)
    decide(org, "e0", datetime(2026, 3, 1, 11, tzinfo=PARIS), customer="C-9")
    opt_out_customer(organisation=org.organisation, external_id="C-9")
    later = decide(org, "e1", datetime(2026, 6, 1, 11, tzinfo=PARIS), customer="C-9")
    assert (later.outcome, later.reason) == ("skip", "opted_out")


def test_email_opt_out_falls_back_to_sms(org) -> None:
    open_all_day(org.organisation)
    decide(org, "e0", datetime(2026, 1, 5, 11, tzinfo=PARIS), customer="C-9")
    opt_out_customer(organisation=org.organisation, external_id="C-9", channel="email")
    later = decide(org, "e1", datetime(2026, 6, 1, 11, tzinfo=PARIS), customer="C-9")
    assert (later.outcome, later.channel) == ("invite", "sms")


def test_customer_without_contact_details_is_skipped(org) -> None:
    decision = decide(org, "e1", datetime(2026, 3, 2, 11, tzinfo=PARIS), email=None, phone=None)
    assert (decision.outcome, decision.reason) == ("skip", "no_channel")


@pytest.mark.parametrize(
    ("local_time", "expected_local_send"),
    [
        (datetime(2026, 3, 3, 22, 30), datetime(2026, 3, 4, 10, 0)),  # Tuesday night → Wednesday 10:00
        (datetime(2026, 3, 7, 21, 0), datetime(2026, 3, 9, 10, 0)),  # Saturday night → Monday (no Sunday)
        (datetime(2026, 12, 24, 20, 30), datetime(2026, 12, 26, 10, 0)),  # Christmas Day is a holiday
        (datetime(2026, 3, 3, 7, 15), datetime(2026, 3, 3, 10, 0)),  # early morning → same day 10:00
    ],
)
@pytest.mark.clock
def test_outside_sending_hours_is_deferred_to_the_exact_time_in_the_customer_zone(
    org, local_time, expected_local_send
) -> None:
    update_policy(organisation=org.organisation, changes={"send_from": time(10), "send_until": time(20)})
    decision = decide(org, "e1", local_time.replace(tzinfo=PARIS))
    assert (decision.outcome, decision.reason) == ("defer", "quiet_hours")
    assert decision.planned_at.astimezone(PARIS).replace(tzinfo=None) == expected_local_send


@pytest.mark.clock
def test_quiet_hours_follow_the_customer_time_zone_not_the_company(org) -> None:
    update_policy(organisation=org.organisation, changes={"send_from": time(10), "send_until": time(20)})
    at = datetime(2026, 3, 3, 14, tzinfo=PARIS)  # open in Paris, 09:00 in Martinique
    payload = interaction_payload("e1", occurred_at=at, phone="+596696123456")
    payload["customer"]["time_zone"] = "America/Martinique"
    (result,) = ingest_interactions(organisation=org.organisation, items=[InteractionIn(**payload)], now=at)
    decision = result.decision
    assert decision.outcome == "defer"
    assert decision.planned_at.astimezone(ZoneInfo("America/Martinique")).hour == 10


@pytest.mark.clock
def test_contact_history_lists_every_decision_with_its_reason(org, api) -> None:
    open_all_day(org.organisation)
    now = timezone.now()
    post_interaction(api, "h1", occurred_at=now - timedelta(minutes=10))
    post_interaction(api, "h2", occurred_at=now - timedelta(minutes=5), touchpoint="branch.visit")
    history = api.get("/api/v1/customers/C-1/contact-history", HTTP_ACCEPT_LANGUAGE="en").json()
    assert [d["interaction"] for d in history["decisions"]] == ["h2", "h1"]
    assert [d["outcome"] for d in history["decisions"]] == ["skip", "invite"]
    assert history["decisions"][0]["reason"] == "quarantine"
    assert history["decisions"][0]["explanation"].startswith("Not surveyed")
    french = api.get("/api/v1/customers/C-1/contact-history", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert french["decisions"][0]["explanation"].startswith("Pas sollicité")


def test_opt_out_through_the_api_stops_later_surveys(org, api) -> None:
    open_all_day(org.organisation)
    post_interaction(api, "h1")
    reply = api.post(
        "/api/v1/customers/C-1/opt-out",
        {"channel": "all", "source": "call centre"},
        content_type="application/json",
    )
    assert reply.status_code == 200
    later = post_interaction(api, "h2", occurred_at=timezone.now()).json()
    assert later["decision"]["reason"] == "opted_out"
    assert (
        api.post("/api/v1/customers/NOBODY/opt-out", {}, content_type="application/json").status_code == 404
    )
