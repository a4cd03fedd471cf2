"""Inbound SMS webhooks per second, and their p50/p99 latency, against a trivial endpoint of the same server.

A real ``avis serve`` (waitress, 8 threads, SQLite in a temporary
AVIS_VAR_DIR, and the worker it starts beside it) receives, from a second
process with 8 concurrent clients, signed gateway webhooks at
``/hooks/http/inbound``: replies from customers in the middle of an SMS
survey. The worker, meanwhile, handles each one: parsed, matched to its
conversation, answered with the next question through the outbox (and,
after the last answer, submitted as a response that may open a case) — it
competes with the webhooks for SQLite's single write lock, so the run
starts only once it is up. Interleaved with the webhooks, the same clients
post the same kind of request with a wrong signature: the same middleware
and URL, refused after the HMAC check — the trivial endpoint. The ratio is
the webhooks' p99 over the trivial p99.

    .venv/bin/python bench/inbound.py [--conversations 200] [--requests 1200]
                                      [--database sqlite|postgres|both]

``--database postgres`` runs the same on a throw-away PostgreSQL database
(the queue stays a SQLite file); the goal is SQLite's, the embedded default.
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
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "avis_bench_inbound"
WARM_UP = 40
SECRET = "bench-inbound-secret"  # noqa: S105
CLIENTS = 8
REPLIES = ["9", "oui", "4", "RAS merci", "10 parfait", "non pas du tout", "👍", "8/10 un peu long"]


def _phone(number: int) -> str:
    """A valid French mobile number (+33 6 1x xx xx xx): an invalid one is refused at ingest."""
    return f"+3361{number:07d}"


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
    from avis.messaging.models import Conversation, OutboundMessage
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
    response = client.post("/api/v1/interactions/batch", {"items": items}, content_type="application/json")
    assert response.status_code == 200 and response.json()["accepted"] == conversations, response.json()
    deliver_messages.call_local(
        list(OutboundMessage.objects.filter(kind="invitation").values_list("id", flat=True))
    )
    open_conversations = Conversation.objects.filter(state="open").count()
    assert open_conversations == conversations, f"{open_conversations} conversations open"


def load(base_url: str, conversations: int, requests: int, label: str) -> None:
    """The second process: CLIENTS threads, webhooks and trivial requests interleaved; prints JSON."""
    import httpx

    rng = random.Random(7)
    plan = []
    for number in range(requests):
        phone = _phone(rng.randrange(conversations))
        body = json.dumps(
            {"id": f"{label}-{number}", "from": phone, "to": "AVIS", "text": rng.choice(REPLIES)}
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


def worker_progress(wait_for: int) -> None:
    """Once the worker has handled ``wait_for`` texts, print what it made of them all (JSON)."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()
    from django.db.models import Count

    from avis.messaging.models import InboundMessage, OutboundMessage
    from avis.surveys.models import Response

    deadline = time.monotonic() + 120
    while InboundMessage.objects.exclude(interpretation__in=["", "…"]).count() < wait_for:
        assert time.monotonic() < deadline, "the worker handled nothing in two minutes"
        time.sleep(0.2)
    read_as = dict(
        InboundMessage.objects.values_list("interpretation")
        .annotate(n=Count("id"))
        .values_list("interpretation", "n")
    )
    replies = OutboundMessage.objects.filter(kind="conversation", status="sent").count()
    print(json.dumps({"read_as": read_as, "replies": replies, "responses": Response.objects.count()}))


def _progress_line(progress: dict[str, object]) -> str:
    read_as = dict(progress["read_as"])  # type: ignore[call-overload]
    queued = read_as.pop("", 0) + read_as.pop("…", 0)
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(read_as.items()))
    return (
        f"worker meanwhile: {sum(read_as.values()):,} texts handled ({kinds}), {queued:,} still queued; "
        f"{progress['replies']:,} replies sent, {progress['responses']:,} responses submitted"
    )


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


def _measure(database: str, args: argparse.Namespace) -> float:
    """Prepare, serve, wait for the worker, warm up, load; print the figures and return the p99 ratio."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from gateway import free_port

    var_dir = tempfile.mkdtemp(prefix="avis-bench-inbound-")
    env = {
        **os.environ,
        "AVIS_VAR_DIR": var_dir,
        # A benchmark is one client far above any integration: no API rate limit (docs/security.md).
        "AVIS_API_RATE_PER_KEY": "0",
        "AVIS_API_RATE_PER_ADDRESS": "0",
        "AVIS_SMS_PROVIDER": "simulator",
        "AVIS_SMS_HTTP_SECRET": SECRET,
        "AVIS_SMS_RATE_LIMIT": "0",
        "DJANGO_SETTINGS_MODULE": "avis.settings",
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
    }
    for name in ("DATABASE_URL", "AVIS_HUEY_FILE", "AVIS_REDIS_URL", "AVIS_HUEY_IMMEDIATE"):
        env.pop(name, None)
    if database == "postgres":
        import psycopg

        with psycopg.connect(args.postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {PG_DATABASE}")
        env["DATABASE_URL"] = args.postgres_url.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
    python = sys.executable
    me = [python, __file__, "--conversations", str(args.conversations)]
    server = None
    try:
        subprocess.run([*me, "--prepare", var_dir], env=env, check=True)  # noqa: S603
        port = free_port()
        server = subprocess.Popen(  # noqa: S603
            [python, "-m", "avis.cli", "serve", "--port", str(port), "--threads", "8"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base_url = f"http://127.0.0.1:{port}"
        import httpx

        for _ in range(200):
            try:
                httpx.post(base_url + "/hooks/http/inbound", content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        # Warm-up: first requests pay for imports and connections; then wait
        # until the worker (slower to start than the server) has handled them.
        subprocess.run(  # noqa: S603
            [*me, "--load", base_url, str(args.conversations), str(WARM_UP), "warm"],
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run([*me, "--progress", str(WARM_UP)], env=env, check=True, capture_output=True)  # noqa: S603
        run = subprocess.run(  # noqa: S603
            [*me, "--load", base_url, str(args.conversations), str(args.requests), "in"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        progress = subprocess.run(  # noqa: S603
            [*me, "--progress", "0"], env=env, check=True, capture_output=True, text=True
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if database == "postgres":
            with psycopg.connect(args.postgres_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    inbound, trivial = result["latencies"]["inbound"], result["latencies"]["trivial"]
    rate = len(inbound) / result["seconds"]
    print(
        f"{database}: {len(inbound):,} inbound webhooks and {len(trivial):,} trivial requests, "
        f"{CLIENTS} clients"
    )
    p50, p99 = _percentile(inbound, 0.5) * 1000, _percentile(inbound, 0.99) * 1000
    print(f"  inbound webhooks: {rate:,.0f}/s (interleaved), p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    p50, p99 = _percentile(trivial, 0.5) * 1000, _percentile(trivial, 0.99) * 1000
    print(f"  trivial endpoint: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print("  " + _progress_line(json.loads(progress.stdout.strip().splitlines()[-1])))
    ratio = _percentile(inbound, 0.99) / _percentile(trivial, 0.99)
    print(f"  {database} ratio: {ratio:.2f}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument(
        "--postgres-url", default=PG_ADMIN_URL, help="a server URL allowed to create databases"
    )
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    parser.add_argument("--progress", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load(args.load[0], int(args.load[1]), int(args.load[2]), args.load[3])
        return
    if args.prepare:
        prepare(args.prepare, args.conversations)
        return
    if args.progress is not None:
        worker_progress(args.progress)
        return
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    ratios = [_measure(database, args) for database in databases]
    print(f"ratio: {max(ratios):.2f} (goal ≤ {GOAL}: inbound p99 / trivial p99)")


if __name__ == "__main__":
    main()
