from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from avis.customers.signals import customer_erased
from avis.messaging.erasure import erase_customer_messages


@receiver(customer_erased)
def erase_messages(sender: object, organisation: Any, customer_ids: list[int], **kwargs: Any) -> None:
    erase_customer_messages(organisation=organisation, customer_ids=customer_ids)
