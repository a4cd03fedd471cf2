from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.audit.models import AuditEvent
from avis.tabular import neutralise


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None  # inclusive: the whole day


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def events_of(*, organisation: Organisation, filters: AuditFilters = AuditFilters()) -> QuerySet[AuditEvent]:
    """The organisation's events, newest first, narrowed by the page's filters."""
    events = AuditEvent.objects.filter(organisation=organisation)
    if filters.actor:
        events = events.filter(actor_label__icontains=filters.actor)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.since:
        events = events.filter(at__gte=_start_of(filters.since))
    if filters.until:
        events = events.filter(at__lt=_start_of(filters.until + timedelta(days=1)))
    return events.order_by("-at", "-id")


CSV_COLUMNS = (
    "at",
    "actor",
    "ip_address",
    "action",
    "object_type",
    "object_id",
    "object",
    "before",
    "after",
)


def csv_rows(events: QuerySet[AuditEvent]) -> Iterator[tuple[object, ...]]:
    """The events as the CSV export's rows, streamed in chunks: the trail can be long."""
    yield CSV_COLUMNS
    for event in events.iterator(chunk_size=2000):
        yield tuple(
            neutralise(value)
            for value in (
                event.at.isoformat(),
                event.actor_label,
                event.ip_address or "",
                event.action,
                event.object_type,
                event.object_id,
                event.object_label,
                json.dumps(event.before, ensure_ascii=False, sort_keys=True) if event.before else "",
                json.dumps(event.after, ensure_ascii=False, sort_keys=True) if event.after else "",
            )
        )
