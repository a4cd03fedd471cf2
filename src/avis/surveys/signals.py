from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.dispatch import Signal

# Sent as a completed response is about to be stored, with ``response`` and ``answers`` (built, not
# yet stored: every value is final, no key is known). Higher apps (analytics, cases, barometers)
# reply with what the answer's write must also do, an ``AnswerWrite``, or None: they react at once,
# not at the next batch, without reading the answers back, and an answer that needs nothing more
# is one statement on PostgreSQL, with no transaction around it (docs/architecture.md).
response_storing = Signal()


@dataclass(frozen=True)
class AnswerWrite:
    """A receiver's part of storing one response (its reply to ``response_storing``).

    ``ctes`` — PostgreSQL only: common table expressions (``name AS (…), …``) that join the
    answer's one statement, so that they are written with it or not at all. They may read
    ``stored`` (one row, the new response's ``id``; none if the invitation could not be claimed);
    ``claimed``, ``stored`` and ``answered`` are the answer's own names. ``params`` are their
    values, in the order of their ``%s``.

    ``then`` — run once the response and its answers are stored (their keys set), in the same
    transaction: its failure fails the answer.
    """

    ctes: str = ""
    params: Sequence[object] = ()
    then: Callable[[], object] | None = None


# Sent when invitations are recorded as sent (once: the conditional update changed them), with
# ``invitation_ids`` (a whole outbox batch at once): the analytics roll-ups count them in the
# response rate as they leave.
invitation_sent = Signal()
