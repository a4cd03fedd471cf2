"""What the cases app holds about an erased customer: the notes written on their cases, the
notifications about them (which quote their words), and their reference in the webhook log."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from avis.accounts.models import Organisation
from avis.cases.models import Case, CaseEvent, EventKind, WebhookDelivery
from avis.messaging.erasure import erase_notifications

# A root cause's label is the organisation's own vocabulary, not something said about the customer.
_NOT_PERSONAL = [EventKind.ROOT_CAUSE]


@transaction.atomic
def erase_customer_cases(*, organisation: Organisation, customer_ids: list[int]) -> int:
    """Blank the notes of these customers' cases and name them by their erased reference in the
    delivery log; statuses, dates and outcomes stay, so time to contact and recovery rate don't move."""
    cases = Case.objects.filter(organisation=organisation, customer_id__in=customer_ids)
    erased = (
        CaseEvent.objects.filter(organisation=organisation, case__in=cases)
        .exclude(note="")
        .exclude(kind__in=_NOT_PERSONAL)
        .update(note="")
    )
    references = dict(cases.values_list("id", "customer__external_id"))
    deliveries = list(WebhookDelivery.objects.filter(organisation=organisation, case_id__in=list(references)))
    for delivery in deliveries:
        if isinstance(delivery.payload.get("case"), dict):
            delivery.payload["case"]["customer"] = references[delivery.case_id]
    WebhookDelivery.objects.bulk_update(deliveries, ["payload"])
    # The keys queue_notification was given for these cases (see cases.services): "case-<id>-…".
    erased += erase_notifications(
        organisation=organisation, key_prefixes=[f"case-{case_id}-" for case_id in references]
    )
    return erased


@transaction.atomic
def erase_case_notes_before(*, organisation: Organisation, before: datetime) -> int:
    """Retention: notes written before ``before`` are blanked; the timeline keeps its steps."""
    return (
        CaseEvent.objects.filter(organisation=organisation, at__lt=before)
        .exclude(note="")
        .exclude(kind__in=_NOT_PERSONAL)
        .update(note="")
    )
