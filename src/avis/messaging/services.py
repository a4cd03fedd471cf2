from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, OuterRef, Q, Subquery, prefetch_related_objects
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.bulk import collector_paused, insert_rows, new_row
from avis.customers.models import Channel, Customer, EmailStatus, PhoneStatus
from avis.customers.queries import opted_out_channels
from avis.customers.services import opt_out_customers, record_email_status, record_phone_status
from avis.governance.models import ContactPolicy
from avis.governance.services import current_policy, customer_country, next_sending_time
from avis.interactions.models import Touchpoint
from avis.messaging.models import (
    Conversation,
    DeliveryStatus,
    InboundMessage,
    MessageKind,
    MessageStatus,
    OutboundMessage,
)
from avis.messaging.providers import (
    Envelope,
    PermanentFailure,
    Provider,
    TransientFailure,
    failed_address_status,
    provider_for,
)
from avis.messaging.rate_limit import limit_for, wait_for_turn
from avis.messaging.rendering import first_question, render_invitation, sms_invitation_text
from avis.messaging.sms_encoding import measure_sms
from avis.surveys.models import Invitation, InvitationStatus, Survey
from avis.surveys.services import cancel_invitation, mark_invitation_sent, mark_invitations_sent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
NOTIFICATION_PRIORITY = 10
INVITATION_PRIORITY = 0
ENQUEUE_CHUNK = 200
# Messages that left are booked (status, conversation, invitation) in groups of this many
# (a task's whole batch), and at least this often: a reply can arrive seconds after the text.
BOOKING_GROUP = 200
BOOKING_SECONDS = 0.5
# Due reminders written per transaction.
REMINDER_BATCH = 1000


class Delivery(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_MINE = "not_mine"  # already sent, claimed by another worker, or not due yet


def retry_delay(attempts: int) -> int:
    """Seconds before the next try: 30 s, 1 min, 2 min … capped at one hour."""
    return min(30 * 2 ** max(attempts - 1, 0), 3600)


def _provider_name(channel: str) -> str:
    return provider_for(channel).name


def queue_invitations(
    *, organisation: Organisation, invitations: Sequence[Invitation]
) -> list[OutboundMessage]:
    """One outbox row per invitation; due ones are handed to the workers once committed."""
    if not invitations:
        return []
    names = {channel: _provider_name(channel) for channel in {inv.channel for inv in invitations}}
    now = timezone.now()
    rows = [
        new_row(
            OutboundMessage,
            organisation=organisation,
            kind=MessageKind.INVITATION,
            channel=inv.channel,
            provider=names[inv.channel],
            recipient=inv.customer.email if inv.channel == Channel.EMAIL else inv.customer.phone,
            invitation=inv,
            idempotency_key=f"invitation-{inv.id}",
            priority=INVITATION_PRIORITY,
            not_before=inv.planned_at,
            enqueued_at=now if inv.planned_at <= now else None,  # woken once committed
        )
        for inv in invitations
    ]
    with transaction.atomic():
        insert_rows(rows)
        enqueue_on_commit(rows)
    return rows


def queue_notification(
    *,
    organisation: Organisation,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str = "",
    key: str,
    channel: str = Channel.EMAIL,
    not_before: datetime | None = None,
) -> list[OutboundMessage]:
    """Notify each recipient once per ``key`` (e.g. ``case-12-opened``): by email, or by SMS
    (``channel="sms"``, recipients are E.164 numbers, ``text`` is the whole message).
    ``not_before`` holds a message back (the sweep hands it over when due)."""
    rows = [
        OutboundMessage(
            organisation=organisation,
            kind=MessageKind.NOTIFICATION,
            channel=channel,
            provider=_provider_name(channel),
            recipient=recipient,
            subject=subject[:255],
            body_text=text,
            body_html=html,
            idempotency_key=f"{key}-{recipient}"[:100],
            priority=NOTIFICATION_PRIORITY,
            not_before=not_before or timezone.now(),
        )
        for recipient in recipients
    ]
    with transaction.atomic():
        OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
        saved = list(OutboundMessage.objects.filter(idempotency_key__in=[r.idempotency_key for r in rows]))
        enqueue_on_commit(saved)
    return saved


def withdraw_notifications(*, organisation: Organisation, message_ids: Sequence[int], reason: str) -> int:
    """Cancel notifications still waiting in the outbox (one already being sent is past stopping)."""
    return OutboundMessage.objects.filter(
        organisation=organisation,
        id__in=list(message_ids),
        kind=MessageKind.NOTIFICATION,
        status=MessageStatus.PENDING,
    ).update(status=MessageStatus.CANCELLED, last_error=reason)


def enqueue_on_commit(rows: Sequence[OutboundMessage]) -> None:
    """Wake workers for the due rows once the transaction that wrote them commits.

    Their ``enqueued_at`` (which tells the sweep a wake-up went out) is written
    in that same transaction, at insert when the caller set it, so a wake-up
    costs no write of its own after the commit: on SQLite, one less turn at the
    write lock that webhooks wait for.
    """
    now = timezone.now()
    due = [row for row in rows if row.not_before <= now]
    if not due:
        return
    unmarked = [row.id for row in due if row.enqueued_at is None]
    if unmarked:
        OutboundMessage.objects.filter(id__in=unmarked).update(enqueued_at=now)
    pairs = [(row.id, row.priority) for row in due]
    transaction.on_commit(lambda: _wake(pairs))


def enqueue_messages(messages: Sequence[tuple[int, int]], *, delay: int = 0) -> None:
    """Wake workers for these (id, priority) pairs, a chunk of ids per task, after ``delay`` s."""
    ids_all = [message_id for message_id, _ in messages]
    for start in range(0, len(ids_all), 2000):
        OutboundMessage.objects.filter(id__in=ids_all[start : start + 2000]).update(
            enqueued_at=timezone.now() + timedelta(seconds=delay)
        )
    _wake(messages, delay=delay)


def _wake(messages: Sequence[tuple[int, int]], *, delay: int = 0) -> None:
    from avis.messaging.tasks import deliver_messages

    by_priority: dict[int, list[int]] = {}
    for message_id, priority in messages:
        by_priority.setdefault(priority, []).append(message_id)
    for priority, ids in by_priority.items():
        for start in range(0, len(ids), ENQUEUE_CHUNK):
            chunk = ids[start : start + ENQUEUE_CHUNK]
            if delay:
                deliver_messages.schedule(args=(chunk,), delay=delay, priority=priority)
            else:
                deliver_messages(chunk, priority=priority)


def _envelope(message: OutboundMessage, *, texts: dict[tuple[int, str, bool], str | None]) -> Envelope:
    """What the message says; ``texts`` keeps the SMS invitations a batch has already written."""
    invitation = message.invitation
    if invitation is not None and message.kind in (MessageKind.INVITATION, MessageKind.REMINDER):
        reminder = message.kind == MessageKind.REMINDER
        # An SMS asks the survey's first question, without a link: the same text for every
        # invitation to that survey in that language, written once per batch.
        key = (invitation.survey_id, invitation.locale, reminder)
        if invitation.channel == Channel.SMS and key not in texts:
            first = first_question(invitation)
            texts[key] = (
                None
                if first is None
                else sms_invitation_text(
                    first, language=invitation.locale, company=invitation.organisation.name, reminder=reminder
                )
            )
        text = texts.get(key) if invitation.channel == Channel.SMS else None
        if text is None:  # an email, or a survey without questions: the page's link goes too
            return render_invitation(
                invitation,
                recipient=message.recipient,
                idempotency_key=message.idempotency_key,
                reminder=reminder,
            )
        return Envelope(
            recipient=message.recipient, subject="", text=text, idempotency_key=message.idempotency_key
        )
    return Envelope(
        recipient=message.recipient,
        subject=message.subject,
        text=message.body_text,
        html=message.body_html,
        idempotency_key=message.idempotency_key,
    )


def _refused(messages: Sequence[OutboundMessage]) -> set[int]:
    """The messages an opt-out recorded after they were queued still stops, read per organisation.

    Keyword answers are the exception: the confirmation of a STOP goes to
    someone who has, by definition, just opted out.
    """
    by_organisation: dict[int, list[OutboundMessage]] = {}
    for message in messages:
        if message.invitation is not None and message.kind != MessageKind.SERVICE:
            by_organisation.setdefault(message.organisation_id, []).append(message)
    refused_ids = set()
    for group in by_organisation.values():
        refused = opted_out_channels(
            organisation=group[0].organisation,
            customer_ids=list({message.invitation.customer_id for message in group}),  # type: ignore[union-attr]
        )
        for message in group:
            channels = refused.get(message.invitation.customer_id, set())  # type: ignore[union-attr]
            if Channel.ALL in channels or message.channel in channels:
                refused_ids.add(message.id)
    return refused_ids


def _stale(message: OutboundMessage, now: datetime) -> bool:
    """An invitation past its decision's ``send_before`` would ask about something long forgotten.

    Reminders are exempt: they follow an invitation that left in time.
    """
    if message.kind != MessageKind.INVITATION or message.invitation is None:
        return False
    send_before = message.send_before  # type: ignore[attr-defined]  # annotated by _load_for_sending
    return send_before is not None and send_before <= now


def _withdrawn(message: OutboundMessage) -> bool:
    """Governance took the survey back before it left (a higher-priority one took its place)."""
    return (
        message.kind == MessageKind.INVITATION
        and message.invitation is not None
        and message.invitation.status == InvitationStatus.CANCELLED
    )


def _moot_reminders(messages: Sequence[OutboundMessage]) -> set[int]:
    """Reminders that no longer make sense: the customer answered, or started to by SMS."""
    reminders = [m for m in messages if m.kind == MessageKind.REMINDER and m.invitation is not None]
    if not reminders:
        return set()
    started = _replied_by_sms([m.invitation_id for m in reminders])  # type: ignore[misc]
    return {
        m.id
        for m in reminders
        if m.invitation.status != InvitationStatus.SENT or m.invitation_id in started  # type: ignore[union-attr]
    }


def _replied_by_sms(invitation_ids: Sequence[int]) -> set[int]:
    """The invitations whose SMS conversation has heard from the customer."""
    return set(
        InboundMessage.objects.filter(conversation__invitation_id__in=list(invitation_ids)).values_list(
            "conversation__invitation_id", flat=True
        )
    )


def deliver_message(*, message_id: int, now: datetime | None = None) -> Delivery:
    """Send one outbox row if it is due and nobody else has it: a batch of one."""
    return deliver_messages(message_ids=[message_id], now=now)[message_id]


def deliver_messages(*, message_ids: Sequence[int], now: datetime | None = None) -> dict[int, Delivery]:
    """Send the due rows among ``message_ids`` that nobody else holds; returns each id's outcome.

    A batch costs a constant number of statements plus one per message sent:
    every row claimed in one conditional update, loaded with what its text
    needs in a few queries, the ones that must not leave withdrawn together;
    then each one is posted and, at once, recorded as having left (one
    statement); what follows a send (its status, the SMS conversation, the
    invitation marked sent, the reminder) is booked in groups. See
    docs/channels.md for why that stays exactly once.
    """
    now = now or timezone.now()
    outcomes = dict.fromkeys(message_ids, Delivery.NOT_MINE)
    claimed_at = timezone.now()
    claimed = _claim(list(outcomes), due_by=now, at=claimed_at)
    if not claimed:
        return outcomes
    # A batch makes tens of thousands of short-lived objects (rows, requests):
    # the cycle collector would walk the whole process for them again and again.
    with collector_paused():
        messages = _load_for_sending(claimed)
        withdrawn = _withdraw_unwanted(messages, now=now)
        outcomes.update(dict.fromkeys(withdrawn, Delivery.CANCELLED))
        sendable = [m for m in messages if m.id not in withdrawn]
        _send(sendable, now=now, claimed_at=claimed_at, outcomes=outcomes)
    return outcomes


def _claim(ids: Sequence[int], *, due_by: datetime, at: datetime) -> list[int]:
    """Take the due, pending rows among ``ids``; returns those taken, in the order given.

    The conditional update is the claim: of two workers woken for the same
    rows, each row goes to the one whose UPDATE matched it. RETURNING tells
    which those are (SQLite ≥ 3.35, PostgreSQL).
    """
    adapt = connection.ops.adapt_datetimefield_value
    taken = _update_returning_ids(
        ids,
        assign=("status = %s, claimed_at = %s, attempts = attempts + 1", [MessageStatus.SENDING, adapt(at)]),
        condition=("status = %s AND not_before <= %s", [MessageStatus.PENDING, adapt(due_by)]),
    )
    return [message_id for message_id in ids if message_id in taken]


def _renew_claim(ids: Sequence[int], *, claimed_at: datetime, at: datetime) -> set[int]:
    """Move our claim on rows still waiting in this batch forward; returns the ones still ours.

    A batch held back by a rate limit or a slow provider outlives the lease
    (AVIS_OUTBOX_STALE_SECONDS), after which the sweep would hand its rows to
    another worker: renewing long before that keeps them ours.
    """
    adapt = connection.ops.adapt_datetimefield_value
    return _update_returning_ids(
        ids,
        assign=("claimed_at = %s", [adapt(at)]),
        condition=("status = %s AND claimed_at = %s", [MessageStatus.SENDING, adapt(claimed_at)]),
    )


def _update_returning_ids(
    ids: Sequence[int], *, assign: tuple[str, list[object]], condition: tuple[str, list[object]]
) -> set[int]:
    """UPDATE the outbox rows among ``ids`` that meet ``condition``; the ids it changed.

    Django's ``update()`` only says how many rows it changed, not which. The
    SQL fragments name columns; their values come as parameters.
    """
    (assignments, assigned), (conditions, required) = assign, condition
    table = connection.ops.quote_name(OutboundMessage._meta.db_table)
    changed: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 1000):
            chunk = list(ids[start : start + 1000])
            listed = ", ".join(["%s"] * len(chunk))
            # Column names and placeholders only: every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET {assignments} WHERE id IN ({listed}) AND {conditions} RETURNING id",  # noqa: S608
                [*assigned, *chunk, *required],
            )
            changed.update(message_id for (message_id,) in cursor.fetchall())
    return changed


_NOT_READ_WHILE_SENDING = (
    "enqueued_at",
    "claimed_at",
    "created_at",
    "delivery_status",
    "delivery_error_code",
    "delivered_at",
    "invitation__planned_at",
    "invitation__responded_at",
    "invitation__reminder_due_at",
)


def _load_for_sending(ids: Sequence[int]) -> list[OutboundMessage]:
    """The claimed rows with everything their text and checks read, in a few queries for the batch.

    A batch's messages share a handful of organisations, surveys and touchpoints: each is read
    once (a survey with its questions) and handed to every message that needs it, rather than
    joined into, and built again for, every row. Of the decision only ``send_before`` is read.
    """
    found = {
        message.id: message
        for message in OutboundMessage.objects.select_related("invitation")
        .annotate(send_before=F("invitation__decision__send_before"))
        # What receipts and the sweep write, never read while sending.
        .defer(*_NOT_READ_WHILE_SENDING)
        .filter(id__in=list(ids))
    }
    # Only an invitation or its reminder is written from its survey; a conversation's next
    # question, a keyword's answer or a notification carries its own text.
    invitations = [
        message.invitation
        for message in found.values()
        if message.invitation is not None and message.kind in (MessageKind.INVITATION, MessageKind.REMINDER)
    ]
    organisations = Organisation.objects.in_bulk({message.organisation_id for message in found.values()})
    surveys = Survey.objects.in_bulk({invitation.survey_id for invitation in invitations})
    prefetch_related_objects(list(surveys.values()), "questions")
    touchpoints = Touchpoint.objects.in_bulk({invitation.touchpoint_id for invitation in invitations})
    for message in found.values():
        message.organisation = organisations[message.organisation_id]
        if message.invitation is not None:
            message.invitation.organisation = message.organisation
    for invitation in invitations:
        invitation.survey = surveys[invitation.survey_id]
        invitation.touchpoint = touchpoints[invitation.touchpoint_id]
    return [found[message_id] for message_id in ids if message_id in found]


def _withdraw_unwanted(messages: Sequence[OutboundMessage], *, now: datetime) -> set[int]:
    """Withdraw the claimed messages that must not leave any more, a statement per reason; their ids."""
    refused, moot = _refused(messages), _moot_reminders(messages)
    groups: dict[tuple[str, str, bool], list[OutboundMessage]] = {}
    for message in messages:
        reason = _why_not(message, refused=refused, moot=moot, now=now)
        if reason is not None:
            groups.setdefault(reason, []).append(message)
    if not groups:
        return set()
    with transaction.atomic():
        for (status, error, with_invitation), group in groups.items():
            OutboundMessage.objects.filter(id__in=[m.id for m in group]).update(
                status=status, last_error=error
            )
            if with_invitation:  # rare (queued rows are cancelled with the opt-out): one by one
                for message in group:
                    cancel_invitation(invitation_id=message.invitation_id)  # type: ignore[arg-type]
    return {message.id for group in groups.values() for message in group}


def _why_not(
    message: OutboundMessage, *, refused: set[int], moot: set[int], now: datetime
) -> tuple[str, str, bool] | None:
    """Why a claimed message must not leave: its status, the error kept, whether its invitation ends too."""
    if message.id in refused:
        return MessageStatus.CANCELLED, "customer opted out", True
    if _stale(message, now):
        return MessageStatus.EXPIRED, "past the decision's send_before", True
    if _withdrawn(message):
        return MessageStatus.CANCELLED, "invitation cancelled (outranked by a higher-priority survey)", False
    if message.id in moot:
        return MessageStatus.CANCELLED, "answered, or the conversation started", False
    return None


def _send(
    messages: Sequence[OutboundMessage], *, now: datetime, claimed_at: datetime, outcomes: dict[int, Delivery]
) -> None:
    """Post each message in turn, record each outcome as it comes, book the sent ones in groups."""
    providers: dict[str, Provider] = {}
    booking_groups: dict[str, int] = {}  # per channel: how many sent messages to book at once
    texts: dict[tuple[int, str, bool], str | None] = {}
    posted: list[OutboundMessage] = []  # left and recorded, not booked yet
    retries: dict[int, list[tuple[int, int]]] = {}  # delay → (id, priority)
    held = {message.id for message in messages}
    renew_every = settings.AVIS_OUTBOX_STALE_SECONDS / 3
    index = 0
    try:
        for index, message in enumerate(messages):
            if (timezone.now() - claimed_at).total_seconds() > renew_every:
                renewed_at = timezone.now()
                held = _renew_claim([m.id for m in messages[index:]], claimed_at=claimed_at, at=renewed_at)
                claimed_at = renewed_at
            if message.id not in held:
                continue  # the lease ran out all the same: the sweep gave it to another worker
            try:
                if message.channel not in providers:
                    providers[message.channel] = provider_for(message.channel)
                    booking_groups[message.channel] = _booking_group(providers[message.channel].name)
                provider = providers[message.channel]
                envelope = _envelope(message, texts=texts)
                wait_for_turn(provider.name)
                provider_id = provider.send(envelope)
            except PermanentFailure as exc:
                _finish(message, MessageStatus.FAILED, error=str(exc))
                _mark_failed_phone(message, address_status=exc.address_status, at=now)
                outcomes[message.id] = Delivery.FAILED
                continue
            except TransientFailure as exc:
                outcomes[message.id] = _retry_later(message, exc, now=now, retries=retries)
                continue
            # Only an invitation has more to book than its status (its conversation, the invitation
            # sent): any other message is recorded as sent at once, one write in all.
            booked = message.kind != MessageKind.INVITATION
            _record_posted(
                message, provider=provider.name, provider_id=provider_id, envelope=envelope, booked=booked
            )
            outcomes[message.id] = Delivery.SENT
            if not booked:
                posted.append(message)
            if posted and (len(posted) >= booking_groups[message.channel] or _booking_due(posted)):
                _book(posted)
                posted = []
        index = len(messages)
    finally:
        # Also when something unexpected stops the batch: what was never tried
        # goes back to the outbox (the message that raised stays claimed until
        # its lease ends: it may have left), what left is booked.
        untried = [m.id for m in messages[index + 1 :]]
        if untried:
            OutboundMessage.objects.filter(id__in=untried, status=MessageStatus.SENDING).update(
                status=MessageStatus.PENDING
            )
        for delay, due in retries.items():
            enqueue_messages(due, delay=delay)
        _book(posted)


def _retry_later(
    message: OutboundMessage,
    exc: TransientFailure,
    *,
    now: datetime,
    retries: dict[int, list[tuple[int, int]]],
) -> Delivery:
    """Back to the outbox with a later ``not_before``, or failed for good after MAX_ATTEMPTS tries."""
    if message.attempts >= MAX_ATTEMPTS:
        _finish(message, MessageStatus.FAILED, error=f"gave up after {message.attempts} tries: {exc}")
        return Delivery.FAILED
    delay = retry_delay(message.attempts)
    OutboundMessage.objects.filter(id=message.id).update(
        status=MessageStatus.PENDING, last_error=str(exc), not_before=now + timedelta(seconds=delay)
    )
    logger.warning("message %s: transient failure (%s), retry in %s s", message.id, exc, delay)
    retries.setdefault(delay, []).append((message.id, message.priority))
    return Delivery.RETRY


def _record_posted(
    message: OutboundMessage, *, provider: str, provider_id: str, envelope: Envelope, booked: bool
) -> None:
    """Write down that the provider took the message, in one statement, before anything else.

    From here on nothing sends it again: a worker dying before the booking
    leaves it "sending" with its ``sent_at``, and the sweep books it; with
    nothing else to book (``booked``), the same statement makes it "sent". The
    statement is written by hand: Django's ``update()`` costs about half a
    millisecond of query building per message, as much as the statement and
    the post together.
    """
    message.sent_at = timezone.now()
    message.segments, message.cost = _billing(message.channel, envelope.text)
    # The provider that sent it, not the one configured when it was queued:
    # its receipts are looked up by this name.
    message.provider, message.provider_message_id, message.last_error = provider, provider_id, ""
    cost = OutboundMessage._meta.get_field("cost")
    values = [
        connection.ops.adapt_datetimefield_value(message.sent_at),
        message.segments,
        connection.ops.adapt_decimalfield_value(message.cost, cost.max_digits, cost.decimal_places),  # type: ignore[attr-defined]
        provider,
        provider_id,
        "",
    ]
    with_text = message.channel == Channel.SMS and not message.body_text
    if with_text:
        message.body_text = envelope.text  # what the customer read, kept with the conversation
        values.append(envelope.text)
    if booked:
        message.status = MessageStatus.SENT
        values.append(message.status)
    with connection.cursor() as cursor:
        cursor.execute(_posted_sql(with_text, booked), [*values, message.id])


@lru_cache(maxsize=4)
def _posted_sql(with_text: bool, booked: bool) -> str:
    fields = ["sent_at", "segments", "cost", "provider", "provider_message_id", "last_error"]
    fields += (["body_text"] if with_text else []) + (["status"] if booked else [])
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(OutboundMessage._meta.get_field(name).column)} = %s" for name in fields)
    # Column names from the model only: every value is a parameter.
    return f"UPDATE {quote(OutboundMessage._meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608


def _booking_group(provider: str) -> int:
    """How many sent messages to book at once: fewer when a rate limit spaces them out."""
    rate = limit_for(provider)
    return BOOKING_GROUP if rate <= 0 else max(1, min(BOOKING_GROUP, int(rate * BOOKING_SECONDS)))


def _booking_due(posted: Sequence[OutboundMessage]) -> bool:
    """A reply can follow a text within seconds: its conversation must exist by then."""
    return bool(posted) and (timezone.now() - posted[0].sent_at).total_seconds() >= BOOKING_SECONDS  # type: ignore[operator]


def _book(messages: Sequence[OutboundMessage]) -> None:
    """What follows a send, for messages that left: their status, and for invitations the SMS
    conversation they open and the invitation marked sent, with when its reminder falls due.
    A few statements for the group, in one transaction.

    Idempotent, so that the sweep can book again what a dead worker left
    half-done: only "sending" rows become "sent", a conversation is unique per
    invitation, an invitation moves only from scheduled.
    """
    if not messages:
        return
    invitations = [m for m in messages if m.kind == MessageKind.INVITATION and m.invitation is not None]
    with transaction.atomic():
        OutboundMessage.objects.filter(id__in=[m.id for m in messages], status=MessageStatus.SENDING).update(
            status=MessageStatus.SENT
        )
        if invitations:
            _start_conversations([m for m in invitations if m.channel == Channel.SMS])
            # One statement per second in which they left (one or two per group), each
            # invitation's sent_at within a second of its message's.
            by_second: dict[datetime, list[OutboundMessage]] = {}
            for m in invitations:
                by_second.setdefault(m.sent_at.replace(microsecond=0), []).append(m)  # type: ignore[union-attr]
            hours = settings.AVIS_REMINDER_DELAY_HOURS
            for group in by_second.values():
                at: datetime = max(m.sent_at for m in group)  # type: ignore[type-var,assignment]
                mark_invitations_sent(
                    invitation_ids=[m.invitation_id for m in group],  # type: ignore[misc]
                    at=at,
                    remind_at=at + timedelta(hours=hours) if hours else None,
                )


def _billing(channel: str, text: str) -> tuple[int, Decimal]:
    """Segments and price of an SMS as the operator counts them; email costs nothing per message."""
    if channel != Channel.SMS:
        return 0, Decimal(0)
    segments = _segments(text)
    return segments, price_per_segment() * segments


@lru_cache(maxsize=1024)
def _segments(text: str) -> int:
    """Invitations of one survey in one language read the same: measured once."""
    return measure_sms(text).segments


def price_per_segment() -> Decimal:
    try:
        return Decimal(settings.AVIS_SMS_PRICE_PER_SEGMENT)
    except InvalidOperation as exc:
        raise ImproperlyConfigured("AVIS_SMS_PRICE_PER_SEGMENT must be a decimal number") from exc


def _start_conversations(messages: Sequence[OutboundMessage]) -> None:
    """Each SMS survey begins with its invitation's text, which asked the first question."""
    if not messages:
        return
    _insert_once(
        [
            new_row(
                Conversation,
                organisation_id=m.organisation_id,
                invitation_id=m.invitation_id,
                customer_id=m.invitation.customer_id,  # type: ignore[union-attr]
                phone=m.recipient,
                started_at=m.sent_at,
                last_activity_at=m.sent_at,
            )
            for m in messages
        ]
    )
    OutboundMessage.objects.filter(id__in=[m.id for m in messages], conversation__isnull=True).update(
        conversation_id=Subquery(
            Conversation.objects.filter(invitation_id=OuterRef("invitation_id")).values("id")[:1]
        )
    )


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
            _insert_once(reminders)
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
    replied = _replied_by_sms(ids)
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


def _insert_once(rows: Sequence[Conversation | OutboundMessage]) -> None:
    """Insert rows that a booking done twice may have written already; those already there stand.

    ``insert_rows`` costs a fraction of ``bulk_create``; a conflict (a
    conversation per invitation, a reminder key) can only come from a
    repeated booking, and then ``bulk_create`` skips the rows that exist.
    """
    if not rows:
        return
    try:
        with transaction.atomic():
            insert_rows(rows)
    except IntegrityError:
        type(rows[0]).objects.bulk_create(rows, ignore_conflicts=True)  # type: ignore[attr-defined]


def _finish(message: OutboundMessage, status: str, *, error: str) -> None:
    OutboundMessage.objects.filter(id=message.id).update(status=status, last_error=error)


def sweep_outbox(*, now: datetime | None = None) -> int:
    """Hand to workers what is due and not in anybody's hands; returns how many."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.AVIS_OUTBOX_STALE_SECONDS)
    held_too_long = OutboundMessage.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=stale)
    # A row still "sending" long after its claim belongs to a worker that died.
    # If it recorded the send (sent_at), only the booking is missing: do it
    # here, never send it again.
    recorded = held_too_long.filter(sent_at__isnull=False)
    left = list(recorded.select_related("organisation", "invitation")[:5000])
    for start in range(0, len(left), BOOKING_GROUP):
        _book(left[start : start + BOOKING_GROUP])
    # Otherwise it died between claim and post, or between post and record:
    # give it back. The provider sees the same idempotency key, so it can
    # recognise a resend of the same message.
    held_too_long.filter(sent_at__isnull=True).update(status=MessageStatus.PENDING)
    # A wake-up older than this was lost (its worker died holding the task): wake another.
    recently = now - timedelta(seconds=min(120, settings.AVIS_OUTBOX_STALE_SECONDS))
    due = list(
        OutboundMessage.objects.filter(status=MessageStatus.PENDING, not_before__lte=now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=recently))
        .order_by("-priority", "not_before")
        .values_list("id", "priority")[:5000]
    )
    if due:
        enqueue_messages(due)
    return len(due)


def record_historical_delivery(*, organisation: Organisation, until: datetime) -> int:
    """Record the invitations due by ``until`` as sent at their planned time, without sending them.

    For loading history (the demo, a move from another survey tool): those
    customers were asked back then; sending the old invitations now would ask
    them again. Returns how many messages were recorded.
    """
    with transaction.atomic():
        due = OutboundMessage.objects.filter(
            organisation=organisation,
            kind=MessageKind.INVITATION,
            status=MessageStatus.PENDING,
            not_before__lte=until,
        )
        rows = list(due.values_list("id", "invitation_id", "not_before"))
        for start in range(0, len(rows), 2000):
            chunk = rows[start : start + 2000]
            OutboundMessage.objects.filter(
                id__in=[message_id for message_id, _, _ in chunk], status=MessageStatus.PENDING
            ).update(status=MessageStatus.SENT, sent_at=F("not_before"))
        for _, invitation_id, planned_at in rows:
            mark_invitation_sent(invitation_id=invitation_id, at=planned_at)
    return len(rows)


# --- Delivery receipts and inbound messages -------------------------------------------

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
) -> OutboundMessage | None:
    """Apply a provider's report on one message; None when no message of ours has that id.

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
            _mark_failed_phone(message, address_status=address_status, at=at)
        elif moved and status == DeliveryStatus.DELIVERED:
            _mark_failed_phone(message, address_status=PhoneStatus.OK, at=at)
    return message


def _mark_failed_phone(message: OutboundMessage, *, address_status: str, at: datetime) -> None:
    invitation = message.invitation
    if not address_status or message.channel != Channel.SMS or invitation is None:
        return
    record_phone_status(
        customer_id=invitation.customer_id, phone=message.recipient, status=address_status, at=at
    )


def record_inbound_message(
    *,
    provider: str,
    provider_message_id: str,
    sender: str,
    recipient: str,
    text: str,
    at: datetime | None = None,
) -> InboundMessage:
    """Keep a text as the provider handed it over: one INSERT, nothing read first.

    This is all a webhook does before answering, so it needs the database's
    write lock (SQLite has one for the whole file) for one statement; who
    wrote the text is for the worker that handles it to settle
    (``who_wrote``). A provider retrying the same webhook gets the row
    recorded the first time (the unique constraint says so, without a
    look-up on every webhook).
    """
    row = InboundMessage(
        provider=provider,
        provider_message_id=provider_message_id,
        sender=_e164(sender)[:32],
        recipient=_e164(recipient)[:32],
        text=text,
        received_at=at or timezone.now(),
    )
    try:
        # Within a caller's transaction, a savepoint keeps a duplicate from spoiling it.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            _insert_promptly(row)
        return row
    except IntegrityError:
        # A provider's retry of a webhook already recorded (or crossing its first delivery).
        return InboundMessage.objects.get(provider=provider, provider_message_id=provider_message_id)


@dataclass(eq=False)
class _Waiting:
    """A text waiting for the next group insert, and how its insert went."""

    row: InboundMessage
    done: bool = False
    error: Exception | None = None


# The server's threads leave their texts here; one of them at a time inserts all that wait.
_WAITING: list[_Waiting] = []
_WAITING_LOCK = threading.Lock()
_INSERTING = threading.Lock()


def _insert_promptly(row: InboundMessage) -> None:
    """INSERT, together with the texts other threads of this server are waiting to insert.

    SQLite has one write lock for the whole file, and the worker takes it many
    times a second: the gaps between its transactions are what webhooks share.
    One INSERT per text would need one gap per text, and at a hundred texts a
    second the threads queue behind each other for them. Instead each thread
    leaves its row in a list; the thread at the front (holding ``_INSERTING``)
    writes every row waiting, in one statement, at the next gap, and those
    threads find their row written when their turn comes (group commit). A text
    is acknowledged only once its row is committed.

    SQLite's busy handler sleeps longer and longer between tries (up to 100 ms
    after the first 30), so it would keep missing those gaps: the front thread
    asks every millisecond or two instead (a 4 ms busy timeout, tried again and
    again). The INSERT is its own transaction: the lock is taken and released
    inside that one call. Within a caller's transaction (or on PostgreSQL,
    where rows lock, not the file) it is a plain save.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        row.save(force_insert=True)
        return
    waiting = _Waiting(row)
    with _WAITING_LOCK:
        _WAITING.append(waiting)
    with _INSERTING:
        if not waiting.done:
            with _WAITING_LOCK:
                group = _WAITING[:]
                _WAITING.clear()
            _insert_group(group)
    if waiting.error is not None:
        raise waiting.error


def _insert_group(group: list[_Waiting]) -> None:
    """Insert the waiting rows in one statement; on a duplicate, each on its own (a provider's retry)."""
    connection.ensure_connection()
    patience = float(connection.settings_dict["OPTIONS"].get("timeout", 5))
    deadline = time.monotonic() + patience
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 4")
    try:
        try:
            _retry_while_locked(lambda: insert_rows([waiting.row for waiting in group]), deadline)
        except IntegrityError:
            for waiting in group:
                try:
                    _retry_while_locked(lambda w=waiting: w.row.save(force_insert=True), deadline)  # type: ignore[misc]
                except Exception as exc:  # noqa: BLE001 - handed to the thread whose text it is
                    waiting.error = exc
    except Exception as exc:  # noqa: BLE001 - every thread of the group learns its text was not kept
        for waiting in group:
            if waiting.row.pk is None:
                waiting.error = waiting.error or exc
    finally:
        for waiting in group:
            waiting.done = True
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(patience * 1000)}")


def _retry_while_locked(write: Callable[[], object], deadline: float) -> None:
    while True:
        try:
            write()
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise


def _e164(raw: str) -> str:
    """E.164 when the number reads as an international one; else as given (a short code, a name)."""
    candidate = raw.strip()
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    elif candidate[:1].isdigit() and not candidate.startswith("0"):
        candidate = "+" + candidate  # gateways often drop the "+"
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return raw.strip()
    if not phonenumbers.is_possible_number(number):
        return raw.strip()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def who_wrote(*, sender: str, at: datetime) -> tuple[int | None, int | None, int | None]:
    """The organisation, customer and message (ids) a text from ``sender`` received at ``at`` answers.

    The last SMS we sent to that number before the text arrived says best
    whom a reply is for (a person can be a customer of two organisations on
    one installation); "before" keeps a text handled late from being read as
    a reply to a survey sent after it. Without one, the number alone
    decides, but only if it belongs to a single organisation: a guess could
    hand one tenant's customer text to another.
    """
    last = (
        OutboundMessage.objects.filter(
            channel=Channel.SMS,
            recipient=sender,
            status=MessageStatus.SENT,
            sent_at__lte=at,
            invitation__isnull=False,
        )
        .order_by("-sent_at")
        .values_list("organisation_id", "invitation__customer_id", "id", "invitation__customer__phone")
        .first()
    )
    if last is not None and last[3] == sender:  # the customer texted then still has this number
        return last[0], last[1], last[2]
    customers = list(Customer.objects.filter(phone=sender).values_list("organisation_id", "id")[:20])
    organisations = {organisation_id for organisation_id, _ in customers}
    if len(organisations) != 1:
        return None, None, None
    return organisations.pop(), customers[0][1] if len(customers) == 1 else None, None


# --- Email: one-click unsubscribe, bounces and complaints -----------------------------------


def cancel_queued_messages(
    *, organisation: Organisation, customer_ids: Sequence[int], channel: str = Channel.ALL
) -> int:
    """Withdraw what waits in the outbox for these customers (a row already being sent is past stopping)."""
    queued = OutboundMessage.objects.filter(
        organisation=organisation, invitation__customer_id__in=customer_ids, status=MessageStatus.PENDING
    ).exclude(kind=MessageKind.SERVICE)
    if channel != Channel.ALL:
        queued = queued.filter(channel=channel)
    invitation_ids = set(queued.values_list("invitation_id", flat=True))
    count = queued.update(status=MessageStatus.CANCELLED, last_error="customer opted out")
    for invitation_id in invitation_ids:
        cancel_invitation(invitation_id=invitation_id)
    return count


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
