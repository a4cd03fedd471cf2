"""The Prometheus figures of the whole installation (every organisation together: the operator's
view, never an organisation's page).

The business figures are read from the database — the source of truth, shared by every process
and machine, so any web process answers the same numbers — at most every
`AVIS_PROMETHEUS_CACHE_SECONDS`, kept in the cache (Redis when configured, so several Prometheus
servers or web processes do not multiply the queries). A scrape costs no count over a whole
table that only grows:

- the counters of rows that are only ever added (interactions, decisions, inbound texts, cases
  opened) are *tallies*: what was counted up to a row id is kept in the cache, and each
  computation counts only the rows after it (a range of the primary key). The id up to which
  rows are final moves forward to the highest id seen an hour earlier, so a row whose
  transaction took longer than the scrape to commit (a large batch) is still counted. Deleting
  rows (retention, erasure) does not lower a tally: these are counters of what was ingested;
- the outbox's due messages are read through the (status, not_before) index;
- what is grouped by a state that changes (the outbox by status, delivery receipts, webhook
  deliveries, periodic runs, SLA breaches) is counted whole, over tables much smaller than the
  interactions (one row per message sent, per webhook event, per task run in 30 days, per case).

Request latency is measured in each process (avis/observability.py) and, under `avis web`, summed
over gunicorn's processes by prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

CACHE_KEY = "avis:prometheus:figures"
TALLIES_KEY = "avis:prometheus:tallies"
TALLIES_DAYS = 30  # a tally unused this long is counted again from the start


def process_registry() -> Any:
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


SETTLE_SECONDS = 3600  # rows below the highest id seen this long ago are all committed
MARK_SECONDS = 60  # one mark (time, highest id) a minute at most


def tally(model: Any, fields: tuple[str, ...], state: dict[str, Any], now: float) -> list[list[Any]]:
    """Rows of ``model`` by ``fields`` (or all of them when no field), counting only the rows after
    the id already tallied in ``state`` (updated in place; empty: a first count of the whole
    table)."""
    upto = state.get("upto", 0)
    counts = {tuple(row[:-1]): row[-1] for row in state.get("counts", [])}
    marks = state.get("marks", [])
    top = model.objects.aggregate(top=Max("id"))["top"] or 0
    if not marks or now - marks[-1][0] >= MARK_SECONDS:
        marks.append([now, top])
    settled = [mark for mark in marks if now - mark[0] >= SETTLE_SECONDS]
    if settled:
        new_upto = max(mark[1] for mark in settled)
        if new_upto > upto:
            _add(counts, _count(model.objects.filter(id__gt=upto, id__lte=new_upto), fields))
            upto = new_upto
        marks = [mark for mark in marks if now - mark[0] < SETTLE_SECONDS]
    state.update(upto=upto, counts=[[*key, n] for key, n in counts.items()], marks=marks)
    total = dict(counts)
    _add(total, _count(model.objects.filter(id__gt=upto), fields))
    return [[*key, n] for key, n in total.items()]


def _count(rows: Any, fields: tuple[str, ...]) -> list[tuple[Any, ...]]:
    if not fields:
        return [(rows.count(),)]
    return _grouped(rows, *fields)


def _add(counts: dict[tuple[Any, ...], int], rows: list[tuple[Any, ...]]) -> None:
    for *key, n in rows:
        counts[tuple(key)] = counts.get(tuple(key), 0) + n


def _single(rows: list[list[Any]]) -> int:
    return sum(row[-1] for row in rows)


def figures(tallies: dict[str, Any] | None = None, now: float | None = None) -> dict[str, Any]:
    """Plain numbers (JSON-able, for the cache). ``tallies``: what was counted so far (updated in
    place); without it, every counter is a count of its whole table."""
    from huey.contrib.djhuey import HUEY

    from avis.cases.models import Case, WebhookDelivery
    from avis.governance.models import Decision
    from avis.interactions.models import Interaction
    from avis.messaging.models import InboundMessage, MessageStatus, OutboundMessage
    from avis.operations.models import PeriodicRun

    tallies = {} if tallies is None else tallies
    at = time.time() if now is None else now

    def tallied(name: str, model: Any, *fields: str) -> list[list[Any]]:
        return tally(model, fields, tallies.setdefault(name, {}), at)

    now = timezone.now()
    due = OutboundMessage.objects.filter(status=MessageStatus.PENDING, not_before__lte=now).aggregate(
        depth=Count("id"), oldest=Min("not_before")
    )
    cases = Case.objects.aggregate(
        breached=Count(
            "id",
            filter=Q(first_contact_at__gt=F("due_at")) | Q(first_contact_at=None, due_at__lt=now),
        ),
    )
    try:
        queue_pending: int | None = HUEY.pending_count()
    except Exception:  # noqa: BLE001 - the queue is down: /readyz says so; the figures go on
        queue_pending = None
    return {
        "interactions": _single(tallied("interactions", Interaction)),
        "decisions": tallied("decisions", Decision, "outcome", "reason"),
        "outbox": _grouped(OutboundMessage.objects.all(), "channel", "status"),
        "due_depth": due["depth"],
        "due_oldest_age": (now - due["oldest"]).total_seconds() if due["oldest"] else 0.0,
        "deliveries": _grouped(
            OutboundMessage.objects.exclude(delivery_status=""), "channel", "delivery_status"
        ),
        "webhooks": _grouped(WebhookDelivery.objects.all(), "status"),
        "inbound": _single(tallied("inbound", InboundMessage)),
        "cases_opened": _single(tallied("cases_opened", Case)),
        "cases_breached": cases["breached"],
        "periodic": _grouped(PeriodicRun.objects.all(), "task", "outcome"),
        "queue_pending": queue_pending,
    }


def _grouped(rows: Any, *fields: str) -> list[tuple[Any, ...]]:
    return list(rows.values_list(*fields).annotate(n=Count("id")).order_by())


def cached_figures() -> dict[str, Any]:
    seconds = settings.AVIS_PROMETHEUS_CACHE_SECONDS
    if seconds <= 0:
        return figures()
    found = cache.get(CACHE_KEY)
    if found is None:
        tallies = cache.get(TALLIES_KEY) or {}
        found = figures(tallies)
        cache.set(CACHE_KEY, found, seconds)
        cache.set(TALLIES_KEY, tallies, TALLIES_DAYS * 86400)
    return found


def _family(kind: Any, name: str, doc: str, rows: list[Any], labels: list[str]) -> Any:
    family = kind(name, doc, labels=labels)
    for *values, n in rows:
        family.add_metric([value or "" for value in values], n)
    return family


class DatabaseCollector:
    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily as Counter
        from prometheus_client.core import GaugeMetricFamily as Gauge

        try:
            data = cached_figures()
        except Exception:  # noqa: BLE001 - the database is down: say so, keep the process's own figures
            yield Gauge("avis_database_up", "Whether the figures could be read from the database", value=0)
            return
        yield Gauge("avis_database_up", "Whether the figures could be read from the database", value=1)
        yield Counter("avis_interactions_ingested", "Interactions stored", value=data["interactions"])
        yield _family(
            Counter,
            "avis_decisions",
            "Governance decisions, by outcome and reason",
            data["decisions"],
            ["outcome", "reason"],
        )
        yield _family(
            Gauge,
            "avis_outbox_messages",
            "Outbox rows, by channel and status",
            data["outbox"],
            ["channel", "status"],
        )
        yield Gauge("avis_outbox_due", "Outbox messages due and not yet sent", value=data["due_depth"])
        yield Gauge(
            "avis_outbox_oldest_due_age_seconds",
            "How long the oldest due message has waited (0: none waits)",
            value=data["due_oldest_age"],
        )
        yield _family(
            Counter,
            "avis_deliveries",
            "Providers' delivery receipts, by channel and status",
            data["deliveries"],
            ["channel", "status"],
        )
        yield _family(
            Gauge,
            "avis_webhook_deliveries",
            "Case webhook deliveries, by status",
            data["webhooks"],
            ["status"],
        )
        yield Counter("avis_inbound_texts", "Inbound texts (SMS replies) received", value=data["inbound"])
        yield Counter("avis_cases_opened", "Cases opened", value=data["cases_opened"])
        yield Counter(
            "avis_cases_sla_breached",
            "Cases first contacted after their deadline, or still not contacted past it",
            value=data["cases_breached"],
        )
        yield _family(
            Counter,
            "avis_periodic_runs",
            "Periodic tasks enqueued by avis scheduler, by task and outcome (empty: not finished)",
            data["periodic"],
            ["task", "outcome"],
        )
        if data["queue_pending"] is not None:
            yield Gauge("avis_queue_pending", "Tasks waiting in the queue", value=data["queue_pending"])
