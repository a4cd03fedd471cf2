"""Writing the audit trail: one ``record`` call inside the service that made the change.

It runs in the service's own transaction, so a change rolled back leaves no event and an
event that could not be written rolls the change back.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

from avis.audit.context import Actor, current_actor
from avis.audit.models import AuditEvent

# Never copied into before/after: secrets and their digests, whatever the model.
_HIDDEN = ("secret", "digest", "_sealed", "password", "token")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def snapshot(instance: models.Model | None, *, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The row's own values (foreign keys as ids), secrets left out; ``{}`` for no row."""
    if instance is None:
        return {}
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        name = field.attname
        if fields is not None and field.name not in fields and name not in fields:
            continue
        if name in ("id", "organisation_id") or any(part in name for part in _HIDDEN):
            continue
        values[name] = _plain(getattr(instance, name))
    return values


def _changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only what differs, so the page reads as the change itself."""
    if not before or not after:
        return before, after
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys if k in before}, {k: after.get(k) for k in keys if k in after}


def record(
    *,
    organisation: Any,
    action: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: Actor | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event. The actor is the request's (user or API key) unless given."""
    actor = actor or current_actor()
    if target is not None:
        object_type = object_type or target._meta.model_name or ""
        object_id = object_id or target.pk or ""
        object_label = object_label or str(target)
    before_plain, after_plain = _changed(_plain(before or {}), _plain(after or {}))
    return AuditEvent.objects.create(
        organisation=organisation,
        at=at or timezone.now(),
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        actor_label=actor.label[:200],
        action=action,
        object_type=object_type[:60],
        object_id=str(object_id)[:100],
        object_label=object_label[:200],
        before=before_plain or None,
        after=after_plain or None,
        ip_address=actor.ip_address,
    )
