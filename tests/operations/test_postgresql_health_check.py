"""The PostgreSQL connection's check before a request reuses it (avis/postgresql/base.py): free
while the connection is quiet, and still a reconnection, not an error, once the server ends it."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the check is PostgreSQL's backend"),
    pytest.mark.django_db(transaction=True),
]


def _from_another_connection(sql: str, pid: int) -> object:
    """What PostgreSQL answers about the backend ``pid``, asked from another connection."""
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as other:
        return other.execute(sql, [pid]).fetchone()[0]


def _last_statement_of(pid: int) -> object:
    return _from_another_connection("SELECT query FROM pg_stat_activity WHERE pid = %s", pid)


def _end_from_the_server(pid: int) -> None:
    assert _from_another_connection("SELECT pg_terminate_backend(%s)", pid)


def _a_request_begins() -> None:
    """What Django does as a request starts (``close_old_connections``): the next statement checks."""
    connection.close_if_unusable_or_obsolete()


def test_a_quiet_connection_is_reused_without_asking_the_server() -> None:
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the request before'")
    pid = connection.connection.info.backend_pid
    _a_request_begins()
    with connection.cursor() as cursor:
        # The check ran here, at the request's first statement: the server saw no SELECT 1 first.
        assert _last_statement_of(pid) == "SELECT 'the request before'"
        cursor.execute("SELECT 'this request'")
    assert connection.health_check_done
    assert connection.connection.info.backend_pid == pid  # the same connection, kept


def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    ended = connection.connection.info.backend_pid
    _end_from_the_server(ended)
    deadline = time.monotonic() + 5
    while not connection.connection.closed and time.monotonic() < deadline:
        if not connection.is_usable():
            break
        time.sleep(0.05)  # the goodbye is on its way
    _a_request_begins()
    with connection.cursor() as cursor:  # the check finds it ended, Django connects afresh
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != ended
