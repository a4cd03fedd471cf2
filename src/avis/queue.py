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
