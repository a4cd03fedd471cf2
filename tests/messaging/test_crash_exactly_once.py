"""A worker killed with SIGKILL in the middle of a batch, then restarted: every SMS sent once, none lost.

The gateway is a real local HTTP server that, like real aggregators, accepts
an ``Idempotency-Key`` and answers a repeat with the first answer. The
message in flight when the worker died is the only one the gateway may see
twice on the wire; it still counts once.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import pytest
from django.utils import timezone

from avis.messaging import dispatch
from avis.messaging.models import OutboundMessage
from tests.factories import interaction_payload
from tests.helpers import open_all_day
from tests.messaging.conftest import database_url, start_worker, stop_worker, wait_for
from tests.messaging.providers.servers import LocalServer, Received, Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

COUNT = 60


class CountingGateway:
    """Counts every request per idempotency key, and accepts each key once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.accepted: dict[str, str] = {}

    def __call__(self, request: Received) -> Reply:
        key = request.headers.get("idempotency-key", "")
        with self.lock:
            self.requests[key] += 1
            message_id = self.accepted.setdefault(key, f"gw-{len(self.accepted) + 1}")
        return Reply(200, {"messages": [{"id": message_id, "status": "accepted"}]}, delay=0.03)


def _env(url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url(),
        "AVIS_SMS_PROVIDER": "http",
        "AVIS_SMS_HTTP_URL": url + "/v1/sms",
        "AVIS_SMS_HTTP_BODY_TEMPLATE": json.dumps({"messages": [{"to": "{to}", "text": "{text}"}]}),
        "AVIS_SMS_HTTP_ID_PATH": "messages.0.id",
        "AVIS_SMS_RATE_LIMIT": "0",
    }


def test_kill_9_mid_batch_then_restart_sends_each_message_exactly_once(
    org, api, real_queue, settings
) -> None:
    open_all_day(org.organisation)
    gateway = CountingGateway()
    with LocalServer(gateway) as server:
        settings.AVIS_SMS_PROVIDER = "http"
        settings.AVIS_SMS_HTTP_URL = server.url + "/v1/sms"
        items = [
            interaction_payload(
                f"crash-{i}",
                customer=f"K-{i}",
                email=None,
                phone=f"06 12 34 {i // 100:02d} {i % 100:02d}",
                occurred_at=timezone.now().isoformat(),
            )
            for i in range(COUNT)
        ]
        reply = api.post("/api/v1/interactions/batch", {"items": items}, content_type="application/json")
        assert reply.status_code == 200
        keys = set(
            OutboundMessage.objects.filter(kind="invitation").values_list("idempotency_key", flat=True)
        )
        assert len(keys) == COUNT

        first = start_worker(_env(server.url))
        try:
            started = wait_for(lambda: sum(gateway.requests.values()) >= COUNT // 4, timeout=60, step=0.01)
            assert started, (first.poll(), first.poll() is not None and first.stdout.read())
            os.kill(first.pid, signal.SIGKILL)  # no cleanup, no goodbye: mid-batch
            first.wait()
        finally:
            stop_worker(first)
        seen_at_kill = len(gateway.accepted)
        assert 0 < seen_at_kill < COUNT, "the kill must land in the middle of the batch"

        # The operator restarts the worker; the periodic sweep (run here so the
        # test needn't wait for the next minute) hands back what the dead one held.
        settings.AVIS_OUTBOX_STALE_SECONDS = 1
        second = start_worker(_env(server.url))
        try:
            time.sleep(1.2)
            dispatch.sweep_outbox()
            sent = OutboundMessage.objects.filter(kind="invitation", status="sent")
            assert wait_for(lambda: sent.count() == COUNT, timeout=60), list(
                OutboundMessage.objects.filter(kind="invitation").exclude(status="sent").values("status")
            )
            time.sleep(0.5)  # a duplicate would arrive now
        finally:
            stop_worker(second)

    assert set(gateway.accepted) == keys  # none lost
    assert len(gateway.accepted) == COUNT  # each accepted once
    resent = [key for key, n in gateway.requests.items() if n > 1]
    assert len(resent) <= 1, resent  # only the message on the wire when the worker died
    ids = list(
        OutboundMessage.objects.filter(kind="invitation").values_list("provider_message_id", flat=True)
    )
    assert len(set(ids)) == COUNT
