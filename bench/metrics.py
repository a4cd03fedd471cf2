"""NPS with its interval by touchpoint × month and agent × month: avis's metrics API against DuckDB.

avis side: ``GET /api/v1/metrics`` in process (Django's middleware, API-key
authentication, parsing, the query on the daily roll-ups, the adjusted-Wald
interval, JSON). Baseline: DuckDB running the same plain GROUP BY (counts of
promoters and detractors per group and month in Europe/Paris, the same interval
formula in SQL) over a Parquet file holding the very same answers. Both run
in the same process, after one warm-up each; the best of ``--repeat`` runs is
kept. The values must be identical (to 1e-9).

The answers are synthetic: ``--n`` NPS answers (10,000,000 by default) spread
over 2025 across 3 touchpoints, 12 teams and 200 agents, loaded with COPY into
a dedicated PostgreSQL database (created and dropped here). They hang off one
response per touchpoint × agent: the metrics read only the answers' own columns
(and the roll-ups the response's channel), so the rest of the survey chain
would only cost loading time. The roll-ups are then built by avis's own
``rebuild_rollups``; loading and building times are printed, not compared.

    .venv/bin/python bench/metrics.py [--n 10000000] [--repeat 5] [--keep-parquet PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.0
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "avis_bench_metrics"
CHUNK = 1_000_000
TEAMS = 12
AGENTS = 200
TOUCHPOINTS = [("call_center.call", 0.6), ("branch.visit", 0.25), ("claim.settled", 0.15)]
Z95 = 1.959963984540054  # Φ⁻¹(0.975), as scipy gives it to avis

DUCKDB_SQL = f"""
WITH counts AS (
    SELECT {{group}} AS grp,
           CAST(date_trunc('month', timezone('Europe/Paris', answered_at)) AS DATE) AS month,
           count(*) FILTER (WHERE number >= 9) AS p,
           count(*) FILTER (WHERE number <= 6) AS d,
           count(*) AS n
    FROM read_parquet('{{path}}')
    GROUP BY ALL
), adjusted AS (
    SELECT *, (p + 0.75) / (n + 3) AS pa, (d + 0.75) / (n + 3) AS da FROM counts
)
SELECT grp, month, n, 100.0 * (p - d) / n AS value,
       100 * greatest(-1.0, (pa - da) - {Z95} * sqrt((pa + da - (pa - da) ^ 2) / (n + 3))) AS ci_low,
       100 * least(1.0, (pa - da) + {Z95} * sqrt((pa + da - (pa - da) ^ 2) / (n + 3))) AS ci_high
FROM adjusted
"""


def _setup(organisation: Any) -> dict[str, Any]:
    """Teams, agents, one customer and one response per touchpoint × agent, through the ORM."""
    from django.utils import timezone

    from avis.customers.models import Customer
    from avis.governance.models import Decision
    from avis.governance.services import current_policy
    from avis.interactions.models import Agent, Interaction, Team, Touchpoint
    from avis.surveys.models import Invitation, Question, Response, Survey

    now = timezone.now()
    teams = Team.objects.bulk_create(
        Team(organisation=organisation, code=f"team-{i:02d}", name=f"Team {i}") for i in range(TEAMS)
    )
    agents = Agent.objects.bulk_create(
        Agent(organisation=organisation, external_id=f"A-{i:03d}", team=teams[i % TEAMS])
        for i in range(AGENTS)
    )
    customer = Customer.objects.create(organisation=organisation, external_id="C-bench")
    policy = current_policy(organisation=organisation)
    touchpoints = {tp.code: tp for tp in Touchpoint.objects.filter(organisation=organisation)}
    surveys = {s.touchpoint_id: s for s in Survey.objects.filter(organisation=organisation, is_active=True)}
    questions = {
        q.version.survey.touchpoint_id: q
        for q in Question.objects.filter(version__survey__in=surveys.values(), code="nps").select_related(
            "version__survey"
        )
    }
    responses: dict[tuple[int, int], int] = {}
    for code, _share in TOUCHPOINTS:
        tp = touchpoints[code]
        interactions = Interaction.objects.bulk_create(
            Interaction(
                organisation=organisation,
                external_id=f"{code}-{a.external_id}",
                touchpoint=tp,
                customer=customer,
                agent=a,
                team_id=a.team_id,
                occurred_at=now,
            )
            for a in agents
        )
        decisions = Decision.objects.bulk_create(
            Decision(
                organisation=organisation,
                interaction=i,
                customer=customer,
                touchpoint=tp,
                outcome="invite",
                reason="eligible",
                policy=policy,
                inclusion_probability=1.0,
                channel="email",
                decided_at=now,
                planned_at=now,
            )
            for i in interactions
        )
        invitations = Invitation.objects.bulk_create(
            Invitation(
                organisation=organisation,
                decision=d,
                interaction=i,
                customer=customer,
                touchpoint=tp,
                survey=surveys[tp.id],
                version_id=surveys[tp.id].current_version_id,
                channel="email",
                locale="fr",
                token=f"bench-{d.id}",
                status="responded",
                planned_at=now,
                expires_at=now + timedelta(days=7),
                responded_at=now,
            )
            for d, i in zip(decisions, interactions, strict=True)
        )
        made = Response.objects.bulk_create(
            Response(
                organisation=organisation,
                touchpoint=tp,
                agent=a,
                team_id=a.team_id,
                invitation=inv,
                survey=surveys[tp.id],
                version_id=surveys[tp.id].current_version_id,
                customer=customer,
                interaction=i,
                channel="email",
                locale="fr",
                completed_at=now,
            )
            for a, inv, i in zip(agents, invitations, interactions, strict=True)
        )
        for a, r in zip(agents, made, strict=True):
            responses[(tp.id, a.id)] = r.id
    return {
        "touchpoints": [(code, touchpoints[code].id, share) for code, share in TOUCHPOINTS],
        "agents": [(a.id, a.external_id, a.team_id) for a in agents],
        "teams": {t.id: t.code for t in teams},
        "questions": {tp_id: q.id for tp_id, q in questions.items()},
        "responses": responses,
    }


def _chunks(n: int, refs: dict[str, Any], organisation_id: int, seed: int = 20251231):  # noqa: ANN202
    """Synthetic answers, a million at a time, as Arrow tables (numpy-generated)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    agent_ids = np.array([a[0] for a in refs["agents"]])
    agent_codes = np.array([a[1] for a in refs["agents"]])
    agent_teams = np.array([a[2] for a in refs["agents"]])
    team_codes = refs["teams"]
    agent_quality = rng.normal(7.6, 0.6, size=AGENTS)  # uneven agents
    tp_ids = np.array([t[1] for t in refs["touchpoints"]])
    tp_codes = np.array([t[0] for t in refs["touchpoints"]])
    tp_shares = np.array([t[2] for t in refs["touchpoints"]])
    response_of = refs["responses"]
    response_table = np.array([[response_of[(tp, a)] for a in agent_ids] for tp in tp_ids])
    question_table = np.array([refs["questions"][tp] for tp in tp_ids])
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    span = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) - start
    done = 0
    while done < n:
        size = min(CHUNK, n - done)
        tp = rng.choice(len(tp_ids), size=size, p=tp_shares)
        agent = rng.integers(0, AGENTS, size=size)
        score = np.clip(np.rint(rng.normal(agent_quality[agent], 2.2)), 0, 10).astype(np.int16)
        moment = (start + rng.integers(0, span, size=size)) * 1_000_000
        answered_at = pa.array(moment, type=pa.timestamp("us", tz="UTC"))
        yield (
            pa.table(
                {
                    "organisation_id": pa.array(np.full(size, organisation_id)),
                    "touchpoint_id": pa.array(tp_ids[tp]),
                    "agent_id": pa.array(agent_ids[agent]),
                    "team_id": pa.array(agent_teams[agent]),
                    "response_id": pa.array(response_table[tp, agent]),
                    "question_id": pa.array(question_table[tp]),
                    "kind": pa.array(np.full(size, "nps")),
                    "attribution": pa.array(np.full(size, "overall")),
                    "answered_at": answered_at,
                    "number": pa.array(score),
                    "choice": pa.array(np.full(size, "")),
                    "text": pa.array(np.full(size, "")),
                    "not_applicable": pa.array(np.zeros(size, dtype=bool)),
                }
            ),
            pa.table(
                {
                    "touchpoint": pa.array(tp_codes[tp]),
                    "agent": pa.array(agent_codes[agent]),
                    "team": pa.array(np.array([team_codes[t] for t in agent_teams])[agent]),
                    "answered_at": answered_at,
                    "number": pa.array(score),
                }
            ),
        )
        done += size


def _load(n: int, refs: dict[str, Any], organisation_id: int, parquet_path: Path) -> dict[str, float]:
    """COPY the answers into PostgreSQL (indexes and FK checks off meanwhile) and write the Parquet file."""
    import pyarrow.parquet as pq
    from django.db import connection

    from avis.surveys.models import Answer

    table = Answer._meta.db_table
    known = {
        "organisation_id", "touchpoint_id", "agent_id", "team_id", "response_id", "question_id", "kind",
        "attribution", "answered_at", "number", "choice", "text", "not_applicable",
    }  # fmt: skip
    extra = [f.column for f in Answer._meta.concrete_fields if f.column not in known | {"id"}]
    if extra:
        raise SystemExit(f"surveys_answer has new columns the bench doesn't fill: {extra}")
    timings = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE %s",
            [table, "%pkey"],
        )
        indexes = cursor.fetchall()
        for name, _ddl in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    started = time.perf_counter()
    writer = None
    raw = connection.connection
    with raw.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK triggers during the load
        for answers, flat in _chunks(n, refs, organisation_id):
            if writer is None:
                writer = pq.ParquetWriter(str(parquet_path), flat.schema)
            writer.write_table(flat)
            sink = _csv_bytes(answers)
            columns = ", ".join(answers.column_names)
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                for start in range(0, len(sink), 8 << 20):
                    copy.write(sink[start : start + (8 << 20)])
        cursor.execute("SET session_replication_role = DEFAULT")
    raw.commit()
    if writer is not None:
        writer.close()
    timings["copy_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for _name, ddl in indexes:
            cursor.execute(ddl)
        cursor.execute(f"ANALYZE {table}")
    timings["indexes_s"] = time.perf_counter() - started
    return timings


def _csv_bytes(table: Any) -> bytes:
    import io

    import pyarrow.csv as pacsv

    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False))
    return out.getvalue()


def run_child(n: int, repeat: int, result_file: Path, keep_parquet: str | None) -> None:
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()

    import duckdb
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from tests.factories import make_organisation

    from avis.analytics.services import rebuild_rollups

    call_command("migrate", verbosity=0, interactive=False)
    setup = make_organisation("Bench metrics", slug="bench-metrics")
    organisation = setup.organisation
    refs = _setup(organisation)
    with tempfile.TemporaryDirectory(prefix="avis-bench-parquet-") as tmp:
        parquet_path = Path(keep_parquet) if keep_parquet else Path(tmp) / "answers.parquet"
        print(f"loading {n:,} answers (COPY) and writing {parquet_path.name} …", flush=True)
        timings = _load(n, refs, organisation.id, parquet_path)
        print(f"  COPY {timings['copy_s']:.1f} s, indexes {timings['indexes_s']:.1f} s", flush=True)
        started = time.perf_counter()
        rows = rebuild_rollups(organisation=organisation)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE analytics_dailyrollup")
        timings["rollups_s"] = time.perf_counter() - started
        print(f"  roll-ups rebuilt: {rows:,} rows in {timings['rollups_s']:.1f} s", flush=True)

        client = Client(headers={"Authorization": f"Bearer {setup.api_key}"})
        queries = {"touchpoint": {"group_by": "touchpoint"}, "agent": {"group_by": "agent"}}

        def avis(group: str) -> list[dict[str, Any]]:
            response = client.get("/api/v1/metrics", {"metric": "nps", "period": "month", **queries[group]})
            assert response.status_code == 200, response.content[:500]
            return response.json()  # type: ignore[no-any-return]

        duck = duckdb.connect()
        duck.execute("SET TimeZone = 'UTC'")

        def baseline(group: str) -> list[tuple]:
            return duck.execute(DUCKDB_SQL.format(group=group, path=str(parquet_path))).fetchall()

        results: dict[str, Any] = {}
        best = {"avis": 0.0, "duckdb": 0.0}
        for group in queries:
            avis(group), baseline(group)  # warm-up: imports, schema, file metadata
            times: dict[str, list[float]] = {"avis": [], "duckdb": []}
            for _ in range(repeat):
                for side, run in (("avis", avis), ("duckdb", baseline)):
                    started = time.perf_counter()
                    output = run(group)
                    times[side].append(time.perf_counter() - started)
                    results[(side, group)] = output
            for side in best:
                best[side] += min(times[side])
            print(
                f"  by {group} × month: avis {min(times['avis']) * 1000:.1f} ms, "
                f"duckdb {min(times['duckdb']) * 1000:.1f} ms",
                flush=True,
            )
            mine = {
                (row[group], row["period_start"]): (row["n"], row["value"], row["ci_low"], row["ci_high"])
                for row in results[("avis", group)]
            }
            theirs = {
                (g, m.isoformat()): (n_, v, lo, hi) for g, m, n_, v, lo, hi in results[("duckdb", group)]
            }
            assert mine.keys() == theirs.keys(), f"different groups by {group}"
            worst = max(abs(a - b) for key in mine for a, b in zip(mine[key], theirs[key], strict=True))
            assert worst < 1e-9, f"values differ by {worst} (by {group})"
            print(f"  identical values: {len(mine)} groups, largest difference {worst:.1e}", flush=True)
    result_file.write_text(json.dumps({**timings, **best}), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000_000, help="synthetic answers (default 10,000,000)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--postgres-url", default=PG_ADMIN_URL, help="a server URL allowed to create databases"
    )
    parser.add_argument("--keep-parquet", metavar="PATH", help="write the Parquet file here and keep it")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.n, args.repeat, Path(args.result), args.keep_parquet)
        return

    import psycopg

    with tempfile.TemporaryDirectory(prefix="avis-bench-metrics-") as var_dir:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "AVIS_REDIS_URL"}}
        env |= {
            "DJANGO_SETTINGS_MODULE": "avis.settings",
            "AVIS_VAR_DIR": var_dir,
            # A benchmark is one client far above any integration: no API rate limit (docs/security.md).
            "AVIS_API_RATE_PER_KEY": "0",
            "AVIS_API_RATE_PER_ADDRESS": "0",
            "AVIS_LOG_LEVEL": "WARNING",
            "AVIS_HUEY_IMMEDIATE": "false",
            "DATABASE_URL": args.postgres_url.rsplit("/", 1)[0] + f"/{PG_DATABASE}",
        }
        result_file = Path(var_dir) / "result.json"
        command = [sys.executable, __file__, "--child", "--n", str(args.n), "--repeat", str(args.repeat)]
        command += ["--result", str(result_file)]
        if args.keep_parquet:
            command += ["--keep-parquet", args.keep_parquet]
        with psycopg.connect(args.postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {PG_DATABASE}")
        try:
            subprocess.run(command, env=env, check=True)
        finally:
            with psycopg.connect(args.postgres_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        result = json.loads(result_file.read_text(encoding="utf-8"))
    avis_ms, duckdb_ms = result["avis"] * 1000, result["duckdb"] * 1000
    print(f"{args.n:,} answers on PostgreSQL: avis {avis_ms:.1f} ms, DuckDB {duckdb_ms:.1f} ms")
    print(f"ratio: {result['avis'] / result['duckdb']:.2f} (goal ≤ {GOAL})")


if __name__ == "__main__":
    main()
