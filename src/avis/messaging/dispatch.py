"""Sending what the outbox holds: claim a batch, withdraw what must not leave, post each message
through its provider, record it, book what follows; the sweep that recovers a dead worker's rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery, prefetch_related_objects
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.bulk import collector_paused, new_row
from avis.customers.models import Channel
from avis.customers.queries import opted_out_channels
from avis.encryption import SecretUnreadable
from avis.interactions.models import Touchpoint
from avis.journal import record_sent
from avis.messaging.billing import segments_and_cost
from avis.messaging.models import ChannelSettings, Conversation, MessageKind, MessageStatus, OutboundMessage
from avis.messaging.outbox import enqueue_messages, insert_once
from avis.messaging.providers import Envelope, PermanentFailure, Provider, TransientFailure, provider_for
from avis.messaging.queries import channel_settings_by_organisation, config_of, replied_by_sms
from avis.messaging.rate_limit import limit_for, wait_for_turn
from avis.messaging.receipts import mark_failed_phone
from avis.messaging.rendering import first_question, render_invitation, sms_invitation_text
from avis.surveys.models import InvitationStatus, SurveyVersion
from avis.surveys.services import cancel_invitation, mark_invitations_sent

logger = logging.getLogger(__name__)


MAX_ATTEMPTS = 6
# Messages that left are booked (status, conversation, invitation) in groups of this many
# (a task's whole batch), and at least this often: a reply can arrive seconds after the text.
BOOKING_GROUP = 200
BOOKING_SECONDS = 0.5


class Delivery(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_MINE = "not_mine"  # already sent, claimed by another worker, or not due yet


def retry_delay(attempts: int) -> int:
    """Seconds before the next try: 30 s, 1 min, 2 min … capped at one hour."""
    return min(30 * 2 ** max(attempts - 1, 0), 3600)


def _envelope(message: OutboundMessage, *, texts: dict[tuple[int, str, bool], str | None]) -> Envelope:
    """What the message says; ``texts`` keeps the SMS invitations a batch has already written."""
    invitation = message.invitation
    if invitation is not None and message.kind in (MessageKind.INVITATION, MessageKind.REMINDER):
        reminder = message.kind == MessageKind.REMINDER
        # An SMS asks the survey's first question, without a link: the same text for every
        # invitation to that survey in that language, written once per batch.
        key = (invitation.version_id, invitation.locale, reminder)
        if invitation.channel == Channel.SMS and key not in texts:
            first = first_question(invitation)
            texts[key] = (
                None
                if first is None
                else sms_invitation_text(
                    first,
                    language=invitation.locale,
                    company=invitation.organisation.name,
                    touchpoint=invitation.touchpoint.label(invitation.locale),
                    reminder=reminder,
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
    started = replied_by_sms([m.invitation_id for m in reminders])  # type: ignore[misc]
    return {
        m.id
        for m in reminders
        if m.invitation.status != InvitationStatus.SENT or m.invitation_id in started  # type: ignore[union-attr]
    }


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
    versions = SurveyVersion.objects.in_bulk({invitation.version_id for invitation in invitations})
    prefetch_related_objects(list(versions.values()), "questions")
    touchpoints = Touchpoint.objects.in_bulk({invitation.touchpoint_id for invitation in invitations})
    for message in found.values():
        message.organisation = organisations[message.organisation_id]
        if message.invitation is not None:
            message.invitation.organisation = message.organisation
    for invitation in invitations:
        invitation.version = versions[invitation.version_id]
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
    # Per organisation and channel: its provider, and how many sent messages to book at once.
    providers: dict[tuple[int, str], Provider] = {}
    booking_groups: dict[tuple[int, str], int] = {}
    own = channel_settings_by_organisation({message.organisation_id for message in messages})
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
                key = (message.organisation_id, message.channel)
                if key not in providers:
                    providers[key] = _provider_of(message, own)
                    booking_groups[key] = _booking_group(providers[key].name)
                provider = providers[key]
                envelope = _envelope(message, texts=texts)
                wait_for_turn(provider.name)
                provider_id = provider.send(envelope)
            except PermanentFailure as exc:
                _finish(message, MessageStatus.FAILED, error=str(exc))
                mark_failed_phone(message, address_status=exc.address_status, at=now)
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
            if posted and (len(posted) >= booking_groups[key] or _booking_due(posted)):
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


def _provider_of(message: OutboundMessage, own: dict[int, ChannelSettings]) -> Provider:
    """The provider of the message's channel, as its organisation set it up (else the installation's)."""
    try:
        config = config_of(own.get(message.organisation_id), hooks=message.organisation.slug)
    except SecretUnreadable as exc:
        # Restoring the key lets the retries through; the error names no secret.
        raise TransientFailure(exc.message) from exc
    return provider_for(message.channel, config)


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
    message.segments, message.cost = segments_and_cost(message.channel, envelope.text)
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
    # Beside the backups too: a restored outbox must not send it again.
    record_sent(keys=[message.idempotency_key], at=message.sent_at)


@lru_cache(maxsize=4)
def _posted_sql(with_text: bool, booked: bool) -> str:
    fields = ["sent_at", "segments", "cost", "provider", "provider_message_id", "last_error"]
    fields += (["body_text"] if with_text else []) + (["status"] if booked else [])
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(OutboundMessage._meta.get_field(name).column)} = %s" for name in fields)
    # Column names from the model only: every value is a parameter.
    return f"UPDATE {quote(OutboundMessage._meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608


def record_historical_delivery(*, organisation: Organisation, until: datetime) -> int:
    """Record the invitations due by ``until`` as sent at their planned time, without sending them.

    For loading history (the demo, a move from another survey tool): those
    customers were asked back then; sending the old invitations now would ask
    them again. Each SMS is recorded as a real send is (``_record_posted``): its
    text, segments and cost, or the costs page would count texts that cost
    nothing. Returns how many messages were recorded.
    """
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.filter(
                organisation=organisation,
                kind=MessageKind.INVITATION,
                status=MessageStatus.PENDING,
                not_before__lte=until,
            ).values_list("id", flat=True)
        )
        texts: dict[tuple[int, str, bool], str | None] = {}
        for start in range(0, len(ids), 2000):
            messages = _load_for_sending(ids[start : start + 2000])
            _record_sent_texts(messages, texts=texts, status=MessageStatus.SENT, sent_at=F("not_before"))
            # One statement per moment rather than per message: a barometer's wave leaves at once.
            by_moment: dict[datetime, list[int]] = {}
            for message in messages:
                by_moment.setdefault(message.not_before, []).append(message.invitation_id)  # type: ignore[arg-type]
            for moment, invitation_ids in by_moment.items():
                mark_invitations_sent(invitation_ids=invitation_ids, at=moment)
    return len(ids)


def backfill_sms_costs() -> int:
    """Price the SMS recorded as sent with no segments (before history was recorded as sends are).

    Run after each ``migrate`` (``receivers.price_sms_recorded_unpriced``); returns how many
    messages were priced.
    """
    unpriced = OutboundMessage.objects.filter(channel=Channel.SMS, status=MessageStatus.SENT, segments=0)
    ids = list(unpriced.values_list("id", flat=True))
    texts: dict[tuple[int, str, bool], str | None] = {}
    for start in range(0, len(ids), 2000):
        _record_sent_texts(_load_for_sending(ids[start : start + 2000]), texts=texts)
    return len(ids)


def _record_sent_texts(
    messages: Sequence[OutboundMessage], *, texts: dict[tuple[int, str, bool], str | None], **also: object
) -> None:
    """Write each SMS's text, segments and cost (and ``also``), a statement per distinct text."""
    groups: dict[tuple[int, Decimal, str], list[int]] = {}
    for message in messages:
        sms = message.channel == Channel.SMS
        text = (message.body_text or _envelope(message, texts=texts).text) if sms else ""
        groups.setdefault((*segments_and_cost(message.channel, text), text), []).append(message.id)
    for (segments, cost, text), group in groups.items():
        written = {"body_text": text} if text else {}
        OutboundMessage.objects.filter(id__in=group).update(segments=segments, cost=cost, **written, **also)


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


def _start_conversations(messages: Sequence[OutboundMessage]) -> None:
    """Each SMS survey begins with its invitation's text, which asked the first question."""
    if not messages:
        return
    insert_once(
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
