"""Password rules on every path that sets one; password change when signed in; reset by email."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from avis.accounts.models import Organisation
from avis.audit.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "un été à Orléans 1789"  # noqa: S105


def signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


@pytest.mark.parametrize("weak", ["a", "password123", "12345678901", "garage-martin"])
def test_createorg_refuses_a_weak_password_and_creates_nothing(db, weak: str) -> None:
    with pytest.raises(CommandError) as refused:
        call_command(
            "createorg",
            "Garage Martin",
            "--admin-email",
            "garage-martin@example.fr",
            "--admin-password",
            weak,
            stdout=StringIO(),
        )
    assert "password" in str(refused.value).lower()
    assert not Organisation.objects.filter(slug="garage-martin").exists()


def test_createorg_accepts_a_strong_password_and_records_the_administrator(db) -> None:
    call_command(
        "createorg",
        "Garage Martin",
        "--admin-email",
        "jm@example.fr",
        "--admin-password",
        NEW_PASSWORD,
        stdout=StringIO(),
    )
    organisation = Organisation.objects.get(slug="garage-martin")
    event = AuditEvent.objects.get(organisation=organisation, action="role.changed")
    assert (event.actor_label, event.object_label, event.after) == (
        "command line",
        "jm@example.fr",
        {"role": "admin"},
    )


def test_a_signed_in_person_changes_their_password_under_the_rules(org) -> None:
    client = signed_in(org.manager_email)
    weak = client.post(
        "/password/change/", {"old_password": PASSWORD, "new_password1": "a", "new_password2": "a"}
    )
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    wrong_old = client.post(
        "/password/change/",
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong_old.status_code == 200 and not AuditEvent.objects.filter(action="password.changed").exists()
    changed = client.post(
        "/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302 and changed["Location"] == "/password/change/done/"
    assert client.get("/profile/").status_code == 200  # still signed in
    assert not Client().login(username=org.manager_email, password=PASSWORD)
    assert Client().login(username=org.manager_email, password=NEW_PASSWORD)
    event = AuditEvent.objects.get(organisation=org.organisation, action="password.changed")
    assert event.actor_label == org.manager_email and NEW_PASSWORD not in str(event.after)


def test_the_change_page_needs_a_signed_in_person() -> None:
    page = Client().get("/password/change/")
    assert page.status_code == 302 and page["Location"].startswith("/login/")


def test_a_forgotten_password_is_reset_through_a_link_emailed_once(
    org, smtp_server, django_capture_on_commit_callbacks, settings
) -> None:
    settings.AVIS_BASE_URL = "https://avis.example.fr"
    client = Client(HTTP_HOST="localhost")  # the Host header never makes the link
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post("/password/reset/", {"email": org.manager_email})
        unknown = Client().post("/password/reset/", {"email": "nobody@example.fr"})
    assert sent.status_code == unknown.status_code == 302  # the same answer: nothing said
    assert sent["Location"] == unknown["Location"] == "/password/reset/sent/"
    (message,) = smtp_server.to(org.manager_email)
    assert not smtp_server.to("nobody@example.fr")
    part = message.get_payload(0) if message.is_multipart() else message
    body = part.get_payload(decode=True).decode()
    link = re.search(r"https://avis\.example\.fr(/password/reset/\S+/)", body)
    assert link, body
    assert "localhost" not in body

    visitor = Client()
    form = visitor.get(link.group(1), follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    target = form.redirect_chain[-1][0]
    weak = visitor.post(target, {"new_password1": "a", "new_password2": "a"})
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    done = visitor.post(target, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/password/reset/done/"
    assert Client().login(username=org.manager_email, password=NEW_PASSWORD)
    # Used once: the link no longer works.
    again = Client().get(link.group(1), follow=True)
    assert not again.context["validlink"]
    event = AuditEvent.objects.get(organisation=org.organisation, action="password.reset")
    assert event.object_label == org.manager_email


def test_the_reset_pages_speak_french(org) -> None:
    page = Client(HTTP_ACCEPT_LANGUAGE="fr").get("/password/reset/")
    assert "Réinitialiser mon mot de passe" in page.content.decode()
