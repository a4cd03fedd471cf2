from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.bulk import insert_rows, new_row
from avis.customers.models import Channel, Customer, EmailStatus, PhoneStatus
from avis.customers.queries import opted_out_channels
from avis.customers.services import opt_out_customers, record_email_status, record_phone_status
from avis.governance.services import current_policy, customer_country, next_sending_time
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
    TransientFailure,
    failed_address_status,
    provider_for,
)
from avis.messaging.rate_limit import wait_for_turn
from avis.messaging.rendering import render_invitation
from avis.messaging.sms_encoding import measure_sms
from avis.surveys.models import Invitation, InvitationStatus
from avis.surveys.services import cancel_invitation, mark_invitation_sent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
NOTIFICATION_PRIORITY = 10
INVITATION_PRIORITY = 0
ENQUEUE_CHUNK = 200


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
) -> list[OutboundMessage]:
    """Email each recipient once per ``key`` (e.g. ``case-12-opened``)."""
    rows = [
        OutboundMessage(
            organisation=organisation,
            kind=MessageKind.NOTIFICATION,
            channel=Channel.EMAIL,
            provider=_provider_name(Channel.EMAIL),
            recipient=recipient,
            subject=subject[:255],
            body_text=text,
            body_html=html,
            idempotency_key=f"{key}-{recipient}"[:100],
            priority=NOTIFICATION_PRIORITY,
        )
        for recipient in recipients
    ]
    with transaction.atomic():
        OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
        saved = list(OutboundMessage.objects.filter(idempotency_key__in=[r.idempotency_key for r in rows]))
        enqueue_on_commit(saved)
    return saved


def enqueue_on_commit(rows: Sequence[OutboundMessage]) -> None:
    now = timezone.now()
    due = [(row.id, row.priority) for row in rows if row.not_before <= now]
    if due:
        transaction.on_commit(lambda: enqueue_messages(due))


def enqueue_messages(messages: Sequence[tuple[int, int]], *, delay: int = 0) -> None:
    """Wake workers for these (id, priority) pairs, a chunk of ids per task, after ``delay`` s."""
    from avis.messaging.tasks import deliver_messages

    ids_all = [message_id for message_id, _ in messages]
    for start in range(0, len(ids_all), 2000):
        OutboundMessage.objects.filter(id__in=ids_all[start : start + 2000]).update(
            enqueued_at=timezone.now() + timedelta(seconds=delay)
        )
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


def _envelope(message: OutboundMessage) -> Envelope:
    if message.invitation is not None and message.kind in (MessageKind.INVITATION, MessageKind.REMINDER):
        return render_invitation(
            message.invitation,
            recipient=message.recipient,
            idempotency_key=message.idempotency_key,
            reminder=message.kind == MessageKind.REMINDER,
        )
    return Envelope(
        recipient=message.recipient,
        subject=message.subject,
        text=message.body_text,
        html=message.body_html,
        idempotency_key=message.idempotency_key,
    )


def _refused(message: OutboundMessage) -> bool:
    """An opt-out recorded after the message was queued still stops it.

    Keyword answers are the exception: the confirmation of a STOP goes to
    someone who has, by definition, just opted out.
    """
    invitation = message.invitation
    if invitation is None or message.kind == MessageKind.SERVICE:
        return False
    refused = opted_out_channels(organisation=message.organisation, customer_ids=[invitation.customer_id])
    channels = refused.get(invitation.customer_id, set())
    return Channel.ALL in channels or message.channel in channels


def _stale(message: OutboundMessage, now: datetime) -> bool:
    """An invitation past its decision's ``send_before`` would ask about something long forgotten.

    Reminders are exempt: they follow an invitation that left in time.
    """
    if message.kind != MessageKind.INVITATION or message.invitation is None:
        return False
    send_before = message.invitation.decision.send_before
    return send_before is not None and send_before <= now


def _withdrawn(message: OutboundMessage) -> bool:
    """Governance took the survey back before it left (a higher-priority one took its place)."""
    return (
        message.kind == MessageKind.INVITATION
        and message.invitation is not None
        and message.invitation.status == InvitationStatus.CANCELLED
    )


def _reminder_moot(message: OutboundMessage) -> bool:
    """A reminder only makes sense while the customer has neither answered nor started to."""
    if message.kind != MessageKind.REMINDER or message.invitation is None:
        return False
    if message.invitation.status != InvitationStatus.SENT:
        return True
    return InboundMessage.objects.filter(conversation__invitation_id=message.invitation_id).exists()


def deliver_message(*, message_id: int, now: datetime | None = None) -> Delivery:
    """Send one outbox row if it is due and nobody else has it."""
    now = now or timezone.now()
    # The conditional update is the claim: of two workers woken for the same
    # row, only the one whose UPDATE matched sends it.
    claimed = OutboundMessage.objects.filter(
        id=message_id, status=MessageStatus.PENDING, not_before__lte=now
    ).update(status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return Delivery.NOT_MINE
    message = OutboundMessage.objects.select_related(
        "organisation",
        "invitation__organisation",
        "invitation__touchpoint",
        "invitation__decision",
        "invitation__survey",
        "invitation__customer",
    ).get(id=message_id)
    if _refused(message):
        _finish(message, MessageStatus.CANCELLED, error="customer opted out")
        cancel_invitation(invitation_id=message.invitation_id)  # type: ignore[arg-type]
        return Delivery.CANCELLED
    if _stale(message, now):
        _finish(message, MessageStatus.EXPIRED, error="past the decision's send_before")
        cancel_invitation(invitation_id=message.invitation_id)  # type: ignore[arg-type]
        return Delivery.CANCELLED
    if _withdrawn(message):
        _finish(
            message,
            MessageStatus.CANCELLED,
            error="invitation cancelled (outranked by a higher-priority survey)",
        )
        return Delivery.CANCELLED
    if _reminder_moot(message):
        _finish(message, MessageStatus.CANCELLED, error="answered, or the conversation started")
        return Delivery.CANCELLED
    try:
        provider = provider_for(message.channel)
        envelope = _envelope(message)
        wait_for_turn(provider.name)
        provider_id = provider.send(envelope)
    except PermanentFailure as exc:
        _finish(message, MessageStatus.FAILED, error=str(exc))
        _mark_failed_phone(message, address_status=exc.address_status, at=now)
        return Delivery.FAILED
    except TransientFailure as exc:
        if message.attempts >= MAX_ATTEMPTS:
            _finish(message, MessageStatus.FAILED, error=f"gave up after {message.attempts} tries: {exc}")
            return Delivery.FAILED
        delay = retry_delay(message.attempts)
        OutboundMessage.objects.filter(id=message.id).update(
            status=MessageStatus.PENDING, last_error=str(exc), not_before=now + timedelta(seconds=delay)
        )
        logger.warning("message %s: transient failure (%s), retry in %s s", message.id, exc, delay)
        enqueue_messages([(message.id, message.priority)], delay=delay)
        return Delivery.RETRY
    sent_at = timezone.now()
    segments, price = _billing(message.channel, envelope.text)
    with transaction.atomic():
        # The provider that sent it, not the one configured when it was queued:
        # its receipts are looked up by this name.
        changes: dict[str, object] = {
            "status": MessageStatus.SENT,
            "sent_at": sent_at,
            "provider": provider.name,
            "provider_message_id": provider_id,
            "last_error": "",
            "segments": segments,
            "cost": price,
        }
        if message.channel == Channel.SMS and not message.body_text:
            changes["body_text"] = envelope.text  # what the customer read, kept with the conversation
        if message.kind == MessageKind.INVITATION and message.channel == Channel.SMS and message.invitation:
            changes["conversation"] = _start_conversation(message, at=sent_at)
        OutboundMessage.objects.filter(id=message.id).update(**changes)
        if message.kind == MessageKind.INVITATION and message.invitation_id:
            mark_invitation_sent(invitation_id=message.invitation_id, at=sent_at)
            _queue_reminder(message, sent_at=sent_at)
    return Delivery.SENT


def _billing(channel: str, text: str) -> tuple[int, Decimal]:
    """Segments and price of an SMS as the operator counts them; email costs nothing per message."""
    if channel != Channel.SMS:
        return 0, Decimal(0)
    segments = measure_sms(text).segments
    return segments, price_per_segment() * segments


def price_per_segment() -> Decimal:
    try:
        return Decimal(settings.AVIS_SMS_PRICE_PER_SEGMENT)
    except InvalidOperation as exc:
        raise ImproperlyConfigured("AVIS_SMS_PRICE_PER_SEGMENT must be a decimal number") from exc


def _start_conversation(message: OutboundMessage, *, at: datetime) -> Conversation:
    """The SMS survey begins with the invitation's text, which asked the first question."""
    invitation = message.invitation
    assert invitation is not None
    conversation, _ = Conversation.objects.get_or_create(
        invitation=invitation,
        defaults={
            "organisation_id": invitation.organisation_id,
            "customer_id": invitation.customer_id,
            "phone": message.recipient,
            "started_at": at,
            "last_activity_at": at,
        },
    )
    return conversation


def _queue_reminder(message: OutboundMessage, *, sent_at: datetime) -> None:
    """At most one reminder per invitation (its idempotency key says so), inside the sending hours."""
    hours = settings.AVIS_REMINDER_DELAY_HOURS
    invitation = message.invitation
    if not hours or invitation is None:
        return
    due = sent_at + timedelta(hours=hours)
    if due >= invitation.expires_at:
        return
    customer = invitation.customer
    policy = current_policy(organisation=message.organisation)
    due = next_sending_time(
        policy=policy,
        at=due,
        time_zone=customer.time_zone,
        country=customer_country(customer, default="FR"),
        channel=message.channel,
    )
    if due >= invitation.expires_at:
        return
    OutboundMessage.objects.bulk_create(
        [
            OutboundMessage(
                organisation_id=message.organisation_id,
                kind=MessageKind.REMINDER,
                channel=message.channel,
                provider=message.provider,
                recipient=message.recipient,
                invitation=invitation,
                idempotency_key=f"reminder-{invitation.id}",
                priority=INVITATION_PRIORITY,
                not_before=due,
            )
        ],
        ignore_conflicts=True,
    )


def _finish(message: OutboundMessage, status: str, *, error: str) -> None:
    OutboundMessage.objects.filter(id=message.id).update(status=status, last_error=error)


def sweep_outbox(*, now: datetime | None = None) -> int:
    """Hand to workers what is due and not in anybody's hands; returns how many."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.AVIS_OUTBOX_STALE_SECONDS)
    # A row still "sending" long after its claim belongs to a worker that died
    # between claim and result: give it back. The provider sees the same
    # idempotency key, so it can recognise a resend of the same message.
    OutboundMessage.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=stale).update(
        status=MessageStatus.PENDING
    )
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
    """Keep a text a customer sent us, tied to them when their number tells who they are.

    A provider retrying the same webhook gets the row recorded the first time
    (the unique constraint says so, without a look-up on every webhook).
    """
    sender = _e164(sender)
    once = InboundMessage.objects.filter(provider=provider, provider_message_id=provider_message_id)
    organisation_id, customer, reply_to = _who_wrote(sender)
    try:
        with transaction.atomic():
            return InboundMessage.objects.create(
                organisation_id=organisation_id,
                customer=customer,
                reply_to=reply_to,
                provider=provider,
                provider_message_id=provider_message_id,
                sender=sender[:32],
                recipient=_e164(recipient)[:32],
                text=text,
                received_at=at or timezone.now(),
            )
    except IntegrityError:
        # A provider's retry of a webhook already recorded (or crossing its first delivery).
        return once.get()


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


def _who_wrote(sender: str) -> tuple[int | None, Customer | None, OutboundMessage | None]:
    """The organisation, customer and message a text from ``sender`` answers.

    The last SMS we sent to that number says best whom a reply is for (a
    person can be a customer of two organisations on one installation).
    Without one, the number alone decides, but only if it belongs to a single
    organisation: a guess could hand one tenant's customer text to another.
    """
    last = (
        OutboundMessage.objects.filter(
            channel=Channel.SMS, recipient=sender, status=MessageStatus.SENT, invitation__isnull=False
        )
        .select_related("invitation__customer")
        .order_by("-sent_at")
        .first()
    )
    if last is not None and last.invitation is not None and last.invitation.customer.phone == sender:
        return last.organisation_id, last.invitation.customer, last
    customers = list(Customer.objects.filter(phone=sender)[:20])
    organisations = {customer.organisation_id for customer in customers}
    if len(organisations) != 1:
        return None, None, None
    return organisations.pop(), customers[0] if len(customers) == 1 else None, None


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
