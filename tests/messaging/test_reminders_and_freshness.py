"""One reminder at most, in sending hours, never after an answer or opt-out; stale invitations expire."""

from __future__ import annotations

import uuid
from datetime import time, timedelta
from email.header import decode_header, make_header
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from avis.customers.services import opt_out_customer
from avis.governance.models import Decision
from avis.messaging.conversations import receive_sms
from avis.messaging.models import OutboundMessage
from avis.messaging.services import Delivery, deliver_message
from avis.surveys.models import Invitation
from tests.helpers import answer, open_all_day, post_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(org, api, smtp_server, settings):  # noqa: ANN001
    settings.AVIS_REMINDER_DELAY_HOURS = 48
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1").status_code == 200
    message = OutboundMessage.objects.get(kind="invitation")
    assert deliver_message(message_id=message.id) == Delivery.SENT
    return OutboundMessage.objects.get(kind="reminder")


def test_one_reminder_goes_out_after_the_delay(sent, smtp_server) -> None:
    assert sent.not_before >= timezone.now() + timedelta(hours=47, minutes=59)
    assert deliver_message(message_id=sent.id) == Delivery.NOT_MINE  # not due yet
    assert deliver_message(message_id=sent.id, now=sent.not_before) == Delivery.SENT
    subject = str(make_header(decode_header(smtp_server.messages[-1]["Subject"])))
    assert subject.startswith(("Reminder", "Rappel"))
    assert deliver_message(message_id=sent.id, now=sent.not_before) == Delivery.NOT_MINE
    assert len(smtp_server.messages) == 2
    assert OutboundMessage.objects.filter(kind="reminder").count() == 1


def test_no_reminder_after_a_response(sent, smtp_server) -> None:
    answer(Invitation.objects.get().token, nps="8")
    assert deliver_message(message_id=sent.id, now=sent.not_before) == Delivery.CANCELLED
    assert len(smtp_server.messages) == 1


def test_no_reminder_after_an_opt_out(sent, smtp_server, org) -> None:
    opt_out_customer(organisation=org.organisation, external_id="C-1")
    assert deliver_message(message_id=sent.id, now=sent.not_before) == Delivery.CANCELLED
    assert len(smtp_server.messages) == 1


def test_reminder_waits_for_the_sending_hours(org, api, smtp_server, settings) -> None:
    settings.AVIS_REMINDER_DELAY_HOURS = 30
    open_all_day(org.organisation)
    post_interaction(api, "evt-1")
    deliver_message(message_id=OutboundMessage.objects.get(kind="invitation").id)
    # The window narrows after the invitation left: the reminder still respects it.
    OutboundMessage.objects.filter(kind="reminder").delete()
    open_all_day(org.organisation, send_from=time(9, 0), send_until=time(9, 30))
    from avis.messaging.services import _queue_reminders

    message = OutboundMessage.objects.select_related("invitation__customer", "organisation").get(
        kind="invitation"
    )
    message.sent_at = timezone.now()
    _queue_reminders([message])
    reminder = OutboundMessage.objects.get(kind="reminder")
    local = reminder.not_before.astimezone(ZoneInfo("Europe/Paris"))
    assert time(9, 0) <= local.time() <= time(9, 30)
    assert reminder.not_before >= timezone.now() + timedelta(hours=30)


def test_no_sms_reminder_once_the_customer_replied(org, api, settings) -> None:
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    post_interaction(api, "evt-1", email=None)
    deliver_message(message_id=OutboundMessage.objects.get(kind="invitation").id)
    receive_sms(
        provider="simulator",
        provider_message_id=uuid.uuid4().hex,
        sender="+33612345678",
        recipient="",
        text="7",
    )
    reminder = OutboundMessage.objects.get(kind="reminder")
    assert deliver_message(message_id=reminder.id, now=reminder.not_before) == Delivery.CANCELLED


def test_invitation_past_its_send_before_expires_instead_of_leaving(org, api, smtp_server) -> None:
    open_all_day(org.organisation)
    post_interaction(api, "evt-1")
    Decision.objects.update(send_before=timezone.now() - timedelta(minutes=1))
    message = OutboundMessage.objects.get(kind="invitation")
    assert deliver_message(message_id=message.id) == Delivery.CANCELLED
    message.refresh_from_db()
    assert message.status == "expired"
    assert Invitation.objects.get().status == "cancelled"
    assert smtp_server.messages == []


def test_invitation_before_its_send_before_leaves(org, api, smtp_server) -> None:
    open_all_day(org.organisation)
    post_interaction(api, "evt-1")
    Decision.objects.update(send_before=timezone.now() + timedelta(hours=1))
    assert deliver_message(message_id=OutboundMessage.objects.get(kind="invitation").id) == Delivery.SENT
