"""API rate limits, per key and per client address, shared by every process.

A fixed one-minute window: each request adds one to the counts of its key (the prefix of the
bearer token) and of its address, in Redis when AVIS_REDIS_URL is set, otherwise in the
database with one atomic upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``, which SQLite
and PostgreSQL both run). Over either limit, the API answers 429 with ``Retry-After``: the
seconds until the next minute. While Redis cannot be reached (restarting, failing over), requests
are let through uncounted, with one warning in the log when the outage starts and one when it ends
(avis/cache.py): a limit is a guard against a runaway client, not a reason to refuse every request
for the seconds Redis is away. Sign-in throttling is not here: django-axes counts refused sign-ins
in the database, so it holds while Redis is down.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from avis.accounts.models import RateCount
from avis.audit.context import client_address

logger = logging.getLogger(__name__)
WINDOW = 60
_BEARER = re.compile(r"^Bearer\s+avis_([0-9a-f]{12})_", re.IGNORECASE)


def _count_in_redis(bucket: str, minute: int) -> int:
    from avis.cache import client

    key = f"avis:rate:{bucket}:{minute}"
    pipe = client().pipeline()
    pipe.incr(key)
    pipe.expire(key, WINDOW * 2)
    count, _expiry = pipe.execute()
    return int(count)


def _count_in_database(bucket: str, minute: int) -> int:
    table = connection.ops.quote_name(RateCount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (bucket, minute, count) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT (bucket, minute) DO UPDATE SET count = {table}.count + 1 RETURNING count",
            [bucket, minute],
        )
        count = int(cursor.fetchone()[0])
        # A new minute for this bucket: its past minutes go, and now and then everybody's.
        if count == 1:
            if random.random() < 0.02:  # noqa: S311
                cursor.execute(f"DELETE FROM {table} WHERE minute < %s", [minute - 1])  # noqa: S608
            else:
                cursor.execute(f"DELETE FROM {table} WHERE bucket = %s AND minute < %s", [bucket, minute])  # noqa: S608
    return count


def count_request(bucket: str, *, now: float | None = None) -> int:
    """Add one request to ``bucket`` in the current minute; the minute's count so far."""
    minute = int((now if now is not None else time.time()) // WINDOW)
    if settings.AVIS_REDIS_URL:
        from avis.cache import outage

        if outage.skip():
            return 0
        try:
            count = _count_in_redis(bucket, minute)
        except Exception as exc:  # noqa: BLE001 - any failure of the client, not only Redis's own
            # Not only RedisError: redis-py has also failed with an AttributeError (a connection
            # it closed after a timeout: 'NoneType' object has no attribute 'readline') and with
            # a ValueError (its handshake reading a socket closed under it: 'I/O operation on
            # closed file'), both in the fault test, the second before any fault. A count is
            # never worth a 500: the request goes through uncounted.
            outage.failed(exc, "API requests are let through uncounted")
            return 0
        outage.answered()
        return count
    return _count_in_database(bucket, minute)


def buckets_of(request: HttpRequest) -> list[tuple[str, int]]:
    """The counts this request adds to, each with its limit (a limit of 0 is no limit)."""
    found = []
    match = _BEARER.match(request.headers.get("Authorization", ""))
    if match and settings.AVIS_API_RATE_PER_KEY:
        found.append((f"key:{match.group(1).lower()}", settings.AVIS_API_RATE_PER_KEY))
    address = client_address(request)
    if address and settings.AVIS_API_RATE_PER_ADDRESS:
        found.append((f"ip:{address}", settings.AVIS_API_RATE_PER_ADDRESS))
    return found


class ApiRateLimitMiddleware:
    """Answer 429 to an API request over its key's or its address's limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            now = time.time()
            for bucket, limit in buckets_of(request):
                if count_request(bucket, now=now) > limit:
                    return _too_many(bucket, limit, now)
        return self.get_response(request)


def _too_many(bucket: str, limit: int, now: float) -> HttpResponse:
    retry_after = max(1, math.ceil(WINDOW - now % WINDOW))
    what = _("this API key") if bucket.startswith("key:") else _("this address")
    response = JsonResponse(
        {
            "code": "rate_limited",
            "message": _("Too many requests from %(what)s: %(limit)d a minute. Retry in %(seconds)d s.")
            % {"what": what, "limit": limit, "seconds": retry_after},
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
