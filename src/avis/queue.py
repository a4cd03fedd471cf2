"""The embedded task queue: Huey on its own SQLite file, committed the way avis's database is.

Huey's SQLite storage keeps SQLite's default ``synchronous=FULL``, so every
enqueue and every dequeue waits for an fsync of the file (4 ms on an idle
disk, tens on a busy one), and an inbound SMS webhook enqueues once per
text. The queue only wakes workers: the database is the source of truth and
periodic sweeps wake them again for anything a lost wake-up left behind. So
``synchronous=NORMAL`` in WAL mode, as for the database, is enough: a commit
survives a crash of any process; a power cut may lose the last wake-ups,
never corrupt the file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from huey import Huey
from huey.storage import SqliteStorage
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)


class SqliteQueueStorage(SqliteStorage):
    def _create_connection(self) -> sqlite3.Connection:
        connection = super()._create_connection()
        connection.execute("pragma synchronous=NORMAL")
        return connection


class SqliteHuey(Huey):
    storage_class = SqliteQueueStorage


def wake(enqueue: Callable[[], object], *, what: str) -> bool:
    """Hand a wake-up to the queue; when Redis is unreachable (restarting, failing over), log it and go on.

    A wake-up is never the only copy of the work: the row it points to is committed in the database,
    and the scheduler's sweeps (``sweep_outbox``, ``tend_conversations``, ``sweep_webhooks``) wake a
    worker for rows left waiting. So a request whose data is committed answers 2xx even while the
    queue is down, instead of a 500 that would make its client send it again.
    """
    try:
        enqueue()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        logger.warning("the queue is unreachable; %s left for the next sweep (%s)", what, type(exc).__name__)
        return False
    return True


class Coalescing:
    """One kind of wake-up from one process, at most two a ``window``: a burst of answers wakes the
    worker at its start and once after it, not once per answer.

    For a task that does whatever is waiting in the database (not what one call names), so that one
    run serves every row committed before it starts. The first wake-up of a quiet spell goes at
    once. Those that follow within ``window`` seconds ask for one more run, delayed to the window's
    end (Huey's ``delay``): it finds every row they committed before it; the rest of the window asks
    for nothing. A wake-up costs the request a queue write (0.3 ms on the embedded queue, a round
    trip to Redis); answers in a burst, most of them wake nobody. With tasks run inline (tests,
    ``AVIS_HUEY_IMMEDIATE``), where nothing runs later, each wakes at once. ``clock`` is for tests.
    """

    def __init__(self, *, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self.clock = window, clock
        self._lock = threading.Lock()
        self._opened: float | None = None  # when the current window opened
        self._followed = False  # its follow-up asked for

    def wake(self, enqueue: Callable[[float], object], *, what: str, inline: bool = False) -> bool:
        """``enqueue(delay)`` unless a run already asked for will find this one's rows."""
        now = self.clock()
        with self._lock:
            if inline or self._opened is None or now - self._opened >= self.window:
                self._opened, self._followed, delay = now, False, 0.0
            elif not self._followed:
                self._followed, delay = True, self._opened + self.window - now
            else:
                return True
        return wake(lambda: enqueue(delay), what=what)

    def forget(self, **kwargs: object) -> None:
        with self._lock:
            self._opened, self._followed = None, False
