"""The shared cache on Redis, and what avis does while Redis is away.

Redis holds nothing that is not also somewhere else: sessions are written through to the
database (``cached_db``), cached figures are computed again, the queue's wake-ups are swept
again from the database. So while Redis cannot be reached (restarting, failing over, its
machine gone), the web goes on without it instead of answering 500:

- a cache read is a miss, a cache write is skipped: ``cached_db`` sessions are read from and
  written to the database alone, a signed-in manager keeps their pages;
- the outage is logged once (a warning), its end once (*Redis is back*);
- for ``RETRY_SECONDS`` after a failure the cache does not try Redis again, so a Redis that
  does not answer at all (a machine gone: connection timeouts of 2 s) costs one request 2 s,
  not every request;
- a key whose write or deletion was skipped is deleted as soon as Redis answers again: a
  session signed out or renewed during the outage does not come back from a Redis that kept
  the old copy (append-only file).

``outage`` is shared with the API rate limits (avis/accounts/throttling.py), which count in
Redis: they let requests through uncounted while it is down, as docs/deployment.md says.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# Redis unreachable, or a replica that refuses writes during a failover.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)
RETRY_SECONDS = 5.0
MAX_STALE_KEYS = 10_000

T = TypeVar("T")


class Outage:
    """Whether this process currently sees Redis as down; logs the start and the end once each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0

    def forget(self) -> None:
        with self._lock:
            self._down_since = None
            self._retry_at = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def skip(self) -> bool:
        """True while a recent failure says not to try Redis yet."""
        return self._down_since is not None and time.monotonic() < self._retry_at

    def failed(self, exc: BaseException, what: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._retry_at = now + RETRY_SECONDS
            if self._down_since is None:
                self._down_since = now
                logger.warning(
                    "Redis is unreachable (%s): %s; tried again every %d s",
                    type(exc).__name__, what, RETRY_SECONDS,
                )  # fmt: skip

    def answered(self) -> bool:
        """Redis answered; True when that ends an outage (logged once)."""
        if self._down_since is None:
            return False
        with self._lock:
            if self._down_since is None:
                return False
            lasted = time.monotonic() - self._down_since
            self._down_since = None
        logger.warning("Redis is back after %.0f s", lasted)
        return True


outage = Outage()


def forget_outage() -> None:
    """Start again as if Redis had always answered (tests: each one's outage is its own)."""
    outage.forget()
    with _stale_lock:
        _stale.clear()
    client.cache_clear()


@cache
def client() -> Any:
    """This process's Redis client (the rate limits' counts, /readyz's ping); 2 s at most per call, so
    a Redis whose machine is gone costs a request 2 s, not the system's TCP timeout (minutes)."""
    import redis

    return redis.Redis.from_url(settings.AVIS_REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


# Full keys whose write or deletion was skipped, for this process (Django's cache objects are per
# thread): deleted as soon as Redis answers again.
_stale: set[str] = set()
_stale_lock = threading.Lock()


class ResilientRedisCache(RedisCache):
    """Django's RedisCache, a miss (reads) or a no-op (writes) while Redis is unreachable."""

    def _try(self, run: Callable[[], T], fallback: T, *, stale: list[str] | None = None) -> T:
        if outage.skip():
            self._remember(stale)
            return fallback
        try:
            result = run()
        except UNREACHABLE as exc:
            outage.failed(exc, "the cache reads as empty and writes nothing (sessions from the database)")
            self._remember(stale)
            return fallback
        if outage.answered() or _stale:
            self._forget_stale()
        return result

    def _remember(self, keys: list[str] | None) -> None:
        if keys:
            with _stale_lock:
                if len(_stale) < MAX_STALE_KEYS:
                    _stale.update(keys)

    def _forget_stale(self) -> None:
        with _stale_lock:
            keys = list(_stale)
            _stale.clear()
        if not keys:
            return
        try:
            self._cache.delete_many(keys)
        except UNREACHABLE as exc:
            outage.failed(exc, "stale keys kept for later")
            self._remember(keys)

    def _keys(self, keys: Any, version: int | None) -> list[str]:
        return [self.make_and_validate_key(key, version=version) for key in keys]

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        base = super()
        stale = self._keys([key], version)
        return self._try(lambda: base.add(key, value, timeout, version), False, stale=stale)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        base = super()
        return self._try(lambda: base.get(key, default, version), default)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        base = super()
        self._try(lambda: base.set(key, value, timeout, version), None, stale=self._keys([key], version))

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        base = super()
        return self._try(lambda: base.touch(key, timeout, version), False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        base = super()
        return self._try(lambda: base.delete(key, version), False, stale=self._keys([key], version))

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        base = super()
        return self._try(lambda: base.get_many(keys, version), {})

    def has_key(self, key: Any, version: int | None = None) -> bool:
        base = super()
        return self._try(lambda: base.has_key(key, version), False)

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list:
        base = super()
        return self._try(lambda: base.set_many(data, timeout, version), [], stale=self._keys(data, version))

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        base = super()
        self._try(lambda: base.delete_many(keys, version), None, stale=self._keys(keys, version))
