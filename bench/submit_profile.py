"""Where the time of one respondent's answer goes: GET + POST /s/<token>, in process.

Not a bench (no baseline): a profile, for docs/architecture.md. Makes a throw-away
database (SQLite in a temporary ``AVIS_VAR_DIR``, or PostgreSQL with ``--postgres-url``),
one organisation, invitations; then answers ``--n`` of them happily and ``--n``
unhappily through Django's test client, counting SQL statements (per request and per
statement shape) and profiling with cProfile. On a shared machine read the proportions
and the counts, not the times.

    .venv/bin/python bench/submit_profile.py [--n 50] [--postgres-url postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HAPPY = {"nps": "9", "resolved": "yes", "agent": "5"}
UNHAPPY = {"nps": "2", "resolved": "no", "agent": "3", "comment": "Toujours en panne."}


def shape(sql: str) -> str:
    """A statement without its values: what it does, to group alike ones."""
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r'"s\d+_x\d+"', "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"\(\?(, \?)*\)", "(…)", sql)
    return sql[:160]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with throwaway_installation(args.postgres_url):
        run(args)


@contextmanager
def throwaway_installation(postgres_url: str) -> Iterator[None]:
    """A temporary ``AVIS_VAR_DIR`` (SQLite there), or a PostgreSQL database made for the profile
    and dropped after it; tasks queued, not run, so that a profile can run them apart."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avis.settings")
    os.environ["AVIS_VAR_DIR"] = tempfile.mkdtemp(prefix="avis-profile-")
    os.environ["AVIS_HUEY_IMMEDIATE"] = "0"
    database = ""
    if postgres_url:
        import psycopg

        database = f"avis_profile_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        os.environ["DATABASE_URL"] = f"{postgres_url}/{database}"
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    try:
        yield
    finally:
        if database:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from huey.contrib.djhuey import HUEY
    from tests.factories import interaction_payload, make_organisation

    from avis.governance.services import update_policy
    from avis.surveys.models import Invitation

    HUEY.immediate = False
    call_command("migrate", verbosity=0, interactive=False)
    org = make_organisation("Profile", slug="profile")
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
    api = Client(headers={"Authorization": f"Bearer {org.api_key}"})
    occurred = (timezone.now() - timedelta(minutes=5)).isoformat()
    count = 2 * args.n + 2
    items = [
        interaction_payload(f"EVT-{i:05d}", customer=f"P-{i:05d}", occurred_at=occurred, phone=None)
        for i in range(count)
    ]
    reply = api.post(
        "/api/v1/interactions/batch", json.dumps({"items": items}), content_type="application/json"
    )
    assert reply.status_code == 200, reply.content[:500]
    tokens = list(Invitation.objects.filter(organisation=org.organisation).values_list("token", flat=True))
    assert len(tokens) == count, len(tokens)
    client = Client()
    # Warm up: the first request of a process loads templates, translations, URL resolvers.
    for token, answers in zip(tokens[:2], (HAPPY, UNHAPPY), strict=True):
        client.get(f"/s/{token}")
        client.post(f"/s/{token}", answers)
    tokens = tokens[2:]
    print(f"database: {connection.vendor}, {args.n} answers of each kind")
    for label, answers, batch in (
        ("happy", HAPPY, tokens[: args.n]),
        ("unhappy", UNHAPPY, tokens[args.n :]),
    ):
        for method in ("GET", "POST"):
            shapes: Counter[str] = Counter()
            times: Counter[str] = Counter()
            per_request = []
            profile = cProfile.Profile()
            for token in batch:
                with CaptureQueriesContext(connection) as queries:
                    profile.enable()
                    if method == "GET":
                        page = client.get(f"/s/{token}")
                    else:
                        page = client.post(f"/s/{token}", answers)
                    profile.disable()
                assert page.status_code == 200, page.status_code
                per_request.append(len(queries))
                for query in queries.captured_queries:
                    shapes[shape(query["sql"])] += 1
                    times[shape(query["sql"])] += float(query["time"])
            print_profile(
                f"{label} {method}: {min(per_request)}–{max(per_request)} statements per request",
                shapes,
                times,
                len(batch),
                profile,
                sort="cumulative",
                where=r"avis|django/(db/backends|template|core/handlers)",
                top=args.top,
                tail=6000,
            )


def print_profile(
    heading: str,
    shapes: Counter,
    times: Counter,
    requests: int,
    profile: cProfile.Profile,
    *,
    sort: str,
    where: str,
    top: int,
    tail: int,
) -> None:
    """Statements per request by shape with their share of SQL time, then cProfile's lines."""
    print(f"\n=== {heading}")
    total_sql = sum(times.values()) or 1.0
    for sql, n in shapes.most_common():
        print(f"{n / requests:5.2f}× {100 * times[sql] / total_sql:5.1f}% of SQL  {sql}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(sort).print_stats(where, top)
    print(out.getvalue()[-tail:])


if __name__ == "__main__":
    main()
