from __future__ import annotations

from django.dispatch import receiver

from avis.analytics.services import record_invitations_in_rollups, record_response_in_rollups
from avis.surveys.signals import invitation_sent, response_completed


@receiver(response_completed)
def add_response_to_rollups(
    sender: object, response: object, answers: object = None, **kwargs: object
) -> None:
    record_response_in_rollups(response=response, answers=answers)  # type: ignore[arg-type]


@receiver(invitation_sent)
def add_invitations_to_rollups(sender: object, invitation_ids: list[int], **kwargs: object) -> None:
    record_invitations_in_rollups(invitation_ids=invitation_ids)
