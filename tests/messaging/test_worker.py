"""A real `avis worker` process sends what the API queued (SQLite storage, or Redis when configured)."""

from __future__ import annotations

import time

import pytest

from avis.messaging.models import OutboundMessage
from tests.helpers import open_all_day, post_interaction
from tests.messaging.conftest import database_url, start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def worker(real_queue, smtp_server):  # noqa: ANN001
    env = {
        "DATABASE_URL": database_url(),
        "AVIS_EMAIL_PROVIDER": "smtp",
        "AVIS_EMAIL_HOST": smtp_server.host,
        "AVIS_EMAIL_PORT": str(smtp_server.port),
        "AVIS_HUEY_IMMEDIATE": "false",
    }
    process = start_worker(env)
    try:
        yield process
    finally:
        stop_worker(process)


def test_worker_process_sends_each_queued_invitation_once(org, api, smtp_server, worker) -> None:
    open_all_day(org.organisation)
    for i in range(5):
        assert (
            post_interaction(api, f"w-{i}", customer=f"W-{i}", email=f"client{i}@example.fr").status_code
            == 200
        )
    assert wait_for(lambda: len(smtp_server.messages) >= 5), (
        worker.poll(),
        worker.poll() is not None and worker.stdout.read(),
    )
    time.sleep(1.0)  # anything sent twice would arrive now
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted(f"client{i}@example.fr" for i in range(5))
    assert set(OutboundMessage.objects.filter(kind="invitation").values_list("status", flat=True)) == {"sent"}
