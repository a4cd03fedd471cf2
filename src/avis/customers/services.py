from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.customers.models import Channel, Customer, OptOut, PhoneStatus
from avis.errors import NotFound, ValidationFailed


@transaction.atomic
def opt_out_customer(
    *, organisation: Organisation, external_id: str, channel: str = Channel.ALL, source: str = "api"
) -> OptOut:
    """Record an opt-out; every later decision honours it at once."""
    if channel not in Channel.values:
        raise ValidationFailed(f"Unknown channel {channel!r}.", field="channel")
    customer = Customer.objects.filter(organisation=organisation, external_id=external_id).first()
    if customer is None:
        raise NotFound("No such customer.")
    opt_out, _ = OptOut.objects.get_or_create(
        organisation=organisation,
        customer=customer,
        channel=channel,
        defaults={"source": source, "created_at": timezone.now()},
    )
    return opt_out


def record_phone_status(*, customer_id: int, phone: str, status: str, at: datetime | None = None) -> bool:
    """Record what an SMS provider found out about a customer's number; True if it changed.

    Applies only while the customer still has that number: a report about a
    number they have since replaced says nothing about the new one.
    """
    if status not in PhoneStatus.values:
        raise ValueError(f"unknown phone status {status!r}")
    customers = Customer.objects.filter(id=customer_id, phone=phone).exclude(phone_status=status)
    if status == PhoneStatus.OK:
        return bool(customers.update(phone_status=status, phone_failed_at=None))
    if status == PhoneStatus.UNREACHABLE:
        # A number known not to exist stays so; being unreachable is the weaker finding.
        customers = customers.exclude(phone_status=PhoneStatus.INVALID)
    return bool(customers.update(phone_status=status, phone_failed_at=at or timezone.now()))
