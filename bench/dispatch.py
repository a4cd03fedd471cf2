"""SMS per second from the outbox to a gateway, against a plain loop of HTTP posts to the same gateway.

The dispatch side is the whole real path of the worker task, in process and
on one thread, a task of 200 ids at a time: claim the batch in one
conditional update, load the rows with their invitations, customers and
surveys, check opt-outs and freshness, then for each message render the
first question in the customer's language, post it to the HTTP gateway
through the provider and record that it left; every 200 messages or half
second, book them: status, SMS conversations, invitations marked sent with
their reminder's due time (and whatever listens to ``invitation_sent``:
the roll-ups' response-rate count). The baseline posts the
same number of JSON bodies to the same gateway with one ``httpx.Client``
(keep-alive), doing nothing else. The gateway is a separate process that
answers at once, so the ratio is what the outbox's bookkeeping costs.

The invitations are created beforehand through the batch API (governance
and all), untimed, on a fresh SQLite file in a temporary AVIS_VAR_DIR.

    .venv/bin/python bench/dispatch.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args().n

    from gateway import start_gateway

    gateway, url = start_gateway()
    var_dir = tempfile.mkdtemp(prefix="avis-bench-dispatch-")
    os.environ.update(
        {
            "AVIS_VAR_DIR": var_dir,
            # A benchmark is one client far above any integration: no API rate limit (docs/security.md).
            "AVIS_API_RATE_PER_KEY": "0",
            "AVIS_API_RATE_PER_ADDRESS": "0",
            "AVIS_SMS_PROVIDER": "http",
            "AVIS_SMS_HTTP_URL": url,
            "AVIS_SMS_HTTP_ID_PATH": "id",
            "AVIS_SMS_RATE_LIMIT": "0",
            "DJANGO_SETTINGS_MODULE": "avis.settings",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()
    import httpx
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone
    from huey.contrib.djhuey import HUEY
    from tests.factories import interaction_payload, make_organisation

    from avis.governance.services import update_policy
    from avis.messaging.models import OutboundMessage
    from avis.messaging.outbox import ENQUEUE_CHUNK  # the ids one deliver_messages task carries
    from avis.messaging.tasks import deliver_messages

    HUEY.immediate = False  # the queue only collects wake-ups; this script does the work
    call_command("migrate", verbosity=0, interactive=False)
    org = make_organisation("Bench dispatch", slug="bench-dispatch")
    update_policy(
        organisation=org.organisation,
        changes={
            "send_from": dtime(0),
            "send_until": dtime(0),
            "send_on_sunday": True,
            "send_on_holidays": True,
        },
    )
    client = Client(headers={"Authorization": f"Bearer {org.api_key}"})
    now = timezone.now().isoformat()
    items = [
        interaction_payload(
            f"D-{i}",
            customer=f"DC-{i}",
            email=None,
            phone=f"06 {10 + i // 10**6:02d} {i // 10**4 % 100:02d} {i // 100 % 100:02d} {i % 100:02d}",
            occurred_at=now,
        )
        for i in range(n + 20)
    ]
    for start in range(0, len(items), 5000):
        reply = client.post(
            "/api/v1/interactions/batch",
            {"items": items[start : start + 5000]},
            content_type="application/json",
        )
        assert reply.status_code == 200, reply.content[:500]
    ids = list(OutboundMessage.objects.filter(kind="invitation").order_by("id").values_list("id", flat=True))
    assert len(ids) == n + 20, f"{len(ids)} invitations queued"
    deliver_messages.call_local(ids[:20])  # warm-up: imports, templates, connections
    ids = ids[20:]
    print(f"sqlite: {n:,} SMS invitations in the outbox, gateway at {url}", flush=True)

    started = time.perf_counter()
    for start in range(0, len(ids), ENQUEUE_CHUNK):
        deliver_messages.call_local(ids[start : start + ENQUEUE_CHUNK])
    dispatch_seconds = time.perf_counter() - started
    sent = OutboundMessage.objects.filter(id__in=ids, status="sent").count()
    assert sent == n, f"only {sent} of {n} sent"

    body = {"to": "+33612345678", "text": "x" * 140, "sender": "", "reference": ""}
    with httpx.Client() as http:
        http.post(url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        for number in range(n):
            body["reference"] = f"baseline-{number}"
            response = http.post(
                url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )
            response.raise_for_status()
            response.json()
        baseline_seconds = time.perf_counter() - started
    gateway.terminate()

    dispatch_rate, baseline_rate = n / dispatch_seconds, n / baseline_seconds
    print(f"outbox → gateway: {dispatch_rate:,.0f} messages/s ({dispatch_seconds:.2f} s)")
    print(f"plain HTTP posts: {baseline_rate:,.0f} messages/s ({baseline_seconds:.2f} s)")
    print(f"ratio: {dispatch_rate / baseline_rate:.2f} (goal ≥ {GOAL})")


if __name__ == "__main__":
    main()
