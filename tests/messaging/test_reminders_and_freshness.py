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
from avis.messaging.dispatch import Delivery, deliver_message
from avis.messaging.models import OutboundMessage
from avis.messaging.reminders import queue_due_reminders
from avis.surveys.models import Invitation
from tests.helpers import answer, open_all_day, post_interaction

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


@pytest.fixture
def sent(org, api, smtp_server, settings) -> Invitation:  # noqa: ANN001
    """An email invitation that has just left, its reminder set for 48 hours later."""
    settings.AVIS_REMINDER_DELAY_HOURS = 48
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1").status_code == 200
    message = OutboundMessage.objects.get(kind="invitation")
    assert deliver_message(message_id=message.id) == Delivery.SENT
    return Invitation.objects.get()


def reminders() -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(kind="reminder"))


def test_one_reminder_goes_out_after_the_delay(sent, smtp_server) -> None:
    due = sent.reminder_due_at
    assert due == sent.sent_at + timedelta(hours=48)
    assert queue_due_reminders() == 0  # not due yet: nothing written
    assert reminders() == []
    assert queue_due_reminders(now=due) == 1
    [reminder] = reminders()
    assert (reminder.recipient, reminder.channel) == ("marie.dupont@example.fr", "email")
    assert reminder.not_before == due
    assert deliver_message(message_id=reminder.id, now=due) == Delivery.SENT
    subject = str(make_header(decode_header(smtp_server.messages[-1]["Subject"])))
    assert subject.startswith(("Reminder", "Rappel"))
    assert deliver_message(message_id=reminder.id, now=due) == Delivery.NOT_MINE
    assert queue_due_reminders(now=due + timedelta(days=1)) == 0  # one reminder, never two
    assert len(smtp_server.messages) == 2
    assert len(reminders()) == 1


def _parts(message) -> dict[str, str]:  # noqa: ANN001
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    }


def test_the_reminder_says_it_is_a_reminder_in_both_parts(sent, smtp_server) -> None:
    """As received: the invitation asks, the reminder says it wrote already; each its own words."""
    queue_due_reminders(now=sent.reminder_due_at)
    [reminder] = reminders()
    deliver_message(message_id=reminder.id, now=sent.reminder_due_at)
    first, second = (_parts(m) for m in smtp_server.messages)
    assert "Vous avez récemment été en contact" in first["text/plain"]
    assert "Nous vous avons écrit récemment" not in first["text/plain"]
    for part in ("text/plain", "text/html"):
        assert "Nous vous avons écrit récemment" in second[part]
        assert "Vous avez récemment été en contact" not in second[part]
    assert "&#x27;" not in second["text/plain"] and "n'avons pas encore" in second["text/plain"]


def test_no_reminder_after_a_response(sent, smtp_server) -> None:
    due = sent.reminder_due_at
    answer(sent.token, nps="8")
    assert queue_due_reminders(now=due) == 0
    assert reminders() == []
    assert len(smtp_server.messages) == 1


def test_a_reminder_written_before_the_response_stays_home(sent, smtp_server) -> None:
    queue_due_reminders(now=sent.reminder_due_at)
    answer(sent.token, nps="8")
    [reminder] = reminders()
    assert deliver_message(message_id=reminder.id, now=reminder.not_before) == Delivery.CANCELLED
    assert len(smtp_server.messages) == 1


def test_no_reminder_after_an_opt_out(sent, smtp_server, org) -> None:
    opt_out_customer(organisation=org.organisation, external_id="C-1")
    assert queue_due_reminders(now=sent.reminder_due_at) == 0
    assert reminders() == []


def test_a_reminder_written_before_the_opt_out_stays_home(sent, smtp_server, org) -> None:
    queue_due_reminders(now=sent.reminder_due_at)
    opt_out_customer(organisation=org.organisation, external_id="C-1")
    [reminder] = reminders()
    assert deliver_message(message_id=reminder.id, now=reminder.not_before) == Delivery.CANCELLED
    assert len(smtp_server.messages) == 1


def test_no_reminder_when_the_delay_is_zero(org, api, smtp_server, settings) -> None:
    settings.AVIS_REMINDER_DELAY_HOURS = 0
    open_all_day(org.organisation)
    post_interaction(api, "evt-1")
    deliver_message(message_id=OutboundMessage.objects.get(kind="invitation").id)
    assert Invitation.objects.get().reminder_due_at is None
    assert queue_due_reminders(now=timezone.now() + timedelta(days=30)) == 0


def test_no_reminder_once_the_invitation_has_expired(sent, smtp_server) -> None:
    assert queue_due_reminders(now=sent.expires_at) == 0
    assert reminders() == []


def test_reminder_waits_for_the_sending_hours(sent, org) -> None:
    # The window narrows after the invitation left: the reminder still respects it.
    open_all_day(org.organisation, send_from=time(9, 0), send_until=time(9, 30))
    queue_due_reminders(now=sent.reminder_due_at)
    [reminder] = reminders()
    local = reminder.not_before.astimezone(ZoneInfo("Europe/Paris"))
    assert time(9, 0) <= local.time() <= time(9, 30)
    assert reminder.not_before >= sent.reminder_due_at


def test_reminders_written_late_wait_for_the_next_sending_hours(sent, org) -> None:
    """A scheduler that was down when the reminder fell due must not send it in the night."""
    open_all_day(org.organisation, send_from=time(9, 0), send_until=time(20, 0))
    paris = ZoneInfo("Europe/Paris")
    late = (sent.reminder_due_at.astimezone(paris) + timedelta(days=1)).replace(
        hour=23, minute=0, second=0, microsecond=0
    )
    queue_due_reminders(now=late)
    [reminder] = reminders()
    assert reminder.not_before.astimezone(paris) == (late + timedelta(days=1)).replace(hour=9, minute=0)


@pytest.fixture
def texted(org, api, settings) -> Invitation:  # noqa: ANN001
    """An SMS invitation that has just left through the simulator."""
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    post_interaction(api, "evt-1", email=None)
    deliver_message(message_id=OutboundMessage.objects.get(kind="invitation").id)
    return Invitation.objects.get()


def reply_seven() -> None:
    receive_sms(
        provider="simulator",
        provider_message_id=uuid.uuid4().hex,
        sender="+33612345678",
        recipient="",
        text="7",
    )


def test_no_sms_reminder_once_the_customer_replied(texted) -> None:
    reply_seven()
    assert queue_due_reminders(now=texted.reminder_due_at) == 0
    assert reminders() == []


def test_an_sms_reminder_written_before_the_reply_stays_home(texted) -> None:
    queue_due_reminders(now=texted.reminder_due_at)
    [reminder] = reminders()
    assert (reminder.channel, reminder.recipient) == ("sms", "+33612345678")
    reply_seven()
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


def test_the_scheduler_writes_reminders_as_they_fall_due(
    sent, smtp_server, django_capture_on_commit_callbacks
) -> None:
    from avis.messaging import tasks

    assert tasks.queue_due_reminders.call_local() == 0
    Invitation.objects.update(reminder_due_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.queue_due_reminders.call_local() == 1
    # Due already: its wake-up follows the commit (tasks run inline in tests), and it leaves.
    assert OutboundMessage.objects.get(kind="reminder").status == "sent"
    assert len(smtp_server.messages) == 2
    assert Invitation.objects.get().reminder_due_at is None
