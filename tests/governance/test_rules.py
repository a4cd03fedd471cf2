"""The rules of a contact policy, each as a customer would live it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from avis.errors import ValidationFailed
from avis.governance.models import Decision
from avis.governance.queries import explain
from avis.governance.services import update_policy
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from avis.messaging.dispatch import deliver_message
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Invitation
from tests.factories import interaction_payload
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 3, 2, 11, 0, tzinfo=PARIS)


def decide(org, external_id: str, at: datetime, **kwargs) -> Decision:  # noqa: ANN001
    item = InteractionIn(
        **interaction_payload(external_id, occurred_at=kwargs.pop("occurred_at", at), **kwargs)
    )
    (result,) = ingest_interactions(organisation=org.organisation, items=[item], now=at)
    assert not result.errors, result.errors
    return result.decision


@pytest.mark.clock
def test_every_window_holds_at_once(org) -> None:
    open_all_day(
        org.organisation, quarantine_days=0, windows=[{"max": 1, "days": 30}, {"max": 2, "days": 365}]
    )
    assert decide(org, "e1", MONDAY).outcome == "invite"
    blocked = decide(org, "e2", MONDAY + timedelta(days=10))
    assert (blocked.reason, blocked.context["days"]) == ("cap_reached", 30)
    assert decide(org, "e3", MONDAY + timedelta(days=40)).outcome == "invite"
    yearly = decide(org, "e4", MONDAY + timedelta(days=80))
    assert (yearly.reason, yearly.context["max"], yearly.context["days"]) == ("cap_reached", 2, 365)
    sentence = explain(yearly, "en")
    assert "Call to customer service" in sentence and "allows 2" in sentence
    assert decide(org, "e5", MONDAY + timedelta(days=366)).outcome == "invite"


@pytest.mark.clock
def test_a_touchpoint_gap_spaces_surveys_about_the_same_step_only(org) -> None:
    open_all_day(
        org.organisation,
        quarantine_days=0,
        windows=[{"max": 10, "days": 365}],
        touchpoint_gaps={"call_center.call": 60},
    )
    assert decide(org, "e1", MONDAY).outcome == "invite"
    assert decide(org, "e2", MONDAY + timedelta(days=5), touchpoint="branch.visit").outcome == "invite"
    again = decide(org, "e3", MONDAY + timedelta(days=20))
    assert (again.outcome, again.reason) == ("skip", "touchpoint_gap")
    assert "60" in explain(again, "en")
    assert decide(org, "e4", MONDAY + timedelta(days=61)).outcome == "invite"


def test_a_contact_only_interaction_counts_as_pressure_and_sends_nothing(org) -> None:
    open_all_day(org.organisation, quarantine_days=7, windows=[{"max": 2, "days": 30}])
    campaign = decide(org, "mkt-1", MONDAY, contact_only=True)
    assert (campaign.outcome, campaign.reason) == ("skip", "contact_only")
    assert not Invitation.objects.filter(decision=campaign).exists()
    assert decide(org, "e1", MONDAY + timedelta(days=2)).reason == "quarantine"
    assert decide(org, "e2", MONDAY + timedelta(days=8)).outcome == "invite"
    # The campaign and the survey fill the 30-day window.
    assert decide(org, "e3", MONDAY + timedelta(days=20)).reason == "cap_reached"


def test_a_higher_priority_survey_takes_the_place_of_one_still_waiting(org) -> None:
    # Sending only 10:00–20:00: a call at 21:00 is deferred to the next morning.
    open_all_day(
        org.organisation,
        send_from=time(10),
        send_until=time(20),
        priorities={"claim.settled": 10},
        quarantine_days=14,
    )
    evening = datetime(2026, 3, 2, 21, 0, tzinfo=PARIS)
    call = decide(org, "call-1", evening)
    assert call.outcome == "defer"
    claim = decide(org, "claim-1", evening + timedelta(minutes=30), touchpoint="claim.settled")
    assert claim.outcome == "defer"
    assert claim.context["outranked"] == ["call_center.call"]
    call.refresh_from_db()
    assert (call.outcome, call.reason) == ("skip", "outranked")
    assert Invitation.objects.get(decision=call).status == "cancelled"
    withdrawn = OutboundMessage.objects.get(invitation__decision=call)
    deliver_message(message_id=withdrawn.id, now=evening + timedelta(hours=14))
    withdrawn.refresh_from_db()
    assert (withdrawn.status, withdrawn.sent_at) == ("cancelled", None)
    assert "priority" in explain(call, "en")
    # The other way round, a routine call does not displace a waiting claim survey.
    later_call = decide(org, "call-2", evening + timedelta(hours=1))
    assert later_call.reason == "quarantine"


def test_a_call_already_sent_is_not_displaced(org) -> None:
    open_all_day(org.organisation, priorities={"claim.settled": 10}, quarantine_days=14)
    call = decide(org, "call-1", MONDAY)
    assert call.outcome == "invite"
    claim = decide(org, "claim-1", MONDAY + timedelta(hours=1), touchpoint="claim.settled")
    assert claim.reason == "quarantine"
    call.refresh_from_db()
    assert call.outcome == "invite"


@pytest.mark.parametrize(
    ("rule", "attributes", "excluded"),
    [
        ({"attribute": "employee", "operator": "is_true"}, {"employee": True}, True),
        ({"attribute": "employee", "operator": "is_true"}, {"employee": "oui"}, True),
        ({"attribute": "employee", "operator": "is_true"}, {"employee": False}, False),
        ({"attribute": "age", "operator": "less_than", "value": 18}, {"age": 16}, True),
        ({"attribute": "age", "operator": "less_than", "value": 18}, {"age": "42"}, False),
        ({"attribute": "age", "operator": "less_than", "value": 18}, {}, False),
        (
            {"attribute": "status", "operator": "in", "value": ["deceased", "litigation"]},
            {"status": "Deceased"},
            True,
        ),
        ({"attribute": "open_complaint", "operator": "is_set"}, {"open_complaint": "C-881"}, True),
        ({"attribute": "segment", "operator": "not_equals", "value": "retail"}, {"segment": "retail"}, False),
    ],
)
def test_exclusion_rules_on_customer_attributes(org, rule, attributes, excluded) -> None:  # noqa: ANN001
    open_all_day(org.organisation, exclusions=[rule])
    item = interaction_payload("e1", occurred_at=MONDAY)
    item["customer"]["attributes"] = attributes
    (result,) = ingest_interactions(organisation=org.organisation, items=[InteractionIn(**item)], now=MONDAY)
    assert (result.decision.reason == "excluded") is excluded
    if excluded:
        assert rule["attribute"] in explain(result.decision, "fr")


@pytest.mark.clock
def test_a_survey_that_cannot_leave_fresh_is_dropped(org) -> None:
    # Saturday 21:00; Sunday closed; Monday 10:00 is 37 hours later.
    open_all_day(
        org.organisation, send_from=time(10), send_until=time(20), send_on_sunday=False, freshness_hours=24
    )
    saturday_night = datetime(2026, 3, 7, 21, 0, tzinfo=PARIS)
    stale = decide(org, "e1", saturday_night)
    assert (stale.outcome, stale.reason) == ("skip", "stale")
    assert not Invitation.objects.filter(decision=stale).exists()
    assert "24" in explain(stale, "en")
    update_policy(organisation=org.organisation, changes={"freshness_hours": 48})
    fresh = decide(org, "e2", saturday_night, customer="C-2")
    assert fresh.outcome == "defer"
    assert fresh.send_before == saturday_night + timedelta(hours=48)


@pytest.mark.clock
def test_an_interaction_reported_late_is_judged_against_when_it_happened(org) -> None:
    open_all_day(org.organisation, freshness_hours=24)
    late = decide(org, "e1", MONDAY, occurred_at=MONDAY - timedelta(hours=30))
    assert late.reason == "stale"


@pytest.mark.clock
def test_without_a_freshness_limit_a_late_survey_still_leaves(org) -> None:
    open_all_day(org.organisation, freshness_hours=0)
    late = decide(org, "e1", MONDAY, occurred_at=MONDAY - timedelta(days=30))
    assert (late.outcome, late.send_before) == ("invite", None)
    message = OutboundMessage.objects.get(invitation__decision=late)
    deliver_message(message_id=message.id, now=MONDAY + timedelta(days=10))
    message.refresh_from_db()
    assert message.status == "sent"


@pytest.mark.clock
def test_each_channel_has_its_own_sending_window(org) -> None:
    open_all_day(
        org.organisation,
        send_from=time(8),
        send_until=time(21),
        channel_sending={"sms": {"from": "10:00", "until": "19:00"}},
    )
    early = datetime(2026, 3, 3, 9, 0, tzinfo=PARIS)
    by_email = decide(org, "e1", early)
    assert (by_email.channel, by_email.outcome) == ("email", "invite")
    by_sms = decide(org, "e2", early, customer="C-2", email=None)
    assert (by_sms.channel, by_sms.outcome) == ("sms", "defer")
    assert by_sms.planned_at == datetime(2026, 3, 3, 10, 0, tzinfo=PARIS)


@pytest.mark.clock
def test_a_customer_abroad_is_not_texted_on_their_own_public_holiday(org) -> None:
    open_all_day(
        org.organisation,
        send_from=time(10),
        send_until=time(20),
        send_on_sunday=False,
        send_on_holidays=False,
    )
    # 4 July 2026 is a Saturday and Independence Day in the United States, not in France.
    july_4 = datetime(2026, 7, 4, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    item = interaction_payload("e1", occurred_at=july_4, phone="+1 212 555 0142", email=None)
    item["customer"]["time_zone"] = "America/New_York"
    (us,) = ingest_interactions(organisation=org.organisation, items=[InteractionIn(**item)], now=july_4)
    assert us.decision.outcome == "defer"
    assert us.decision.planned_at == datetime(2026, 7, 6, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    fr = decide(org, "e2", july_4, customer="C-2", email=None)
    assert fr.outcome == "invite"


def test_an_opt_out_stops_a_message_already_queued(org) -> None:
    from avis.customers.services import opt_out_customer

    open_all_day(org.organisation, send_from=time(10), send_until=time(20))
    evening = datetime(2026, 3, 2, 21, 0, tzinfo=PARIS)
    deferred = decide(org, "e1", evening)
    message = OutboundMessage.objects.get(invitation__decision=deferred)
    opt_out_customer(organisation=org.organisation, external_id="C-1", channel="all", source="phone call")
    deliver_message(message_id=message.id, now=evening + timedelta(hours=14))
    message.refresh_from_db()
    assert message.status == "cancelled"
    assert message.sent_at is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"windows": []}, "windows"),
        ({"windows": [{"max": 0, "days": 30}]}, "windows.0.max"),
        ({"windows": [{"max": 1}]}, "windows.0"),
        (
            {"exclusions": [{"attribute": "age", "operator": "younger_than", "value": 18}]},
            "exclusions.0.operator",
        ),
        (
            {"exclusions": [{"attribute": "age", "operator": "less_than", "value": "eighteen"}]},
            "exclusions.0.value",
        ),
        ({"touchpoint_gaps": {"call_center.call": -3}}, "touchpoint_gaps.call_center.call"),
        ({"channel_sending": {"fax": {}}}, "channel_sending"),
        ({"channel_sending": {"sms": {"from": "25:00"}}}, "channel_sending.sms.from"),
        ({"sampling_rates": {"branch.visit": 1.5}}, "sampling_rates.branch.visit"),
    ],
)
def test_an_invalid_policy_is_refused_with_its_field_and_publishes_nothing(org, changes, field) -> None:  # noqa: ANN001
    before = update_policy(organisation=org.organisation, changes={}).version
    with pytest.raises(ValidationFailed) as refused:
        update_policy(organisation=org.organisation, changes=changes)
    assert refused.value.field == field
    assert update_policy(organisation=org.organisation, changes={}).version == before + 1
