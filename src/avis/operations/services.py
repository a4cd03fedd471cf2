"""Backups and restores of the whole installation (every organisation: they share one database).

What is known about backups lives beside them in ``AVIS_BACKUP_DIR``, not in
the database they copy: the archives, their ``.sha256`` files, ``runs.jsonl``
(each run's result, for the logs' readers and the settings page) and the
journal of erasures and sends that a restore re-applies (``avis.journal``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django.utils.translation import gettext_noop as _

import avis
from avis import journal
from avis.accounts.models import Organisation
from avis.customers.services import erase_customers
from avis.messaging.restored import record_sent_after_backup
from avis.operations.archive import (
    FORMAT,
    SUFFIX,
    check_archive_checksum,
    checksum_file,
    read_archive,
    write_archive,
)
from avis.operations.engines import DATABASE_FILE, copy_sqlite, engine, install_file, sqlite_size
from avis.operations.errors import BackupFailed, RestoreRefused
from avis.operations.queries import PREFIX, RUNS, STAMP, archives, backup_dir, last_run

logger = logging.getLogger("avis.backup")


QUEUE_FILE = "huey.sqlite3"
SECRET_KEY_FILE = "secret_key"  # noqa: S105  (a file's name)


def _side_files() -> dict[str, Path]:
    """Besides the database: the embedded queue's file (wake-ups, the periodic schedule) when Huey
    runs on SQLite, and the secret key avis generated (sessions and signed links depend on it)."""
    files = {SECRET_KEY_FILE: Path(settings.VAR_DIR) / SECRET_KEY_FILE}
    queue = None if settings.AVIS_REDIS_URL else settings.HUEY.get("filename")
    if queue:
        files[QUEUE_FILE] = Path(queue)
    return files


@dataclass
class BackupResult:
    archive: Path
    size: int
    seconds: float
    rows: int
    removed: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    archive: Path
    manifest: dict[str, Any]
    migrated: list[str]
    erasures: int
    sent: int
    moved_aside: list[str]
    aside: Path | None


def _human(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@contextmanager
def _only_backup(directory: Path) -> Iterator[None]:
    """One backup at a time per backup folder (the scheduler's and an operator's); the kernel drops
    the lock of a killed process, so a backup killed half-way never blocks the next one."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = (directory / "backup.lock").open("w")
    except OSError as exc:
        raise BackupFailed(
            _("The backup folder %(folder)s cannot be used: %(reason)s."),
            folder=directory,
            reason=exc.strerror,
        ) from exc
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupFailed(_("Another backup is being written in %(folder)s."), folder=directory) from exc
        yield


def _clear_leftovers(directory: Path) -> None:
    """What a backup killed half-way left: never an archive, only a .partial and its working copies."""
    for leftover in directory.glob(f"{PREFIX}*{SUFFIX}.partial"):
        leftover.unlink(missing_ok=True)
    for work in directory.glob(".work-*"):
        shutil.rmtree(work, ignore_errors=True)


def _record_run(directory: Path, run: dict[str, Any]) -> None:
    with (directory / RUNS).open("a", encoding="utf-8") as runs:
        runs.write(json.dumps(run) + "\n")


def back_up(*, now: datetime | None = None, trigger: str = "command") -> BackupResult:
    """Write one archive of the database, the queue file and the secret key, then apply retention.

    The result, good or bad, goes to the log and to ``runs.jsonl``; a failure
    leaves no archive behind and raises ``BackupFailed`` with its reason.
    """
    started = now or timezone.now()
    directory = backup_dir()
    clock_started = time.monotonic()
    try:
        with _only_backup(directory):
            _clear_leftovers(directory)
            result = _write_backup(directory, started)
            result.removed = apply_retention(now=started)
    except BackupFailed as exc:
        logger.error("backup failed: %s", exc.message)
        _record_run_safely(
            directory,
            {
                "at": started.isoformat(),
                "ok": False,
                "trigger": trigger,
                "error": exc.message,
                "reason": exc.template,
                "params": exc.params,
            },
        )
        raise
    result.seconds = time.monotonic() - clock_started
    logger.info(
        "backup written: %s (%s, %d rows, %.1f s)%s",
        result.archive, _human(result.size), result.rows, result.seconds,
        f"; removed by retention: {', '.join(result.removed)}" if result.removed else "",
    )  # fmt: skip
    _record_run_safely(
        directory,
        {
            "at": started.isoformat(), "ok": True, "trigger": trigger, "archive": result.archive.name,
            "size": result.size, "seconds": round(result.seconds, 2), "rows": result.rows,
            "removed": result.removed,
        },
    )  # fmt: skip
    return result


def _record_run_safely(directory: Path, run: dict[str, Any]) -> None:
    try:
        _record_run(directory, run)
    except OSError as exc:  # a full disk: the log line above is all that can be kept
        logger.error("backup: could not record the run in %s: %s", directory / RUNS, exc)


def _write_backup(directory: Path, started: datetime) -> BackupResult:
    source = engine()
    side = _side_files()
    queue = side.get(QUEUE_FILE)
    # The working copy, and the archive beside it (well under half of it).
    need = (source.size() + (sqlite_size(queue) if queue else 0)) * 3 // 2
    free = shutil.disk_usage(directory).free
    if free < need:
        raise BackupFailed(
            _("Not enough space in %(folder)s: %(free)s free, about %(needed)s needed. No backup was made."),
            folder=directory, free=_human(free), needed=_human(need),
        )  # fmt: skip
    stamp = started.astimezone(UTC).strftime(STAMP)
    archive = directory / f"{PREFIX}{stamp}{SUFFIX}"
    if archive.exists():
        raise BackupFailed(
            _("%(archive)s already exists: one backup per second at most."), archive=archive.name
        )
    workdir = directory / f".work-{stamp}"
    workdir.mkdir()
    try:
        picture = source.picture(workdir)
        if queue is not None and queue.exists():
            picture.files[QUEUE_FILE] = workdir / QUEUE_FILE
            copy_sqlite(queue, picture.files[QUEUE_FILE])
        if side[SECRET_KEY_FILE].exists():
            picture.files[SECRET_KEY_FILE] = side[SECRET_KEY_FILE]
        manifest = {
            "avis_version": avis.__version__,
            "engine": source.name,
            "started_at": started.isoformat(),
            "finished_at": timezone.now().isoformat(),
            "host": socket.gethostname(),
        }
        # The rows are counted while the files are compressed; the manifest comes last and waits.
        write_archive(
            archive,
            picture.files,
            lambda: manifest | {"migrations": picture.migrations, "tables": picture.tables},
        )
    except OSError as exc:
        archive.with_name(archive.name + ".partial").unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise BackupFailed(
                _("No space left in %(folder)s while writing the backup; nothing was kept."), folder=directory
            ) from exc
        raise BackupFailed(
            _("The backup could not be written in %(folder)s: %(reason)s"), folder=directory, reason=exc
        ) from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return BackupResult(archive, archive.stat().st_size, 0.0, sum(picture.tables.values()))


def apply_retention(*, now: datetime | None = None) -> list[str]:
    """Keep the newest backup of each of the last AVIS_BACKUP_KEEP_DAILY days that have one, and of
    each of the last AVIS_BACKUP_KEEP_WEEKLY weeks; delete the others, and the journal days no kept
    backup needs."""
    kept: set[Path] = set()
    days: list[Any] = []
    weeks: list[Any] = []
    found = archives()
    for path, at in found:
        day = timezone.localtime(at).date()
        if day not in days and len(days) < settings.AVIS_BACKUP_KEEP_DAILY:
            days.append(day)
            kept.add(path)
        week = day.isocalendar()[:2]
        if week not in weeks and len(weeks) < settings.AVIS_BACKUP_KEEP_WEEKLY:
            weeks.append(week)
            kept.add(path)
    removed = []
    for path, _made in found:
        if path not in kept:
            path.unlink(missing_ok=True)
            checksum_file(path).unlink(missing_ok=True)
            removed.append(path.name)
    oldest = min((at for path, at in found if path in kept), default=None)
    if oldest is not None:
        journal.forget_before(oldest.date() - timedelta(days=1))
    return removed


def back_up_if_due(*, now: datetime | None = None) -> BackupResult | None:
    """The scheduler's daily backup: once a day, from AVIS_BACKUP_HOUR (local time) on, so a
    scheduler that was down at that hour catches up when it returns. A failed run is not retried
    before the next day: it is in the log and on the settings page."""
    if settings.AVIS_BACKUP_HOUR is None:
        return None
    now = now or timezone.now()
    local = timezone.localtime(now)
    due_from = timezone.make_aware(datetime.combine(local.date(), clock(settings.AVIS_BACKUP_HOUR)))
    if now < due_from:
        return None
    last = last_run()
    if last is not None and datetime.fromisoformat(last["at"]) >= due_from:
        return None
    return back_up(now=now, trigger="scheduler")


# --- Restore ---------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _migrations_to_run(manifest: dict[str, Any]) -> list[str]:
    """Refuse an archive from a newer avis; return the migrations an older one still needs."""
    if int(manifest.get("format", 0)) > FORMAT:
        raise RestoreRefused(f"The archive's format ({manifest['format']}) is newer than this avis can read.")
    made_by = str(manifest.get("avis_version", "0"))
    if _version(made_by) > _version(avis.__version__):
        raise RestoreRefused(
            f"The archive was made by avis {made_by}, newer than this avis ({avis.__version__}): "
            "upgrade avis first."
        )
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    applied = {(app, name) for app, names in (manifest.get("migrations") or {}).items() for name in names}
    unknown = sorted(applied - known)
    if unknown:
        names = ", ".join(f"{app}.{name}" for app, name in unknown[:5])
        raise RestoreRefused(
            f"The archive's database has migrations this avis does not know ({names}): "
            "it comes from a newer avis."
        )
    return sorted(f"{app}.{name}" for app, name in known - applied)


def restore(*, archive: Path, force: bool = False, journal_dir: Path | None = None) -> RestoreResult:
    """Put a backup back, then migrate it forward and re-apply the journal written since it began.

    Everything is checked before anything is touched: the archive's checksum,
    every file's, the manifest (version, engine, migrations), the target
    (empty, or ``force``) and its free space; then the files are extracted
    beside their place, checked again (SQLite's integrity check, the row
    counts), and only then moved in. What was there is moved aside, never
    deleted.
    """
    if not archive.is_file():
        raise RestoreRefused(f"There is no archive at {archive}.")
    target = engine()
    side = _side_files()
    names = {DATABASE_FILE[target.name], *side}
    check_archive_checksum(archive)
    manifest, files = read_archive(archive, allowed=names.__contains__)
    if manifest.get("engine") != target.name:
        raise RestoreRefused(
            f"The archive holds a {manifest.get('engine')} database; DATABASE_URL points to {target.name}."
        )
    to_migrate = _migrations_to_run(manifest)
    if target.has_data() and not force:
        raise RestoreRefused(
            "The database already holds organisations: stop avis and pass --force to replace it "
            "(what is there is moved aside, not deleted)."
        )
    staging_parent = (
        Path(settings.DATABASES["default"]["NAME"]).parent
        if target.name == "sqlite"
        else Path(settings.VAR_DIR)
    )
    staging_parent.mkdir(parents=True, exist_ok=True)
    need = sum(facts["size"] for facts in files.values())
    free = shutil.disk_usage(staging_parent).free
    if free < need + need // 20:
        raise RestoreRefused(
            f"Not enough space in {staging_parent}: {_human(free)} free, {_human(need)} needed. "
            "Nothing was restored."
        )
    stamp = timezone.now().astimezone(UTC).strftime(STAMP)
    staging = staging_parent / f".restore-{stamp}"
    aside = Path(settings.VAR_DIR) / f"replaced-{stamp}"
    staging.mkdir()
    try:
        read_archive(archive, extract_to=staging, allowed=names.__contains__)
        target.check(staging, manifest)
        connections.close_all()
        moved = target.install(staging, aside)
        for name, place in side.items():
            if (staging / name).exists():
                moved += install_file(staging / name, place, aside)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise RestoreRefused(
                f"No space left in {staging_parent} while restoring; nothing was restored."
            ) from exc
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    connections.close_all()
    if to_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    journal_dir = journal_dir or _journal_beside(archive)
    erasures, sent = reapply_journal(
        since=datetime.fromisoformat(manifest["started_at"]), directory=journal_dir
    )
    journal.record_restore(archive=archive.name, at=timezone.now(), directory=journal_dir)
    logger.info(
        "restored %s (made %s by avis %s): %d migrations run, %d erasures and %d sends re-applied",
        archive.name, manifest["started_at"], manifest.get("avis_version"), len(to_migrate), erasures, sent,
    )  # fmt: skip
    return RestoreResult(archive, manifest, to_migrate, erasures, sent, moved, aside if moved else None)


def _journal_beside(archive: Path) -> Path:
    beside = archive.parent / "journal"
    return beside if beside.is_dir() else journal.journal_dir()


def reapply_journal(*, since: datetime, directory: Path) -> tuple[int, int]:
    """Erasures and sends recorded since the backup began, made again on the restored database.

    Returns how many customers were erased again and how many waiting
    messages were found already sent.
    """
    erased: dict[int, list[int]] = {}
    sent: dict[str, datetime] = {}
    for entry in journal.entries_since(since, directory=directory):
        if entry["kind"] == journal.ERASURE:
            erased.setdefault(entry["organisation"], []).append(entry["customer"])
        elif entry["kind"] == journal.SENT:
            sent[entry["key"]] = datetime.fromisoformat(entry["at"])
    # Sends first: an erasure cancels what was not sent, and these were.
    found_sent = record_sent_after_backup(sent=sent)
    count = 0
    for organisation in Organisation.objects.filter(id__in=list(erased)):
        count += len(
            erase_customers(organisation=organisation, customer_ids=erased[organisation.id], journal=False)
        )
    return count, found_sent


def reapply_after_recovery(*, since: datetime, directory: Path | None = None) -> tuple[int, int]:
    """The journal's part of a restore made with PostgreSQL's own tools (point-in-time recovery to
    ``since``): re-apply what was journaled since, and start a new history there."""
    folder = directory or journal.journal_dir()
    done = reapply_journal(since=since, directory=folder)
    journal.record_restore(archive=f"recovery to {since.isoformat()}", at=timezone.now(), directory=folder)
    return done
