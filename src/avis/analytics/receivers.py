from __future__ import annotations

from django.dispatch import receiver

from avis.analytics.services import record_response_in_rollups
from avis.surveys.signals import response_completed


@receiver(response_completed)
def add_response_to_rollups(sender: object, response: object, **kwargs: object) -> None:
    record_response_in_rollups(response=response)  # type: ignore[arg-type]
