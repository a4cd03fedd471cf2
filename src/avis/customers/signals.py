from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that erases customers, with ``organisation`` and ``customer_ids``:
# higher apps erase what they hold about them (messages, texts, comments).
customer_erased = Signal()
