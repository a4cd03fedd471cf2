from __future__ import annotations

from django.dispatch import receiver

from avis.barometers.services import record_completion
from avis.surveys.signals import AnswerWrite, response_storing


@receiver(response_storing)
def count_barometer_complete(sender: object, response: object, **kwargs: object) -> AnswerWrite | None:
    """A sampled customer's answer completes its case and takes a place in its stratum's quota.
    The flow's answers (the invitation was not drawn into a wave) cost no statement here."""
    if not response.invitation.sampled:  # type: ignore[attr-defined]
        return None
    return AnswerWrite(
        then=lambda: record_completion(invitation_id=response.invitation_id, at=response.completed_at)  # type: ignore[attr-defined]
    )
