"""How fast a worker process may hand messages to each provider.

Providers cap throughput (Twilio: one message per second per long code, an
aggregator: what the contract says) and answer 429 beyond it; going slower on
our side costs less than retrying. The limit is per worker process: with N
processes, set AVIS_SMS_RATE_LIMIT to the provider's limit divided by N.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

_lock = threading.Lock()
_next_slot: dict[str, float] = {}


def limit_for(provider: str) -> int:
    """Messages per second allowed to ``provider`` (0: no limit)."""
    if provider == "smtp":
        return settings.AVIS_EMAIL_RATE_LIMIT
    if provider in ("twilio", "http", "simulator"):
        return settings.AVIS_SMS_RATE_LIMIT
    return 0


def wait_for_turn(provider: str) -> float:
    """Sleep until this process may send the next message to ``provider``; returns the seconds waited.

    Slots are spaced evenly (1/rate apart), so a burst is smoothed rather than
    sent at once and then stalled.
    """
    rate = limit_for(provider)
    if rate <= 0:
        return 0.0
    interval = 1.0 / rate
    with _lock:
        now = time.monotonic()
        slot = max(now, _next_slot.get(provider, now))
        _next_slot[provider] = slot + interval
    wait = slot - now
    if wait > 0:
        time.sleep(wait)
    return wait
