"""The outbox after a restore: messages that left after the backup was taken must not leave again."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from avis.messaging.models import MessageStatus, OutboundMessage


@transaction.atomic
def record_sent_after_backup(*, sent: dict[str, datetime]) -> int:
    """The backup shows these messages waiting, but a provider took them since (the journal says when).

    They become what a worker leaves when it dies between recording a send
    and booking it: "sending" with their ``sent_at``. The outbox sweep then
    books them (status, conversation, invitation sent) and never posts them.
    Returns how many were waiting in the restored outbox.
    """
    waiting = list(
        OutboundMessage.objects.filter(
            idempotency_key__in=list(sent), status__in=[MessageStatus.PENDING, MessageStatus.SENDING]
        ).only("id", "idempotency_key")
    )
    for message in waiting:
        at = sent[message.idempotency_key]
        message.status, message.sent_at, message.claimed_at = MessageStatus.SENDING, at, at
    OutboundMessage.objects.bulk_update(waiting, ["status", "sent_at", "claimed_at"], batch_size=500)
    return len(waiting)
