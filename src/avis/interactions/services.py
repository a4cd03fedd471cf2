from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.audit.services import record, snapshot
from avis.bulk import fetch_by_key, insert_rows, new_row, upsert_rows
from avis.customers.contact_details import (
    is_email,
    known_time_zones,
    normalise_locale,
    normalise_phone,
)
from avis.customers.models import Customer
from avis.errors import Conflict, FieldsInvalid, Unauthorized
from avis.interactions.models import Agent, InboundWebhook, Interaction, Team, Touchpoint, WebhookReceipt
from avis.interactions.queries import touchpoint_of
from avis.interactions.schemas import InteractionIn
from avis.signing import signature_matches

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
    touchpoints = {t.code: t for t in Touchpoint.objects.filter(organisation=organisation)}
    results = [RecordedInteraction() for _ in items]
    cleaned: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(items):
        customer_values, errors = _clean(item, organisation, touchpoints, now)
        if errors:
            results[index].errors = errors
        else:
            cleaned[index] = customer_values

    # Atomic on its own; inside the ingest's transaction, part of it (no savepoint: two statements
    # fewer per request, and an error here fails the whole transaction anyway).
    with transaction.atomic(savepoint=False):
        known = fetch_by_key(
            Interaction, organisation, "external_id", (items[i].external_id for i in cleaned)
        )
        first_index: dict[str, int] = {}
        for index in list(cleaned):
            external_id = items[index].external_id
            touchpoint = touchpoints[items[index].touchpoint]
            if external_id in known:  # a retry gets its answer, even if the touchpoint was archived since
                results[index].interaction = known[external_id]
            elif touchpoint.is_archived:
                results[index].errors = [archived_refusal(touchpoint)]
                del cleaned[index]
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
        for _index, item in fresh:
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
            for _index, item in fresh
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


# ---------------------------------------------------------------- touchpoints

# What senders type in every interaction, so plain ASCII a shell, a URL and a CSV keep as it is:
# lowercase letters and digits in words joined by dots, dashes or underscores (``claim.settled``).
TOUCHPOINT_CODE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
TOUCHPOINT_CODE_MAX = 64
TOUCHPOINT_NAME_MAX = 200
# Who may create, rename and archive touchpoints, and see or rotate the webhook's secret.
TOUCHPOINT_EDITORS = ("admin",)


def _code_problem(code: str) -> str:
    if not code:
        return _("Give the touchpoint a code, such as call_center.call.")
    if len(code) > TOUCHPOINT_CODE_MAX:
        return _("A code has at most %(max)d characters.") % {"max": TOUCHPOINT_CODE_MAX}
    if not TOUCHPOINT_CODE.fullmatch(code):
        return _(
            "Use lowercase letters and digits, joined by dots, dashes or underscores "
            "(for example call_center.call), without spaces or accents."
        )
    return ""


def _names(name_fr: str, name_en: str, problems: dict[str, str]) -> dict[str, str]:
    names = {"fr": name_fr.strip(), "en": name_en.strip()}
    for language, name in names.items():
        if len(name) > TOUCHPOINT_NAME_MAX:
            problems[f"name.{language}"] = _("A name has at most %(max)d characters.") % {
                "max": TOUCHPOINT_NAME_MAX
            }
    if not any(names.values()):
        problems["name.fr"] = _("Give the touchpoint a name, in French or English or both.")
    return {language: name for language, name in names.items() if name}


def record_study_interactions(
    *, organisation: Organisation, touchpoint: Touchpoint, customer_ids: Sequence[int], key: str, at: datetime
) -> list[Interaction]:
    """One interaction per customer drawn into a study (a barometer wave), on the study's touchpoint.

    Their external ids are ``<key>-<customer id>``: a wave started twice finds them taken
    (IntegrityError) rather than inviting anyone twice.
    """
    rows = [
        new_row(
            Interaction,
            organisation_id=organisation.id,
            external_id=f"{key}-{customer_id}",
            touchpoint_id=touchpoint.id,
            customer_id=customer_id,
            occurred_at=at,
            received_at=at,
            attributes={},
        )
        for customer_id in customer_ids
    ]
    insert_rows(rows)
    return rows


def create_touchpoint(
    *,
    organisation: Organisation,
    code: str,
    name_fr: str = "",
    name_en: str = "",
    now: datetime | None = None,
) -> Touchpoint:
    """A new step of the journey; its code is checked and unique in the organisation.

    Every wrong field is reported at once and nothing is saved.
    """
    code = code.strip()
    problems: dict[str, str] = {}
    if problem := _code_problem(code):
        problems["code"] = problem
    names = _names(name_fr, name_en, problems)
    if problems:
        raise FieldsInvalid(problems)
    taken = _("The code %(code)r is already used by another touchpoint of this organisation.") % {
        "code": code
    }
    if Touchpoint.objects.filter(organisation=organisation, code=code).exists():
        raise FieldsInvalid({"code": taken})
    try:
        with transaction.atomic():
            touchpoint = Touchpoint.objects.create(
                organisation=organisation, code=code, name=names, created_at=now or timezone.now()
            )
            record(
                organisation=organisation,
                action="touchpoint.created",
                target=touchpoint,
                object_label=code,
                after={"code": code, "name": names},
            )
            return touchpoint
    except IntegrityError:  # the same code created by a concurrent request
        raise FieldsInvalid({"code": taken}) from None


@transaction.atomic
def update_touchpoint(
    *,
    organisation: Organisation,
    code: str,
    names: Mapping[str, str] | None = None,
    archived: bool | None = None,
    now: datetime | None = None,
) -> Touchpoint:
    """Rename, archive or restore a touchpoint; only what is given changes.

    ``names`` replaces the French and English names it gives (the code, which
    senders use, never changes). Archived, a touchpoint refuses new
    interactions, while those recorded, their answers and figures stay.
    """
    touchpoint = touchpoint_of(organisation=organisation, code=code, lock=True)
    before = snapshot(touchpoint, fields=("name", "archived_at"))
    changed = []
    if names is not None:
        merged = {**touchpoint.name, **names}
        problems: dict[str, str] = {}
        touchpoint.name = _names(merged.get("fr", ""), merged.get("en", ""), problems)
        if problems:
            raise FieldsInvalid(problems)
        changed.append("name")
    if archived is not None and archived != touchpoint.is_archived:
        touchpoint.archived_at = (now or timezone.now()) if archived else None
        changed.append("archived_at")
    if changed:
        touchpoint.save(update_fields=changed)
        record(
            organisation=organisation,
            action="touchpoint.changed",
            target=touchpoint,
            object_label=touchpoint.code,
            before=before,
            after=snapshot(touchpoint, fields=("name", "archived_at")),
        )
    return touchpoint


def archived_refusal(touchpoint: Touchpoint) -> FieldError:
    """Why a new interaction of an archived touchpoint is refused: the same words for every door."""
    return FieldError(
        "touchpoint",
        _("The touchpoint %(code)r is archived: it accepts no new interactions.") % {"code": touchpoint.code},
    )


# ---------------------------------------------------------------- the signed inbound webhook

# How far a request's signed timestamp may be from our clock. Wider lets a replay in;
# narrower refuses senders whose clocks drift. Stripe and Slack use five minutes.
WEBHOOK_WINDOW = timedelta(minutes=5)
# After a rotation the previous secret still signs for this long, so a sender can switch
# without a gap in which its events are refused.
WEBHOOK_ROTATION_GRACE = timedelta(hours=24)


class WebhookReplayed(Conflict):
    code = "replayed"


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def inbound_webhook(*, organisation: Organisation) -> InboundWebhook:
    """The organisation's webhook, made the first time it is asked for."""
    found = InboundWebhook.objects.filter(organisation=organisation).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return InboundWebhook.objects.create(
                organisation=organisation, token=secrets.token_urlsafe(16), secret=_new_secret()
            )
    except IntegrityError:  # another request made it first
        return InboundWebhook.objects.get(organisation=organisation)


@transaction.atomic
def rotate_webhook_secret(*, organisation: Organisation, now: datetime | None = None) -> InboundWebhook:
    """A new secret; the previous one is still accepted for WEBHOOK_ROTATION_GRACE."""
    now = now or timezone.now()
    webhook = InboundWebhook.objects.select_for_update().get(pk=inbound_webhook(organisation=organisation).pk)
    webhook.previous_secret, webhook.previous_secret_until = webhook.secret, now + WEBHOOK_ROTATION_GRACE
    webhook.secret, webhook.rotated_at = _new_secret(), now
    webhook.save(update_fields=["secret", "previous_secret", "previous_secret_until", "rotated_at"])
    record(
        organisation=organisation,
        action="webhook_secret.rotated",
        target=webhook,
        object_label="inbound webhook",
        at=now,
    )
    return webhook


def receive_signed_request(
    *, token: str, timestamp: str, signature: str, body: bytes, now: datetime | None = None
) -> Organisation:
    """The organisation a webhook request comes from, once its signature, age and novelty are proven.

    Refused: an unknown address or a wrong signature (401, the same answer for
    both, so the address can't be probed), a timestamp outside WEBHOOK_WINDOW
    (401), and a request already received (409): its signature is remembered
    for as long as its timestamp could pass.
    """
    now = now or timezone.now()
    if not (timestamp.isdigit() and len(timestamp) <= 12):
        raise Unauthorized(
            _("X-Avis-Timestamp must give the time of signing in Unix seconds, such as 1764672000."),
            field="X-Avis-Timestamp",
        )
    signed_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
    webhook = InboundWebhook.objects.select_related("organisation").filter(token=token).first()
    secrets_in_force = []
    if webhook is not None:
        secrets_in_force.append(webhook.secret)
        if webhook.previous_secret and webhook.previous_secret_until and now < webhook.previous_secret_until:
            secrets_in_force.append(webhook.previous_secret)
    if not any(signature_matches(secret, timestamp, body, signature) for secret in secrets_in_force):
        raise Unauthorized(
            _("The signature does not match: sign <X-Avis-Timestamp>.<body> with the webhook's secret."),
            field="X-Avis-Signature",
        )
    assert webhook is not None  # a signature matched one of its secrets
    if abs(now - signed_at) > WEBHOOK_WINDOW:
        raise Unauthorized(
            _(
                "The timestamp is more than %(minutes)d minutes away from our clock: "
                "sign each request when sending it."
            )
            % {"minutes": int(WEBHOOK_WINDOW.total_seconds() // 60)},
            field="X-Avis-Timestamp",
        )
    # Older receipts can go: their timestamps would be refused anyway.
    WebhookReceipt.objects.filter(
        organisation=webhook.organisation, signed_at__lt=now - 2 * WEBHOOK_WINDOW
    ).delete()
    try:
        with transaction.atomic():
            WebhookReceipt.objects.create(
                organisation=webhook.organisation,
                signature=signature.strip().removeprefix("sha256="),
                signed_at=signed_at,
                received_at=now,
            )
    except IntegrityError:
        raise WebhookReplayed(
            _("This request was already received: a replay is refused. Sign each new request anew."),
            field="X-Avis-Signature",
        ) from None
    return webhook.organisation
