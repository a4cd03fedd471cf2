"""Where the time of one `POST /api/v1/interactions` goes, web side and worker side, in process.

Not a bench (no baseline): a profile, for bench/scale.py's figures. Makes a throw-away database
(SQLite in a temporary ``AVIS_VAR_DIR``, or PostgreSQL with ``--postgres-url``), one organisation
open all day; then posts ``--n`` interactions, each for a new customer with a phone (so each is
decided, invited and texted, as in bench/scale.py), through Django's test client, counting SQL
statements per request and per statement shape and profiling with cProfile; then runs the tasks
those requests queued, as a worker would, with the same counts. On a shared machine read the
proportions and the counts, not the times. Statements are those Django sees: a COPY (bulk inserts
of many rows on PostgreSQL, avis/bulk.py) goes to psycopg directly and is not counted.

    .venv/bin/python bench/interaction_profile.py [--n 200] [--postgres-url postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench")]

from submit_profile import print_profile, shape, throwaway_installation  # noqa: E402


def payload(n: int) -> str:
    """bench/scale.py's interaction: a new customer with a phone, one of 50 agents."""
    return json.dumps(
        {
            "external_id": f"S-{n}",
            "touchpoint": "call_center.call",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "customer": {"external_id": f"SC-{n}", "phone": f"+336{n % 10**8:08d}", "locale": "fr"},
            "agent": f"A-{n % 50}",
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative", help="cProfile's order: cumulative, tottime")
    args = parser.parse_args()
    os.environ["AVIS_REDIS_URL"] = ""
    os.environ["AVIS_SMS_PROVIDER"] = "simulator"
    os.environ["AVIS_SMS_RATE_LIMIT"] = "0"
    # As bench/scale.py's cluster: no API limit (with Redis it would be counted there, not here).
    os.environ["AVIS_API_RATE_PER_KEY"] = "0"
    os.environ["AVIS_API_RATE_PER_ADDRESS"] = "0"
    with throwaway_installation(args.postgres_url):
        run(args)


def report(
    label: str, profile: cProfile.Profile, shapes: Counter, times: Counter, per: list[int], args: Any
) -> None:
    where = (
        r"avis|django|ninja|huey|pydantic|psycopg"
        if args.sort == "tottime"
        else r"avis|django/(db/backends|core/handlers)|ninja|huey"
    )
    print_profile(
        f"{label}: {min(per)}–{max(per)} statements each, {sum(per) / len(per):.1f} on average",
        shapes,
        times,
        len(per),
        profile,
        sort=args.sort,
        where=where,
        top=args.top,
        tail=9000,
    )


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from huey.contrib.djhuey import HUEY
    from tests.factories import make_organisation
    from tests.helpers import open_all_day

    HUEY.immediate = False
    call_command("migrate", verbosity=0, interactive=False)
    org = make_organisation("Bench scale", slug="bench-scale")
    open_all_day(org.organisation)
    api = Client(headers={"Authorization": f"Bearer {org.api_key}"})

    def post(n: int) -> None:
        reply = api.post("/api/v1/interactions", payload(n), content_type="application/json")
        assert reply.status_code == 200, reply.content[:500]

    def drain(side: Side) -> int:
        done = 0
        while (task := HUEY.dequeue()) is not None:
            connection.queries_log.clear()  # the log keeps 9,000: counts past that would be wrong
            with CaptureQueriesContext(connection) as queries:
                HUEY.execute(task)
            side.count(queries)
            done += 1
        return done

    for n in range(10):  # warm up: templates, translations, URL resolvers, the first tasks
        post(10**6 + n)
    drain(Side())
    print(f"database: {connection.vendor}, {args.n} interactions")
    web = Side()
    worker = Side()
    tasks = 0
    for n in range(args.n):
        # The web's request, then the worker's task it queued (one message, as when the load lets
        # each wake-up find its own message).
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            web.start()
            post(n)
            web.stop()
        web.count(queries)
        worker.start()
        tasks += drain(worker)
        worker.stop()
    web.report("web: POST /api/v1/interactions", args)
    worker.report(f"worker: {tasks} tasks", args)
    print(
        f"CPU per interaction (this process, profiler on): web {1000 * web.cpu / args.n:.1f} ms, "
        f"worker {1000 * worker.cpu / args.n:.1f} ms; {tasks / args.n:.2f} tasks per interaction"
    )


class Side:
    """One side's statements (each, and by shape), its profile and its CPU time."""

    def __init__(self) -> None:
        self.shapes: Counter[str] = Counter()
        self.times: Counter[str] = Counter()
        self.per: list[int] = []
        self.profile = cProfile.Profile()
        self.cpu = 0.0

    def start(self) -> None:
        self._started = time.process_time()
        self.profile.enable()

    def stop(self) -> None:
        self.profile.disable()
        self.cpu += time.process_time() - self._started

    def count(self, queries: Any) -> None:
        self.per.append(len(queries))
        for query in queries.captured_queries:
            self.shapes[shape(query["sql"])] += 1
            self.times[shape(query["sql"])] += float(query["time"])

    def report(self, label: str, args: Any) -> None:
        report(label, self.profile, self.shapes, self.times, self.per or [0], args)


if __name__ == "__main__":
    main()
