from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that stored a chunk of past interactions from a
# file, with ``organisation`` and ``interactions`` (saved, contact-only rows):
# governance records each as a contact in the customer's history, so that it
# counts toward contact pressure; nothing is decided or sent for them.
interactions_imported = Signal()
