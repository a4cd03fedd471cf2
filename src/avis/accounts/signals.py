from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that records a team invitation, with ``invitation``, ``subject`` and
# ``text`` (the email, its link in it): messaging queues it in the outbox, so the email leaves exactly
# once, and only if the invitation was saved.
member_invited = Signal()

# Sent when someone asks to reset their password, with ``organisation`` (one the account belongs
# to: the outbox is per organisation), ``user``, ``subject``, ``text`` and ``key``: messaging
# queues the email in the outbox, so it leaves through the organisation's email provider.
password_reset_requested = Signal()
