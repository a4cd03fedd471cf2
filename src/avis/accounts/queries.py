from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from avis.accounts.models import ApiKey, Membership, Organisation, Role
from avis.errors import NotFound


def memberships_of(user: AbstractBaseUser) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organisation").order_by("organisation__name")


def membership_in(*, user: AbstractBaseUser, organisation_id: int) -> Membership | None:
    return memberships_of(user).filter(organisation_id=organisation_id).first()


def manager_emails(*, organisation: Organisation) -> list[str]:
    """Who hears about a new case: managers and admins with an address."""
    return sorted(
        Membership.objects.filter(
            organisation=organisation, role__in=[Role.MANAGER, Role.ADMIN], user__is_active=True
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
        .distinct()
    )


def api_keys_of(*, organisation: Organisation) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organisation=organisation).order_by("-created_at")


def members_of(*, organisation: Organisation) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organisation=organisation).select_related("user").order_by("user__username")
    )


def member_of(*, organisation: Organisation, membership_id: int) -> Membership:
    """One member of this organisation; another organisation's id is as good as unknown."""
    membership = members_of(organisation=organisation).filter(id=membership_id).first()
    if membership is None:
        raise NotFound("No such person in this organisation.")
    return membership


def sms_number_for(*, organisation_id: int, user_id: int, escalation: bool) -> str:
    """The mobile to text about a case given (or escalated) to this person; "" when they gave none,
    chose not to be texted about it, or no longer have access."""
    membership = (
        Membership.objects.filter(organisation_id=organisation_id, user_id=user_id, user__is_active=True)
        .exclude(mobile_phone="")
        .first()
    )
    if membership is None:
        return ""
    wanted = membership.sms_when_escalated if escalation else membership.sms_when_assigned
    return membership.mobile_phone if wanted else ""
