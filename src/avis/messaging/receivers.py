from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from avis.accounts.models import TeamInvitation
from avis.accounts.signals import member_invited, password_reset_requested
from avis.customers.signals import customer_erased
from avis.messaging.dispatch import backfill_sms_costs
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


@receiver(post_migrate)
def price_sms_recorded_unpriced(sender: Any, app_config: Any, using: str = "default", **_: Any) -> None:
    """History recorded before each SMS carried its text and cost gets them once the schema is whole.

    Not a data migration: pricing reads the texts with today's code (surveys,
    touchpoints, organisations), which a migration pinned to past schemas could
    not keep doing as the models move on. Nothing to do costs one query.
    """
    if app_config.label != "messaging":
        return
    executor = MigrationExecutor(connections[using])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return  # migrated to an earlier point: today's code does not fit that schema
    backfill_sms_costs()
