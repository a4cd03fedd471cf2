from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from avis.accounts.models import TeamInvitation
from avis.accounts.signals import member_invited, password_reset_requested
from avis.customers.signals import customer_erased
from avis.messaging.erasure import erase_customer_messages
from avis.messaging.outbox import queue_notification


@receiver(customer_erased)
def erase_messages(sender: object, organisation: Any, customer_ids: list[int], **kwargs: Any) -> None:
    erase_customer_messages(
        organisation=organisation,
        customer_ids=customer_ids,
        phones=kwargs.get("phones", []),
        emails=kwargs.get("emails", []),
    )


@receiver(member_invited)
def email_team_invitation(
    sender: Any, *, invitation: TeamInvitation, subject: str, text: str, **_: Any
) -> None:
    queue_notification(
        organisation=invitation.organisation,
        recipients=[invitation.email],
        subject=subject,
        text=text,
        key=f"team-invitation-{invitation.id}",
    )


@receiver(password_reset_requested)
def email_password_reset(
    sender: Any, *, organisation: Any, user: Any, subject: str, text: str, key: str, **_: Any
) -> None:
    queue_notification(
        organisation=organisation, recipients=[user.email], subject=subject, text=text, key=key
    )
