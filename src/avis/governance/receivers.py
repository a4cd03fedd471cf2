from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from avis.governance.services import record_past_contacts
from avis.interactions.signals import interactions_imported


@receiver(interactions_imported)
def record_imported_contacts(
    sender: object, organisation: Any, interactions: list[Any], **kwargs: Any
) -> None:
    record_past_contacts(organisation=organisation, interactions=interactions)
