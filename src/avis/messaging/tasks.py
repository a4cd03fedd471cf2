from __future__ import annotations

from collections import Counter

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from avis.messaging import dispatch, reminders


@db_task()
def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Send these outbox rows as one batch; safe to run twice (each row is claimed before it is sent)."""
    return dict(Counter(dispatch.deliver_messages(message_ids=message_ids).values()))


@db_periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    return dispatch.sweep_outbox()


@db_task(priority=20)
def handle_inbound_message(inbound_id: int) -> str:
    """Act on one inbound text; safe to run twice (the text is claimed before it is handled)."""
    from avis.messaging.conversations import handle_inbound

    return handle_inbound(inbound_id=inbound_id)


@db_periodic_task(crontab(minute="*"))
def tend_conversations() -> int:
    """Handle texts whose wake-up was lost, and close conversations the customers left."""
    from avis.messaging.conversations import close_idle_conversations, handle_forgotten_inbound

    return handle_forgotten_inbound() + close_idle_conversations()


@db_periodic_task(crontab(minute="*"))
def queue_due_reminders() -> int:
    """Write the reminders that fell due (one per unanswered invitation), for the sweep to send."""
    return reminders.queue_due_reminders()
