"""The outbox: one row per message to send, queued in the transaction that decides it, and the
wake-ups that hand due rows to the workers (dispatch.py sends them). See docs/channels.md."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.bulk import insert_rows, new_row
from avis.customers.models import Channel
from avis.messaging.models import Conversation, MessageKind, MessageStatus, OutboundMessage
from avis.messaging.queries import provider_name
from avis.queue import wake
from avis.surveys.models import Invitation
from avis.surveys.services import cancel_invitation

NOTIFICATION_PRIORITY = 10
INVITATION_PRIORITY = 0
ENQUEUE_CHUNK = 200


def queue_invitations(
    *, organisation: Organisation, invitations: Sequence[Invitation]
) -> list[OutboundMessage]:
    """One outbox row per invitation; due ones are handed to the workers once committed."""
    if not invitations:
        return []
    names = {
        channel: provider_name(organisation_id=organisation.id, channel=channel)
        for channel in {inv.channel for inv in invitations}
    }
    now = timezone.now()
    rows = [
        new_row(
            OutboundMessage,
            organisation=organisation,
            kind=MessageKind.INVITATION,
            channel=inv.channel,
            provider=names[inv.channel],
            recipient=inv.customer.email if inv.channel == Channel.EMAIL else inv.customer.phone,
            invitation=inv,
            idempotency_key=f"invitation-{inv.id}",
            priority=INVITATION_PRIORITY,
            not_before=inv.planned_at,
            enqueued_at=now if inv.planned_at <= now else None,  # woken once committed
        )
        for inv in invitations
    ]
    with transaction.atomic(savepoint=False):  # within the ingest's transaction: no savepoint
        insert_rows(rows)
        enqueue_on_commit(rows)
    return rows


def queue_notification(
    *,
    organisation: Organisation,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str = "",
    key: str,
    channel: str = Channel.EMAIL,
    not_before: datetime | None = None,
) -> list[OutboundMessage]:
    """Notify each recipient once per ``key`` (e.g. ``case-12-opened``): by email, or by SMS
    (``channel="sms"``, recipients are E.164 numbers, ``text`` is the whole message).
    ``not_before`` holds a message back (the sweep hands it over when due)."""
    name = provider_name(organisation_id=organisation.id, channel=channel)
    rows = [
        OutboundMessage(
            organisation=organisation,
            kind=MessageKind.NOTIFICATION,
            channel=channel,
            provider=name,
            recipient=recipient,
            subject=subject[:255],
            body_text=text,
            body_html=html,
            idempotency_key=f"{key}-{recipient}"[:100],
            priority=NOTIFICATION_PRIORITY,
            not_before=not_before or timezone.now(),
        )
        for recipient in recipients
    ]
    with transaction.atomic():
        OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
        saved = list(OutboundMessage.objects.filter(idempotency_key__in=[r.idempotency_key for r in rows]))
        enqueue_on_commit(saved)
    return saved


def withdraw_notifications(*, organisation: Organisation, message_ids: Sequence[int], reason: str) -> int:
    """Cancel notifications still waiting in the outbox (one already being sent is past stopping)."""
    return OutboundMessage.objects.filter(
        organisation=organisation,
        id__in=list(message_ids),
        kind=MessageKind.NOTIFICATION,
        status=MessageStatus.PENDING,
    ).update(status=MessageStatus.CANCELLED, last_error=reason)


def enqueue_on_commit(rows: Sequence[OutboundMessage]) -> None:
    """Wake workers for the due rows once the transaction that wrote them commits.

    Their ``enqueued_at`` (which tells the sweep a wake-up went out) is written
    in that same transaction, at insert when the caller set it, so a wake-up
    costs no write of its own after the commit: on SQLite, one less turn at the
    write lock that webhooks wait for.
    """
    now = timezone.now()
    due = [row for row in rows if row.not_before <= now]
    if not due:
        return
    unmarked = [row.id for row in due if row.enqueued_at is None]
    if unmarked:
        OutboundMessage.objects.filter(id__in=unmarked).update(enqueued_at=now)
    pairs = [(row.id, row.priority) for row in due]
    transaction.on_commit(lambda: _wake(pairs))


def enqueue_messages(messages: Sequence[tuple[int, int]], *, delay: int = 0) -> None:
    """Wake workers for these (id, priority) pairs, a chunk of ids per task, after ``delay`` s."""
    ids_all = [message_id for message_id, _ in messages]
    for start in range(0, len(ids_all), 2000):
        OutboundMessage.objects.filter(id__in=ids_all[start : start + 2000]).update(
            enqueued_at=timezone.now() + timedelta(seconds=delay)
        )
    _wake(messages, delay=delay)


def _wake(messages: Sequence[tuple[int, int]], *, delay: int = 0) -> None:
    from avis.messaging.tasks import deliver_messages

    by_priority: dict[int, list[int]] = {}
    for message_id, priority in messages:
        by_priority.setdefault(priority, []).append(message_id)
    for priority, ids in by_priority.items():
        for start in range(0, len(ids), ENQUEUE_CHUNK):
            chunk = ids[start : start + ENQUEUE_CHUNK]
            if delay:
                sent = wake(
                    lambda chunk=chunk, priority=priority: deliver_messages.schedule(
                        args=(chunk,), delay=delay, priority=priority
                    ),
                    what=f"{len(chunk)} messages",
                )
            else:
                sent = wake(
                    lambda chunk=chunk, priority=priority: deliver_messages(chunk, priority=priority),
                    what=f"{len(chunk)} messages",
                )
            if not sent:
                return


def cancel_queued_messages(
    *, organisation: Organisation, customer_ids: Sequence[int], channel: str = Channel.ALL
) -> int:
    """Withdraw what waits in the outbox for these customers (a row already being sent is past stopping)."""
    queued = OutboundMessage.objects.filter(
        organisation=organisation, invitation__customer_id__in=customer_ids, status=MessageStatus.PENDING
    ).exclude(kind=MessageKind.SERVICE)
    if channel != Channel.ALL:
        queued = queued.filter(channel=channel)
    invitation_ids = set(queued.values_list("invitation_id", flat=True))
    count = queued.update(status=MessageStatus.CANCELLED, last_error="customer opted out")
    for invitation_id in invitation_ids:
        cancel_invitation(invitation_id=invitation_id)
    return count


def insert_once(rows: Sequence[Conversation | OutboundMessage]) -> None:
    """Insert rows that a booking done twice may have written already; those already there stand.

    ``insert_rows`` costs a fraction of ``bulk_create``; a conflict (a
    conversation per invitation, a reminder key) can only come from a
    repeated booking, and then ``bulk_create`` skips the rows that exist.
    """
    if not rows:
        return
    try:
        with transaction.atomic():
            insert_rows(rows)
    except IntegrityError:
        type(rows[0]).objects.bulk_create(rows, ignore_conflicts=True)  # type: ignore[attr-defined]
