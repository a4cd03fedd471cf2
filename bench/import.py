"""Past interactions per second through ``avis import``, against a raw ``bulk_create`` of the same rows.

The avis side is the command a person runs, as a child process: ``avis import
interactions FILE --organisation SLUG --yes`` reads a French Excel-style CSV
(``;``, a byte-order mark, ``02/12/2026 14:05``, ``06 12 34 56 78``), maps and
validates every row, upserts customers, agents and teams, stores the
interactions and records each in its customer's contact history. Its wall
time and its peak memory (the child's maximum resident set) are measured.

The baseline is ``bench/ingest.py``'s: ``Interaction.objects.bulk_create`` of
the same interaction rows in batches of 10,000 (statements of 500), the
customers, agents and teams already in place and the file already parsed, so
it measures only what any import must pay: writing the interactions.

Each side works on its own fresh database (a temporary SQLite file, or a
throw-away PostgreSQL database), SQLite and PostgreSQL in the same run.

    .venv/bin/python bench/import.py [--db sqlite|postgres|both] [--n 1000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench")]

import ingest  # noqa: E402  (the data and the baseline of bench/ingest.py)

GOAL = 0.5
MEMORY_GOAL_MIB = 500
BATCH = 10_000
PARIS = ZoneInfo("Europe/Paris")
HEADER = [
    "Réf",
    "Étape",
    "Date",
    "Client",
    "Téléphone",
    "E-mail",
    "Langue",
    "Conseiller",
    "Nom",
    "Agence",
    "Durée",
]
COLUMNS = {
    "Réf": "external_id",
    "Étape": "touchpoint",
    "Date": "occurred_at",
    "Client": "customer_id",
    "Téléphone": "phone",
    "E-mail": "email",
    "Langue": "locale",
    "Conseiller": "agent",
    "Nom": "agent_name",
    "Agence": "team",
    "Durée": "attribute",
}


# --- the file ----------------------------------------------------------------------------------


def write_file(path: Path, n: int, *, seed: int = 20261202) -> None:
    """``n`` past interactions over the last year, ~0.3 n customers, written as Excel writes in France."""
    rng = random.Random(seed)
    customers = ingest._customers(rng, max(1, int(n * ingest.CUSTOMER_SHARE)))
    agents = [(f"AG-{number:04d}", rng.choice(ingest.TEAMS)) for number in range(max(1, n // 300))]
    names = {
        code: f"{rng.choice(ingest.FIRST_NAMES).title()} {rng.choice(ingest.LAST_NAMES).title()}"
        for code, _ in agents
    }
    codes, weights = zip(*ingest.TOUCHPOINTS, strict=True)
    start = datetime(2025, 12, 1, tzinfo=PARIS)
    step = 365 * 86400 / n
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        for number in range(n):
            customer = customers[number if number < len(customers) else rng.randrange(len(customers))]
            moment = start + timedelta(seconds=number * step)
            touchpoint = rng.choices(codes, weights)[0]
            agent, team = rng.choice(agents)
            if touchpoint == "claim.settled":
                agent = ""
            writer.writerow(
                [
                    f"EVT-{number:07d}",
                    touchpoint,
                    f"{moment:%d/%m/%Y %H:%M}",
                    customer["external_id"],
                    customer["phone"] or "",
                    customer["email"] or "",
                    customer["locale"],
                    agent,
                    names.get(agent, ""),
                    team,
                    rng.randrange(30, 1800) if touchpoint == "call_center.call" else "",
                ]
            )


def read_batches(path: Path) -> Iterator[list[list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as source:
        reader = csv.reader(source, delimiter=";")
        next(reader)
        batch: list[list[str]] = []
        for row in reader:
            batch.append(row)
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


# --- children: one fresh database each --------------------------------------------------------


def child_setup(slug: str) -> None:
    """Migrate the fresh database and create the organisation with its touchpoints."""
    _django()
    from django.core.management import call_command
    from tests.factories import make_organisation

    call_command("migrate", verbosity=0, interactive=False)
    make_organisation("Bench import", slug=slug)


def child_baseline(path: Path, result: Path) -> None:
    """Customers, agents and teams first (untimed), then the timed ``bulk_create`` of the interactions."""
    _django()
    from django.db import transaction
    from django.utils import timezone

    from avis.accounts.models import Organisation
    from avis.customers.models import Customer
    from avis.interactions.models import Agent, Interaction, Team, Touchpoint
    from avis.interactions.services import normalise_locale, normalise_phone

    organisation = Organisation.objects.get(slug="bench-baseline")
    customers: dict[str, dict[str, Any]] = {}
    agents: dict[str, str] = {}
    for batch in read_batches(path):
        for row in batch:
            customers[row[3]] = {
                "phone": normalise_phone(row[4], region="FR") if row[4] else "",
                "email": row[5],
                "locale": normalise_locale(row[6], default="fr"),
            }
            if row[7]:
                agents[row[7]] = row[9]
    Customer.objects.bulk_create(
        [Customer(organisation=organisation, external_id=key, **values) for key, values in customers.items()],
        batch_size=ingest.INSERT_BATCH,
    )
    Team.objects.bulk_create([Team(organisation=organisation, code=code) for code in set(agents.values())])
    team_ids = dict(Team.objects.filter(organisation=organisation).values_list("code", "id"))
    Agent.objects.bulk_create(
        [
            Agent(organisation=organisation, external_id=code, team_id=team_ids[team])
            for code, team in agents.items()
        ]
    )
    keys = {
        "customer": dict(Customer.objects.filter(organisation=organisation).values_list("external_id", "id")),
        "agent": dict(Agent.objects.filter(organisation=organisation).values_list("external_id", "id")),
        "touchpoint": dict(Touchpoint.objects.filter(organisation=organisation).values_list("code", "id")),
    }
    del customers

    seconds = 0.0
    for batch in read_batches(path):
        parsed = [
            (row, datetime.strptime(row[2], "%d/%m/%Y %H:%M").replace(tzinfo=PARIS))  # noqa: DTZ007
            for row in batch
        ]
        started = time.perf_counter()
        received = timezone.now()
        rows = [
            Interaction(
                organisation=organisation,
                external_id=row[0],
                touchpoint_id=keys["touchpoint"][row[1]],
                customer_id=keys["customer"][row[3]],
                agent_id=keys["agent"][row[7]] if row[7] else None,
                team_id=team_ids[row[9]],
                occurred_at=moment,
                received_at=received,
                attributes={"Durée": row[10]} if row[10] else {},
            )
            for row, moment in parsed
        ]
        with transaction.atomic():
            Interaction.objects.bulk_create(rows, batch_size=ingest.INSERT_BATCH)
        seconds += time.perf_counter() - started
    result.write_text(json.dumps({"seconds": seconds}), encoding="utf-8")


def child_count(slug: str, result: Path) -> None:
    _django()
    from avis.customers.models import Customer
    from avis.governance.models import Decision
    from avis.interactions.models import Interaction
    from avis.surveys.models import Invitation

    scope = {"organisation__slug": slug}
    counts = {
        "interactions": Interaction.objects.filter(**scope).count(),
        "decisions": Decision.objects.filter(
            **scope, reason="contact_only", solicited_at__isnull=False
        ).count(),
        "customers": Customer.objects.filter(**scope).count(),
        "invitations": Invitation.objects.filter(**scope).count(),
    }
    result.write_text(json.dumps(counts), encoding="utf-8")


def _django() -> None:
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()


# --- the parent --------------------------------------------------------------------------------


class Database:
    """A fresh database for one side: its environment for the children, dropped at the end."""

    def __init__(self, db: str, name: str, pg_admin_url: str) -> None:
        self.db, self.name, self.pg_admin_url = db, name, pg_admin_url
        self.var_dir = tempfile.TemporaryDirectory(prefix=f"avis-bench-import-{db}-")
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "AVIS_HUEY_FILE", "AVIS_REDIS_URL", "AVIS_HUEY_IMMEDIATE"}
        }
        self.env |= {
            "DJANGO_SETTINGS_MODULE": "avis.settings",
            "AVIS_VAR_DIR": self.var_dir.name,
            "AVIS_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT / "src"),
        }
        if db == "postgres":
            import psycopg

            with psycopg.connect(pg_admin_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {name}")
            self.env["DATABASE_URL"] = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"

    def run(self, *args: str) -> tuple[float, int]:
        """Run a child to its end; its wall time in seconds and its peak memory in KiB."""
        started = time.perf_counter()
        child = subprocess.Popen(list(args), env=self.env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if child.returncode:
            raise SystemExit(f"{self.db}: {' '.join(args[:4])} … exited with {child.returncode}")
        return seconds, usage.ru_maxrss

    def child(self, *args: str) -> tuple[float, int]:
        return self.run(sys.executable, __file__, *args)

    def close(self) -> None:
        if self.db == "postgres":
            import psycopg

            with psycopg.connect(self.pg_admin_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        self.var_dir.cleanup()


def avis_import(database: Database, path: Path, slug: str) -> tuple[float, int]:
    avis = str(Path(sys.executable).parent / "avis")
    command = [avis, "import", "interactions", str(path), "--organisation", slug, "--yes"]
    for column, field in COLUMNS.items():
        command += ["--map", f"{column}={field}"]
    return database.run(*command)


def bench_database(db: str, path: Path, n: int, pg_admin_url: str, small: Path | None) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    # Named after this run: two runs on one server never drop each other's databases.
    imported = Database(db, f"avis_bench_import_{os.getpid()}", pg_admin_url)
    try:
        imported.child("--child", "setup", "--slug", "bench-import")
        seconds, peak = avis_import(imported, path, "bench-import")
        figures |= {"import_seconds": seconds, "import_peak_kib": peak}
        result = Path(imported.var_dir.name) / "counts.json"
        imported.child("--child", "count", "--slug", "bench-import", "--result", str(result))
        counts = json.loads(result.read_text(encoding="utf-8"))
        if counts["interactions"] != n or counts["decisions"] != n or counts["invitations"]:
            raise SystemExit(f"{db}: the import stored {counts}, expected {n:,} interactions and contacts")
        figures["counts"] = counts
        if small is not None:
            imported.child("--child", "setup", "--slug", "bench-small")
            figures["small_peak_kib"] = avis_import(imported, small, "bench-small")[1]
    finally:
        imported.close()
    baseline = Database(db, f"avis_bench_baseline_{os.getpid()}", pg_admin_url)
    try:
        baseline.child("--child", "setup", "--slug", "bench-baseline")
        result = Path(baseline.var_dir.name) / "baseline.json"
        _, peak = baseline.child("--child", "baseline", "--file", str(path), "--result", str(result))
        figures |= {
            "baseline_seconds": json.loads(result.read_text(encoding="utf-8"))["seconds"],
            "baseline_peak_kib": peak,
        }
    finally:
        baseline.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--n", type=int, default=1_000_000, help="how many past interactions (default 1,000,000)"
    )
    parser.add_argument(
        "--postgres-url", default=ingest.PG_ADMIN_URL, help="a server URL allowed to create databases"
    )
    parser.add_argument("--child", choices=["setup", "baseline", "count"], help=argparse.SUPPRESS)
    parser.add_argument("--slug", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "setup":
        child_setup(args.slug)
        return
    if args.child == "baseline":
        child_baseline(args.file, args.result)
        return
    if args.child == "count":
        child_count(args.slug, args.result)
        return

    with tempfile.TemporaryDirectory(prefix="avis-bench-import-") as work:
        path = Path(work) / "interactions.csv"
        small = Path(work) / "small.csv"
        write_file(path, args.n)
        write_file(small, max(1, args.n // 10), seed=1)
        size = path.stat().st_size / 1024 / 1024
        print(f"{args.n:,} past interactions, {size:,.0f} MiB of CSV", flush=True)
        ratios = {}
        peaks = []
        for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
            figures = bench_database(db, path, args.n, args.postgres_url, small if db == "sqlite" else None)
            rate, base = args.n / figures["import_seconds"], args.n / figures["baseline_seconds"]
            ratios[db] = rate / base
            peak = figures["import_peak_kib"] / 1024
            peaks.append(peak)
            counts = figures["counts"]
            seconds = figures["import_seconds"]
            print(f"{db}: avis import  {rate:10,.0f} interactions/s ({seconds:.1f} s, whole command)")
            print(f"{db}: bulk_create  {base:10,.0f} interactions/s ({figures['baseline_seconds']:.1f} s)")
            print(
                f"{db}: stored {counts['interactions']:,} interactions, {counts['decisions']:,} contacts "
                f"in the history, {counts['customers']:,} customers, {counts['invitations']} invitations"
            )
            print(f"{db}: peak memory of avis import: {peak:,.0f} MiB for {args.n:,} rows", end="")
            if "small_peak_kib" in figures:
                print(
                    f", {figures['small_peak_kib'] / 1024:,.0f} MiB for {max(1, args.n // 10):,} rows", end=""
                )
            print(f" (baseline process: {figures['baseline_peak_kib'] / 1024:,.0f} MiB)", flush=True)
        for db, ratio in ratios.items():
            print(f"{db} ratio: {ratio:.2f}")
        print(f"peak memory: {max(peaks):,.0f} MiB (goal < {MEMORY_GOAL_MIB} MiB)")
        print(f"ratio: {min(ratios.values()):.2f} (goal ≥ {GOAL})")


if __name__ == "__main__":
    main()
