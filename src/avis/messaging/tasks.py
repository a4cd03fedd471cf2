from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from avis.messaging import services


@db_task()
def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Send these outbox rows; safe to run twice (each row is claimed before it is sent)."""
    tally: dict[str, int] = {}
    for message_id in message_ids:
        outcome = services.deliver_message(message_id=message_id)
        tally[outcome] = tally.get(outcome, 0) + 1
    return tally


@db_periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    return services.sweep_outbox()
