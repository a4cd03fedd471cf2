from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that stores a completed response, with
# ``response``: higher apps (cases) react at once, not at the next batch.
response_completed = Signal()

# Sent when invitations are recorded as sent (once: the conditional update changed them), with
# ``invitation_ids`` (a whole outbox batch at once): the analytics roll-ups count them in the
# response rate as they leave.
invitation_sent = Signal()
