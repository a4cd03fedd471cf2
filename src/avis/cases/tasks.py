from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from avis.cases import services


@db_task()
def deliver_webhook(delivery_id: int) -> str:
    """One try; a failure schedules the next one with back-off (see services.deliver_webhook)."""
    return services.deliver_webhook(delivery_id=delivery_id)


@db_task()
def announce_waiting_case_events() -> int:
    """The e-mails, texts and webhooks of the cases that respondents' answers opened or joined: every
    one waiting, as one wake-up serves a burst of answers (services._announce_later)."""
    return services.announce_waiting()


@db_task()
def announce_case_events(event_ids: list[int]) -> int:
    """The same for the events named: what an earlier version queued, still run after an upgrade."""
    return sum(services.announce_case_event(event_id=event_id) for event_id in event_ids)


@db_periodic_task(crontab(minute="*"))
def sweep_case_announcements() -> int:
    return services.sweep_announcements()


@db_periodic_task(crontab(minute="*"))
def escalate_overdue_cases() -> int:
    return services.escalate_overdue_cases()


@db_periodic_task(crontab(minute="*/5"))
def sweep_webhooks() -> int:
    return services.sweep_webhooks()
