from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that erases customers, with ``organisation``, ``customer_ids`` and the
# ``phones`` and ``emails`` they had: higher apps erase what they hold about them (messages, texts,
# comments, case notes). A restore re-applies erasures through it too, so everything erased hangs here.
customer_erased = Signal()
