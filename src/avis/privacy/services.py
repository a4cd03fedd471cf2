"""GDPR rights over one customer, and the retention policy over all of them.

``export_customer`` and ``erase_customer`` are the single doors every face (API, command line,
pages) goes through: an audit trail hooks here. Erasure itself lives in ``customers.services``
and reaches the other apps through ``customer_erased``, so that ``avis restore`` re-applies it
whole from the journal.
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import CharField, Max, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.audit.services import record, snapshot
from avis.cases.erasure import erase_case_notes_before
from avis.customers import services as customer_services
from avis.customers.models import Customer
from avis.errors import ValidationFailed
from avis.messaging.erasure import erase_messages_before
from avis.privacy.export import customer_data
from avis.privacy.models import RetentionPolicy, RetentionRun
from avis.surveys.services import erase_comments_before

logger = logging.getLogger(__name__)

# Customers erased per transaction by the retention run: bounded, so a first run on years of
# history neither holds a lock for minutes nor journals one enormous batch.
ERASE_BATCH = 500
_POLICY_FIELDS = ("is_active", "comment_months", "message_months", "inactive_customer_months")


def export_customer(
    *,
    organisation: Organisation,
    external_id: str,
    actor: Any = None,
    via: str = "api",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything held on one customer (see ``privacy.export``); ``actor`` and ``via`` say who asked."""
    data = customer_data(organisation=organisation, external_id=external_id, now=now)
    customer_id = (
        Customer.objects.filter(organisation=organisation, external_id=external_id)
        .values_list("id", flat=True)
        .get()
    )
    # The trail names the row and how it was asked for; the data stay in the export.
    record(
        organisation=organisation,
        action="customer.exported",
        object_type="customer",
        object_id=customer_id,  # the row only: an erasure must leave no trace of who it was
        after={"via": via},
    )
    # No customer id in the log: the log is read by more people than the export.
    logger.info("gdpr export of one customer of organisation %s via %s", organisation.slug, via)
    return data


def erase_customer(
    *,
    organisation: Organisation,
    external_id: str,
    actor: Any = None,
    via: str = "api",
    now: datetime | None = None,
) -> Customer:
    """Erase one customer everywhere (the figures stay); ``actor`` and ``via`` say who asked."""
    customer = customer_services.erase_customer(organisation=organisation, external_id=external_id, now=now)
    logger.info("gdpr erasure of one customer of organisation %s via %s", organisation.slug, via)
    return customer


# ---------------------------------------------------------------- retention


def retention_policy(*, organisation: Organisation) -> RetentionPolicy:
    """The organisation's policy; the defaults (CNIL's durations) until an admin saves one."""
    found = RetentionPolicy.objects.filter(organisation=organisation).first()
    return found or RetentionPolicy(organisation=organisation)


@transaction.atomic
def update_retention_policy(
    *,
    organisation: Organisation,
    is_active: bool,
    comment_months: int,
    message_months: int,
    inactive_customer_months: int,
    user: Any = None,
) -> RetentionPolicy:
    """Save the policy; every duration between 1 and 120 months."""
    values = {
        "comment_months": comment_months,
        "message_months": message_months,
        "inactive_customer_months": inactive_customer_months,
    }
    for field, months in values.items():
        if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 120:
            raise ValidationFailed("A duration is a whole number of months from 1 to 120.", field=field)
    policy = retention_policy(organisation=organisation)
    before = snapshot(policy, fields=_POLICY_FIELDS) if policy.pk else {}
    for field, months in values.items():
        setattr(policy, field, months)
    policy.is_active = is_active
    policy.updated_at = timezone.now()
    policy.updated_by = user if getattr(user, "is_authenticated", False) else None
    policy.save()
    record(
        organisation=organisation,
        action="retention.changed",
        target=policy,
        before=before,
        after=snapshot(policy, fields=_POLICY_FIELDS),
    )
    return policy


def months_before(moment: datetime, months: int) -> datetime:
    """The same instant ``months`` calendar months earlier (31 March less one month: 28/29 February)."""
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def inactive_customers(*, organisation: Organisation, before: datetime) -> list[int]:
    """Customers not yet erased whose last interaction (or, with none, their creation) is older
    than ``before``: CNIL's "3 years after the last contact from the customer"."""
    return list(
        Customer.objects.filter(organisation=organisation, created_at__lt=before)
        .exclude(external_id=Concat(Value("erased-"), Cast("id", CharField())))
        .annotate(last=Max("interactions__occurred_at"))
        .filter(Q(last__lt=before) | Q(last__isnull=True))
        .order_by("id")
        .values_list("id", flat=True)
    )


def apply_retention(*, organisation: Organisation, now: datetime | None = None) -> RetentionRun:
    """Apply the organisation's policy once, in one transaction, and record the report.

    Blanking comments and messages leaves scores, statuses and dates in place, and erasing an
    inactive customer anonymises it (see ``erase_customers``): the figures never move.
    """
    now = now or timezone.now()
    policy = retention_policy(organisation=organisation)
    report: dict[str, Any] = {
        "active": policy.is_active,
        "comment_months": policy.comment_months,
        "message_months": policy.message_months,
        "inactive_customer_months": policy.inactive_customer_months,
        "comments": 0,
        "case_notes": 0,
        "messages": 0,
        "customers": 0,
    }
    with transaction.atomic():
        if policy.is_active:
            comments_before = months_before(now, policy.comment_months)
            report["comments"] = erase_comments_before(organisation=organisation, before=comments_before)
            report["case_notes"] = erase_case_notes_before(organisation=organisation, before=comments_before)
            report["messages"] = erase_messages_before(
                organisation=organisation, before=months_before(now, policy.message_months)
            )
            ids = inactive_customers(
                organisation=organisation, before=months_before(now, policy.inactive_customer_months)
            )
            for start in range(0, len(ids), ERASE_BATCH):
                customer_services.erase_customers(
                    organisation=organisation, customer_ids=ids[start : start + ERASE_BATCH], now=now
                )
            report["customers"] = len(ids)
        run = RetentionRun.objects.create(
            organisation=organisation, started_at=now, finished_at=timezone.now(), ok=True, report=report
        )
    logger.info(
        "retention for organisation %s: %s comments, %s case notes, %s messages blanked, %s customers erased",
        organisation.slug,
        report["comments"],
        report["case_notes"],
        report["messages"],
        report["customers"],
    )
    return run


def apply_retention_everywhere(*, now: datetime | None = None) -> list[RetentionRun]:
    """The scheduler's daily run: every organisation in turn; one that fails is logged and recorded,
    and the others go on (its own transaction rolled back, nothing half-erased)."""
    now = now or timezone.now()
    runs = []
    for organisation in Organisation.objects.order_by("id"):
        try:
            runs.append(apply_retention(organisation=organisation, now=now))
        except Exception as exc:
            logger.exception("retention failed for organisation %s", organisation.slug)
            runs.append(
                RetentionRun.objects.create(
                    organisation=organisation,
                    started_at=now,
                    finished_at=timezone.now(),
                    ok=False,
                    error=f"{type(exc).__name__}: {exc}"[:1000],
                )
            )
    return runs
