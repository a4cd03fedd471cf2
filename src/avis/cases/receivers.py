from __future__ import annotations

from django.dispatch import receiver

from avis.cases.services import open_case_for_response
from avis.surveys.signals import response_completed


@receiver(response_completed)
def open_case_when_unhappy(sender: object, response: object, **kwargs: object) -> None:
    open_case_for_response(response=response)  # type: ignore[arg-type]
