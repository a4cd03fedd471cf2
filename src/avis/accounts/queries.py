from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from avis.accounts.models import ApiKey, Membership, Organisation, Role, TeamInvitation
from avis.accounts.permissions import page_access
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


def members_allowed(*, organisation: Organisation, page: str, method: str = "POST") -> list[Membership]:
    """The members whom the role matrix lets send this page's form: whom to ask when one may not."""
    roles = page_access(page).roles_for(method)
    return list(members_of(organisation=organisation).filter(role__in=roles))


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


def pending_invitations(
    *, organisation: Organisation, now: datetime | None = None
) -> QuerySet[TeamInvitation]:
    """Invitations still waiting for their colleague: not used, not withdrawn, not expired."""
    return TeamInvitation.objects.filter(
        organisation=organisation,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now or timezone.now(),
    ).order_by("-created_at")


def signs_in_already(email: str) -> bool:
    """Whether this address already has an avis account with a password (then it confirms, not chooses)."""
    user = get_user_model().objects.filter(username=email).first()
    return user is not None and user.has_usable_password()
