"""A real `avis worker` process sends what the API queued (SQLite storage, or Redis when configured)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.db import connection

from avis.messaging.models import OutboundMessage
from tests.conftest import need_server
from tests.helpers import open_all_day, post_interaction

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


def _database_url() -> str:
    """The test database, as the worker process must see it."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def real_queue():
    from huey.contrib.djhuey import HUEY

    if django_settings.AVIS_REDIS_URL:
        url = urlparse(django_settings.AVIS_REDIS_URL)
        need_server(url.hostname or "127.0.0.1", url.port or 6379, "Redis")
    HUEY.immediate = False
    HUEY.flush()
    try:
        yield HUEY
    finally:
        HUEY.flush()
        HUEY.immediate = True


@pytest.fixture
def worker(real_queue, smtp_server):  # noqa: ANN001
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "AVIS_EMAIL_PROVIDER": "smtp",
        "AVIS_EMAIL_HOST": smtp_server.host,
        "AVIS_EMAIL_PORT": str(smtp_server.port),
        "AVIS_HUEY_IMMEDIATE": "false",
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "avis.cli", "worker", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(predicate, timeout: float = 30.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_worker_process_sends_each_queued_invitation_once(org, api, smtp_server, worker) -> None:
    open_all_day(org.organisation)
    for i in range(5):
        assert (
            post_interaction(api, f"w-{i}", customer=f"W-{i}", email=f"client{i}@example.fr").status_code
            == 200
        )
    assert wait_for(lambda: len(smtp_server.messages) >= 5), worker.stdout and worker.poll()
    time.sleep(1.0)  # anything sent twice would arrive now
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted(f"client{i}@example.fr" for i in range(5))
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}
