"""Reminders: written when they fall due, for the invitations still unanswered, in the sending hours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from avis.bulk import new_row
from avis.customers.models import Channel
from avis.customers.queries import opted_out_channels
from avis.governance.models import ContactPolicy
from avis.governance.services import current_policy, customer_country, next_sending_time
from avis.messaging.models import MessageKind, MessageStatus, OutboundMessage
from avis.messaging.outbox import INVITATION_PRIORITY, enqueue_on_commit, insert_once
from avis.messaging.queries import replied_by_sms
from avis.surveys.models import Invitation, InvitationStatus

# Due reminders written per transaction.
REMINDER_BATCH = 1000


def queue_due_reminders(*, now: datetime | None = None) -> int:
    """Write the reminders that fell due, one per invitation still unanswered, in the sending hours.

    A reminder is written when it falls due, not when its invitation leaves: the
    answers, opt-outs and sending hours of that moment decide, sending stays a
    post and a few statements, and customers who answered never get a row.
    Returns how many were written.
    """
    now = now or timezone.now()
    written = 0
    while True:
        due = list(
            Invitation.objects.select_related("organisation", "customer")
            .defer("customer__attributes")
            .filter(reminder_due_at__lte=now)
            .order_by("reminder_due_at")[:REMINDER_BATCH]
        )
        if not due:
            return written
        with transaction.atomic():
            reminders = _reminders_for(due, now=now) if settings.AVIS_REMINDER_DELAY_HOURS else []
            insert_once(reminders)
            Invitation.objects.filter(id__in=[invitation.id for invitation in due]).update(
                reminder_due_at=None
            )
            enqueue_on_commit([reminder for reminder in reminders if reminder.id is not None])
        written += len(reminders)
        if len(due) < REMINDER_BATCH:
            return written


def _reminders_for(invitations: Sequence[Invitation], *, now: datetime) -> list[OutboundMessage]:
    """The reminder rows for these due invitations, skipping the answered, the replied and the opted out.

    Each goes to the address its invitation went to, at the first moment from now
    that the sending hours allow, if that is before the invitation expires.
    """
    ids = [invitation.id for invitation in invitations]
    first_sends = {
        invitation_id: (channel, provider, recipient)
        for invitation_id, channel, provider, recipient in OutboundMessage.objects.filter(
            invitation_id__in=ids, kind=MessageKind.INVITATION, status=MessageStatus.SENT
        ).values_list("invitation_id", "channel", "provider", "recipient")
    }
    replied = replied_by_sms(ids)
    by_organisation: dict[int, list[Invitation]] = {}
    for invitation in invitations:
        by_organisation.setdefault(invitation.organisation_id, []).append(invitation)
    refused: dict[int, set[str]] = {}
    policies: dict[int, ContactPolicy] = {}
    for organisation_id, group in by_organisation.items():
        organisation = group[0].organisation
        policies[organisation_id] = current_policy(organisation=organisation)
        refused |= opted_out_channels(organisation=organisation, customer_ids=[i.customer_id for i in group])
    reminders = []
    for invitation in invitations:
        sent = first_sends.get(invitation.id)
        if invitation.status != InvitationStatus.SENT or sent is None or invitation.id in replied:
            continue
        channel, provider, recipient = sent
        if refused.get(invitation.customer_id, set()) & {Channel.ALL, channel}:
            continue
        customer = invitation.customer
        not_before = next_sending_time(
            policy=policies[invitation.organisation_id],
            at=max(invitation.reminder_due_at, now),  # type: ignore[type-var]
            time_zone=customer.time_zone,
            country=customer_country(customer, default="FR"),
            channel=channel,
        )
        if not_before >= invitation.expires_at:
            continue
        reminders.append(
            new_row(
                OutboundMessage,
                organisation_id=invitation.organisation_id,
                kind=MessageKind.REMINDER,
                channel=channel,
                provider=provider,
                recipient=recipient,
                invitation_id=invitation.id,
                idempotency_key=f"reminder-{invitation.id}",
                priority=INVITATION_PRIORITY,
                not_before=not_before,
            )
        )
    return reminders
