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

import sqlite3

from huey import Huey
from huey.storage import SqliteStorage


class SqliteQueueStorage(SqliteStorage):
    def _create_connection(self) -> sqlite3.Connection:
        connection = super()._create_connection()
        connection.execute("pragma synchronous=NORMAL")
        return connection


class SqliteHuey(Huey):
    storage_class = SqliteQueueStorage
