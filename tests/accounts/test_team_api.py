"""The team over the API: invite (the email leaves), withdraw, change a role; admins only, own team only."""

from __future__ import annotations

import pytest
from django.test import Client

from avis.accounts.models import Membership, TeamInvitation
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_an_invitation_by_api_emails_the_link_and_can_be_withdrawn(
    api, smtp_server, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post(
            "/api/v1/team/invitations",
            {"email": "bertrand@example.fr", "role": "advisor"},
            content_type="application/json",
        )
    assert made.status_code == 201 and made.json()["role"] == "advisor"
    (mail,) = smtp_server.to("bertrand@example.fr")
    assert "/join/" in mail.get_payload(decode=True).decode()  # text only
    assert [i["email"] for i in api.get("/api/v1/team").json()["invitations"]] == ["bertrand@example.fr"]
    assert api.delete(f"/api/v1/team/invitations/{made.json()['id']}").status_code == 204
    assert api.get("/api/v1/team").json()["invitations"] == []


def test_bad_invitations_and_roles_are_refused_with_the_field(api, org) -> None:
    bad = api.post(
        "/api/v1/team/invitations", {"email": "nope", "role": "analyst"}, content_type="application/json"
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
    manager = Membership.objects.get(user__username=org.manager_email)
    wrong = api.patch(f"/api/v1/team/members/{manager.id}", {"role": "boss"}, content_type="application/json")
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "role"
    right = api.patch(
        f"/api/v1/team/members/{manager.id}", {"role": "analyst"}, content_type="application/json"
    )
    assert right.status_code == 200 and right.json()["role"] == "analyst"
    assert not TeamInvitation.objects.exists()


def test_only_admins_and_only_their_own_team(org, other_org, api) -> None:
    manager = Client()
    assert manager.login(username=org.manager_email, password=PASSWORD)
    assert manager.get("/api/v1/team").status_code == 403
    theirs = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    member = Membership.objects.get(user__username=org.manager_email)
    assert (
        theirs.patch(
            f"/api/v1/team/members/{member.id}", {"role": "admin"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert org.manager_email not in theirs.get("/api/v1/team").content.decode()
    member.refresh_from_db()
    assert member.role == "manager"
