"""Outgoing webhooks: one signed JSON POST, and what came of it.

The receiver checks ``X-Avis-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<X-Avis-Timestamp>.<body>`` with the endpoint's secret (the timestamp in the
signed text stops a captured request from being replayed later); see ``avis.signing``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from avis.signing import signature


@dataclass(frozen=True)
class Result:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, secret: str, payload: dict[str, Any], key: str) -> Result:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(timezone.now().timestamp()))
    request = urllib.request.Request(  # noqa: S310 (the address is an http(s) URL checked when saved)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "avis-webhooks/1",
            "X-Avis-Event": str(payload.get("event", "")),
            "X-Avis-Delivery": key,
            "X-Avis-Timestamp": timestamp,
            "X-Avis-Signature": signature(secret, timestamp, body),
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=settings.AVIS_WEBHOOK_TIMEOUT) as reply:  # noqa: S310
            code, error = reply.status, ""
    except urllib.error.HTTPError as exc:
        code, error = exc.code, str(exc.reason)
    except (urllib.error.URLError, OSError) as exc:
        code, error = None, str(getattr(exc, "reason", exc))
    return Result(code, error, int((time.monotonic() - started) * 1000))
