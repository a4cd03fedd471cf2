"""Redis down (restarting, failing over): what is committed is acknowledged, and sent once it is back.

The queue only wakes workers; the rows are in the database. A request whose data is committed answers
2xx whether or not its wake-up reached Redis, and the scheduler's sweep wakes a worker for what was
left waiting (tests/operations/test_faults.py restarts a real Redis under load).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from huey.storage import RedisStorage

from avis.messaging.dispatch import sweep_outbox
from avis.messaging.models import OutboundMessage
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_down() -> Iterator[None]:
    """The queue is a Redis that refuses connections (a port nothing listens on)."""
    from huey.contrib.djhuey import HUEY

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    HUEY.immediate = False
    HUEY.storage = RedisStorage("avis-down", url=f"redis://127.0.0.1:{port}/0")
    try:
        yield
    finally:
        HUEY.immediate = False  # from here, as every other test finds it: tasks inline, in memory
        HUEY.immediate = True


def test_an_interaction_posted_while_redis_is_down_is_acknowledged_then_sent_by_the_sweep(
    org, api, smtp_server, redis_down
) -> None:
    open_all_day(org.organisation)
    reply = post_interaction(api, "evt-1", email="marie.dupont@example.fr", phone=None)
    assert reply.status_code == 200, reply.content
    assert reply.json()["decision"]["outcome"] == "invite"
    message = OutboundMessage.objects.get()
    assert message.status == "pending" and smtp_server.messages == []

    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True  # Redis is back: the scheduler's next sweep wakes a worker
    assert sweep_outbox(now=timezone.now() + timedelta(minutes=3)) == 1
    message.refresh_from_db()
    assert message.status == "sent"
    assert len(smtp_server.to("marie.dupont@example.fr")) == 1
