from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that stores a completed response, with
# ``response`` and ``answers`` (its stored answers, with their questions): higher apps (cases,
# analytics) react at once, not at the next batch, without reading the answers back.
response_completed = Signal()

# Sent when invitations are recorded as sent (once: the conditional update changed them), with
# ``invitation_ids`` (a whole outbox batch at once): the analytics roll-ups count them in the
# response rate as they leave.
invitation_sent = Signal()
