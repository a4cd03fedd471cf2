from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.customers.models import Channel
from avis.customers.queries import opted_out_channels
from avis.messaging.models import MessageKind, MessageStatus, OutboundMessage
from avis.messaging.providers import Envelope, PermanentFailure, TransientFailure, provider_for
from avis.messaging.rendering import render_invitation
from avis.surveys.models import Invitation
from avis.surveys.services import cancel_invitation, mark_invitation_sent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
NOTIFICATION_PRIORITY = 10
INVITATION_PRIORITY = 0
ENQUEUE_CHUNK = 200


class Delivery(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_MINE = "not_mine"  # already sent, claimed by another worker, or not due yet


def retry_delay(attempts: int) -> int:
    """Seconds before the next try: 30 s, 1 min, 2 min … capped at one hour."""
    return min(30 * 2 ** max(attempts - 1, 0), 3600)


def _provider_name(channel: str) -> str:
    return provider_for(channel).name


def queue_invitations(
    *, organisation: Organisation, invitations: Sequence[Invitation]
) -> list[OutboundMessage]:
    """One outbox row per invitation; due ones are handed to the workers once committed."""
    if not invitations:
        return []
    names = {channel: _provider_name(channel) for channel in {inv.channel for inv in invitations}}
    rows = [
        OutboundMessage(
            organisation=organisation,
            kind=MessageKind.INVITATION,
            channel=inv.channel,
            provider=names[inv.channel],
            recipient=inv.customer.email if inv.channel == Channel.EMAIL else inv.customer.phone,
            invitation=inv,
            idempotency_key=f"invitation-{inv.id}",
            priority=INVITATION_PRIORITY,
            not_before=inv.planned_at,
        )
        for inv in invitations
    ]
    with transaction.atomic():
        OutboundMessage.objects.bulk_create(rows, batch_size=500)
        _enqueue_on_commit(rows)
    return rows


def queue_notification(
    *,
    organisation: Organisation,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str = "",
    key: str,
) -> list[OutboundMessage]:
    """Email each recipient once per ``key`` (e.g. ``case-12-opened``)."""
    rows = [
        OutboundMessage(
            organisation=organisation,
            kind=MessageKind.NOTIFICATION,
            channel=Channel.EMAIL,
            provider=_provider_name(Channel.EMAIL),
            recipient=recipient,
            subject=subject[:255],
            body_text=text,
            body_html=html,
            idempotency_key=f"{key}-{recipient}"[:100],
            priority=NOTIFICATION_PRIORITY,
        )
        for recipient in recipients
    ]
    with transaction.atomic():
        OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
        saved = list(OutboundMessage.objects.filter(idempotency_key__in=[r.idempotency_key for r in rows]))
        _enqueue_on_commit(saved)
    return saved


def _enqueue_on_commit(rows: Sequence[OutboundMessage]) -> None:
    now = timezone.now()
    due = [(row.id, row.priority) for row in rows if row.not_before <= now]
    if due:
        transaction.on_commit(lambda: enqueue_messages(due))


def enqueue_messages(messages: Sequence[tuple[int, int]], *, delay: int = 0) -> None:
    """Wake workers for these (id, priority) pairs, a chunk of ids per task, after ``delay`` s."""
    from avis.messaging.tasks import deliver_messages

    ids_all = [message_id for message_id, _ in messages]
    for start in range(0, len(ids_all), 2000):
        OutboundMessage.objects.filter(id__in=ids_all[start : start + 2000]).update(
            enqueued_at=timezone.now() + timedelta(seconds=delay)
        )
    by_priority: dict[int, list[int]] = {}
    for message_id, priority in messages:
        by_priority.setdefault(priority, []).append(message_id)
    for priority, ids in by_priority.items():
        for start in range(0, len(ids), ENQUEUE_CHUNK):
            chunk = ids[start : start + ENQUEUE_CHUNK]
            if delay:
                deliver_messages.schedule(args=(chunk,), delay=delay, priority=priority)
            else:
                deliver_messages(chunk, priority=priority)


def _envelope(message: OutboundMessage) -> Envelope:
    if message.invitation is not None:
        return render_invitation(
            message.invitation, recipient=message.recipient, idempotency_key=message.idempotency_key
        )
    return Envelope(
        recipient=message.recipient,
        subject=message.subject,
        text=message.body_text,
        html=message.body_html,
        idempotency_key=message.idempotency_key,
    )


def _refused(message: OutboundMessage) -> bool:
    """An opt-out recorded after the message was queued still stops it."""
    invitation = message.invitation
    if invitation is None:
        return False
    refused = opted_out_channels(organisation=message.organisation, customer_ids=[invitation.customer_id])
    channels = refused.get(invitation.customer_id, set())
    return Channel.ALL in channels or message.channel in channels


def deliver_message(*, message_id: int, now: datetime | None = None) -> Delivery:
    """Send one outbox row if it is due and nobody else has it."""
    now = now or timezone.now()
    # The conditional update is the claim: of two workers woken for the same
    # row, only the one whose UPDATE matched sends it.
    claimed = OutboundMessage.objects.filter(
        id=message_id, status=MessageStatus.PENDING, not_before__lte=now
    ).update(status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return Delivery.NOT_MINE
    message = OutboundMessage.objects.select_related(
        "organisation", "invitation__organisation", "invitation__touchpoint"
    ).get(id=message_id)
    if _refused(message):
        _finish(message, MessageStatus.CANCELLED, error="customer opted out")
        cancel_invitation(invitation_id=message.invitation_id)  # type: ignore[arg-type]
        return Delivery.CANCELLED
    try:
        provider_id = provider_for(message.channel).send(_envelope(message))
    except PermanentFailure as exc:
        _finish(message, MessageStatus.FAILED, error=str(exc))
        return Delivery.FAILED
    except TransientFailure as exc:
        if message.attempts >= MAX_ATTEMPTS:
            _finish(message, MessageStatus.FAILED, error=f"gave up after {message.attempts} tries: {exc}")
            return Delivery.FAILED
        delay = retry_delay(message.attempts)
        OutboundMessage.objects.filter(id=message.id).update(
            status=MessageStatus.PENDING, last_error=str(exc), not_before=now + timedelta(seconds=delay)
        )
        logger.warning("message %s: transient failure (%s), retry in %s s", message.id, exc, delay)
        enqueue_messages([(message.id, message.priority)], delay=delay)
        return Delivery.RETRY
    sent_at = timezone.now()
    with transaction.atomic():
        OutboundMessage.objects.filter(id=message.id).update(
            status=MessageStatus.SENT, sent_at=sent_at, provider_message_id=provider_id, last_error=""
        )
        if message.invitation_id:
            mark_invitation_sent(invitation_id=message.invitation_id, at=sent_at)
    return Delivery.SENT


def _finish(message: OutboundMessage, status: str, *, error: str) -> None:
    OutboundMessage.objects.filter(id=message.id).update(status=status, last_error=error)


def sweep_outbox(*, now: datetime | None = None) -> int:
    """Hand to workers what is due and not in anybody's hands; returns how many."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.AVIS_OUTBOX_STALE_SECONDS)
    # A row still "sending" long after its claim belongs to a worker that died
    # between claim and result: give it back. The provider sees the same
    # idempotency key, so it can recognise a resend of the same message.
    OutboundMessage.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=stale).update(
        status=MessageStatus.PENDING
    )
    recently = now - timedelta(seconds=120)
    due = list(
        OutboundMessage.objects.filter(status=MessageStatus.PENDING, not_before__lte=now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=recently))
        .order_by("-priority", "not_before")
        .values_list("id", "priority")[:5000]
    )
    if due:
        enqueue_messages(due)
    return len(due)
