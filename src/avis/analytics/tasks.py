from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from avis.analytics import services


@db_periodic_task(crontab(minute="17", hour="*"))
def send_due_reports() -> None:
    """Hourly: each organisation's report leaves once its week or month is complete."""
    services.send_due_reports()
