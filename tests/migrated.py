"""A migrated, empty database made once per set of migrations, and copied wherever a test needs a
fresh one.

`migrate` from nothing costs about 15 s of CPU (Django renders the models' states again after each
of some seventy migrations), and the suite made dozens of such databases: its own test database in
each test process and each step of ./dev test, and one per installation the backup tests start.
The template is made by the real `avis migrate` in a process of its own, so what the tests get is
what a new installation gets; the migrations themselves are still run from nothing by that, by
tests/surveys/test_version_migration.py, and by the processes tests/cluster.py starts.

One template per engine and content of every migration file (and Django's version), shared by the
test processes of a run (a file lock) and the steps of ./dev test.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import django
from django.apps import apps

PLACE = Path(tempfile.gettempdir()) / "avis-test-templates"


def migrations_key() -> str:
    digest = hashlib.sha256(django.get_version().encode())
    for config in sorted(apps.get_app_configs(), key=lambda each: each.label):
        folder = Path(config.path) / "migrations"
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
            digest.update(f"{config.label}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def _locked(name: str) -> Iterator[None]:
    PLACE.mkdir(parents=True, exist_ok=True)
    with (PLACE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _migrate(database_url: str, var: Path) -> None:
    var.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "AVIS_VAR_DIR": str(var),
        "AVIS_REDIS_URL": "",
        "AVIS_HUEY_IMMEDIATE": "true",
    }
    environment.pop("AVIS_TEST_NOW", None)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "avis.cli", "migrate", "--no-input", "-v", "0"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def sqlite_template() -> Path:
    key = migrations_key()
    template = PLACE / f"sqlite-{key}.sqlite3"
    with _locked(f"sqlite-{key}"):
        if not template.exists():
            making = PLACE / f"making-{key}-{os.getpid()}"
            shutil.rmtree(making, ignore_errors=True)
            _migrate(f"sqlite:///{making / 'avis.sqlite3'}", making)
            with sqlite3.connect(making / "avis.sqlite3") as db:  # everything in the one file
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
            os.replace(making / "avis.sqlite3", template)
            shutil.rmtree(making, ignore_errors=True)
    return template


def fresh_sqlite(path: Path) -> None:
    """A migrated, empty database at ``path`` (whatever was there is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(sqlite_template(), path)


def fresh_postgres(database_url: str) -> None:
    """A migrated, empty database named by ``database_url`` (dropped first if it exists), copied from
    a template database on the same server with CREATE DATABASE … TEMPLATE."""
    import psycopg

    parts = urlparse(database_url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    key = migrations_key()
    template = f"avis_template_{key}"
    with _locked(f"postgres-{key}"), psycopg.connect(admin_url, autocommit=True) as admin:
        made = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone()
        if not made:
            # Made under another name and renamed once migrated: a run killed half-way leaves no
            # half-migrated template behind.
            making = f"avis_making_{key}"
            admin.execute(f'DROP DATABASE IF EXISTS "{making}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{making}"')
            _migrate(parts._replace(path=f"/{making}").geturl(), PLACE / f"making-{key}-{os.getpid()}")
            admin.execute(f'ALTER DATABASE "{making}" RENAME TO "{template}"')
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def fresh_database(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        fresh_sqlite(Path(database_url.removeprefix("sqlite:///")))
    else:
        fresh_postgres(database_url)
