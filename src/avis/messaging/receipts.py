"""Delivery receipts: a provider's report on a message we sent, and what it says about the number."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from avis.customers.models import Channel, PhoneStatus
from avis.customers.services import record_phone_status
from avis.messaging.models import DeliveryStatus, OutboundMessage
from avis.messaging.providers import failed_address_status

logger = logging.getLogger(__name__)


# How far along each delivery status is. Receipts arrive out of order (Twilio
# posts each change separately and retries the ones we didn't acknowledge): a
# receipt only moves a message forward, and a final status is never replaced.
_DELIVERY_RANK = {
    "": 0,
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.UNDELIVERED: 3,
    DeliveryStatus.FAILED: 3,
}


def record_delivery_receipt(
    *,
    provider: str,
    provider_message_id: str,
    status: str,
    error_code: str | None = None,
    at: datetime | None = None,
    organisation_id: int | None = None,
) -> OutboundMessage | None:
    """Apply a provider's report on one message; None when no message of ours has that id.

    ``organisation_id`` when the report came through that organisation's own
    account: only its messages are looked at (its webhook secret vouches for no other).

    Safe to apply twice. A final failure whose error code blames the number
    marks the customer's phone; a delivery clears an earlier mark.
    """
    if status not in DeliveryStatus.values:
        raise ValueError(f"unknown delivery status {status!r}")
    if not provider_message_id:
        return None
    at = at or timezone.now()
    earlier = [name for name, rank in _DELIVERY_RANK.items() if rank < _DELIVERY_RANK[status]]
    changes: dict[str, object] = {"delivery_status": status, "delivery_error_code": error_code or ""}
    if status == DeliveryStatus.DELIVERED:
        changes["delivered_at"] = at
    ours = OutboundMessage.objects.filter(provider=provider, provider_message_id=provider_message_id)
    if organisation_id is not None:
        ours = ours.filter(organisation_id=organisation_id)
    with transaction.atomic():
        # The status is part of the condition, so of two receipts handled at
        # once the one further along wins whichever commits first.
        moved = ours.filter(delivery_status__in=earlier).update(**changes)
        message = ours.select_related("invitation").first()
        if message is None:
            logger.info("%s receipt for unknown message %s", provider, provider_message_id)
            return None
        if moved and status in {DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED}:
            address_status = failed_address_status(provider, error_code or "")
            mark_failed_phone(message, address_status=address_status, at=at)
        elif moved and status == DeliveryStatus.DELIVERED:
            mark_failed_phone(message, address_status=PhoneStatus.OK, at=at)
    return message


def mark_failed_phone(message: OutboundMessage, *, address_status: str, at: datetime) -> None:
    invitation = message.invitation
    if not address_status or message.channel != Channel.SMS or invitation is None:
        return
    record_phone_status(
        customer_id=invitation.customer_id, phone=message.recipient, status=address_status, at=at
    )
