"""An organisation's settings that every unhappy answer reads, kept in the process for a few seconds.

Alert rules, the business calendar and the assignment ladder change a few times a year and were
read on every answer that opens a case: three statements of the respondent's request. Each is kept
per organisation for ``ttl`` seconds. A change saved or deleted in this process empties the whole
cache at once (``post_save``/``post_delete`` of the models given); one made in another process
applies within ``ttl``. What is kept is shared between threads: read it, never change it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db.models import Model
from django.db.models.signals import post_delete, post_save

T = TypeVar("T")
TTL = 10.0

_every: list[Any] = []  # whatever has a forget(): these caches, and others of the same kind


def register(kept: Any) -> None:
    """A process cache emptied with the others by ``forget_everything``."""
    _every.append(kept)


class KeptPerOrganisation(Generic[T]):
    def __init__(
        self, name: str, read: Callable[[Any], T], *, models: Sequence[type[Model]], ttl: float = TTL
    ) -> None:
        self.read, self.ttl = read, ttl
        self._kept: dict[int, tuple[float, T]] = {}
        for model in models:
            post_save.connect(self.forget, sender=model, weak=False, dispatch_uid=f"kept-{name}-saved")
            post_delete.connect(self.forget, sender=model, weak=False, dispatch_uid=f"kept-{name}-deleted")
        _every.append(self)

    def __call__(self, organisation: Any) -> T:
        """``read(organisation)``, from the process's cache when fresh."""
        now = time.monotonic()
        kept = self._kept.get(organisation.pk)
        if kept is None or now - kept[0] > self.ttl:
            kept = (now, self.read(organisation))
            self._kept[organisation.pk] = kept
        return kept[1]

    def forget(self, **kwargs: object) -> None:
        self._kept.clear()


def forget_everything() -> None:
    """Empty every cache (tests: ids handed out again after a rollback)."""
    for kept in _every:
        kept.forget()
