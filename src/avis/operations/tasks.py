from __future__ import annotations

from typing import Any

from django.db import connection
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, signal
from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR

from avis.operations import scheduler, services
from avis.operations.errors import BackupFailed


@db_periodic_task(crontab(minute="*/15"))
def daily_backup() -> str | None:
    """Every quarter of an hour the scheduler asks whether today's backup is due (AVIS_BACKUP_HOUR)."""
    try:
        result = services.back_up_if_due()
    except BackupFailed as exc:
        return exc.message  # logged and recorded by the service; the task itself did its job
    return result.archive.name if result else None


@signal(SIGNAL_COMPLETE, SIGNAL_ERROR)
def note_periodic_run(signal_name: str, task: Any, exc: BaseException | None = None) -> None:
    """A periodic task `avis scheduler` enqueued has run: its PeriodicRun row says when and how."""
    if not str(task.id).startswith(scheduler.TASK_ID_PREFIX):
        return
    try:
        scheduler.record_finished(task.id, failed=signal_name == SIGNAL_ERROR)
    finally:
        connection.close()  # this worker thread's connection, as Huey's db_task closes its own
