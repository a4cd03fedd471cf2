from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from avis.accounts.models import ApiKey, Membership, Organisation, Role


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
