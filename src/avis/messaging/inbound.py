"""Inbound texts: kept as the provider hands them over (one INSERT, grouped on SQLite), and whom
they answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from avis.bulk import insert_rows
from avis.customers.models import Channel, Customer
from avis.messaging.models import ChannelSettings, InboundMessage, MessageStatus, OutboundMessage
from avis.surveys.models import Invitation


def record_inbound_message(
    *,
    provider: str,
    provider_message_id: str,
    sender: str,
    recipient: str,
    text: str,
    at: datetime | None = None,
    organisation_id: int | None = None,
) -> InboundMessage:
    """Keep a text as the provider handed it over: one INSERT, nothing read first.

    ``organisation_id`` when it came through an organisation's own provider
    account (its own webhook address): it is that organisation's, whoever wrote it.

    This is all a webhook does before answering, so it needs the database's
    write lock (SQLite has one for the whole file) for one statement; who
    wrote the text is for the worker that handles it to settle
    (``who_wrote``). A provider retrying the same webhook gets the row
    recorded the first time (the unique constraint says so, without a
    look-up on every webhook).
    """
    account = str(organisation_id or "")
    row = InboundMessage(
        organisation_id=organisation_id,
        provider=provider,
        account=account,
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
        return InboundMessage.objects.get(
            provider=provider, account=account, provider_message_id=provider_message_id
        )


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


def who_wrote(
    *, sender: str, at: datetime, organisation_id: int | None = None
) -> tuple[int | None, int | None, int | None]:
    """The organisation, customer and message (ids) a text from ``sender`` received at ``at`` answers.

    The last SMS we sent to that number before the text arrived says best
    whom a reply is for (a person can be a customer of two organisations on
    one installation); "before" keeps a text handled late from being read as
    a reply to a survey sent after it. Without one, the number alone
    decides, but only if it belongs to a single organisation: a guess could
    hand one tenant's customer text to another. A text that came through an
    organisation's own account (``organisation_id``) is looked for among that
    organisation's customers only: its webhook secret vouches for nothing else.
    """
    scope = {"organisation_id": organisation_id} if organisation_id else {}
    last = (
        OutboundMessage.objects.filter(
            **scope,
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
    customers = list(Customer.objects.filter(**scope, phone=sender).values_list("organisation_id", "id")[:20])
    organisations = {owner for owner, _ in customers}
    if len(organisations) != 1:
        return organisation_id, None, None
    return organisations.pop(), customers[0][1] if len(customers) == 1 else None, None


@dataclass(frozen=True)
class Routing:
    """Whose a text is: an organisation, customer and message (ids), or parked among several owners."""

    organisation_id: int | None = None
    customer_id: int | None = None
    message_id: int | None = None
    parked_among: tuple[int, ...] = field(default=())


def route_inbound(
    *, sender: str, recipient: str, at: datetime, organisation_id: int | None = None
) -> Routing:
    """Decide whose a text is from the number it was sent to, never by guessing between organisations.

    1. Through an organisation's own provider account (``organisation_id``): that organisation's.
    2. To a number that is one organisation's own sender (``ChannelSettings.sms_sender``): that
       organisation's, whoever else texted the customer.
    3. To a number several organisations share (the installation's ``AVIS_SMS_SENDER``, or one
       number configured by two): the organisations that could own the reply are those with a
       survey texted to this customer still open, else those that have the number as a customer.
       One: it is that organisation's. Several: the text is parked for review (an installation
       admin sees it) and filed under none, answered by none: "whoever texted last" once handed
       one tenant's customer's words to another, which then texted the customer.
    """
    if organisation_id:
        return Routing(*who_wrote(sender=sender, at=at, organisation_id=organisation_id))
    owners = _own_number_of(recipient)
    if len(owners) == 1:
        return Routing(*who_wrote(sender=sender, at=at, organisation_id=owners[0]))
    candidates = _could_own(sender=sender, at=at, among=owners)
    if len(candidates) > 1:
        return Routing(parked_among=tuple(sorted(candidates)))
    if len(candidates) == 1:
        return Routing(*who_wrote(sender=sender, at=at, organisation_id=candidates.pop()))
    return Routing()


def _own_number_of(recipient: str) -> list[int]:
    """The organisations whose own sender is the number texted (a phone number, never a name)."""
    if not recipient.startswith("+"):
        return []
    return list(
        ChannelSettings.objects.filter(sms_sender=recipient).values_list("organisation_id", flat=True)[:20]
    )


def _could_own(*, sender: str, at: datetime, among: list[int]) -> set[int]:
    """The organisations a text to a shared number may answer (``among`` them, when given).

    Organisations that send from a number of their own are left out (their customers reply
    to that number), unless the shared number is theirs too (``among``).
    """
    if among:
        scope = {"organisation_id__in": among}
        excluded: list[int] = []
    else:
        scope = {}
        excluded = list(
            ChannelSettings.objects.filter(sms_sender__startswith="+").values_list(
                "organisation_id", flat=True
            )
        )
    waiting = set(
        Invitation.objects.filter(
            **scope,
            messages__channel=Channel.SMS,
            messages__recipient=sender,
            messages__status=MessageStatus.SENT,
            messages__sent_at__lte=at,
            expires_at__gt=at,
        )
        .exclude(organisation_id__in=excluded)
        .values_list("organisation_id", flat=True)
        .distinct()[:20]
    )
    if waiting:
        return waiting
    return set(
        Customer.objects.filter(**scope, phone=sender)
        .exclude(organisation_id__in=excluded)
        .values_list("organisation_id", flat=True)
        .distinct()[:20]
    )
