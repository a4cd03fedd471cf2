from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from django.dispatch import Signal


class ImportedInteraction(NamedTuple):
    """What the contact history needs of a stored past interaction (an import makes no instances)."""

    id: int
    customer_id: int
    touchpoint_id: int
    occurred_at: datetime


# Sent inside the transaction that stored a chunk of past interactions from a
# file, with ``organisation`` and ``interactions`` (ImportedInteraction tuples of
# contact-only rows): governance records each as a contact in the customer's
# history, so that it counts toward contact pressure; nothing is decided or sent for them.
interactions_imported = Signal()
