"""Interactions per second through the batch API, against a raw ``bulk_create`` of the same rows.

The API side is the whole real path, in process: JSON encoding of the request,
Django's middleware, API-key authentication, pydantic parsing, validation and
normalisation of every item, customer/agent/team upserts, governance (caps,
quarantine, sampling, quiet hours, every decision recorded), invitations, the
outbox and the Huey enqueue, and the per-item response. The baseline inserts
the very same interaction rows with ``Interaction.objects.bulk_create``, the
customers, agents and teams already in place, so it measures only what any
ingest must pay: writing the interactions themselves.

Each database runs in its own child process (Django reads its settings once),
on a throw-away database: a fresh SQLite file in a temporary ``AVIS_VAR_DIR``,
or a dedicated PostgreSQL database created and dropped here.

    .venv/bin/python bench/ingest.py [--db sqlite|postgres|both] [--n 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.3
BATCH = 10_000
# The service writes in statements of 500 rows; the baseline does the same.
INSERT_BATCH = 500
CUSTOMER_SHARE = 0.3  # ~30,000 distinct customers per 100,000 interactions
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "avis_bench"

FIRST_NAMES = [
    "marie", "jean", "camille", "louis", "lea", "hugo", "chloe", "lucas", "manon", "nathalie",
    "pierre", "sophie", "thomas", "julie", "nicolas", "isabelle", "antoine", "claire", "karim", "amina",
]  # fmt: skip
LAST_NAMES = [
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
    "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux", "vincent", "fournier",
]  # fmt: skip
TEAMS = [
    "paris-nord", "paris-sud", "lyon", "marseille", "lille", "bordeaux",
    "nantes", "toulouse", "strasbourg", "rennes", "nice", "montpellier",
]  # fmt: skip
TOUCHPOINTS = [("call_center.call", 0.6), ("branch.visit", 0.25), ("claim.settled", 0.15)]


# --- the data --------------------------------------------------------------------------------


def _phone(rng: random.Random) -> str:
    """A French mobile number, written the various ways senders write them."""
    # 06 10–38 and 07 50–89 are metropolitan mobiles (0639, 0690–0697 are overseas).
    prefix = rng.choice("67")
    digits = [rng.randrange(10, 39) if prefix == "6" else rng.randrange(50, 90)]
    digits += [rng.randrange(100) for _ in range(3)]
    style = rng.random()
    if style < 0.5:
        return f"0{prefix} " + " ".join(f"{d:02d}" for d in digits)
    if style < 0.8:
        return f"+33 {prefix} " + " ".join(f"{d:02d}" for d in digits)
    return f"0{prefix}" + "".join(f"{d:02d}" for d in digits)


def _customers(rng: random.Random, count: int) -> list[dict[str, Any]]:
    customers = []
    for number in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        reach = rng.random()
        customers.append(
            {
                "external_id": f"CUST-{number:06d}",
                # Most have both channels; a tenth only a phone, a tenth only an email.
                "phone": _phone(rng) if reach < 0.9 else None,
                "email": f"{first}.{last}{number}@example.fr" if reach >= 0.1 else None,
                "locale": "fr" if rng.random() < 0.85 else "en-GB",
                "time_zone": "Europe/Paris" if rng.random() < 0.95 else "Indian/Reunion",
            }
        )
    return customers


def make_payloads(n: int, *, now: datetime, seed: int = 20260301) -> list[dict[str, Any]]:
    """``n`` interactions over the last seven days, oldest first, ~0.3 n customers.

    Every customer appears at least once; a skewed draw gives a few customers
    many interactions, so governance skips many of them for the cap and the
    quarantine, as it would for real.
    """
    rng = random.Random(seed)
    customers = _customers(rng, max(1, int(n * CUSTOMER_SHARE)))
    agents = [(f"AG-{number:04d}", rng.choice(TEAMS)) for number in range(max(1, n // 300))]
    agent_names = {
        code: f"{rng.choice(FIRST_NAMES).title()} {rng.choice(LAST_NAMES).title()}" for code, _ in agents
    }
    picks = list(range(len(customers)))
    picks += [min(int(rng.paretovariate(1.2)) - 1, len(customers) - 1) if rng.random() < 0.2
              else rng.randrange(len(customers)) for _ in range(n - len(picks))]  # fmt: skip
    rng.shuffle(picks)
    start = now - timedelta(days=7)
    moments = sorted(start + timedelta(seconds=rng.uniform(0, 7 * 86400 - 3600)) for _ in range(n))
    codes, weights = zip(*TOUCHPOINTS, strict=True)
    payloads = []
    for number, (customer_index, moment) in enumerate(zip(picks[:n], moments, strict=True)):
        touchpoint = rng.choices(codes, weights)[0]
        agent, team = rng.choice(agents)
        item: dict[str, Any] = {
            "external_id": f"EVT-{number:07d}",
            "touchpoint": touchpoint,
            "occurred_at": moment.astimezone(UTC).isoformat(),
            "customer": customers[customer_index],
            "team": team,
            "attributes": {"duration_s": rng.randrange(30, 1800)} if touchpoint == "call_center.call" else {},
        }
        if touchpoint != "claim.settled":  # a settled claim is nobody's call
            item |= {"agent": agent, "agent_name": agent_names[agent]}
        payloads.append(item)
    return payloads


def _batches(values: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- one database, in a child process -----------------------------------------------------


def run_child(db: str, n: int, result_file: Path) -> None:
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone
    from huey.contrib.djhuey import HUEY
    from tests.factories import make_organisation

    from avis.governance.services import update_policy
    from avis.interactions.models import Interaction

    # Tasks go to the queue file in the temporary var dir; no worker runs them,
    # so no message is "sent" inside the timed section.
    HUEY.immediate = False
    call_command("migrate", verbosity=0, interactive=False)

    now = timezone.now()
    payloads = make_payloads(n, now=now)
    customers = len({p["customer"]["external_id"] for p in payloads})
    # The 100,000 payloads live through the whole run, which no server holds;
    # keep the cycle collector from walking them again and again on both sides.
    gc.collect()
    gc.freeze()
    print(f"{db}: {n:,} interactions, {customers:,} customers, batches of {BATCH:,}", flush=True)

    # (a) the batch API, governance on.
    api_org = make_organisation("Bench API", slug="bench-api")
    # Sending all day, every day: each invitation is due at once and goes the
    # whole way (outbox row, Huey enqueue), whatever the hour the bench runs at.
    update_policy(
        organisation=api_org.organisation,
        changes={
            "send_from": dtime(0),
            "send_until": dtime(0),
            "send_on_sunday": True,
            "send_on_holidays": True,
            # The week of history is replayed as if it had just happened: no survey is dropped as stale.
            "freshness_hours": 0,
        },
    )
    client = Client(headers={"Authorization": f"Bearer {api_org.api_key}"})
    warm_up = [
        p
        | {"external_id": f"WARMUP-{p['external_id']}", "customer": p["customer"] | {"external_id": "WARMUP"}}
        for p in payloads[:10]
    ]
    _post(client, warm_up)  # first-request costs (imports, schema building) are not throughput

    # (b) the baseline, in a second organisation whose customers, agents and
    # teams exist already: only the interaction rows are written.
    base = make_organisation("Bench baseline", slug="bench-baseline").organisation
    keys = _baseline_references(base, payloads)

    def baseline(batch: Sequence[dict[str, Any]]) -> None:
        received = timezone.now()
        rows = [
            Interaction(
                organisation=base,
                external_id=p["external_id"],
                touchpoint_id=keys["touchpoint"][p["touchpoint"]],
                customer_id=keys["customer"][p["customer"]["external_id"]],
                agent_id=keys["agent"][p["agent"]] if p.get("agent") else None,
                team_id=keys["team"][p["team"]] if p.get("team") else None,
                occurred_at=datetime.fromisoformat(p["occurred_at"]),
                received_at=received,
                attributes=p["attributes"],
            )
            for p in batch
        ]
        with transaction.atomic():
            Interaction.objects.bulk_create(rows, batch_size=INSERT_BATCH)

    def settle() -> None:
        """Write SQLite's log back untimed, so neither side pays for the other's pages."""
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # The two sides take turns, batch by batch, so that a busy spell on the
    # machine falls on both, and both write into tables of the same size.
    api_seconds = baseline_seconds = 0.0
    responses = []
    for batch in _batches(payloads):
        settle()
        started = time.perf_counter()
        baseline(batch)
        baseline_seconds += time.perf_counter() - started

        settle()
        started = time.perf_counter()
        body = json.dumps({"items": batch})
        responses.append(client.post("/api/v1/interactions/batch", body, content_type="application/json"))
        api_seconds += time.perf_counter() - started

    tally = _check(db, responses)
    assert Interaction.objects.filter(organisation=base).count() == n
    assert Interaction.objects.filter(organisation=api_org.organisation).count() == n + len(warm_up)

    api_rate, baseline_rate = n / api_seconds, n / baseline_seconds
    decisions = ", ".join(f"{key} {count:,}" for key, count in sorted(tally.items()))
    print(f"{db}: decisions: {decisions}")
    print(f"{db}: batch API    {api_rate:10,.0f} interactions/s ({api_seconds:.2f} s)")
    print(f"{db}: bulk_create  {baseline_rate:10,.0f} interactions/s ({baseline_seconds:.2f} s)", flush=True)
    result_file.write_text(json.dumps({"api": api_rate, "baseline": baseline_rate}), encoding="utf-8")


def _baseline_references(organisation: Any, payloads: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Create the baseline's customers, teams and agents; their ids by external key."""
    from avis.customers.models import Customer
    from avis.interactions.models import Agent, Team, Touchpoint
    from avis.interactions.services import normalise_locale, normalise_phone

    wanted: dict[str, dict[str, Any]] = {}
    for p in payloads:
        given = p["customer"]
        wanted[given["external_id"]] = {
            "phone": normalise_phone(given["phone"], region="FR") if given["phone"] else "",
            "email": given["email"] or "",
            "locale": normalise_locale(given["locale"], default="fr"),
            "time_zone": given["time_zone"],
        }
    Customer.objects.bulk_create(
        [Customer(organisation=organisation, external_id=key, **values) for key, values in wanted.items()],
        batch_size=INSERT_BATCH,
    )
    teams = {p["team"] for p in payloads if p.get("team")}
    Team.objects.bulk_create([Team(organisation=organisation, code=code) for code in teams])
    team_ids = dict(Team.objects.filter(organisation=organisation).values_list("code", "id"))
    agent_team = {p["agent"]: p["team"] for p in payloads if p.get("agent")}
    Agent.objects.bulk_create(
        [
            Agent(organisation=organisation, external_id=code, team_id=team_ids[team])
            for code, team in agent_team.items()
        ]
    )
    return {
        "customer": dict(Customer.objects.filter(organisation=organisation).values_list("external_id", "id")),
        "agent": dict(Agent.objects.filter(organisation=organisation).values_list("external_id", "id")),
        "team": team_ids,
        "touchpoint": dict(Touchpoint.objects.filter(organisation=organisation).values_list("code", "id")),
    }


def _check(db: str, responses: Sequence[Any]) -> Counter[str]:
    """Every item accepted as new; the decisions tallied by outcome and reason."""
    tally: Counter[str] = Counter()
    for response in responses:
        if response.status_code != 200:
            raise SystemExit(
                f"{db}: the batch API answered {response.status_code}: {response.content[:500]!r}"
            )
        for item in response.json()["results"]:
            if item["status"] != "accepted" or item["replayed"]:
                raise SystemExit(f"{db}: item {item['external_id']} was not accepted as new: {item}")
            tally[f"{item['decision']['outcome']}/{item['decision']['reason']}"] += 1
    return tally


def _post(client: Any, items: Sequence[dict[str, Any]]) -> None:
    response = client.post(
        "/api/v1/interactions/batch", json.dumps({"items": items}), content_type="application/json"
    )
    if response.status_code != 200:
        raise SystemExit(f"the batch API answered {response.status_code}: {response.content[:500]!r}")


# --- the parent: one child per database ------------------------------------------------------


def _run_database(db: str, n: int, pg_admin_url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"avis-bench-{db}-") as var_dir:
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
        }
        result_file = Path(var_dir) / "result.json"
        command = [sys.executable, __file__, "--child", db, "--n", str(n), "--result", str(result_file)]
        if db == "postgres":
            import psycopg

            with psycopg.connect(pg_admin_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {PG_DATABASE}")
            env["DATABASE_URL"] = pg_admin_url.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
            try:
                subprocess.run(command, env=env, check=True)
            finally:
                with psycopg.connect(pg_admin_url, autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        else:
            subprocess.run(command, env=env, check=True)
        return json.loads(result_file.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=100_000, help="how many interactions (default 100,000)")
    parser.add_argument(
        "--postgres-url", default=PG_ADMIN_URL, help="a server URL allowed to create databases"
    )
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args.n, args.result)
        return

    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    ratios = {}
    for db in databases:
        rates = _run_database(db, args.n, args.postgres_url)
        ratios[db] = rates["api"] / rates["baseline"]
    for db, ratio in ratios.items():
        print(f"{db} ratio: {ratio:.2f}")
    print(f"ratio: {min(ratios.values()):.2f} (goal ≥ {GOAL})")


if __name__ == "__main__":
    main()
