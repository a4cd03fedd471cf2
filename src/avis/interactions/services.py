from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.bulk import fetch_by_key, insert_rows, new_row, upsert_rows
from avis.customers.contact_details import (
    is_email,
    known_time_zones,
    normalise_locale,
    normalise_phone,
)
from avis.customers.models import Customer
from avis.errors import ValidationFailed
from avis.interactions.models import Agent, Interaction, Team, Touchpoint
from avis.interactions.schemas import InteractionIn

MAX_FUTURE_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass
class RecordedInteraction:
    """What happened to one item: stored now, already known (a retry), or rejected."""

    interaction: Interaction | None = None
    created: bool = False
    errors: list[FieldError] = field(default_factory=list)


def _clean_customer(
    item: InteractionIn, organisation: Organisation
) -> tuple[dict[str, Any], list[FieldError]]:
    given = item.customer
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    if given.phone:
        try:
            values["phone"] = normalise_phone(given.phone, region=organisation.default_region)
        except ValueError as exc:
            errors.append(FieldError("customer.phone", str(exc)))
    if given.email:
        email = given.email.strip().lower()
        if is_email(email):
            values["email"] = email
        else:
            errors.append(FieldError("customer.email", f"{given.email!r} is not a valid email address"))
    if given.time_zone:
        if given.time_zone in known_time_zones():
            values["time_zone"] = given.time_zone
        else:
            errors.append(FieldError("customer.time_zone", f"{given.time_zone!r} is not an IANA time zone"))
    if given.locale:
        values["locale"] = normalise_locale(given.locale, default=organisation.default_locale)
    if given.attributes:
        values["attributes"] = given.attributes
    return values, errors


def _clean(
    item: InteractionIn, organisation: Organisation, touchpoints: dict[str, Touchpoint], now: datetime
) -> tuple[dict[str, Any], list[FieldError]]:
    customer_values, errors = _clean_customer(item, organisation)
    if item.touchpoint not in touchpoints:
        errors.append(FieldError("touchpoint", f"Unknown touchpoint {item.touchpoint!r}"))
    if timezone.is_naive(item.occurred_at):
        errors.append(
            FieldError("occurred_at", "occurred_at needs a time zone offset, e.g. 2026-03-01T10:00:00+01:00")
        )
    elif item.occurred_at > now + MAX_FUTURE_SKEW:
        errors.append(FieldError("occurred_at", "occurred_at is in the future"))
    return customer_values, errors


def record_interactions(
    *, organisation: Organisation, items: Sequence[InteractionIn], now: datetime | None = None
) -> list[RecordedInteraction]:
    """Store a batch of interactions, idempotent on the sender's external id.

    Each item is checked on its own: a bad item is reported with its field
    paths and the good ones are kept. An item whose external id is already
    stored (a retry) comes back as it was, and nothing is created twice.
    """
    now = now or timezone.now()
    touchpoints = {t.code: t for t in Touchpoint.objects.filter(organisation=organisation, is_active=True)}
    results = [RecordedInteraction() for _ in items]
    cleaned: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(items):
        customer_values, errors = _clean(item, organisation, touchpoints, now)
        if errors:
            results[index].errors = errors
        else:
            cleaned[index] = customer_values

    with transaction.atomic():
        known = fetch_by_key(
            Interaction, organisation, "external_id", (items[i].external_id for i in cleaned)
        )
        first_index: dict[str, int] = {}
        for index in cleaned:
            external_id = items[index].external_id
            if external_id in known:
                results[index].interaction = known[external_id]
            elif external_id not in first_index:
                first_index[external_id] = index
        fresh = [(index, items[index]) for index in first_index.values()]

        customer_rows: dict[str, dict[str, Any]] = {}
        team_rows: dict[str, dict[str, Any]] = {}
        for index, item in fresh:
            customer_rows.setdefault(item.customer.external_id, {}).update(cleaned[index])
            if item.team:
                team_rows.setdefault(item.team, {}).update({"name": item.team_name} if item.team_name else {})
        customers = upsert_rows(
            Customer,
            organisation=organisation,
            key="external_id",
            wanted=customer_rows,
            create_defaults={
                "locale": organisation.default_locale,
                "time_zone": organisation.default_time_zone,
                "created_at": now,
                "updated_at": now,
            },
        )
        teams = upsert_rows(Team, organisation=organisation, key="code", wanted=team_rows)
        agent_rows: dict[str, dict[str, Any]] = {}
        for _, item in fresh:
            if item.agent:
                values = agent_rows.setdefault(item.agent, {})
                if item.agent_name:
                    values["name"] = item.agent_name
                if item.team:
                    values["team"] = teams[item.team]
        agents = upsert_rows(Agent, organisation=organisation, key="external_id", wanted=agent_rows)

        rows = [
            new_row(
                Interaction,
                external_id=item.external_id,
                occurred_at=item.occurred_at,
                received_at=now,
                attributes=item.attributes,
                contact_only=item.contact_only,
                organisation=organisation,
                touchpoint=touchpoints[item.touchpoint],
                customer=customers[item.customer.external_id],
                agent=agents[item.agent] if item.agent else None,
                team=teams[item.team] if item.team else (agents[item.agent].team if item.agent else None),
            )
            for _, item in fresh
        ]
        created = _create_interactions(organisation, rows)

    for index, item in fresh:
        interaction, is_new = created[item.external_id]
        results[index].interaction, results[index].created = interaction, is_new
    for index in cleaned:
        if results[index].interaction is None:  # a duplicate inside the same batch
            results[index].interaction = created[items[index].external_id][0]
    return results


def _create_interactions(
    organisation: Organisation, rows: list[Interaction]
) -> dict[str, tuple[Interaction, bool]]:
    """Insert in one statement; on a concurrent retry of the same id, fall back row by row."""
    try:
        with transaction.atomic():
            insert_rows(rows)
        return {row.external_id: (row, True) for row in rows}
    except IntegrityError:
        outcome: dict[str, tuple[Interaction, bool]] = {}
        for row in rows:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
                outcome[row.external_id] = (row, True)
            except IntegrityError:
                row.pk = None
                outcome[row.external_id] = (
                    Interaction.objects.get(organisation=organisation, external_id=row.external_id),
                    False,
                )
        return outcome


@transaction.atomic
def create_touchpoint(*, organisation: Organisation, code: str, name_fr: str, name_en: str) -> Touchpoint:
    if Touchpoint.objects.filter(organisation=organisation, code=code).exists():
        raise ValidationFailed(f"The touchpoint {code!r} already exists.", field="code")
    return Touchpoint.objects.create(
        organisation=organisation, code=code, name={"fr": name_fr, "en": name_en}
    )
