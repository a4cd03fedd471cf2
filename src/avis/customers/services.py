from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.audit.services import record
from avis.customers.models import Channel, Customer, EmailStatus, OptOut, PhoneStatus
from avis.customers.signals import customer_erased
from avis.errors import NotFound, Unavailable, ValidationFailed
from avis.journal import record_erasure


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
        withdrawn_at__isnull=True,
        defaults={"source": source, "created_at": timezone.now()},
    )
    return opt_out


@transaction.atomic
def opt_out_customers(
    *, organisation: Organisation, customer_ids: list[int], channel: str = Channel.ALL, source: str
) -> list[OptOut]:
    """Record an opt-out for each customer; returns only the new ones (a second STOP changes nothing)."""
    already = set(
        OptOut.objects.filter(
            organisation=organisation,
            customer_id__in=customer_ids,
            channel=channel,
            withdrawn_at__isnull=True,
        ).values_list("customer_id", flat=True)
    )
    now = timezone.now()
    return [
        OptOut.objects.create(
            organisation=organisation, customer_id=customer_id, channel=channel, source=source, created_at=now
        )
        for customer_id in dict.fromkeys(customer_ids)
        if customer_id not in already
    ]


@transaction.atomic
def withdraw_opt_outs(*, organisation: Organisation, customer_ids: list[int], source: str) -> int:
    """The customers want surveys again (START): their opt-outs end but stay in their history."""
    return OptOut.objects.filter(
        organisation=organisation, customer_id__in=customer_ids, withdrawn_at__isnull=True
    ).update(withdrawn_at=timezone.now(), withdrawn_source=source)


def record_email_status(*, customer_id: int, email: str, status: str, at: datetime | None = None) -> bool:
    """Record what a mail server said about a customer's address; True if it changed.

    Like phones, only while the customer still has that address. A complaint
    outranks a bounce: both stop email, but the complaint is what the customer said.
    """
    if status not in EmailStatus.values:
        raise ValueError(f"unknown email status {status!r}")
    customers = Customer.objects.filter(id=customer_id, email__iexact=email).exclude(email_status=status)
    if status == EmailStatus.OK:
        return bool(customers.update(email_status=status, email_failed_at=None))
    if status == EmailStatus.INVALID:
        customers = customers.exclude(email_status=EmailStatus.COMPLAINED)
    return bool(customers.update(email_status=status, email_failed_at=at or timezone.now()))


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


@transaction.atomic
def erase_customer(*, organisation: Organisation, external_id: str, now: datetime | None = None) -> Customer:
    """Erase what identifies a customer, everywhere, and journal it so a restored backup erases it again.

    The row stays (anonymised) so the decisions and answers that counted in
    the figures still count: erasure removes the person, not the statistics.
    Higher apps erase what they hold (messages, comments) on ``customer_erased``.
    """
    customer = (
        Customer.objects.select_for_update()
        .filter(organisation=organisation, external_id=external_id)
        .first()
    )
    if customer is None:
        raise NotFound("No such customer.")
    return erase_customers(organisation=organisation, customer_ids=[customer.id], now=now)[0]


def erase_customers(
    *, organisation: Organisation, customer_ids: list[int], now: datetime | None = None, journal: bool = True
) -> list[Customer]:
    """The erasure of ``erase_customer`` for known ids; ``journal=False`` when a restore re-applies it."""
    now = now or timezone.now()
    with transaction.atomic():
        customers = list(Customer.objects.filter(organisation=organisation, id__in=customer_ids))
        # Read before blanking: messages the outbox wrote to these addresses outside any
        # invitation (keyword answers), and texts nobody could attribute, are found by them.
        phones = sorted({customer.phone for customer in customers if customer.phone})
        emails = sorted({customer.email for customer in customers if customer.email})
        for customer in customers:
            customer.external_id = f"erased-{customer.id}"
            customer.phone = customer.email = ""
            customer.attributes = {}
            customer.updated_at = now
        Customer.objects.bulk_update(customers, ["external_id", "phone", "email", "attributes", "updated_at"])
        ids = [customer.id for customer in customers]
        customer_erased.send(
            sender=Customer, organisation=organisation, customer_ids=ids, phones=phones, emails=emails
        )
        if journal:
            # Inside the transaction: an erasure the journal could not keep is not made.
            try:
                for customer_id in ids:
                    record_erasure(organisation_id=organisation.id, customer_id=customer_id, at=now)
            except OSError as exc:
                raise Unavailable(f"The erasure could not be journaled beside the backups: {exc}") from exc
            # The trail names the row, never who it was: that is what was erased.
            for customer_id in ids:
                record(
                    organisation=organisation,
                    action="customer.erased",
                    object_type="customer",
                    object_id=customer_id,
                    at=now,
                )
    return customers
