"""The two databases avis runs on, each copied and put back with its own tools.

SQLite: the online backup API (a consistent picture while avis writes, as
SQLite's own ``.backup`` makes), never a file copy of a live database.
PostgreSQL: ``pg_dump``/``pg_restore``, the row counts read in the very
snapshot the dump is made from.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext_noop as _

from avis.accounts.models import Organisation
from avis.operations.errors import BackupFailed, OperationsError, RestoreRefused

SQLITE, POSTGRESQL = "sqlite", "postgresql"
DATABASE_FILE = {SQLITE: "avis.sqlite3", POSTGRESQL: "avis.dump"}


Inventory = tuple[dict[str, int], dict[str, list[str]]]


@dataclass
class Picture:
    """What one backup holds: files to archive (name → path), rows per table, migrations applied.

    The rows may still be being counted (``counting``) while the files are archived: counting
    reads the copy a second time, and the archive's manifest, written last, waits for it."""

    files: dict[str, Path]
    counting: Callable[[], Inventory]
    _inventory: Inventory | None = field(default=None, init=False)

    @classmethod
    def counted(cls, files: dict[str, Path], inventory: Inventory) -> Picture:
        return cls(files, lambda: inventory)

    @classmethod
    def counting_beside(cls, files: dict[str, Path], count: Callable[[], Inventory]) -> Picture:
        """Count in a thread of its own (SQLite lets go of the GIL while it reads)."""
        outcome: list[Inventory | BaseException] = []

        def run() -> None:
            try:
                outcome.append(count())
            except BaseException as exc:  # noqa: BLE001  (re-raised in the caller's thread)
                outcome.append(exc)

        thread = threading.Thread(target=run, name="backup-count", daemon=True)
        thread.start()

        def join() -> Inventory:
            thread.join()
            if isinstance(outcome[0], BaseException):
                raise outcome[0]
            return outcome[0]

        return cls(files, join)

    def inventory(self) -> Inventory:
        if self._inventory is None:
            self._inventory = self.counting()
        return self._inventory

    @property
    def tables(self) -> dict[str, int]:
        return self.inventory()[0]

    @property
    def migrations(self) -> dict[str, list[str]]:
        return self.inventory()[1]


class Engine(Protocol):
    name: str

    def size(self) -> int: ...
    def picture(self, workdir: Path) -> Picture: ...
    def has_data(self) -> bool: ...
    def check(self, staged: Path, manifest: dict[str, Any]) -> None: ...
    def install(self, staged: Path, aside: Path) -> list[str]: ...


def engine() -> Engine:
    vendor = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return SqliteEngine() if vendor == "sqlite3" else PostgresEngine()


def _inventory(cursor: Any, tables: list[str]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Rows per table and migrations applied, read through one DB-API cursor (one snapshot)."""
    counts = {}
    for table in sorted(tables):
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608  (names from the catalogue)
        counts[table] = cursor.fetchone()[0]
    migrations: dict[str, list[str]] = {}
    if "django_migrations" in counts:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        for app, name in cursor.fetchall():
            migrations.setdefault(app, []).append(name)
    return counts, migrations


def sqlite_size(path: Path) -> int:
    """The database and its write-ahead log: what a copy may have to read."""
    return sum(p.stat().st_size for p in _with_sidecars(path) if p.exists())


def _with_sidecars(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def install_file(staged: Path, target: Path, aside: Path) -> list[str]:
    """Put a restored file in place; what was there (with SQLite's -wal and -shm) goes to ``aside``."""
    moved = []
    for path in _with_sidecars(target):
        if path.exists():
            aside.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), aside / path.name)
            moved.append(path.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(staged), target)
    return moved


class SqliteEngine:
    name = SQLITE

    def __init__(self) -> None:
        self.database = Path(settings.DATABASES["default"]["NAME"])

    def size(self) -> int:
        return sqlite_size(self.database)

    def picture(self, workdir: Path) -> Picture:
        if not self.database.exists():
            raise BackupFailed(_("There is no database to back up at %(path)s."), path=self.database)
        files = {DATABASE_FILE[SQLITE]: workdir / DATABASE_FILE[SQLITE]}
        copy_sqlite(self.database, files[DATABASE_FILE[SQLITE]])
        return Picture.counting_beside(files, lambda: _count_sqlite(files[DATABASE_FILE[SQLITE]]))

    def has_data(self) -> bool:
        if not self.database.exists() or self.database.stat().st_size == 0:
            return False
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            table = Organisation._meta.db_table
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
            ).fetchone()
            has_rows = bool(found and db.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone())  # noqa: S608
        db.close()
        return has_rows

    def check(self, staged: Path, manifest: dict[str, Any]) -> None:
        """SQLite's own integrity check, and the rows the manifest counted."""
        with sqlite3.connect(staged / DATABASE_FILE[SQLITE]) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise RestoreRefused(
                    f"The database in the archive fails SQLite's integrity check: {verdict}."
                )
            for table, expected in (manifest.get("tables") or {}).items():
                found = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
                if found != expected:
                    raise RestoreRefused(
                        f"Table {table} holds {found} rows; the manifest counted {expected}."
                    )
        db.close()

    def install(self, staged: Path, aside: Path) -> list[str]:
        """Move what is there aside (nothing is deleted), then the restored file into place."""
        return install_file(staged / DATABASE_FILE[SQLITE], self.database, aside)


MMAP_BYTES = 1 << 31  # SQLite caps it at its compile-time maximum (Debian: just under 2 GiB)


def _count_sqlite(path: Path) -> Inventory:
    with sqlite3.connect(path) as copy:
        copy.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        cursor = copy.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        inventory = _inventory(copy.cursor(), [row[0] for row in cursor])
    copy.close()
    return inventory


def copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup, in one step: one read transaction, so the copy is the database as it
    stood at one instant while writers carry on (WAL); the copy is written without a journal, being
    thrown away if anything fails."""
    target.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=60)
    dst = sqlite3.connect(target)
    try:
        # Pages read from the mapped file rather than one read() each: the copy's largest cost.
        src.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        dst.execute("PRAGMA journal_mode = OFF")
        dst.execute("PRAGMA synchronous = OFF")
        src.backup(dst)
    except sqlite3.OperationalError as exc:
        raise BackupFailed(
            _("SQLite could not copy %(file)s: %(reason)s"), file=source.name, reason=exc
        ) from exc
    finally:
        dst.close()
        src.close()


class PostgresEngine:
    name = POSTGRESQL

    def __init__(self) -> None:
        db = settings.DATABASES["default"]
        self.database = db["NAME"]
        self.env = {
            **os.environ,
            "PGHOST": str(db.get("HOST") or "127.0.0.1"),
            "PGPORT": str(db.get("PORT") or 5432),
            "PGUSER": str(db.get("USER") or "postgres"),
            "PGDATABASE": self.database,
        }
        if db.get("PASSWORD"):
            self.env["PGPASSWORD"] = str(db["PASSWORD"])

    def _run(self, tool: str, *args: str, error: type[OperationsError]) -> str:
        if shutil.which(tool) is None:
            raise error(
                _("%(tool)s is not installed (Debian: apt-get install postgresql-client)."), tool=tool
            )
        done = subprocess.run([tool, *args], env=self.env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise error(
                _("%(tool)s failed: %(reason)s"), tool=tool, reason=done.stderr.strip() or done.stdout.strip()
            )
        return done.stdout

    def _tables(self, cursor: Any) -> list[str]:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return [row[0] for row in cursor.fetchall()]

    def size(self) -> int:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return int(cursor.fetchone()[0])

    def picture(self, workdir: Path) -> Picture:
        """pg_dump and the counts share one exported snapshot: the manifest describes the dump exactly."""
        import psycopg

        dump = workdir / DATABASE_FILE[POSTGRESQL]
        with psycopg.connect(autocommit=True, **_libpq(self.env)) as db:
            db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = db.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
            cursor = db.cursor()
            tables, migrations = _inventory(cursor, self._tables(cursor))
            self._run(
                "pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                f"--file={dump}", error=BackupFailed,
            )  # fmt: skip
            db.execute("ROLLBACK")
        return Picture.counted({DATABASE_FILE[POSTGRESQL]: dump}, (tables, migrations))

    def has_data(self) -> bool:
        with connections["default"].cursor() as cursor:
            if Organisation._meta.db_table not in self._tables(cursor):
                return False
            cursor.execute(f'SELECT 1 FROM "{Organisation._meta.db_table}" LIMIT 1')  # noqa: S608
            return cursor.fetchone() is not None

    def check(self, staged: Path, manifest: dict[str, Any]) -> None:
        self._run("pg_restore", "--list", str(staged / DATABASE_FILE[POSTGRESQL]), error=RestoreRefused)

    def install(self, staged: Path, aside: Path) -> list[str]:
        """One transaction: either the whole dump is in, or the database is as it was."""
        with connections["default"].cursor() as cursor:
            existing = self._tables(cursor)
        connections.close_all()
        clean = ["--clean", "--if-exists"] if existing else []
        self._run(
            "pg_restore", "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges", *clean,
            f"--dbname={self.database}", str(staged / DATABASE_FILE[POSTGRESQL]), error=RestoreRefused,
        )  # fmt: skip
        return []


def _libpq(env: dict[str, str]) -> dict[str, str]:
    names = {
        "PGHOST": "host",
        "PGPORT": "port",
        "PGUSER": "user",
        "PGDATABASE": "dbname",
        "PGPASSWORD": "password",
    }
    return {names[k]: v for k, v in env.items() if k in names}
