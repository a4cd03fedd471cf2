"""How fast an unhappy answer becomes a case and a webhook, against storing an answer alone.

A real deployment on one machine: avis served by waitress (``avis serve --no-worker``)
and a Huey worker (``avis worker``), on a throw-away SQLite database in a temporary
``AVIS_VAR_DIR``; a local HTTP server stands for the CRM and receives the signed
webhooks. A second process posts survey answers to ``/s/<token>`` at a steady rate,
alternating a happy answer (stored, no case) and an unhappy one (stored, a case opened,
a webhook queued). Measured from the moment the poster sends the answer:

- store alone: until the reply to a happy answer (the response is committed);
- case row: until the reply to an unhappy answer (the case is written in the same
  transaction as the response, so it is in the database when the reply leaves);
- webhook: until the CRM server receives the ``case.opened`` POST (through the worker).

    .venv/bin/python bench/closed_loop.py [--n 200] [--rate 5]

The ratio is the case row's p50 over the store-alone p50 (goal ≤ 2: opening a case must
not make answering noticeably slower); the webhook's p50/p99 are printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import time as dtime
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOAL = 2.0
WEB_PORT = 8651
HOOK_PORT = 8652
HAPPY = {"nps": "9", "resolved": "yes", "agent": "5"}
UNHAPPY = {"nps": "2", "resolved": "no", "agent": "3", "comment": "Toujours en panne."}


# --- children ------------------------------------------------------------------------------


def setup_child(n: int, hook_url: str, out: Path) -> None:
    """Migrate, make one organisation with a webhook endpoint, ``n`` invitations; write tokens."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone
    from huey.contrib.djhuey import HUEY
    from tests.factories import interaction_payload, make_organisation

    from avis.cases.services import add_webhook_endpoint
    from avis.governance.services import update_policy
    from avis.surveys.models import Invitation

    HUEY.immediate = False
    call_command("migrate", verbosity=0, interactive=False)
    org = make_organisation("Bench closed loop", slug="bench-loop")
    update_policy(
        organisation=org.organisation,
        changes={
            "send_from": dtime(0),
            "send_until": dtime(0),
            "send_on_sunday": True,
            "send_on_holidays": True,
            "quarantine_days": 0,
        },
    )
    add_webhook_endpoint(organisation=org.organisation, url=hook_url, secret="bench")
    client = Client(headers={"Authorization": f"Bearer {org.api_key}"})
    occurred = (timezone.now() - timedelta(minutes=5)).isoformat()
    items = [
        interaction_payload(f"EVT-{i:05d}", customer=f"B-{i:05d}", occurred_at=occurred, phone=None)
        for i in range(n)
    ]
    reply = client.post(
        "/api/v1/interactions/batch", json.dumps({"items": items}), content_type="application/json"
    )
    assert reply.status_code == 200, reply.content[:500]
    tokens = dict(
        Invitation.objects.filter(organisation=org.organisation).values_list("customer__external_id", "token")
    )
    assert len(tokens) == n, f"only {len(tokens)} of {n} interactions were invited"
    out.write_text(json.dumps(sorted(tokens.items())), encoding="utf-8")


def post_child(site: str, tokens_file: Path, rate: float, out: Path) -> None:
    """Post the answers at a steady rate, each from its own moment; record send and reply times."""
    tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
    start = time.time() + 0.5
    results: list[dict[str, Any]] = []

    def send(index: int, customer: str, token: str) -> None:
        unhappy = index % 2 == 1
        body = urllib.parse.urlencode(UNHAPPY if unhappy else HAPPY).encode()
        delay = start + index / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        sent = time.time()
        with urllib.request.urlopen(f"{site}/s/{token}", data=body, timeout=60) as reply:  # noqa: S310
            reply.read()
            status = reply.status
        results.append(
            {"customer": customer, "unhappy": unhappy, "sent": sent, "replied": time.time(), "status": status}
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        for index, (customer, token) in enumerate(tokens):
            pool.submit(send, index, customer, token)
    out.write_text(json.dumps(results), encoding="utf-8")


# --- the CRM -------------------------------------------------------------------------------


class Crm(ThreadingHTTPServer):
    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), CrmHandler)
        self.arrivals: dict[str, float] = {}


class CrmHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        arrived = time.time()
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if payload["event"] == "case.opened":
            self.server.arrivals.setdefault(payload["case"]["customer"], arrived)  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


# --- the parent ----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()  # noqa: S310
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {seconds} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="answers to post (half of them unhappy)")
    parser.add_argument("--rate", type=float, default=5.0, help="answers per second")
    parser.add_argument("--child", choices=["setup", "post"], help=argparse.SUPPRESS)
    parser.add_argument("--site", help=argparse.SUPPRESS)
    parser.add_argument("--hook", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "setup":
        setup_child(args.n, args.hook, args.out)
        return
    if args.child == "post":
        post_child(args.site, args.tokens, args.rate, args.out)
        return

    crm = Crm(HOOK_PORT)
    threading.Thread(target=crm.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{WEB_PORT}"
    with tempfile.TemporaryDirectory(prefix="avis-bench-loop-") as var_dir:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "AVIS_HUEY_FILE", "AVIS_REDIS_URL", "AVIS_HUEY_IMMEDIATE"}
        }
        env |= {
            "DJANGO_SETTINGS_MODULE": "avis.settings",
            "AVIS_VAR_DIR": var_dir,
            # A benchmark is one client far above any integration: no API rate limit (docs/security.md).
            "AVIS_API_RATE_PER_KEY": "0",
            "AVIS_API_RATE_PER_ADDRESS": "0",
            "AVIS_LOG_LEVEL": "WARNING",
            "AVIS_BASE_URL": site,
            "AVIS_WEBHOOK_ALLOW": "127.0.0.1",  # the CRM stand-in listens here (loopback is refused)
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        }
        tokens, timings = Path(var_dir) / "tokens.json", Path(var_dir) / "timings.json"
        me = [sys.executable, __file__]
        hook = f"http://127.0.0.1:{HOOK_PORT}/crm"
        subprocess.run(
            [*me, "--child", "setup", "--n", str(args.n), "--hook", hook, "--out", str(tokens)],
            env=env,
            check=True,
        )  # noqa: S603
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        python = [sys.executable, "-m", "avis.cli"]
        web = subprocess.Popen([*python, "serve", "--port", str(WEB_PORT), "--no-worker"], env=env, **quiet)  # noqa: S603
        worker = subprocess.Popen([*python, "worker", "--periodic"], env=env, **quiet)  # noqa: S603
        try:
            _wait_for(f"{site}/login/", 120)
            time.sleep(3)  # let the worker send the invitations first (console provider)
            subprocess.run(  # noqa: S603
                [
                    *me,
                    "--child",
                    "post",
                    "--site",
                    site,
                    "--tokens",
                    str(tokens),
                    "--rate",
                    str(args.rate),
                    "--out",
                    str(timings),
                ],
                env=env,
                check=True,
            )
            results = json.loads(timings.read_text(encoding="utf-8"))
            unhappy = [r for r in results if r["unhappy"]]
            deadline = time.time() + 60
            while len(crm.arrivals) < len(unhappy) and time.time() < deadline:
                time.sleep(0.2)
        finally:
            web.terminate()
            worker.terminate()
            web.wait(timeout=10)
            worker.wait(timeout=10)
    crm.shutdown()

    assert all(r["status"] == 200 for r in results), "some answers were refused"
    store = [1000 * (r["replied"] - r["sent"]) for r in results if not r["unhappy"]]
    case = [1000 * (r["replied"] - r["sent"]) for r in unhappy]
    hooks = [
        1000 * (crm.arrivals[r["customer"]] - r["sent"]) for r in unhappy if r["customer"] in crm.arrivals
    ]
    print(
        f"{len(results)} answers at {args.rate:g}/s, {len(unhappy)} unhappy, {len(hooks)} webhooks received"
    )
    for label, values in (("store alone", store), ("case row", case), ("webhook", hooks)):
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(f"{label:12s} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms   n = {len(values)}")
    if len(hooks) < len(unhappy):
        print(f"missing webhooks: {len(unhappy) - len(hooks)}")
    print(f"webhook/store p50 ratio: {percentile(hooks, 50) / percentile(store, 50):.1f}")
    ratio = percentile(case, 50) / percentile(store, 50)
    print(f"ratio: {ratio:.2f} (goal ≤ {GOAL}: case row p50 / store-alone p50)")


if __name__ == "__main__":
    main()
