"""Respondents answering at once: ``GET`` + ``POST /s/<token>`` against ``avis serve`` on PostgreSQL.

Issue 20's bench. A throw-away PostgreSQL database gets, through avis's own services, one
organisation, its touchpoints and standard surveys, and ``--n`` invitations (the batch ingest
API, real governance). ``avis serve --no-worker`` then serves it as a real subprocess, with
``AVIS_BENCH_BASELINE=1``, which routes a trivial view beside it (``avis/bench_baseline.py``:
a small form on ``GET``, one ``INSERT`` per ``POST``, through the same server and middleware).

``--clients`` (8) threads, each on its own keep-alive connection, play ``--n`` (2,000)
respondents each side: ``GET`` the page, then ``POST`` the answers (every fourth one
unhappy: NPS 2, not resolved, a comment — a case opens). Baseline first, then avis, in the
same run. Printed: respondents/s, ``POST`` p50/p99 (and ``GET``'s), errors; the answers
stored are counted in the database afterwards. The last line is the ratio of throughputs.

    .venv/bin/python bench/respond.py [--n 2000] [--clients 8] [--threads 8] [--respondent-threads 4]
        [--postgres-url postgres://postgres@127.0.0.1:5432] [--keep-db]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.5
PORT = 8661
WARM_UP = 40
HAPPY = {"nps": "9", "resolved": "yes", "agent": "5"}
UNHAPPY = {"nps": "2", "resolved": "no", "agent": "3", "comment": "Toujours en panne, personne ne rappelle."}


def setup_child(n: int, out: Path) -> None:
    """Migrate; one organisation through the real services; ``n`` invitations; write the tokens."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone
    from huey.contrib.djhuey import HUEY
    from tests.factories import interaction_payload, make_organisation

    from avis.bench_baseline import create_table
    from avis.governance.services import update_policy
    from avis.surveys.models import Invitation

    HUEY.immediate = False
    call_command("migrate", verbosity=0, interactive=False)
    create_table()
    org = make_organisation("Bench respondents", slug="bench-respond")
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
    client = Client(headers={"Authorization": f"Bearer {org.api_key}"})
    occurred = (timezone.now() - timedelta(minutes=5)).isoformat()
    items = [
        interaction_payload(f"EVT-{i:05d}", customer=f"R-{i:05d}", occurred_at=occurred, phone=None)
        for i in range(n)
    ]
    for start in range(0, n, 5000):
        reply = client.post(
            "/api/v1/interactions/batch",
            json.dumps({"items": items[start : start + 5000]}),
            content_type="application/json",
        )
        assert reply.status_code == 200, reply.content[:500]
    tokens = list(Invitation.objects.filter(organisation=org.organisation).values_list("token", flat=True))
    assert len(tokens) == n, f"only {len(tokens)} of {n} interactions were invited"
    out.write_text(json.dumps(tokens), encoding="utf-8")


def count_child(out: Path) -> None:
    """How many answers each side stored."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()
    from django.db import connection

    from avis.bench_baseline import TABLE
    from avis.surveys.models import Response

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE}")  # noqa: S608 - a constant
        baseline = cursor.fetchone()[0]
    out.write_text(json.dumps({"avis": Response.objects.count(), "baseline": baseline}), encoding="utf-8")


class Side:
    """One side's respondents played by ``clients`` threads, each on one keep-alive connection."""

    def __init__(self, label: str, prefix: str, tokens: list[str], clients: int) -> None:
        self.label, self.prefix, self.tokens, self.clients = label, prefix, tokens, clients
        self.gets: list[float] = []
        self.posts: list[float] = []
        self.errors: list[str] = []
        self.seconds = 0.0

    def run(self) -> None:
        queue = list(enumerate(self.tokens))
        lock = threading.Lock()

        def client() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
            while True:
                with lock:
                    if not queue:
                        break
                    index, token = queue.pop()
                body = urllib.parse.urlencode(UNHAPPY if index % 4 == 3 else HAPPY)
                started = time.perf_counter()
                status = self.request(connection, "GET", f"{self.prefix}{token}", None)
                got = time.perf_counter()
                if status != 200:
                    self.errors.append(f"GET {status}")
                status = self.request(connection, "POST", f"{self.prefix}{token}", body)
                posted = time.perf_counter()
                if status != 200:
                    self.errors.append(f"POST {status}")
                self.gets.append(got - started)
                self.posts.append(posted - got)
            connection.close()

        threads = [threading.Thread(target=client) for _ in range(self.clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.seconds = time.perf_counter() - started

    @staticmethod
    def request(connection: http.client.HTTPConnection, method: str, path: str, body: str | None) -> int:
        headers = {"Accept-Encoding": "gzip", "Accept-Language": "fr"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        reply = connection.getresponse()
        reply.read()
        return reply.status

    @property
    def rate(self) -> float:
        return len(self.tokens) / self.seconds

    def line(self) -> str:
        return (
            f"{self.label:8s} {self.rate:7.1f} respondents/s   POST p50 {percentile(self.posts, 50):6.1f} ms"
            f"  p99 {percentile(self.posts, 99):6.1f} ms   GET p50 {percentile(self.gets, 50):6.1f} ms"
            f"  p99 {percentile(self.gets, 99):6.1f} ms   errors {len(self.errors)}"
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def wait_for(url: str, seconds: float) -> None:
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
    parser.add_argument("--n", type=int, default=2000, help="respondents on each side")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--threads", type=int, default=None, help="avis serve --threads (else its default)")
    parser.add_argument(
        "--respondent-threads",
        type=int,
        default=None,
        help="avis serve --respondent-threads (else its default)",
    )
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look afterwards")
    parser.add_argument("--child", choices=["setup", "count"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "setup":
        setup_child(args.n + WARM_UP, args.out)
        return
    if args.child == "count":
        count_child(args.out)
        return

    import psycopg

    database = f"avis_bench_respond_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{args.postgres_url}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        with tempfile.TemporaryDirectory(prefix="avis-bench-respond-") as var_dir:
            run(args, database, Path(var_dir))
    finally:
        if not args.keep_db:
            with psycopg.connect(f"{args.postgres_url}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        else:
            print(f"database kept: {args.postgres_url}/{database}")


def run(args: argparse.Namespace, database: str, var_dir: Path) -> None:
    site = f"http://127.0.0.1:{PORT}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"AVIS_HUEY_FILE", "AVIS_REDIS_URL", "AVIS_HUEY_IMMEDIATE", "AVIS_DB_CONN_MAX_AGE"}
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "avis.settings",
        "DATABASE_URL": f"{args.postgres_url}/{database}",
        "AVIS_VAR_DIR": str(var_dir),
        "AVIS_API_RATE_PER_KEY": "0",
        "AVIS_API_RATE_PER_ADDRESS": "0",
        "AVIS_LOG_LEVEL": "WARNING",
        "AVIS_BASE_URL": site,
        "AVIS_BENCH_BASELINE": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    me = [sys.executable, __file__]
    tokens_file, counts_file = var_dir / "tokens.json", var_dir / "counts.json"
    subprocess.run(  # noqa: S603
        [*me, "--child", "setup", "--n", str(args.n), "--out", str(tokens_file)], env=env, check=True
    )
    tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
    serve = [sys.executable, "-m", "avis.cli", "serve", "--port", str(PORT), "--no-worker", "--log-file", "-"]
    if args.threads:
        serve += ["--threads", str(args.threads)]
    if args.respondent_threads is not None:
        serve += ["--respondent-threads", str(args.respondent_threads)]
    web = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        wait_for(f"{site}/login/", 120)
        # Warm-up: the first requests of each thread load templates, translations, connections.
        Side("warm-up", "/bench/baseline/", [f"w{i}" for i in range(WARM_UP)], args.clients).run()
        Side("warm-up", "/s/", tokens[:WARM_UP], args.clients).run()
        trivial = [uuid.uuid4().hex for _ in range(args.n)]
        baseline = Side("baseline", "/bench/baseline/", trivial, args.clients)
        baseline.run()
        avis = Side("avis", "/s/", tokens[WARM_UP:], args.clients)
        avis.run()
    finally:
        web.terminate()
        web.wait(timeout=30)
    subprocess.run([*me, "--child", "count", "--out", str(counts_file)], env=env, check=True)  # noqa: S603
    stored = json.loads(counts_file.read_text(encoding="utf-8"))
    print(
        f"{args.n} respondents a side (GET + POST, every fourth unhappy), {args.clients} clients, "
        f"avis serve --threads {args.threads or 'default'} --respondent-threads "
        f"{'default' if args.respondent_threads is None else args.respondent_threads}, PostgreSQL"
    )
    for side in (baseline, avis):
        print(side.line())
    print(
        f"stored: avis {stored['avis'] - WARM_UP} of {args.n} answers, "
        f"baseline {stored['baseline'] - WARM_UP} of {args.n} rows"
    )
    for side in (baseline, avis):
        if side.errors:
            print(f"{side.label} errors: {sorted(set(side.errors))}")
    print(f"ratio: {avis.rate / baseline.rate:.2f} (goal ≥ {GOAL})")


if __name__ == "__main__":
    main()
