"""What the messaging app holds about an erased customer: addresses, texts, conversations."""

from __future__ import annotations

from django.db import transaction

from avis.accounts.models import Organisation
from avis.messaging.models import Conversation, InboundMessage, MessageStatus, OutboundMessage


@transaction.atomic
def erase_customer_messages(*, organisation: Organisation, customer_ids: list[int]) -> int:
    """Blank the numbers, addresses and texts to and from these customers; a message not sent yet is
    cancelled (it has no one to go to). Statuses, dates and costs stay: they are the outbox's history."""
    outbound = OutboundMessage.objects.filter(
        organisation=organisation, invitation__customer_id__in=customer_ids
    )
    outbound.filter(status__in=[MessageStatus.PENDING, MessageStatus.SENDING], sent_at__isnull=True).update(
        status=MessageStatus.CANCELLED, last_error="customer erased"
    )
    erased = outbound.update(recipient="", subject="", body_text="", body_html="")
    erased += InboundMessage.objects.filter(organisation=organisation, customer_id__in=customer_ids).update(
        sender="", text=""
    )
    Conversation.objects.filter(organisation=organisation, customer_id__in=customer_ids).update(
        phone="", comments=[]
    )
    return erased
