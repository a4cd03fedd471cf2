"""The owner of a case is texted through the outbox and a real local SMS gateway: once, at a
decent hour unless the case is critical, only if they gave a mobile and want the text."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from avis.accounts.models import Membership, Role
from avis.accounts.services import add_member, update_notification_settings
from avis.cases.calendar import is_holiday
from avis.cases.models import Case
from avis.cases.services import escalate_overdue_cases, save_alert_rule, save_assignment_rules, take_case
from avis.messaging.dispatch import Delivery, deliver_message
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Invitation
from avis.surveys.services import submit_response
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.clock]
PARIS = ZoneInfo("Europe/Paris")
OWNER_PHONE = "+33612345678"


def _working_day(start: date, step: int) -> date:
    """The first weekday from ``start`` on (going by ``step`` days) that is not a French holiday."""
    day = start
    while day.weekday() >= 5 or is_holiday(day, "FR"):
        day += timedelta(days=step)
    return day


def _recent_working_morning() -> datetime:
    """10:00 on a past working day: the text is due as soon as the case opens."""
    return datetime.combine(_working_day(timezone.localdate() - timedelta(days=1), -1), time(10), PARIS)


def _coming_weeknight() -> tuple[datetime, datetime]:
    """23:30 on a coming working day, and 09:00 on the next working day (the next opening)."""
    night = _working_day(timezone.localdate() + timedelta(days=2), 1)
    morning = _working_day(night + timedelta(days=1), 1)
    return datetime.combine(night, time(23, 30), PARIS), datetime.combine(morning, time(9), PARIS)


def _member(organisation, email: str, *, phone: str = "", **choices: bool):  # noqa: ANN001, ANN202
    membership = add_member(organisation=organisation, email=email, role=Role.MANAGER, password=PASSWORD)
    update_notification_settings(
        organisation=organisation,
        membership_id=membership.id,
        mobile_phone=phone,
        sms_when_assigned=choices.get("assigned", True),
        sms_when_escalated=choices.get("escalated", True),
    )
    return membership.user


def _owners(organisation, *users) -> None:  # noqa: ANN001
    save_assignment_rules(
        organisation=organisation, steps=[{"strategy": "fallback", "user_id": user.pk} for user in users]
    )


def _unhappy(api: Client, event: str, *, at: datetime, customer: str = "C-1", **answers: str) -> Case:
    assert post_interaction(api, event, customer=customer).status_code == 200
    invitation = Invitation.objects.get(interaction__external_id=event)
    submit_response(token=invitation.token, answers={"nps": "2", **answers}, now=at)
    return Case.objects.get(customer__external_id=customer, organisation=invitation.organisation)


def _texts_to(gateway, phone: str) -> list[str]:  # noqa: ANN001
    return [m["text"] for r in gateway.received for m in r.json()["messages"] if m["to"] == phone]


@pytest.fixture
def setup(org):  # noqa: ANN001, ANN201
    open_all_day(org.organisation, quarantine_days=0)
    return org


def test_a_new_case_texts_its_owner_once(setup, api, gateway) -> None:
    owner = _member(setup.organisation, "owner@example.fr", phone="06 12 34 56 78")
    _owners(setup.organisation, owner)
    case = _unhappy(api, "evt-1", at=_recent_working_morning())
    (text,) = _texts_to(gateway, OWNER_PHONE)
    assert f"https://avis.example.fr/cases/{case.id}/" in text
    assert "C-1" in text  # no first name was sent: the customer's reference
    assert str(case.id) in text
    # A second unhappy answer joins the case: no second text.
    _unhappy(api, "evt-2", at=_recent_working_morning())
    assert len(_texts_to(gateway, OWNER_PHONE)) == 1
    message = OutboundMessage.objects.get(channel="sms", kind="notification")
    assert (message.status, message.provider, message.segments) == ("sent", "http", 1)


def test_the_timeline_says_the_sms_was_sent(setup, api, gateway) -> None:
    owner = _member(setup.organisation, "owner@example.fr", phone="06 12 34 56 78")
    _owners(setup.organisation, owner)
    case = _unhappy(api, "evt-1", at=_recent_working_morning())
    client = Client()
    assert client.login(username=setup.manager_email, password=PASSWORD)
    page = client.get(f"/cases/{case.id}/").content.decode()
    assert 'data-sms="sent"' in page
    assert "SMS sent to owner@example.fr (+33612345678)" in page


def test_the_customers_first_name_is_used_in_gsm7(setup, api, gateway) -> None:
    owner = _member(setup.organisation, "owner@example.fr", phone="06 12 34 56 78")
    _owners(setup.organisation, owner)
    reply = api.post(
        "/api/v1/interactions",
        {
            "external_id": "evt-named",
            "touchpoint": "call_center.call",
            "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
            "customer": {
                "external_id": "C-9",
                "email": "m@example.fr",
                "attributes": {"first_name": "Zoë"},
            },
        },
        content_type="application/json",
    )
    assert reply.status_code == 200, reply.content
    invitation = Invitation.objects.get(interaction__external_id="evt-named")
    submit_response(token=invitation.token, answers={"nps": "1"}, now=_recent_working_morning())
    (text,) = _texts_to(gateway, OWNER_PHONE)
    assert "Zoe" in text and "C-9" not in text  # in GSM-7: one segment, not a dearer UCS-2 text
    assert OutboundMessage.objects.get(channel="sms", kind="notification").segments == 1


def test_an_owner_without_a_mobile_gets_no_sms(setup, api, gateway) -> None:
    _owners(setup.organisation, _member(setup.organisation, "owner@example.fr"))
    _unhappy(api, "evt-1", at=_recent_working_morning())
    assert not OutboundMessage.objects.filter(channel="sms", kind="notification").exists()
    assert not [r for r in gateway.received if r.json()["messages"][0]["to"] == OWNER_PHONE]


def test_an_owner_who_chose_no_texts_for_new_cases_gets_none(setup, api, gateway) -> None:
    owner = _member(setup.organisation, "owner@example.fr", phone="0612345678", assigned=False)
    _owners(setup.organisation, owner)
    _unhappy(api, "evt-1", at=_recent_working_morning())
    assert _texts_to(gateway, OWNER_PHONE) == []


def test_an_escalation_texts_the_new_owner_once(setup, api, gateway) -> None:
    first = _member(setup.organisation, "first@example.fr", assigned=False)
    second = _member(setup.organisation, "second@example.fr", phone="06 98 76 54 32", assigned=False)
    _owners(setup.organisation, first, second)
    case = _unhappy(api, "evt-1", at=_recent_working_morning())
    assert _texts_to(gateway, "+33698765432") == []
    # The scheduler runs a minute after the deadline (which may lie ahead of the real clock, and
    # after closing time: the text then waits for the next opening).
    late = case.due_at + timedelta(minutes=1)
    with time_machine.travel(late, tick=False):
        assert escalate_overdue_cases() == 1
        assert escalate_overdue_cases() == 0  # the task ran twice: one escalation, one text
    message = OutboundMessage.objects.get(channel="sms", kind="notification", recipient="+33698765432")
    assert late <= message.not_before and 8 <= message.not_before.astimezone(PARIS).hour < 21
    with time_machine.travel(message.not_before, tick=False):
        deliver_message(message_id=message.id)
    (text,) = _texts_to(gateway, "+33698765432")
    assert f"/cases/{case.id}/" in text


def test_a_case_opened_at_night_is_texted_at_the_next_opening(setup, api, gateway, settings) -> None:
    settings.AVIS_INVITATION_TTL_DAYS = 30
    _owners(setup.organisation, _member(setup.organisation, "owner@example.fr", phone="0612345678"))
    night, morning = _coming_weeknight()
    _unhappy(api, "evt-1", at=night)
    message = OutboundMessage.objects.get(channel="sms", kind="notification")
    assert message.not_before == morning
    assert deliver_message(message_id=message.id, now=night + timedelta(hours=2)) == Delivery.NOT_MINE
    assert _texts_to(gateway, OWNER_PHONE) == []
    assert deliver_message(message_id=message.id, now=morning) == Delivery.SENT
    assert len(_texts_to(gateway, OWNER_PHONE)) == 1


def test_a_critical_case_wakes_its_owner(setup, api, gateway, settings) -> None:
    settings.AVIS_INVITATION_TTL_DAYS = 30
    save_alert_rule(
        organisation=setup.organisation, changes={"condition": "detractor", "threshold": 1, "severity": 4}
    )
    _owners(setup.organisation, _member(setup.organisation, "owner@example.fr", phone="0612345678"))
    night, _morning = _coming_weeknight()
    case = _unhappy(api, "evt-1", at=night, nps="0")
    assert case.severity == 4
    message = OutboundMessage.objects.get(channel="sms", kind="notification")
    assert message.not_before == night
    assert deliver_message(message_id=message.id, now=night) == Delivery.SENT


def test_a_waiting_text_is_withdrawn_once_the_case_is_taken(setup, api, gateway, settings) -> None:
    settings.AVIS_INVITATION_TTL_DAYS = 30
    owner = _member(setup.organisation, "owner@example.fr", phone="0612345678")
    _owners(setup.organisation, owner)
    night, morning = _coming_weeknight()
    case = _unhappy(api, "evt-1", at=night)
    take_case(organisation=setup.organisation, case_id=case.id, user=owner)
    message = OutboundMessage.objects.get(channel="sms", kind="notification")
    assert deliver_message(message_id=message.id, now=morning) == Delivery.NOT_MINE
    assert message.__class__.objects.get(id=message.id).status == "cancelled"
    assert _texts_to(gateway, OWNER_PHONE) == []


def test_a_case_texts_the_number_given_in_its_own_organisation(setup, other_org, api, gateway) -> None:
    """One person in two organisations, with a mobile in each: each tenant texts its own."""
    person = _member(setup.organisation, "both@example.fr", phone="06 12 34 56 78")
    _member(other_org.organisation, "both@example.fr", phone="06 98 76 54 32")
    open_all_day(other_org.organisation, quarantine_days=0)
    _owners(other_org.organisation, person)
    other_api = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    _unhappy(other_api, "b-evt-1", at=_recent_working_morning(), customer="B-1")
    assert _texts_to(gateway, OWNER_PHONE) == []
    assert len(_texts_to(gateway, "+33698765432")) == 1
    message = OutboundMessage.objects.get(channel="sms", kind="notification")
    assert message.organisation_id == other_org.organisation.id
    assert Membership.objects.filter(user=person).count() == 2


def test_the_text_warns_when_the_customer_asked_not_to_be_called(setup, api, gateway) -> None:
    from django.utils import translation

    from avis.surveys.services import create_standard_survey

    create_standard_survey(
        organisation=setup.organisation, touchpoint=setup.touchpoints["call_center.call"], ask_callback=True
    )
    _owners(setup.organisation, _member(setup.organisation, "owner@example.fr", phone="0612345678"))
    _unhappy(api, "evt-1", at=_recent_working_morning(), callback="no")
    (text,) = _texts_to(gateway, OWNER_PHONE)
    with translation.override(setup.organisation.default_locale):
        assert translation.gettext("Do not call") in text
