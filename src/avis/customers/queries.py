from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.customers.models import Customer, DataImport, OptOut
from avis.errors import NotFound


def customer_by_external_id(*, organisation: Organisation, external_id: str) -> Customer:
    customer = Customer.objects.filter(organisation=organisation, external_id=external_id).first()
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def opted_out_channels(*, organisation: Organisation, customer_ids: list[int]) -> dict[int, set[str]]:
    """Channels each customer refused, read in one query for a whole batch."""
    refused: dict[int, set[str]] = {}
    rows = OptOut.objects.filter(
        organisation=organisation, customer_id__in=customer_ids, withdrawn_at__isnull=True
    )
    for customer_id, channel in rows.values_list("customer_id", "channel"):
        refused.setdefault(customer_id, set()).add(channel)
    return refused


def customer_opt_outs(*, organisation: Organisation, customer: Customer) -> list[OptOut]:
    """Every opt-out of the customer, withdrawn ones included: their history, newest first."""
    return list(
        OptOut.objects.filter(organisation=organisation, customer=customer).order_by("-created_at", "-id")
    )


def imports_of(*, organisation: Organisation, limit: int = 20) -> QuerySet[DataImport]:
    return DataImport.objects.filter(organisation=organisation).order_by("-created_at", "-id")[:limit]


def import_of(*, organisation: Organisation, import_id: int) -> DataImport:
    data_import = DataImport.objects.filter(organisation=organisation, id=import_id).first()
    if data_import is None:
        raise NotFound(_("No such import."))
    return data_import
