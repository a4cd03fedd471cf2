"""Throw-away avis installations, each with its own var/, backup folder and database, driven through the
same `avis` commands an operator types."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_server
from tests.migrated import fresh_database
from tests.ports import free_port  # noqa: F401 (the operations tests import it from here)

POSTGRES = os.environ.get("AVIS_TEST_POSTGRES_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
_databases = itertools.count()

# Makes an organisation the way the tests' factories do, through avis's services, and prints its key.
SET_UP = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.factories import make_organisation
from tests.helpers import open_all_day
org = make_organisation("Assurances du Centre")
open_all_day(org.organisation)
print("KEY", org.api_key)
"""


@dataclass
class Installation:
    root: Path
    backups: Path
    database_url: str
    env_extra: dict[str, str] = field(default_factory=dict)

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def engine(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    def env(self, **more: str) -> dict[str, str]:
        return {
            **os.environ,
            "AVIS_VAR_DIR": str(self.var),
            "AVIS_BACKUP_DIR": str(self.backups),
            "AVIS_JOURNAL_DIR": "",
            "DATABASE_URL": self.database_url,
            "AVIS_REDIS_URL": "",
            "AVIS_HUEY_FILE": "",
            "AVIS_HUEY_IMMEDIATE": "false",
            "AVIS_BACKUP_HOUR": "off",
            "AVIS_LOG_LEVEL": "WARNING",
            **self.env_extra,
            **more,
        }

    def avis(self, *args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "avis.cli", *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def log(self, command: str) -> Path:
        return self.root / f"{command}.log"

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """A long-running avis (serve, backup) in its own process group, so a SIGKILL takes its worker too.

        Its output goes to a file (`log`): a pipe nobody reads fills up and stops avis mid-write."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log(args[0]).open("ab") as log:
            return subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "avis.cli", *args],
                env=self.env(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def set_up(self) -> str:
        """A migrated database (tests/migrated.py) with an organisation with touchpoints and surveys;
        returns its API key."""
        fresh_database(self.database_url)
        out = self.avis("shell", "-c", SET_UP).stdout
        return next(line.split()[1] for line in out.splitlines() if line.startswith("KEY "))

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.engine == "sqlite":
            with sqlite3.connect(self.var / "avis.sqlite3") as db:
                rows = db.execute(sql, params).fetchall()
            db.close()
            return rows
        import psycopg

        with psycopg.connect(self.database_url) as db:
            return db.execute(sql.replace("%", "%%").replace("?", "%s"), params).fetchall()  # type: ignore[arg-type]

    def columns(self, table: str) -> list[str]:
        if self.engine == "sqlite":
            return [row[1] for row in self.query(f"PRAGMA table_info({table})")]
        return [
            row[0]
            for row in self.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                (table,),
            )
        ]


def kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _admin() -> Any:
    import psycopg

    return psycopg.connect(POSTGRES, autocommit=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_name(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        need_server("127.0.0.1", 5432, "PostgreSQL")
    return request.param


@pytest.fixture
def installations(tmp_path: Path, engine_name: str) -> Iterator[Any]:
    """Make installations sharing one backup folder (another disk, in real life)."""
    made: list[str] = []

    def make(name: str) -> Installation:
        if engine_name == "sqlite":
            url = f"sqlite:///{tmp_path / name / 'var' / 'avis.sqlite3'}"
        else:
            database = f"backup_{os.getpid()}_{next(_databases)}_{name}"
            with _admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
                admin.execute(f'CREATE DATABASE "{database}"')
            made.append(database)
            url = POSTGRES.rsplit("/", 1)[0] + f"/{database}"
        (tmp_path / name / "var").mkdir(parents=True)
        return Installation(tmp_path / name, tmp_path / "backups", url)

    yield make
    if made:
        with _admin() as admin:
            for database in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
