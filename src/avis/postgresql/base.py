"""Django's PostgreSQL backend, with two costs of the hot paths taken off.

**A health check without a round trip.** With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1``
before the first statement of every request that reuses a connection, so that a restarted server
costs a reconnection, not an error page. A server that restarts, or closes an idle session, says
goodbye on the socket (a fatal error message, then the end of the stream): the idle connection's
socket turns readable. So the socket is asked first, without waiting; only when something has
arrived is ``SELECT 1`` sent, which reads it and tells whether the connection still works.

**Prepared statements where asked for** (``prepared_cursor``). Django binds parameters on the
client (the ORM's SQL is sent with its values written in) and turns psycopg's prepared statements
off, for connection poolers' sake. The respondent's statements are few and run all the time; the
planning of its read (four tables joined) cost PostgreSQL five times its execution, twice per
respondent (bench/respond.py). A cursor from ``prepared_cursor`` binds on the server and has each
statement parsed and planned once per connection. Nothing else changes: the ORM's cursors still
bind on the client and prepare nothing. ``AVIS_DB_PREPARED_STATEMENTS=0`` turns it off (a pooler
that keeps no prepared statement across its transactions, such as PgBouncer before 1.21 in
transaction mode).
"""

from __future__ import annotations

import select
from typing import Any

from django.conf import settings
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor, register_tzloader
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresDatabaseOperations
from django.db.backends.utils import CursorWrapper
from psycopg import pq

# psycopg prepares a statement only when its connection has a threshold; with this one, only the
# statements run with ``prepare=True`` (those of ``prepared_cursor``) are.
ONLY_WHEN_ASKED = 2**31


class PreparedCursor(ServerBindingCursor):
    """Binds on the server and prepares every statement it runs (psycopg keeps them per connection)."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


class DatabaseOperations(PostgresDatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        """A prepared statement's text as the ORM's are logged (with its values written in): psycopg
        keeps no text for a statement it runs by name. Only for Django's logged cursors (tests,
        DEBUG)."""
        if isinstance(cursor, PreparedCursor):
            try:
                return self.compose_sql(sql, params)
            except Exception:  # noqa: BLE001 - a log line, never worth a failed statement
                return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(PostgresDatabaseWrapper):
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if connection.prepare_threshold is None and getattr(settings, "AVIS_DB_PREPARED_STATEMENTS", True):
            connection.prepare_threshold = ONLY_WHEN_ASKED
        return connection

    def prepared_cursor(self) -> CursorWrapper:
        """A cursor whose statements PostgreSQL parses and plans once per connection (see above);
        Django's own when prepared statements are off. Like ``cursor()``: checked, logged, its
        errors Django's."""
        if self.connection is not None and self.connection.prepare_threshold is None:
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        if self.connection.prepare_threshold is None:
            return self.cursor()
        with self.wrap_database_errors:
            cursor = PreparedCursor(self.connection)
            # As Django's create_cursor does: times in Django's time zone.
            if self.timezone != self.connection.adapters.get_loader(TIMESTAMPTZ_OID, pq.Format.TEXT).timezone:
                register_tzloader(self.timezone, cursor)
            return self._prepare_cursor(cursor)

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()  # in a transaction or a command: ask the server
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
            arrived = poller.poll(0)
        except (OSError, ValueError):
            return False
        return super().is_usable() if arrived else True
