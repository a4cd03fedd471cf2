from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from avis.barometers import services


@db_periodic_task(crontab(minute="*/5"))
def tend_waves() -> dict[str, int]:
    """Fieldwork facts brought up to date, reminders written when due, waves past their end closed."""
    return services.tend_waves()
