from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from avis.privacy import services


@db_periodic_task(crontab(minute="41", hour="2"))
def apply_retention() -> int:
    """Daily, at night: each organisation's retention policy, each in its own transaction."""
    return sum(run.ok for run in services.apply_retention_everywhere())
