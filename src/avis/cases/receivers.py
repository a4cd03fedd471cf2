from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from avis.cases.erasure import erase_customer_cases
from avis.cases.services import case_of_response_storing
from avis.customers.signals import customer_erased
from avis.surveys.signals import AnswerWrite, response_storing


@receiver(response_storing)
def open_case_when_unhappy(
    sender: object, response: Any, answers: Any, **kwargs: object
) -> AnswerWrite | None:
    return case_of_response_storing(response=response, answers=answers)


@receiver(customer_erased)
def erase_case_notes(sender: object, organisation: Any, customer_ids: list[int], **kwargs: Any) -> None:
    erase_customer_cases(organisation=organisation, customer_ids=customer_ids)
