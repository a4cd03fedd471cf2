from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.customers.models import Channel, Customer, OptOut
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
