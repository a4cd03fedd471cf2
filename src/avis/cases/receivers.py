from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from avis.cases.erasure import erase_customer_cases
from avis.cases.services import open_case_for_response
from avis.customers.signals import customer_erased
from avis.surveys.signals import response_completed


@receiver(response_completed)
def open_case_when_unhappy(
    sender: object, response: object, answers: object = None, **kwargs: object
) -> None:
    open_case_for_response(response=response, answers=answers)  # type: ignore[arg-type]


@receiver(customer_erased)
def erase_case_notes(sender: object, organisation: Any, customer_ids: list[int], **kwargs: Any) -> None:
    erase_customer_cases(organisation=organisation, customer_ids=customer_ids)
