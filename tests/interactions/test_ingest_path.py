"""What one interaction costs the database: the statements of `POST /api/v1/interactions` for a new
customer, and of the worker's task that texts the invitation (the tests' queue runs it at once, when
the request's transaction commits). bench/interaction_profile.py measures the same path, with cProfile."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from avis.messaging.models import MessageStatus, OutboundMessage
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db


def test_one_interaction_is_decided_invited_and_texted_in_few_statements(
    org, api, settings, django_capture_on_commit_callbacks
) -> None:
    settings.AVIS_API_RATE_PER_KEY = settings.AVIS_API_RATE_PER_ADDRESS = 0  # counted in Redis in production
    open_all_day(org.organisation)
    post_interaction(api, "warm-1", customer="W-1", email=None, phone="06 11 11 11 11")  # caches filled
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        reply = post_interaction(api, "one-1", customer="O-1", email=None, phone="06 22 22 22 22")
    assert reply.status_code == 200 and reply.json()["decision"]["outcome"] == "invite"
    assert (
        OutboundMessage.objects.get(invitation_id=reply.json()["invitation"]["id"]).status
        == MessageStatus.SENT
    )
    statements = [query["sql"] for query in queries.captured_queries]
    # Each small insert is one statement (no sequence read then COPY on PostgreSQL).
    assert not any("nextval" in sql for sql in statements), statements
    # The request and the worker's task together, on SQLite and PostgreSQL alike: 63 before the
    # savepoints that protected nothing went (11 then, 5 now, of which the test's own transaction
    # adds 2) and the surveys were read once (PostgreSQL also ran six COPYs besides).
    assert len(statements) <= 49, "\n".join(statements)
