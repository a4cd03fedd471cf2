"""The Prometheus figures of the whole installation (every organisation together: the operator's
view, never an organisation's page).

The business figures are read from the database at scrape time — the database is the source of
truth, shared by every process and machine, so any web process answers the same numbers — with
a few grouped counts, kept `AVIS_PROMETHEUS_CACHE_SECONDS` in the cache (Redis when configured,
so several Prometheus servers or web processes do not multiply the queries). Request latency is
measured in each process (avis/observability.py) and, under `avis web`, summed over gunicorn's
processes by prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Min, Q
from django.utils import timezone

CACHE_KEY = "avis:prometheus:figures"


def process_registry() -> Any:
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def figures() -> dict[str, Any]:
    """Plain numbers (JSON-able, for the cache)."""
    from huey.contrib.djhuey import HUEY

    from avis.cases.models import Case, WebhookDelivery
    from avis.governance.models import Decision
    from avis.interactions.models import Interaction
    from avis.messaging.models import InboundMessage, MessageStatus, OutboundMessage
    from avis.operations.models import PeriodicRun

    now = timezone.now()
    due = OutboundMessage.objects.filter(status=MessageStatus.PENDING, not_before__lte=now).aggregate(
        depth=Count("id"), oldest=Min("not_before")
    )
    cases = Case.objects.aggregate(
        opened=Count("id"),
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
        "interactions": Interaction.objects.count(),
        "decisions": _grouped(Decision.objects.all(), "outcome", "reason"),
        "outbox": _grouped(OutboundMessage.objects.all(), "channel", "status"),
        "due_depth": due["depth"],
        "due_oldest_age": (now - due["oldest"]).total_seconds() if due["oldest"] else 0.0,
        "deliveries": _grouped(
            OutboundMessage.objects.exclude(delivery_status=""), "channel", "delivery_status"
        ),
        "webhooks": _grouped(WebhookDelivery.objects.all(), "status"),
        "inbound": InboundMessage.objects.count(),
        "cases_opened": cases["opened"],
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
        found = figures()
        cache.set(CACHE_KEY, found, seconds)
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
