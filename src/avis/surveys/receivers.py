from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from avis.customers.signals import customer_erased
from avis.governance.signals import decisions_withdrawn
from avis.surveys.services import cancel_invitations_of_decisions, erase_customer_comments


@receiver(decisions_withdrawn)
def cancel_withdrawn_invitations(
    sender: object, organisation: Any, decision_ids: list[int], **kwargs: Any
) -> None:
    cancel_invitations_of_decisions(organisation=organisation, decision_ids=decision_ids)


@receiver(customer_erased)
def erase_comments(sender: object, organisation: Any, customer_ids: list[int], **kwargs: Any) -> None:
    erase_customer_comments(organisation=organisation, customer_ids=customer_ids)
