"""Inbound SMS webhooks per second, and their p50/p99 latency, against a trivial endpoint of the same server.

A real ``avis serve`` (waitress, 8 threads, SQLite in a temporary
AVIS_VAR_DIR) receives, from a second process with 8 concurrent clients,
signed gateway webhooks at ``/hooks/http/inbound``: replies from customers in
the middle of an SMS survey, each one parsed, matched to its conversation,
answered with the next question through the outbox (and, after the last
answer, submitted as a response that may open a case). Interleaved with
them, the same clients post the same kind of request with a wrong
signature: the same middleware and URL, refused after the HMAC check — the
trivial endpoint. The ratio is the webhooks' p99 over the trivial p99.

    .venv/bin/python bench/inbound.py [--conversations 200] [--requests 1200]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 3.0
SECRET = "bench-inbound-secret"  # noqa: S105
CLIENTS = 8
REPLIES = ["9", "oui", "4", "RAS merci", "10 parfait", "non pas du tout", "👍", "8/10 un peu long"]


def _phone(number: int) -> str:
    return "+3361" + "".join(f"{number // 100**power % 100:02d}" for power in (3, 2, 1, 0))


def prepare(var_dir: str, conversations: int) -> None:
    """Migrate, and open ``conversations`` SMS surveys through the simulator (untimed)."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone
    from huey.contrib.djhuey import HUEY
    from tests.factories import interaction_payload, make_organisation

    from avis.governance.services import update_policy
    from avis.messaging.models import OutboundMessage
    from avis.messaging.tasks import deliver_messages

    HUEY.immediate = False
    call_command("migrate", verbosity=0, interactive=False)
    org = make_organisation("Bench inbound", slug="bench-inbound")
    update_policy(
        organisation=org.organisation,
        changes={
            "send_from": dtime(0),
            "send_until": dtime(0),
            "send_on_sunday": True,
            "send_on_holidays": True,
        },
    )
    now = timezone.now().isoformat()
    items = [
        interaction_payload(f"I-{i}", customer=f"IC-{i}", email=None, phone=_phone(i), occurred_at=now)
        for i in range(conversations)
    ]
    client = Client(headers={"Authorization": f"Bearer {org.api_key}"})
    assert (
        client.post(
            "/api/v1/interactions/batch", {"items": items}, content_type="application/json"
        ).status_code
        == 200
    )
    deliver_messages.call_local(
        list(OutboundMessage.objects.filter(kind="invitation").values_list("id", flat=True))
    )


def load(base_url: str, conversations: int, requests: int) -> None:
    """The second process: CLIENTS threads, webhooks and trivial requests interleaved; prints JSON."""
    import httpx

    rng = random.Random(7)
    plan = []
    for number in range(requests):
        phone = _phone(rng.randrange(conversations))
        body = json.dumps(
            {"id": f"in-{number}", "from": phone, "to": "AVIS", "text": rng.choice(REPLIES)}
        ).encode()
        plan.append(("inbound", body))
        plan.append(("trivial", body))
    latencies: dict[str, list[float]] = {"inbound": [], "trivial": []}
    lock = threading.Lock()
    cursor = iter(range(len(plan)))

    def work() -> None:
        with httpx.Client(timeout=30) as http:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                kind, body = plan[index]
                key = SECRET if kind == "inbound" else "wrong"
                signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
                started = time.perf_counter()
                response = http.post(
                    base_url + "/hooks/http/inbound",
                    content=body,
                    headers={"Content-Type": "application/json", "X-Signature": signature},
                )
                elapsed = time.perf_counter() - started
                assert response.status_code == (200 if kind == "inbound" else 403), response.text[:200]
                with lock:
                    latencies[kind].append(elapsed)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"seconds": time.perf_counter() - started, "latencies": latencies}))


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--load", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load(args.load[0], int(args.load[1]), int(args.load[2]))
        return
    if args.prepare:
        prepare(args.prepare, args.conversations)
        return

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from gateway import free_port

    var_dir = tempfile.mkdtemp(prefix="avis-bench-inbound-")
    env = {
        **os.environ,
        "AVIS_VAR_DIR": var_dir,
        "AVIS_SMS_PROVIDER": "simulator",
        "AVIS_SMS_HTTP_SECRET": SECRET,
        "AVIS_SMS_RATE_LIMIT": "0",
        "DJANGO_SETTINGS_MODULE": "avis.settings",
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
    }
    env.pop("DATABASE_URL", None)
    python = sys.executable
    subprocess.run(
        [python, __file__, "--prepare", var_dir, "--conversations", str(args.conversations)],
        env=env,
        check=True,
    )  # noqa: S603
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [python, "-m", "avis.cli", "serve", "--port", str(port), "--threads", "8"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(200):
            try:
                httpx.post(base_url + "/hooks/http/inbound", content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        # Warm-up: first requests pay for imports and connections.
        subprocess.run(
            [python, __file__, "--load", base_url, str(args.conversations), "40"],
            env=env,
            check=True,
            capture_output=True,
        )  # noqa: S603
        run = subprocess.run(  # noqa: S603
            [python, __file__, "--load", base_url, str(args.conversations), str(args.requests)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    inbound, trivial = result["latencies"]["inbound"], result["latencies"]["trivial"]
    rate = len(inbound) / result["seconds"]
    print(
        f"sqlite: {len(inbound):,} inbound webhooks and {len(trivial):,} trivial requests, {CLIENTS} clients"
    )
    p50, p99 = _percentile(inbound, 0.5) * 1000, _percentile(inbound, 0.99) * 1000
    print(f"inbound webhooks: {rate:,.0f}/s (interleaved), p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    p50, p99 = _percentile(trivial, 0.5) * 1000, _percentile(trivial, 0.99) * 1000
    print(f"trivial endpoint: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    ratio = _percentile(inbound, 0.99) / _percentile(trivial, 0.99)
    print(f"ratio: {ratio:.2f} (goal ≤ {GOAL}: inbound p99 / trivial p99)")


if __name__ == "__main__":
    main()
