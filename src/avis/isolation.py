"""Background work done organisation by organisation, each apart from the others.

A periodic task that loops over organisations must not let one organisation's
bad data (a goal that divides by zero, a report that fails to render) stop the
work of every organisation after it: the failure is logged, with the task and
the organisation's id (no personal data), and the loop goes on. The next run
tries that organisation again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from django.db import connection, transaction

logger = logging.getLogger("avis.tasks")


@contextmanager
def apart(task: str, organisation_id: int | None) -> Iterator[None]:
    """Run the block; an exception in it is logged and swallowed, so the caller's loop goes on.

    Within a caller's transaction (a test, a command) a savepoint keeps a failed
    statement from spoiling what the other organisations write.
    """
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            yield
    except Exception:
        logger.exception("%s failed for organisation %s; the others go on", task, organisation_id)
