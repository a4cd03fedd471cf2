"""What the messaging app holds about an erased customer: addresses, texts, conversations."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from avis.accounts.models import Organisation
from avis.messaging.models import (
    Conversation,
    ConversationState,
    InboundMessage,
    MessageKind,
    MessageStatus,
    OutboundMessage,
)


@transaction.atomic
def erase_customer_messages(
    *,
    organisation: Organisation,
    customer_ids: list[int],
    phones: list[str] | None = None,
    emails: list[str] | None = None,
) -> int:
    """Blank the numbers, addresses and texts to and from these customers; a message not sent yet is
    cancelled (it has no one to go to). Statuses, dates and costs stay: they are the outbox's history.

    Messages are found by invitation, by conversation, and by the customer's former number or
    address (a keyword answer to STOP belongs to no invitation); texts by customer, and by number
    when no organisation could be told apart for them (they are this person's words all the same).
    """
    addresses = [*(phones or []), *(emails or [])]
    outbound = OutboundMessage.objects.filter(
        Q(invitation__customer_id__in=customer_ids)
        | Q(conversation__customer_id__in=customer_ids)
        | Q(recipient__in=addresses),
        organisation=organisation,
    )
    outbound.filter(status__in=[MessageStatus.PENDING, MessageStatus.SENDING], sent_at__isnull=True).update(
        status=MessageStatus.CANCELLED, last_error="customer erased"
    )
    erased = outbound.update(recipient="", subject="", body_text="", body_html="", last_error="")
    inbound = InboundMessage.objects.filter(
        Q(organisation=organisation, customer_id__in=customer_ids)
        | Q(organisation=organisation, sender__in=phones or [])
        | Q(organisation__isnull=True, sender__in=phones or [])
    )
    erased += inbound.update(sender="", text="")
    Conversation.objects.filter(organisation=organisation, customer_id__in=customer_ids).update(
        phone="", answers={}, comments=[]
    )
    return erased


@transaction.atomic
def erase_messages_before(*, organisation: Organisation, before: datetime) -> int:
    """Retention: texts and bodies of messages older than ``before`` are blanked; the rows stay (they
    are the outbox's history, its costs and the delivery figures). Returns how many were blanked."""
    outbound = (
        OutboundMessage.objects.filter(organisation=organisation, created_at__lt=before)
        .exclude(status__in=[MessageStatus.PENDING, MessageStatus.SENDING])
        .exclude(recipient="", subject="", body_text="", body_html="")
    )
    erased = outbound.update(recipient="", subject="", body_text="", body_html="", last_error="")
    erased += (
        InboundMessage.objects.filter(organisation=organisation, received_at__lt=before)
        .exclude(sender="", text="")
        .update(sender="", text="")
    )
    Conversation.objects.filter(organisation=organisation, last_activity_at__lt=before).exclude(
        state=ConversationState.OPEN
    ).update(phone="", answers={}, comments=[])
    return erased


@transaction.atomic
def erase_notifications(*, organisation: Organisation, key_prefixes: list[str]) -> int:
    """Blank the texts of staff notifications whose key starts with one of ``key_prefixes`` (a case's
    notifications quote the customer's words); one not sent yet is cancelled, having nothing to say."""
    if not key_prefixes:
        return 0
    about = Q()
    for prefix in key_prefixes:
        about |= Q(idempotency_key__startswith=prefix)
    notifications = OutboundMessage.objects.filter(
        about, organisation=organisation, kind=MessageKind.NOTIFICATION
    )
    notifications.filter(
        status__in=[MessageStatus.PENDING, MessageStatus.SENDING], sent_at__isnull=True
    ).update(status=MessageStatus.CANCELLED, last_error="customer erased")
    return notifications.exclude(subject="", body_text="", body_html="").update(
        subject="", body_text="", body_html=""
    )
