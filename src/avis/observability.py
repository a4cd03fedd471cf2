"""What an operator watches: a request id on every request and log line, one access-log line per
request (redacted), JSON log lines on demand, the request-latency histogram, and the health,
readiness and Prometheus endpoints answered before anything else runs (no session, no host check,
no database for /healthz).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from avis.logs import redact

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
request_id: ContextVar[str] = ContextVar("avis_request_id", default="")
access_logger = logging.getLogger("avis.access")

HEALTH_PATHS = ("/healthz", "/readyz")
METRICS_PATH = "/-/metrics"


def route_of(path: str) -> str:
    """A handful of route groups for the latency histogram (never the path: unbounded, and personal)."""
    for prefix, group in (
        ("/api/", "api"),
        ("/hooks/", "hooks"),
        ("/s/", "respondent"),
        ("/static/", "static"),
        ("/-/", "operations"),
        ("/admin/", "admin"),
    ):
        if path.startswith(prefix):
            return group
    return "ui"


def _latency() -> Any:
    """The histogram, made at first use: in gunicorn's processes PROMETHEUS_MULTIPROC_DIR is set by
    then (`avis web`), so every process writes its samples where the scrape sums them. The first
    requests arrive on several threads at once: one of them registers it (twice is an error)."""
    global _histogram, _requests
    with _making:
        if _histogram is None:
            from prometheus_client import Counter, Histogram

            _histogram = Histogram(
                "avis_http_request_duration_seconds",
                "Time to answer one HTTP request, by route group",
                ["route"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            )
            _requests = Counter(
                "avis_http_requests",
                "HTTP requests answered, by route group and status class",
                ["route", "status"],
            )
    return _histogram, _requests


_histogram: Any = None
_making = threading.Lock()
_requests: Any = None


class RequestMiddleware:
    """First in the chain: gives the request its id (the caller's X-Request-ID when it is a sane
    token, else a new one), echoes it on the response, times the request and logs one line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in HEALTH_PATHS or request.path_info == METRICS_PATH:
            from avis.operations import health

            return health.answer(request)
        given = request.headers.get(REQUEST_ID_HEADER, "")
        rid = given if _ACCEPTED_ID.match(given) else uuid.uuid4().hex
        # Kept until the response is closed (request_finished): Django logs a 4xx/5xx after the
        # middleware returned, and that line carries the id too.
        request_id.set(rid)
        request.request_id = rid  # type: ignore[attr-defined]
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        response[REQUEST_ID_HEADER] = rid
        route = route_of(request.path_info)
        histogram, requests = _latency()
        histogram.labels(route).observe(elapsed)
        requests.labels(route, f"{response.status_code // 100}xx").inc()
        access_logger.info(
            "%s %s status=%s duration=%dms",
            request.method,
            request.path,
            response.status_code,
            round(elapsed * 1000),
            extra={
                "request_id": rid,
                "method": request.method,
                "path": redact(request.path),
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
                "route": route,
            },
        )
        return response


def _forget_request_id(**kwargs: Any) -> None:
    request_id.set("")


request_finished.connect(_forget_request_id, dispatch_uid="avis.observability.forget_request_id")


class RequestIdFilter(logging.Filter):
    """Every log line written while a request is answered carries its id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id.get()
        return True


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line (AVIS_LOG_FORMAT=json): time, level, logger, message, request id and
    the structured fields a logger added (`extra=`). Runs after the redaction filter, and redacts
    the fields and the traceback again: nothing personal in any of them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if getattr(record, "request_id", ""):
            line["request_id"] = record.request_id
        for key, value in vars(record).items():
            if key in _STANDARD or key in line or key.startswith("_"):
                continue
            plain = value is None or isinstance(value, bool | int | float)
            line[key] = value if plain else redact(str(value))
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)
