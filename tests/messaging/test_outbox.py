"""The outbox sends each message once, survives failures, and honours late opt-outs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from avis.customers.services import opt_out_customer
from avis.messaging import dispatch
from avis.messaging.models import OutboundMessage
from avis.messaging.tasks import deliver_messages
from avis.surveys.models import Invitation
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(org, api, settings):  # noqa: ANN001
    """One invitation in the outbox, not yet sent (no worker running)."""
    from huey.contrib.djhuey import HUEY

    open_all_day(org.organisation)
    HUEY.immediate = False
    HUEY.storage.flush_queue() if hasattr(HUEY.storage, "flush_queue") else None
    try:
        assert post_interaction(api, "evt-1").status_code == 200
    finally:
        HUEY.immediate = True
    message = OutboundMessage.objects.get()
    assert message.status == "pending"
    return message


def test_task_that_runs_twice_sends_once(queued, smtp_server) -> None:
    first = deliver_messages.call_local([queued.id])
    second = deliver_messages.call_local([queued.id])
    assert first == {"sent": 1}
    assert second == {"not_mine": 1}
    assert len(smtp_server.messages) == 1
    queued.refresh_from_db()
    assert queued.status == "sent"
    assert Invitation.objects.get().status == "sent"


def test_unreachable_smtp_server_leaves_the_message_for_a_later_try(queued, settings) -> None:
    settings.AVIS_EMAIL_PROVIDER = "smtp"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens on the discard port
    assert dispatch.deliver_message(message_id=queued.id) == dispatch.Delivery.RETRY
    queued.refresh_from_db()
    assert queued.status == "pending"
    assert queued.attempts == 1
    assert queued.last_error
    assert queued.not_before > timezone.now() + timedelta(seconds=20)


def test_opt_out_after_queueing_stops_the_message(queued, smtp_server) -> None:
    opt_out_customer(organisation=queued.organisation, external_id="C-1", channel="email")
    assert dispatch.deliver_message(message_id=queued.id) == dispatch.Delivery.CANCELLED
    assert smtp_server.messages == []
    assert Invitation.objects.get().status == "cancelled"


def test_sweep_hands_back_a_message_whose_worker_died(queued, smtp_server, settings) -> None:
    stale = timezone.now() - timedelta(seconds=settings.AVIS_OUTBOX_STALE_SECONDS + 60)
    OutboundMessage.objects.filter(id=queued.id).update(status="sending", claimed_at=stale, enqueued_at=stale)
    dispatch.sweep_outbox()  # tasks run inline in tests: the sweep's wake-up sends it
    queued.refresh_from_db()
    assert queued.status == "sent"
    assert len(smtp_server.messages) == 1


def test_sweep_books_without_resending_a_message_its_dead_worker_had_sent(
    queued, smtp_server, settings
) -> None:
    # The worker recorded that the server took the message, then died before booking it.
    stale = timezone.now() - timedelta(seconds=settings.AVIS_OUTBOX_STALE_SECONDS + 60)
    OutboundMessage.objects.filter(id=queued.id).update(
        status="sending", claimed_at=stale, sent_at=stale, provider_message_id="<invitation-1@avis>"
    )
    dispatch.sweep_outbox()
    queued.refresh_from_db()
    assert (queued.status, queued.sent_at) == ("sent", stale)
    invitation = Invitation.objects.get()
    assert invitation.status == "sent"
    assert invitation.reminder_due_at == stale + timedelta(hours=settings.AVIS_REMINDER_DELAY_HOURS)
    assert smtp_server.messages == []


@pytest.fixture
def five_queued(org, api) -> list[int]:  # noqa: ANN001
    """Five email invitations in the outbox, to five customers, not yet sent."""
    from huey.contrib.djhuey import HUEY

    open_all_day(org.organisation)
    HUEY.immediate = False
    try:
        for i in range(5):
            post_interaction(api, f"b-{i}", customer=f"B-{i}", email=f"client{i}@example.fr")
    finally:
        HUEY.immediate = True
    return list(OutboundMessage.objects.order_by("id").values_list("id", flat=True))


def test_one_task_sends_a_batch_and_withholds_only_the_opted_out(org, five_queued, smtp_server) -> None:
    opt_out_customer(organisation=org.organisation, external_id="B-3", channel="email")
    ids = five_queued
    assert deliver_messages.call_local(ids) == {"sent": 4, "cancelled": 1}
    assert deliver_messages.call_local(ids) == {"not_mine": 5}
    assert sorted(m["To"] for m in smtp_server.messages) == [f"client{i}@example.fr" for i in (0, 1, 2, 4)]
    assert sorted(Invitation.objects.values_list("status", flat=True)) == ["cancelled"] + ["sent"] * 4
    assert Invitation.objects.filter(reminder_due_at__isnull=False).count() == 4  # the sent ones


def test_a_batch_outliving_its_lease_renews_its_claim_and_sends_each_message_once(
    five_queued, smtp_server, settings
) -> None:
    settings.AVIS_OUTBOX_STALE_SECONDS = 0  # the claim is renewed before every message
    assert deliver_messages.call_local(five_queued) == {"sent": 5}
    assert len(smtp_server.messages) == 5
    assert set(OutboundMessage.objects.filter(kind="invitation").values_list("status", flat=True)) == {"sent"}


def test_sweep_leaves_a_message_a_live_worker_holds(queued, smtp_server) -> None:
    OutboundMessage.objects.filter(id=queued.id).update(status="sending", claimed_at=timezone.now())
    dispatch.sweep_outbox()
    queued.refresh_from_db()
    assert queued.status == "sending"
    assert smtp_server.messages == []


def test_email_has_text_and_html_parts_with_the_link(queued, smtp_server) -> None:
    dispatch.deliver_message(message_id=queued.id)
    (email,) = smtp_server.messages
    token = Invitation.objects.get().token
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in email.walk()
        if not part.is_multipart()
    }
    assert f"/s/{token}" in parts["text/plain"]
    assert f"/s/{token}" in parts["text/html"]
    assert email["Message-ID"].startswith(f"<invitation-{Invitation.objects.get().id}@")
