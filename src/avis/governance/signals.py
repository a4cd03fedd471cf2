from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that withdrew deferred surveys a higher-priority
# survey replaced, with ``organisation`` and ``decision_ids``: the surveys app
# cancels their invitations, so nothing already queued goes out.
decisions_withdrawn = Signal()
