from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.bulk import insert_rows
from avis.customers.models import Channel, Customer
from avis.customers.queries import opted_out_channels
from avis.errors import ValidationFailed
from avis.governance.models import ContactPolicy, Decision, Outcome
from avis.interactions.models import Interaction

EDITABLE_POLICY_FIELDS = (
    "max_surveys",
    "window_days",
    "quarantine_days",
    "default_sampling_rate",
    "sampling_rates",
    "send_from",
    "send_until",
    "send_on_sunday",
    "send_on_holidays",
)


def current_policy(*, organisation: Organisation) -> ContactPolicy:
    """The latest version; an organisation without one gets the default rules as version 1."""
    policy = ContactPolicy.objects.filter(organisation=organisation).order_by("-version").first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            return ContactPolicy.objects.create(organisation=organisation, version=1)
    except IntegrityError:  # another request created version 1 first
        return ContactPolicy.objects.get(organisation=organisation, version=1)


@transaction.atomic
def update_policy(
    *, organisation: Organisation, changes: dict[str, object], created_by: AbstractBaseUser | None = None
) -> ContactPolicy:
    """Publish a new version made of the current one plus the changes."""
    unknown = set(changes) - set(EDITABLE_POLICY_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown policy fields: {', '.join(sorted(unknown))}.")
    base = current_policy(organisation=organisation)
    values = {name: getattr(base, name) for name in EDITABLE_POLICY_FIELDS} | changes
    rates = dict(values["sampling_rates"])  # type: ignore[call-overload]
    for code, rate in [("default", values["default_sampling_rate"]), *rates.items()]:
        if not isinstance(rate, int | float) or not 0.0 <= float(rate) <= 1.0:
            raise ValidationFailed(
                f"The sampling rate of {code} must be between 0 and 1.", field="sampling_rates"
            )
    if int(values["max_surveys"]) < 1 or int(values["window_days"]) < 1:  # type: ignore[call-overload]
        raise ValidationFailed("A policy allows at least one survey over at least one day.")
    # Locking the latest version serialises two editors; each gets its own number.
    latest = (
        ContactPolicy.objects.select_for_update()
        .filter(organisation=organisation)
        .order_by("-version")
        .first()
    )
    return ContactPolicy.objects.create(
        organisation=organisation,
        version=(latest.version if latest else 0) + 1,
        created_by=created_by,
        **values,
    )


def inclusion_draw(*, organisation_id: int, external_id: str) -> float:
    """A uniform number in [0, 1) fixed by the interaction, so a replay draws the same."""
    digest = hashlib.blake2b(f"{organisation_id}:{external_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@cache
def _holiday_calendar(country: str, year: int) -> holidays.HolidayBase | dict[date, str]:
    try:
        return holidays.country_holidays(country, years=year)
    except NotImplementedError:  # a country the package does not know: no public holidays
        return {}


def customer_country(customer: Customer, *, default: str) -> str:
    return (_phone_region(customer.phone) if customer.phone else "") or default


@lru_cache(maxsize=65_536)  # parsing costs ~40 µs a number, and customers come back
def _phone_region(phone: str) -> str:
    return phonenumbers.region_code_for_number(phonenumbers.parse(phone)) or ""


def next_sending_time(*, policy: ContactPolicy, at: datetime, time_zone: str, country: str) -> datetime:
    """First moment at or after ``at`` inside the sending window, in the customer's own time zone."""
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    for _ in range(30):  # a month without a single sending day is a misconfiguration
        day = local.date()
        closed = (day.weekday() == 6 and not policy.send_on_sunday) or (
            not policy.send_on_holidays and day in _holiday_calendar(country, day.year)
        )
        if not closed and policy.send_from == policy.send_until:  # the same bound means all day
            return local.astimezone(at.tzinfo)
        opens = datetime.combine(day, policy.send_from, tzinfo=zone)
        closes = datetime.combine(day, policy.send_until, tzinfo=zone)
        if not closed and local < closes:
            return max(local, opens).astimezone(at.tzinfo)
        local = datetime.combine(day + timedelta(days=1), policy.send_from, tzinfo=zone)
    raise ValidationFailed("The contact policy leaves no sending window in the next 30 days.")


@dataclass
class _Verdict:
    outcome: str
    reason: str
    context: dict[str, object]
    channel: str = ""
    planned_at: datetime | None = None


def _choose_channel(customer: Customer, refused: set[str]) -> str:
    if customer.email and Channel.EMAIL not in refused:
        return Channel.EMAIL
    if customer.phone and customer.phone_status != "invalid" and Channel.SMS not in refused:
        return Channel.SMS
    return ""


def _judge(
    *,
    policy: ContactPolicy,
    organisation: Organisation,
    interaction: Interaction,
    customer: Customer,
    refused: set[str],
    solicitations: list[datetime],
    surveyable: bool,
    at: datetime,
    rate: float,
) -> _Verdict:
    touchpoint = interaction.touchpoint.code
    if Channel.ALL in refused or (refused >= {Channel.EMAIL, Channel.SMS}):
        return _Verdict(Outcome.SKIP, "opted_out", {})
    if not surveyable:
        return _Verdict(Outcome.SKIP, "no_survey", {"touchpoint": touchpoint})
    channel = _choose_channel(customer, refused)
    if not channel:
        return _Verdict(Outcome.SKIP, "no_channel", {})
    window_start = at - timedelta(days=policy.window_days)
    recent = sorted(moment for moment in solicitations if moment > window_start)
    if len(recent) >= policy.max_surveys:
        return _Verdict(
            Outcome.SKIP,
            "cap_reached",
            {
                "count": len(recent),
                "max": policy.max_surveys,
                "days": policy.window_days,
                "last": recent[-1].isoformat(),
            },
        )
    quarantine_start = at - timedelta(days=policy.quarantine_days)
    if policy.quarantine_days and recent and recent[-1] > quarantine_start:
        return _Verdict(
            Outcome.SKIP, "quarantine", {"last": recent[-1].isoformat(), "days": policy.quarantine_days}
        )
    if inclusion_draw(organisation_id=organisation.id, external_id=interaction.external_id) >= rate:
        return _Verdict(Outcome.SKIP, "not_sampled", {"rate": rate, "touchpoint": touchpoint})
    planned = next_sending_time(
        policy=policy,
        at=at,
        time_zone=customer.time_zone,
        country=customer_country(customer, default=organisation.default_region),
    )
    context: dict[str, object] = {
        "count": len(recent),
        "max": policy.max_surveys,
        "days": policy.window_days,
        "rate": rate,
    }
    if planned > at:
        context |= {"time_zone": customer.time_zone, "planned_at": planned.isoformat()}
        return _Verdict(Outcome.DEFER, "quiet_hours", context, channel, planned)
    return _Verdict(Outcome.INVITE, "eligible", context, channel, planned)


def decide_contacts(
    *,
    organisation: Organisation,
    interactions: Sequence[Interaction],
    surveyable_touchpoint_ids: set[int],
    now: datetime | None = None,
    replay: bool = False,
) -> list[Decision]:
    """Decide, for each new interaction, whether to survey the customer, and record why.

    ``replay`` decides each interaction as of the moment it occurred (loading
    history, simulations); otherwise as of ``now``.
    """
    if not interactions:
        return []
    now = now or timezone.now()
    policy = current_policy(organisation=organisation)
    customer_ids = sorted({interaction.customer_id for interaction in interactions})
    with transaction.atomic():
        # Hold every customer of the batch until commit: a concurrent decision
        # for the same customer waits here, then counts the invitations this one
        # made, so the cap holds (SQLite's IMMEDIATE transactions do the same).
        customers: dict[int, Customer] = {}
        for start in range(0, len(customer_ids), 2000):
            chunk = customer_ids[start : start + 2000]
            customers |= {
                c.id: c for c in Customer.objects.select_for_update().filter(id__in=chunk).order_by("id")
            }
        refused = opted_out_channels(organisation=organisation, customer_ids=customer_ids)
        moments = [i.occurred_at if replay else now for i in interactions]
        longest = max(policy.window_days, policy.quarantine_days)
        horizon = min(moments) - timedelta(days=longest)
        history: dict[int, list[datetime]] = {}
        for start in range(0, len(customer_ids), 2000):
            rows = Decision.objects.filter(
                organisation=organisation,
                customer_id__in=customer_ids[start : start + 2000],
                planned_at__gt=horizon,
            ).values_list("customer_id", "planned_at")
            for customer_id, planned_at in rows:
                history.setdefault(customer_id, []).append(planned_at)

        decisions: list[Decision] = []
        for interaction, at in sorted(zip(interactions, moments, strict=True), key=lambda pair: pair[1]):
            customer = customers[interaction.customer_id]
            rate = policy.sampling_rate(interaction.touchpoint.code)
            verdict = _judge(
                policy=policy,
                organisation=organisation,
                interaction=interaction,
                customer=customer,
                refused=refused.get(customer.id, set()),
                solicitations=history.setdefault(customer.id, []),
                surveyable=interaction.touchpoint_id in surveyable_touchpoint_ids,
                at=at,
                rate=rate,
            )
            if verdict.planned_at is not None:
                history[customer.id].append(verdict.planned_at)
            decisions.append(
                Decision(
                    organisation=organisation,
                    # By key: the one-to-one would cache each on the other, a
                    # reference cycle per decision that only the collector frees.
                    interaction_id=interaction.id,
                    customer=customer,
                    touchpoint_id=interaction.touchpoint_id,
                    outcome=verdict.outcome,
                    reason=verdict.reason,
                    context=verdict.context,
                    policy=policy,
                    inclusion_probability=rate,
                    channel=verdict.channel,
                    decided_at=at,
                    planned_at=verdict.planned_at,
                )
            )
        insert_rows(decisions)
    return decisions
