from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that stores a completed response, with
# ``response``: higher apps (cases) react at once, not at the next batch.
response_completed = Signal()
