"""The team over the API (administrators, or an API key): members, invitations, roles."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from avis.accounts.authentication import organisation_of
from avis.accounts.models import Membership, Role, TeamInvitation
from avis.accounts.queries import members_of, pending_invitations
from avis.accounts.services import change_member_role, invite_member, revoke_invitation

router = Router(tags=["team"])


class MemberOut(Schema):
    id: int
    email: str
    name: str
    role: str
    since: datetime

    @staticmethod
    def of(membership: Membership) -> MemberOut:
        user = membership.user
        return MemberOut(
            id=membership.id,
            email=user.email or user.get_username(),
            name=user.get_full_name(),
            role=membership.role,
            since=membership.created_at,
        )


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    created_at: datetime
    expires_at: datetime

    @staticmethod
    def of(invitation: TeamInvitation) -> InvitationOut:
        return InvitationOut(
            id=invitation.id,
            email=invitation.email,
            role=invitation.role,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )


class TeamOut(Schema):
    members: list[MemberOut]
    invitations: list[InvitationOut] = Field(description="pending: not used, withdrawn or expired")


class InvitationIn(Schema):
    email: str = Field(examples=["bertrand@example.fr"])
    role: str = Field(description=f"one of {', '.join(Role.values)}", examples=["analyst"])


class RoleIn(Schema):
    role: str = Field(description=f"one of {', '.join(Role.values)}")


@router.get("", response=TeamOut, summary="Members and pending invitations")
def get_team(request: HttpRequest) -> TeamOut:
    organisation = organisation_of(request)
    return TeamOut(
        members=[MemberOut.of(m) for m in members_of(organisation=organisation)],
        invitations=[InvitationOut.of(i) for i in pending_invitations(organisation=organisation)],
    )


@router.post(
    "/invitations", response={201: InvitationOut, 409: dict, 422: dict}, summary="Invite a colleague by email"
)
def post_invitation(request: HttpRequest, payload: InvitationIn) -> Status:
    """The colleague receives the link by email (it works once, for AVIS_TEAM_INVITATION_DAYS days)."""
    user = request.user if getattr(request.user, "is_authenticated", False) else None
    invitation, _token = invite_member(
        organisation=organisation_of(request), email=payload.email, role=payload.role, invited_by=user
    )
    return Status(201, InvitationOut.of(invitation))


@router.delete(
    "/invitations/{invitation_id}", response={204: None, 404: dict}, summary="Withdraw a pending invitation"
)
def delete_invitation(request: HttpRequest, invitation_id: int) -> Status:
    revoke_invitation(organisation=organisation_of(request), invitation_id=invitation_id)
    return Status(204, None)


@router.patch(
    "/members/{membership_id}", response={200: MemberOut, 404: dict, 422: dict}, summary="Change a role"
)
def patch_member(request: HttpRequest, membership_id: int, payload: RoleIn) -> MemberOut:
    """The organisation always keeps at least one administrator."""
    membership = change_member_role(
        organisation=organisation_of(request), membership_id=membership_id, role=payload.role
    )
    return MemberOut.of(membership)
