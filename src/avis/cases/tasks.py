from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from avis.cases import services


@db_task()
def deliver_webhook(delivery_id: int) -> str:
    """One try; a failure schedules the next one with back-off (see services.deliver_webhook)."""
    return services.deliver_webhook(delivery_id=delivery_id)


@db_periodic_task(crontab(minute="*"))
def escalate_overdue_cases() -> int:
    return services.escalate_overdue_cases()


@db_periodic_task(crontab(minute="*/5"))
def sweep_webhooks() -> int:
    return services.sweep_webhooks()
