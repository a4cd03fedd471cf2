from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from avis.operations import services
from avis.operations.errors import BackupFailed


@db_periodic_task(crontab(minute="*/15"))
def daily_backup() -> str | None:
    """Every quarter of an hour the scheduler asks whether today's backup is due (AVIS_BACKUP_HOUR)."""
    try:
        result = services.back_up_if_due()
    except BackupFailed as exc:
        return exc.message  # logged and recorded by the service; the task itself did its job
    return result.archive.name if result else None
