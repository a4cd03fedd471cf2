"""Email feedback: one-click unsubscribe (RFC 8058), bounces and complaints."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from avis.customers.models import Channel, Customer, EmailStatus
from avis.customers.services import opt_out_customers, record_email_status
from avis.messaging.models import OutboundMessage
from avis.messaging.outbox import cancel_queued_messages
from avis.surveys.models import Invitation


def unsubscribe_by_token(*, token: str, source: str = "email:list-unsubscribe") -> bool:
    """The customer of this invitation wants no more survey email (RFC 8058 one-click); False if unknown."""
    invitation = Invitation.objects.select_related("organisation").filter(token=token).first()
    if invitation is None:
        return False
    with transaction.atomic():
        opt_out_customers(
            organisation=invitation.organisation,
            customer_ids=[invitation.customer_id],
            channel=Channel.EMAIL,
            source=source,
        )
        cancel_queued_messages(
            organisation=invitation.organisation, customer_ids=[invitation.customer_id], channel=Channel.EMAIL
        )
    return True


def record_email_bounce(
    *, recipient: str, complaint: bool = False, message_id: str = "", at: datetime | None = None
) -> int:
    """A mail server refused an address for good, or its owner flagged our mail as spam.

    Marks the address on the customers it belongs to (the one the message went
    to when ``message_id`` is ours, else every customer with that address), so
    governance stops choosing email for them. A complaint is also an email
    opt-out: the customer said so, in the only way their mail client offers.
    Returns how many customers were marked.
    """
    at = at or timezone.now()
    status = EmailStatus.COMPLAINED if complaint else EmailStatus.INVALID
    customers: list[Customer]
    message = (
        OutboundMessage.objects.filter(provider_message_id=message_id, channel=Channel.EMAIL)
        .select_related("invitation__customer")
        .first()
        if message_id
        else None
    )
    if message is not None and message.invitation is not None:
        customers = [message.invitation.customer]
    else:
        customers = list(Customer.objects.filter(email__iexact=recipient.strip())[:100])
    marked = 0
    with transaction.atomic():
        for customer in customers:
            marked += record_email_status(customer_id=customer.id, email=customer.email, status=status, at=at)
            if complaint:
                opt_out_customers(
                    organisation=customer.organisation,
                    customer_ids=[customer.id],
                    channel=Channel.EMAIL,
                    source="email:complaint",
                )
    return marked
