"""`avis scheduler`: the periodic tasks (sweeps, escalations, reminders, reports, backups) enqueued
for the workers, by exactly one active scheduler however many are started.

- **One active at a time.** A scheduler runs only while it holds a lock: on PostgreSQL a
  session-level advisory lock held on a connection of its own (it goes when that connection
  does: the process died, the machine vanished — TCP keepalives notice within ~30 s — or the
  database restarted); on SQLite (one machine) an exclusive ``flock`` on ``var/scheduler.lock``,
  which the kernel releases when the process dies. A second scheduler tries again every
  ``RETRY_SECONDS`` and so takes over within seconds of the first one's death.
- **Each period once.** Before enqueueing a task for a period (the minute its crontab matched,
  UTC), the scheduler inserts the row (task, period) into ``PeriodicRun``, whose uniqueness
  the database enforces: a period another scheduler already enqueued is skipped, even across a
  takeover or a split brain. A scheduler that takes over looks back ``CATCH_UP`` minutes, so a
  period the dead one missed is enqueued by the new one (from the last period enqueued; when none
  was in that window — a first start, everything down for a while — from the current minute).
  A row whose enqueue failed (the queue was down) is deleted and tried again on the next pass.
- **The workers run them.** The task's queue id is ``periodic:<task>@<period>``; the worker that
  runs it records on the row when it finished and whether it failed (``operations/tasks.py``).

`avis serve` keeps the embedded way: its one worker runs Huey's own periodic scheduler.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Max
from django.utils import timezone

from avis.operations.models import PeriodicRun

logger = logging.getLogger("avis.scheduler")

RETRY_SECONDS = 5.0  # how often a waiting scheduler tries the lock, and the active one re-checks it
CATCH_UP = timedelta(minutes=3)  # how far back a scheduler looks for periods nobody enqueued
KEEP = timedelta(days=30)  # PeriodicRun rows older than this are deleted
ADVISORY_KEY = 0x61766973_7363686D  # "avis" "schm": the advisory lock's key (per database)
TASK_ID_PREFIX = "periodic:"


class SchedulerLock(Protocol):
    def acquire(self) -> bool: ...  # without waiting: True when this process now holds it
    def holds(self) -> bool: ...  # still held (the connection that holds it is alive)
    def release(self) -> None: ...


class PostgresLock:
    """A session-level advisory lock on a dedicated connection (not Django's, which closes at will)."""

    def __init__(self) -> None:
        self._connection: Any = None

    def _connect(self) -> Any:
        import psycopg

        db = settings.DATABASES["default"]
        params = {
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
            "dbname": db["NAME"],
            "connect_timeout": 5,
            "autocommit": True,
            "application_name": "avis scheduler",
            # Client side: a vanished server is noticed within ~20 s…
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": 15000,
            # …and server side: a vanished scheduler's lock is released within ~20 s.
            "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
        }
        return psycopg.connect(**{key: value for key, value in params.items() if value is not None})

    def acquire(self) -> bool:
        try:
            if self._connection is None or self._connection.closed:
                self._connection = self._connect()
            row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_KEY]).fetchone()
        except Exception as exc:  # noqa: BLE001 - the database is down: wait and try again
            logger.warning("The scheduler cannot reach the database for its lock: %s", _first_line(exc))
            self.release()
            return False
        return bool(row and row[0])

    def holds(self) -> bool:
        if self._connection is None or self._connection.closed:
            return False
        try:
            self._connection.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - the connection (and so the lock) is gone
            logger.warning("The scheduler lost its lock's connection: %s", _first_line(exc))
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken connection
                pass
        self._connection = None


class FileLock:
    """An exclusive flock on a file under var/: one machine, which SQLite implies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def holds(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None


def default_lock() -> SchedulerLock:
    if connection.vendor == "postgresql":
        return PostgresLock()
    return FileLock(Path(settings.VAR_DIR) / "scheduler.lock")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def periodic_tasks() -> list[type]:
    from django.utils.module_loading import autodiscover_modules
    from huey.contrib.djhuey import HUEY

    autodiscover_modules("tasks")  # as Huey's consumer does: every app's tasks.py registers its own

    return list(HUEY._registry._periodic_tasks)  # noqa: SLF001 - Huey's list of @periodic_task classes


def task_name(task_class: type) -> str:
    return task_class.__name__


def task_id(name: str, period: datetime) -> str:
    return f"{TASK_ID_PREFIX}{name}@{period:%Y-%m-%dT%H:%MZ}"


def due(now: datetime, *, since: datetime | None = None) -> list[tuple[str, datetime, type]]:
    """(task, period, class) of every schedule that matched a minute from ``since`` (or CATCH_UP
    before ``now``) to ``now``'s minute, oldest first."""
    last = _minute(now)
    minute = _minute(since) if since is not None else last - CATCH_UP
    found = []
    classes = [(task_class, task_class()) for task_class in periodic_tasks()]
    while minute <= last:
        naive = minute.replace(tzinfo=None)  # Huey (utc=True) matches crontabs on naive UTC times
        for task_class, task in classes:
            if task.validate_datetime(naive):
                found.append((task_name(task_class), minute, task_class))
        minute += timedelta(minutes=1)
    return found


def enqueue_due(now: datetime | None = None, *, by: str = "") -> list[str]:
    """Enqueue, once each, the periodic tasks due in the last CATCH_UP minutes that no scheduler
    has enqueued yet; the ids of those enqueued by this call."""
    from huey.contrib.djhuey import HUEY

    now = now or timezone.now()
    # From the last period any scheduler enqueued (a dead one may have stopped half-way through
    # its tasks), at most CATCH_UP back; none in that window (a first start, everything down for a
    # while): from this minute.
    latest = PeriodicRun.objects.filter(period__gte=_minute(now) - CATCH_UP).aggregate(Max("period"))
    candidates = due(now, since=latest["period__max"] or now)
    if not candidates:
        return []
    taken = set(PeriodicRun.objects.filter(period__gte=candidates[0][1]).values_list("task", "period"))
    enqueued = []
    for name, period, task_class in candidates:
        if (name, period) in taken:
            continue
        try:
            with transaction.atomic():
                run = PeriodicRun.objects.create(task=name, period=period, enqueued_at=now, scheduler=by)
        except IntegrityError:
            continue  # another scheduler (the one this one took over from) enqueued it
        # Committed before the enqueue: a crash in between loses this period's run (the next
        # period's sweep covers it), never doubles it.
        try:
            HUEY.enqueue(task_class(id=task_id(name, period)))
        except Exception as exc:  # noqa: BLE001 - the queue is down: give the period back, retry soon
            PeriodicRun.objects.filter(pk=run.pk).delete()
            logger.warning("Could not enqueue %s for %s: %s", name, f"{period:%H:%M}", _first_line(exc))
            continue
        enqueued.append(task_id(name, period))
    return enqueued


def record_finished(task_id_text: str, *, failed: bool, now: datetime | None = None) -> bool:
    """The worker's note that the periodic task of this queue id ran; False for any other task."""
    if not task_id_text.startswith(TASK_ID_PREFIX):
        return False
    name, _, stamp = task_id_text[len(TASK_ID_PREFIX) :].partition("@")
    try:
        period = datetime.strptime(stamp, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    PeriodicRun.objects.filter(task=name, period=period).update(
        finished_at=now or timezone.now(), outcome="failed" if failed else "done"
    )
    return True


def forget_old_runs(now: datetime | None = None) -> int:
    return PeriodicRun.objects.filter(period__lt=(now or timezone.now()) - KEEP).delete()[0]


def run(stop: threading.Event, *, lock: SchedulerLock | None = None) -> None:
    """Wait for the lock, then enqueue what falls due until ``stop`` is set or the lock is lost
    (then wait for it again)."""
    lock = lock or default_lock()
    me = identity()
    waiting_said = False
    while not stop.is_set():
        if not lock.acquire():
            if not waiting_said:
                logger.info("Another scheduler is active; this one (%s) waits to take over.", me)
                waiting_said = True
            stop.wait(RETRY_SECONDS)
            continue
        waiting_said = False
        logger.info("This scheduler (%s) is now the active one.", me)
        try:
            _active(stop, lock, me)
        finally:
            lock.release()
    logger.info("The scheduler (%s) stopped.", me)


def _active(stop: threading.Event, lock: SchedulerLock, me: str) -> None:
    last_cleanup = 0.0
    while not stop.is_set() and lock.holds():
        try:
            for each in enqueue_due(by=me):
                logger.info("Enqueued %s", each)
            if time.monotonic() - last_cleanup > 3600:
                forget_old_runs()
                last_cleanup = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - the database is down: keep the lock's loop alive
            logger.warning("The scheduler could not enqueue this pass: %s", _first_line(exc))
            close_old_connections()
            connection.close()
        stop.wait(RETRY_SECONDS)
