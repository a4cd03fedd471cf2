"""`/healthz`, `/readyz` and the Prometheus endpoint `/-/metrics`, answered by the first middleware
(avis/observability.py): no session, no host check, no sign-in.

- ``/healthz``: the process lives and answers; touches nothing else (a load balancer's liveness).
- ``/readyz``: the database answers, every migration this code knows is applied, the queue answers.
  503 with the failing check otherwise (a load balancer's readiness: a web process of a new
  version is not sent traffic before `avis migrate` ran). With Redis, its ping is a check too,
  but not an essential one: Redis down is 200 ``degraded`` (see ``essential``).
- ``/-/metrics``: Prometheus text, for a bearer token (AVIS_PROMETHEUS_TOKEN) or, without one,
  for the addresses in AVIS_PROMETHEUS_ADDRESSES only.
"""

from __future__ import annotations

import hmac
import time
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from avis.audit.context import client_address


def answer(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"status": "error", "message": "GET only"}, status=405)
    if request.path_info == "/healthz":
        return _no_store(JsonResponse({"status": "ok"}))
    if request.path_info == "/readyz":
        checks = readiness()
        ready = all(checks[name]["ok"] for name in essential())
        status = "unavailable" if not ready else "ok" if all(c["ok"] for c in checks.values()) else "degraded"
        return _no_store(JsonResponse({"status": status, "checks": checks}, status=200 if ready else 503))
    return metrics(request)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@cache
def known_migrations() -> frozenset[tuple[str, str]]:
    """Every migration on disk, read once per process (the code does not change under it)."""
    from django.db.migrations.loader import MigrationLoader

    return frozenset(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def essential() -> tuple[str, ...]:
    """The checks without which a web process must not be sent traffic. Redis is not one of them:
    while it is away the web degrades (sessions from the database, no cache, API limits uncounted,
    wake-ups left to the sweeps; avis/cache.py), and every web process shares it, so refusing
    traffic for it would take the whole site down. /readyz then answers 200 ``degraded``."""
    return ("database", "migrations") if settings.AVIS_REDIS_URL else ("database", "migrations", "queue")


_migrated_at: float | None = None  # when this process last saw every migration applied


def readiness() -> dict[str, dict[str, Any]]:
    global _migrated_at
    checks: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True, "ms": _ms(started)}
    except Exception as exc:  # noqa: BLE001 - not ready, and say why (never the URL)
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        connection.close()
    # Once all applied, a process sees them applied for a minute without asking again.
    if _migrated_at is not None and time.monotonic() - _migrated_at < 60:
        checks["migrations"] = {"ok": True, "unapplied": 0}
    elif checks["database"]["ok"]:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT app, name FROM django_migrations")
                missing = known_migrations() - {tuple(row) for row in cursor.fetchall()}
        except Exception:  # noqa: BLE001 - no django_migrations table: nothing migrated yet
            missing = known_migrations()
        checks["migrations"] = {"ok": not missing, "unapplied": len(missing)}
        _migrated_at = None if missing else time.monotonic()
    else:
        checks["migrations"] = {"ok": False, "unapplied": None}
    started = time.perf_counter()
    try:
        from huey.contrib.djhuey import HUEY

        pending = HUEY.pending_count()
        checks["queue"] = {"ok": True, "pending": pending, "ms": _ms(started)}
    except Exception as exc:  # noqa: BLE001
        checks["queue"] = {"ok": False, "error": type(exc).__name__}
    if settings.AVIS_REDIS_URL:
        checks["redis"] = _redis_check()
    return checks


def _redis_check() -> dict[str, Any]:
    from avis.cache import client

    started = time.perf_counter()
    try:
        client().ping()
    except Exception as exc:  # noqa: BLE001 - down: say so (never the URL)
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": _ms(started)}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def allowed(request: HttpRequest) -> bool:
    token = settings.AVIS_PROMETHEUS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return client_address(request) in settings.AVIS_PROMETHEUS_ADDRESSES


def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return JsonResponse({"code": "forbidden", "message": "Not allowed."}, status=403)
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    from avis.operations.metrics import DatabaseCollector, process_registry

    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    body = generate_latest(registry) + generate_latest(process_registry())
    return _no_store(HttpResponse(body, content_type=CONTENT_TYPE_LATEST))
