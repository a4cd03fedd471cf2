"""An administrator invites colleagues by email with a role; the link works once, for a week; the
colleague chooses a password and lands signed in, in that organisation. Only administrators manage
the team, and only their own organisation's."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from avis.accounts.models import Membership, Role, TeamInvitation
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=PARIS)
NEW_PASSWORD = "un été à Orléans 1789"  # noqa: S105


def signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def invite(admin: Client, email: str, role: str, capture) -> None:  # noqa: ANN001
    """Invite through the people page; the email leaves through the outbox once committed."""
    with capture(execute=True):
        response = admin.post("/settings/people/invite", {"email": email, "role": role})
    assert response.status_code == 302


def text_of(message) -> str:  # noqa: ANN001
    part = message.get_payload(0) if message.is_multipart() else message
    return part.get_payload(decode=True).decode()


def link_in(mailbox, email: str) -> str:  # noqa: ANN001
    message = mailbox.to(email)[-1]
    body = text_of(message)
    match = re.search(r"https?://\S+(/join/\S+)", body)
    assert match, body
    return match.group(1)


@pytest.fixture
def invited(org, smtp_server, django_capture_on_commit_callbacks) -> str:
    """Bertrand was invited as an analyst on Monday morning; the path of his link."""
    with time_machine.travel(MONDAY, tick=False):
        invite(
            signed_in(org.admin_email),
            "Bertrand@Example.fr",
            Role.ANALYST,
            django_capture_on_commit_callbacks,
        )
    return link_in(smtp_server, "bertrand@example.fr")


def test_the_invited_colleague_chooses_a_password_and_lands_signed_in(org, invited, smtp_server) -> None:
    (message,) = smtp_server.to("bertrand@example.fr")
    subject = str(make_header(decode_header(message["Subject"])))
    # In the organisation's language.
    assert subject == f"{org.admin_email} vous invite à rejoindre {org.organisation.name} sur avis"
    colleague = Client()
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        page = colleague.get(invited)
        assert page.status_code == 200 and org.organisation.name in page.content.decode()
        joined = colleague.post(
            invited,
            {
                "first_name": "Bertrand",
                "last_name": "Roux",
                "password": NEW_PASSWORD,
                "password_again": NEW_PASSWORD,
            },
        )
        assert joined.status_code == 302 and joined["Location"] == "/"
        home = colleague.get("/")
    assert home.status_code == 200 and org.organisation.name in home.content.decode()
    membership = Membership.objects.get(user__username="bertrand@example.fr")
    assert (membership.organisation, membership.role) == (org.organisation, Role.ANALYST)
    assert membership.user.get_full_name() == "Bertrand Roux"
    assert Client().login(username="bertrand@example.fr", password=NEW_PASSWORD)


def test_the_link_works_once(org, invited) -> None:
    form = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    with time_machine.travel(MONDAY + timedelta(days=1), tick=False):
        assert Client().post(invited, form).status_code == 302
        again = Client().post(invited, form)
        assert again.status_code == 410 and "already been used" in again.content.decode()
        assert Client().get(invited).status_code == 410
    assert Membership.objects.filter(user__username="bertrand@example.fr").count() == 1


def test_the_link_expires_after_seven_days(org, invited) -> None:
    form = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    with time_machine.travel(MONDAY + timedelta(days=6, hours=23), tick=False):
        assert Client().get(invited).status_code == 200
    with time_machine.travel(MONDAY + timedelta(days=7, minutes=1), tick=False):
        late = Client().post(invited, form)
        assert late.status_code == 410 and "expired" in late.content.decode()
    assert not Membership.objects.filter(user__username="bertrand@example.fr").exists()


def test_a_weak_password_is_refused_with_the_reason_and_the_link_still_works(org, invited) -> None:
    with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
        weak = Client().post(invited, {"password": "123", "password_again": "123"})
        assert weak.status_code == 422
        assert 'id="password-error"' in weak.content.decode() and "too short" in weak.content.decode()
        assert not Membership.objects.filter(user__username="bertrand@example.fr").exists()
        form = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
        assert Client().post(invited, form).status_code == 302


def test_a_withdrawn_invitation_stops_working(org, invited) -> None:
    admin = signed_in(org.admin_email)
    invitation = TeamInvitation.objects.get()
    with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
        assert "bertrand@example.fr" in admin.get("/settings/people/").content.decode()
        assert admin.post(f"/settings/people/invitations/{invitation.id}/withdraw").status_code == 302
        assert "bertrand@example.fr" not in admin.get("/settings/people/").content.decode()
        refused = Client().get(invited)
    assert refused.status_code == 410 and "withdrawn" in refused.content.decode()


def test_inviting_again_replaces_the_first_link(
    org, invited, smtp_server, django_capture_on_commit_callbacks
) -> None:
    with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
        invite(
            signed_in(org.admin_email),
            "bertrand@example.fr",
            Role.MANAGER,
            django_capture_on_commit_callbacks,
        )
        assert Client().get(invited).status_code == 410
    assert len(smtp_server.to("bertrand@example.fr")) == 2
    assert link_in(smtp_server, "bertrand@example.fr") != invited


def test_someone_who_already_uses_avis_confirms_their_password_and_lands_in_the_new_organisation(
    org, other_org, smtp_server, django_capture_on_commit_callbacks
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        invite(
            signed_in(org.admin_email),
            other_org.admin_email,
            Role.MANAGER,
            django_capture_on_commit_callbacks,
        )
        link = link_in(smtp_server, other_org.admin_email)
        colleague = signed_in(other_org.admin_email)
        wrong = colleague.post(link, {"password": "not theirs at all 42"})
        assert wrong.status_code == 422 and 'id="password-error"' in wrong.content.decode()
        assert colleague.post(link, {"password": PASSWORD}).status_code == 302
        home = colleague.get("/").content.decode()
    assert org.organisation.name in home
    roles = dict(
        Membership.objects.filter(user__username=other_org.admin_email).values_list("organisation", "role")
    )
    assert roles == {org.organisation.id: Role.MANAGER, other_org.organisation.id: Role.ADMIN}


@pytest.mark.parametrize("email", ["", "not-an-address", "manager@assurances-du-centre.example"])
def test_a_bad_or_existing_address_is_refused_with_its_reason(org, email) -> None:
    response = signed_in(org.admin_email).post("/settings/people/invite", {"email": email, "role": "analyst"})
    assert response.status_code == 422 and 'id="invite-email-error"' in response.content.decode()
    assert not TeamInvitation.objects.exists()


def test_an_admin_changes_a_role_but_never_removes_the_last_administrator(org) -> None:
    admin = signed_in(org.admin_email)
    manager = Membership.objects.get(user__username=org.manager_email)
    assert admin.post(f"/settings/people/{manager.id}/role", {"role": "advisor"}).status_code == 302
    manager.refresh_from_db()
    assert manager.role == Role.ADVISOR
    me = Membership.objects.get(user__username=org.admin_email)
    refused = admin.post(f"/settings/people/{me.id}/role", {"role": "analyst"})
    assert refused.status_code == 422 and "at least one administrator" in refused.content.decode()
    me.refresh_from_db()
    assert me.role == Role.ADMIN
    assert admin.post(f"/settings/people/{manager.id}/role", {"role": "boss"}).status_code == 422


def test_only_administrators_manage_the_team(org, invited) -> None:
    manager = signed_in(org.manager_email)
    invitation = TeamInvitation.objects.get()
    me = Membership.objects.get(user__username=org.manager_email)
    assert manager.get("/settings/people/").status_code == 403
    assert (
        manager.post("/settings/people/invite", {"email": "x@example.fr", "role": "admin"}).status_code == 403
    )
    assert manager.post(f"/settings/people/invitations/{invitation.id}/withdraw").status_code == 403
    assert manager.post(f"/settings/people/{me.id}/role", {"role": "admin"}).status_code == 403
    me.refresh_from_db()
    invitation.refresh_from_db()
    assert me.role == Role.MANAGER and invitation.revoked_at is None
    assert TeamInvitation.objects.count() == 1


def test_another_organisations_admin_touches_nothing_of_this_team(org, other_org, invited) -> None:
    theirs = signed_in(other_org.admin_email)
    invitation = TeamInvitation.objects.get()
    manager = Membership.objects.get(organisation=org.organisation, user__username=org.manager_email)
    assert "bertrand@example.fr" not in theirs.get("/settings/people/").content.decode()
    assert theirs.post(f"/settings/people/invitations/{invitation.id}/withdraw").status_code == 404
    assert theirs.post(f"/settings/people/{manager.id}/role", {"role": "admin"}).status_code == 404
    invitation.refresh_from_db()
    manager.refresh_from_db()
    assert invitation.revoked_at is None and manager.role == Role.MANAGER


def test_the_command_line_invites_lists_and_withdraws(
    org, smtp_server, django_capture_on_commit_callbacks
) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("team", org.organisation.slug, invite="chloe@example.fr", role="manager", stdout=out)
    assert "chloe@example.fr (manager)" in out.getvalue()
    assert "/join/" in link_in(smtp_server, "chloe@example.fr")
    listing = StringIO()
    call_command("team", org.organisation.slug, stdout=listing)
    assert "invited" in listing.getvalue() and "chloe@example.fr" in listing.getvalue()
    invitation = TeamInvitation.objects.get()
    call_command("team", org.organisation.slug, withdraw=invitation.id, stdout=StringIO())
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    with pytest.raises(CommandError, match="valid email"):
        call_command("team", org.organisation.slug, invite="nope", stdout=StringIO())
