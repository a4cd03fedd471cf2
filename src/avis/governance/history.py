"""The history a simulation replays: a CSV file, or the organisation's own interactions, row by row.

The history file is a CSV with a header row (docs/governance.md, "Simulation"):
``external_id``, ``touchpoint``, ``occurred_at`` (ISO 8601; without an offset,
the organisation's time zone) and ``customer_id`` are required; ``agent``,
``team``, ``email``, ``phone`` (an address or number, or yes/no for "has
one"), ``time_zone``, ``country``, ``contact_only`` (yes/no) and ``opted_out``
(``email``, ``sms``, ``all``, or several separated by ``|``) are optional;
every other column is a customer attribute, for the policy's exclusions.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.errors import ValidationFailed

REQUIRED_COLUMNS = ("external_id", "touchpoint", "occurred_at", "customer_id")
KNOWN_COLUMNS = (
    *REQUIRED_COLUMNS,
    *("agent", "team", "email", "phone", "time_zone", "country", "contact_only", "opted_out"),
)
_YES = {"1", "true", "yes", "oui", "y", "o", "vrai"}
_NO = {"", "0", "false", "no", "non", "n", "faux"}


# --- the history -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One interaction of the history, with what the rules need to know about its customer then."""

    key: str
    touchpoint: str
    occurred_at: datetime
    customer: str
    agent: str = ""
    team: str = ""
    has_email: bool = True
    has_phone: bool = False
    time_zone: str = "Europe/Paris"
    country: str = "FR"
    contact_only: bool = False
    refused: frozenset[str] = frozenset()
    attributes: Mapping[str, Any] = field(default_factory=dict)


def _reach(value: str) -> bool:
    """An address or number means "has one"; yes/no say it directly."""
    lowered = value.strip().lower()
    if lowered in _NO:
        return False
    return True


@lru_cache(maxsize=65_536)
def _region(phone: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone)) or ""
    except phonenumbers.NumberParseException:
        return ""


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def read_history(
    lines: Iterable[str], *, default_time_zone: str = "Europe/Paris", default_country: str = "FR"
) -> Iterator[HistoryRow]:
    """The rows of a history CSV, one at a time; a bad row stops the reading with its line number."""
    reader = csv.DictReader(lines)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ValidationFailed(
            _("The history file lacks the columns: %(columns)s.") % {"columns": ", ".join(missing)}
        )
    reader.fieldnames = header
    extra = [name for name in header if name not in KNOWN_COLUMNS]
    # A history without contact details: every customer is taken as reachable by email.
    reachable = "email" not in header and "phone" not in header
    zone = _zone(default_time_zone)
    for number, raw in enumerate(reader, start=2):
        try:
            row = _row(raw, extra, zone=zone, default_country=default_country)
            yield replace(row, has_email=True) if reachable else row
        except (ValueError, KeyError, ZoneInfoNotFoundError) as exc:
            raise ValidationFailed(
                _("Line %(line)s of the history file: %(problem)s") % {"line": number, "problem": exc}
            ) from None


def _row(raw: dict[str, str], extra: Sequence[str], *, zone: ZoneInfo, default_country: str) -> HistoryRow:
    def get(name: str) -> str:
        return (raw.get(name) or "").strip()

    for name in REQUIRED_COLUMNS:
        if not get(name):
            raise ValueError(_("%(column)s is empty") % {"column": name})
    occurred_at = datetime.fromisoformat(get("occurred_at"))
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=zone)
    phone = get("phone")
    time_zone = get("time_zone") or zone.key
    _zone(time_zone)  # an unknown zone is the row's error, not a crash later
    refused = frozenset(part.strip().lower() for part in get("opted_out").split("|") if part.strip())
    if not refused <= {"email", "sms", "all"}:
        raise ValueError(_("opted_out is email, sms or all"))
    return HistoryRow(
        key=get("external_id"),
        touchpoint=get("touchpoint"),
        occurred_at=occurred_at,
        customer=get("customer_id"),
        agent=get("agent"),
        team=get("team"),
        has_email=_reach(get("email")),
        has_phone=_reach(phone),
        time_zone=time_zone,
        country=(
            get("country") or (_region(phone) if phone.startswith("+") else "") or default_country
        ).upper(),
        contact_only=get("contact_only").lower() in _YES,
        refused=refused,
        attributes={name: raw[name] for name in extra if raw.get(name) not in (None, "")},
    )


def history_from_database(
    *, organisation: Organisation, since: datetime, until: datetime
) -> Iterator[HistoryRow]:
    """The organisation's own interactions between two moments, as a history to replay.

    Customers appear as they are today (contact details, attributes); an
    opt-out counts from the moment it was recorded until it was withdrawn.
    """
    from avis.customers.models import OptOut
    from avis.interactions.models import Interaction

    refusals: dict[int, list[tuple[str, datetime, datetime | None]]] = {}
    for customer_id, channel, created_at, withdrawn_at in OptOut.objects.filter(
        organisation=organisation
    ).values_list("customer_id", "channel", "created_at", "withdrawn_at"):
        refusals.setdefault(customer_id, []).append((channel, created_at, withdrawn_at))
    rows = (
        Interaction.objects.filter(organisation=organisation, occurred_at__gte=since, occurred_at__lt=until)
        .select_related("touchpoint", "customer", "agent", "team")
        .order_by("occurred_at", "id")
    )
    for interaction in rows.iterator(chunk_size=2000):
        customer = interaction.customer
        at = interaction.occurred_at
        refused = frozenset(
            channel
            for channel, start, end in refusals.get(customer.id, ())
            if start <= at and (end is None or end > at)
        )
        yield HistoryRow(
            key=interaction.external_id,
            touchpoint=interaction.touchpoint.code,
            occurred_at=at,
            customer=customer.external_id,
            agent=interaction.agent.external_id if interaction.agent else "",
            team=interaction.team.code if interaction.team else "",
            has_email=bool(customer.email) and getattr(customer, "email_status", "ok") != "invalid",
            has_phone=bool(customer.phone) and customer.phone_status != "invalid",
            time_zone=customer.time_zone,
            country=(_region(customer.phone) if customer.phone else "") or organisation.default_region,
            contact_only=interaction.contact_only,
            refused=refused,
            attributes={**(customer.attributes or {}), **(interaction.attributes or {})},
        )
