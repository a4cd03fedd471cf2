"""`avis backup` of a large SQLite database while avis serves, against SQLite's own `.backup` of it.

A real ``avis serve`` (waitress and its worker) runs on a SQLite database
holding ``--answers`` answers (10,000,000 by default) in a temporary
AVIS_VAR_DIR. Two figures, both measured in this run:

- **time**: ``avis backup``'s work (SQLite's online backup, row counts for
  the manifest, zstd compression, checksums, retention: the duration it
  records in ``runs.jsonl``) against ``sqlite3 avis.sqlite3 ".backup copy"``
  (Debian's sqlite3 shell, at the priority avis's command gives itself:
  ``nice -n 10``) of the same file, each run ``--repeat`` times with avis
  serving but idle, the best kept. The command's whole wall time is
  printed too: its start-up (Django and every app's imports, scipy's the
  largest) is seconds on a busy machine, whatever the database's size. Idle, because the shell's ``.backup``
  copies 100 pages per step and starts again whenever another connection
  writes: under a steady load it may never end, where avis copies in one
  step from one read snapshot. Goal: ≤ 1.5.
- **latency**: p99 of ``POST /api/v1/interactions`` from 4 clients in a
  second process while ``avis backup`` runs, against the p99 of the same
  load just before, without a backup. Goal: ≤ 3.

The answers are synthetic and hang off one response per touchpoint × agent,
as in ``bench/metrics.py`` (whose set-up is reused): a backup copies pages,
whatever they hold. Building the database takes minutes; ``--keep DIR``
builds it there once and reuses it on the next runs.

    .venv/bin/python bench/backup.py [--answers 10000000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_TIME = 1.5
GOAL_P99 = 3.0
CHUNK = 1_000_000
CLIENTS = 4
COMMENT = "Conseiller très aimable, mon problème a été réglé en une fois, merci"


def prepare(var_dir: str, answers: int) -> None:
    """Migrate, set up one organisation (bench/metrics.py's set-up), then insert the answers in SQL."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "bench")]
    import django

    django.setup()
    from django.core.management import call_command
    from metrics import _setup
    from tests.factories import make_organisation
    from tests.helpers import open_all_day

    call_command("migrate", verbosity=0, interactive=False)
    org = make_organisation("Bench backup", slug="bench-backup")
    open_all_day(org.organisation)
    refs = _setup(org.organisation)
    slots = [
        (tp_id, agent_id, team_id, refs["responses"][(tp_id, agent_id)], refs["questions"][tp_id])
        for _code, tp_id, _share in refs["touchpoints"]
        for agent_id, _external_id, team_id in refs["agents"]
    ]
    database = sqlite3.connect(Path(var_dir) / "avis.sqlite3")
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("CREATE TEMP TABLE slot (n INTEGER PRIMARY KEY, tp, agent, team, response, question)")
    rows = [(n, *slot) for n, slot in enumerate(slots)]
    database.executemany("INSERT INTO slot VALUES (?, ?, ?, ?, ?, ?)", rows)
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    step = max(1, int(timedelta(days=365).total_seconds()) // answers)
    started = time.perf_counter()
    for first in range(0, answers, CHUNK):
        size = min(CHUNK, answers - first)
        database.execute(
            f"""
            WITH RECURSIVE seq(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM seq WHERE x < ?)
            INSERT INTO surveys_answer (organisation_id, touchpoint_id, agent_id, team_id, response_id,
                question_id, kind, attribution, answered_at, number, choice, text, not_applicable)
            SELECT ?, slot.tp, slot.agent, slot.team, slot.response, slot.question, 'nps', 'overall',
                   strftime('%Y-%m-%d %H:%M:%S', ? + x * ?, 'unixepoch'), abs(random()) % 11, '',
                   CASE WHEN x % 10 = 0 THEN '{COMMENT}' ELSE '' END, 0
            FROM seq JOIN slot ON slot.n = x % {len(slots)}
            """,  # noqa: S608  (constants only)
            [first, first + size - 1, org.organisation.id, start, step],
        )
        database.commit()
        print(f"  {first + size:,} answers ({time.perf_counter() - started:.0f} s)", flush=True)
    database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database.close()


def load(base_url: str, key: str, stop_file: str) -> None:
    """The second process: CLIENTS threads posting interactions until ``stop_file`` appears; prints
    each request's start (monotonic) and latency as JSON."""
    import httpx

    samples: list[tuple[float, float]] = []
    failures: list[str] = []
    lock = threading.Lock()
    serial = iter(range(10**9))

    def work() -> None:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            while not os.path.exists(stop_file):
                with lock:
                    n = next(serial)
                body = {
                    "external_id": f"load-{os.getpid()}-{n}",
                    "touchpoint": "call_center.call",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "customer": {"external_id": f"L-{n}", "email": f"l{n}@example.fr"},
                    "agent": "A-7",
                    "team": "lyon",
                }
                began = time.monotonic()
                reply = http.post("/api/v1/interactions", json=body)
                elapsed = time.monotonic() - began
                with lock:
                    samples.append((began, elapsed))
                    if reply.status_code != 200:
                        failures.append(f"{reply.status_code} {reply.text[:200]}")

    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"samples": samples, "failures": failures}))


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--answers", type=int, default=10_000_000, help="synthetic answers (default 10,000,000)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--load-seconds", type=float, default=20, help="baseline load before the backup")
    parser.add_argument("--keep", help="build the database in this folder once, and reuse it")
    parser.add_argument("--prepare", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare[0], int(args.prepare[1]))
        return
    if args.load:
        load(*args.load)
        return
    if shutil.which("sqlite3") is None:
        sys.exit("SQLite's shell is missing (Debian: apt-get install sqlite3)")

    var_dir = Path(args.keep or tempfile.mkdtemp(prefix="avis-bench-backup-"))
    var_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="avis-bench-backup-out-"))
    env = {
        **os.environ,
        "AVIS_VAR_DIR": str(var_dir),
        # A benchmark is one client far above any integration: no API rate limit (docs/security.md).
        "AVIS_API_RATE_PER_KEY": "0",
        "AVIS_API_RATE_PER_ADDRESS": "0",
        "AVIS_BACKUP_DIR": str(work / "backups"),
        "AVIS_BACKUP_HOUR": "off",
        "AVIS_BACKUP_KEEP_DAILY": "100",
        "AVIS_EMAIL_PROVIDER": "console",
        "AVIS_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "avis.settings",
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
    }
    for name in (
        "DATABASE_URL",
        "AVIS_HUEY_FILE",
        "AVIS_REDIS_URL",
        "AVIS_HUEY_IMMEDIATE",
        "AVIS_JOURNAL_DIR",
    ):
        env.pop(name, None)
    python, me = sys.executable, [sys.executable, __file__]
    database = var_dir / "avis.sqlite3"
    marker = var_dir / f"built-{args.answers}"
    if not marker.exists():
        for stale in var_dir.iterdir():
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        print(f"building a database of {args.answers:,} answers in {var_dir} …", flush=True)
        started = time.perf_counter()
        subprocess.run([*me, "--prepare", str(var_dir), str(args.answers)], env=env, check=True)  # noqa: S603
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        marker.write_text("")
    # A kept database may predate avis's latest migrations.
    subprocess.run([python, "-m", "avis.cli", "migrate", "-v0"], env=env, check=True)  # noqa: S603
    key = subprocess.run(  # noqa: S603
        [python, "-m", "avis.cli", "apikey", "bench-backup", "--name", f"bench {time.time():.0f}"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    size = sum(p.stat().st_size for p in var_dir.glob("avis.sqlite3*"))
    print(f"database: {size / 2**30:.2f} GiB")

    sys.path.insert(0, str(ROOT / "bench"))
    from gateway import free_port

    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [python, "-m", "avis.cli", "serve", "--port", str(port), "--threads", "8"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        import httpx

        for _ in range(600):
            try:
                httpx.get(f"http://127.0.0.1:{port}/login/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)

        # Time: both copies of the same file, avis serving, no load.
        shell, ours = [], []
        for _ in range(args.repeat):
            copy = work / "shell-copy.sqlite3"
            # At the priority `avis backup` gives itself (nice 10): the same footing.
            shell.append(_timed(["nice", "-n", "10", "sqlite3", str(database), f".backup '{copy}'"], env))
            copy.unlink()
            ours.append(_timed([python, "-m", "avis.cli", "backup", "--quiet"], env))
        runs = [json.loads(line) for line in (work / "backups" / "runs.jsonl").read_text().splitlines()]
        archive = max(r["size"] for r in runs if r["ok"])
        inside = [r["seconds"] for r in runs if r["ok"]]

        # Latency: the same load without, then with a backup running.
        stop = work / "stop"
        loader = subprocess.Popen(  # noqa: S603
            [*me, "--load", f"http://127.0.0.1:{port}", key, str(stop)],
            env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(10)  # warm-up, left out below
        quiet_from = time.monotonic()
        time.sleep(args.load_seconds)
        backup_from = time.monotonic()
        subprocess.run([python, "-m", "avis.cli", "backup", "--quiet"], env=env, check=True)  # noqa: S603
        backup_until = time.monotonic()
        stop.write_text("")
        loaded = json.loads(loader.communicate()[0])
        samples, failures = loaded["samples"], loaded["failures"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)

    quiet = [latency for began, latency in samples if quiet_from <= began < backup_from]
    during = [latency for began, latency in samples if backup_from <= began < backup_until]
    time_ratio = min(inside) / min(shell)
    p99_ratio = _p99(during) / _p99(quiet)
    print(f"{args.answers:,} answers, {size / 2**30:.2f} GiB; archive {archive / 2**30:.2f} GiB")
    print(
        f"  sqlite3 .backup: best {min(shell):.1f} s of {', '.join(f'{s:.1f}' for s in shell)}; "
        f"avis backup's work: best {min(inside):.1f} s of {', '.join(f'{s:.1f}' for s in inside)}; "
        f"the whole command with its start-up: best {min(ours):.1f} s "
        f"(ratio {min(ours) / min(shell):.2f})"
    )
    print(
        f"  POST /api/v1/interactions, {CLIENTS} clients: p99 {_p99(quiet) * 1000:.0f} ms without a backup "
        f"({len(quiet)} requests), {_p99(during) * 1000:.0f} ms during one ({len(during)} requests, "
        f"{backup_until - backup_from:.1f} s); p50 {statistics.median(quiet) * 1000:.0f} vs "
        f"{statistics.median(during) * 1000:.0f} ms"
    )
    print(f"  p99 ratio: {p99_ratio:.2f} (goal ≤ {GOAL_P99}); requests not answered 200: {len(failures)}")
    for failure in sorted(set(failures))[:5]:
        print(f"    {failure!r}")
    print(f"ratio: {time_ratio:.2f} (goal ≤ {GOAL_TIME}: avis backup / sqlite3 .backup; p99 {p99_ratio:.2f})")


if __name__ == "__main__":
    main()
