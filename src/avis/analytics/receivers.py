from __future__ import annotations

from django.dispatch import receiver

from avis.analytics.services import record_invitations_in_rollups, rollups_of_response_storing
from avis.surveys.signals import AnswerWrite, invitation_sent, response_storing


@receiver(response_storing)
def add_response_to_rollups(
    sender: object, response: object, answers: object, **kwargs: object
) -> AnswerWrite:
    return rollups_of_response_storing(response=response, answers=answers)  # type: ignore[arg-type]


@receiver(invitation_sent)
def add_invitations_to_rollups(sender: object, invitation_ids: list[int], **kwargs: object) -> None:
    record_invitations_in_rollups(invitation_ids=invitation_ids)
