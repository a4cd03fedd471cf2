"""An administrator sets the organisation's own channels on screen; secrets are write-only and
encrypted at rest, and only administrators reach the page."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import Client

from avis.messaging.models import ChannelSettings
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "gw-token-that-must-stay-secret-81f2"  # noqa: S105
HOOK_SECRET = "hook-secret-that-must-stay-secret-c0a9"  # noqa: S105


@pytest.fixture
def secrets_key(settings) -> str:  # noqa: ANN001
    settings.AVIS_SECRETS_KEY = Fernet.generate_key().decode()
    return settings.AVIS_SECRETS_KEY


def signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def gateway_form(**changes: str) -> dict[str, str]:
    return {
        "sms_provider": "http",
        "sms_sender": "ASSURCENTRE",
        "http_url": "https://sms.example.com/v1/messages",
        "http_authorization": f"Bearer {TOKEN}",
        "http_webhook_secret": HOOK_SECRET,
        "email_sender_name": "Assurances du Centre",
        "email_reply_to": "relation@assurances-du-centre.example",
        **changes,
    }


def test_secrets_are_encrypted_at_rest_and_never_shown_or_logged(org, secrets_key, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    admin = signed_in(org.admin_email)
    response = admin.post("/settings/channels/", gateway_form())
    assert response.status_code == 302

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT http_authorization_sealed, http_webhook_secret_sealed, sms_sender FROM "
            "messaging_channelsettings WHERE organisation_id = %s",
            [org.organisation.id],
        )
        authorization, hook_secret, sender = cursor.fetchone()
    assert sender == "ASSURCENTRE"
    assert TOKEN not in authorization and HOOK_SECRET not in hook_secret
    assert Fernet(secrets_key).decrypt(authorization.encode()).decode() == f"Bearer {TOKEN}"

    page = admin.get("/settings/channels/").content.decode()
    assert TOKEN not in page and HOOK_SECRET not in page
    assert page.count("(set)") == 2 and "(not set)" in page  # the Twilio token was never given
    assert "ASSURCENTRE" in page and "https://sms.example.com/v1/messages" in page
    assert f"/hooks/org/{org.organisation.slug}/http/inbound" in page
    assert TOKEN not in caplog.text and HOOK_SECRET not in caplog.text


def test_a_blank_secret_keeps_the_stored_one_and_remove_clears_it(org, secrets_key) -> None:
    admin = signed_in(org.admin_email)
    admin.post("/settings/channels/", gateway_form())
    stored = ChannelSettings.objects.get().http_authorization_sealed
    admin.post("/settings/channels/", gateway_form(http_authorization="", sms_sender="AUTRE"))
    own = ChannelSettings.objects.get()
    assert (own.http_authorization_sealed, own.sms_sender) == (stored, "AUTRE")
    admin.post("/settings/channels/", {**gateway_form(http_authorization=""), "clear": "http_authorization"})
    assert ChannelSettings.objects.get().http_authorization_sealed == ""


def test_saving_a_secret_without_the_key_says_so_and_saves_nothing(org, settings) -> None:
    settings.AVIS_SECRETS_KEY = ""
    response = signed_in(org.admin_email).post("/settings/channels/", gateway_form())
    assert response.status_code == 200
    assert "AVIS_SECRETS_KEY" in response.content.decode()
    assert 'id="http-authorization-error"' in response.content.decode()
    assert not ChannelSettings.objects.exists()


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ASSURCENTRE", "ASSURCENTRE"),
        ("Avis2026", "Avis2026"),
        ("38100", "38100"),
        ("06 12 34 56 78", "+33612345678"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_a_sender_is_a_short_name_or_a_number(org, typed, kept) -> None:
    form = {"sms_provider": "simulator", "sms_sender": typed}
    assert signed_in(org.admin_email).post("/settings/channels/", form).status_code == 302
    assert ChannelSettings.objects.get().sms_sender == kept


@pytest.mark.parametrize("typed", ["AB", "ASSURANCECENTRE", "Assur-Centre", "Crédit", "+33 1"])
def test_a_bad_sender_is_refused_with_its_reason(org, typed) -> None:
    response = signed_in(org.admin_email).post(
        "/settings/channels/", {"sms_provider": "simulator", "sms_sender": typed, "email_sender_name": "X"}
    )
    page = response.content.decode()
    assert response.status_code == 200 and 'id="sms-sender-error"' in page
    assert "Nothing was saved" in page or "Rien n" in page
    assert not ChannelSettings.objects.exists()


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"sms_provider": "twilio", "twilio_account_sid": "AC123"}, "twilio-account-sid"),
        ({"sms_provider": "twilio", "twilio_account_sid": "AC" + "0" * 32}, "twilio-auth-token"),
        ({"sms_provider": "http"}, "http-url"),
        ({"sms_provider": "http", "http_url": "sms.example.com"}, "http-url"),
        ({"sms_provider": "carrier-pigeon"}, "sms-provider"),
        ({"email_reply_to": "not an address"}, "email-reply-to"),
        ({"email_sender_name": "Avis <no-reply@x>"}, "email-sender-name"),
    ],
)
def test_what_a_provider_needs_is_checked_before_saving(org, secrets_key, form, field) -> None:
    response = signed_in(org.admin_email).post("/settings/channels/", {"sms_provider": "", **form})
    assert response.status_code == 200 and f'id="{field}-error"' in response.content.decode()
    assert not ChannelSettings.objects.exists()


def test_only_administrators_reach_the_channels_page(org) -> None:
    manager = signed_in(org.manager_email)
    assert manager.get("/settings/channels/").status_code == 403
    assert manager.post("/settings/channels/", {"sms_provider": "simulator"}).status_code == 403
    assert manager.post("/settings/channels/test").status_code == 403
    assert not ChannelSettings.objects.exists()
    assert Client().get("/settings/channels/").status_code == 302  # to the sign-in page


def test_an_organisation_sees_and_changes_only_its_own_channels(org, other_org, secrets_key) -> None:
    signed_in(other_org.admin_email).post("/settings/channels/", gateway_form(sms_sender="BANQUENORD"))
    page = signed_in(org.admin_email).get("/settings/channels/").content.decode()
    assert "BANQUENORD" not in page and "(set)" not in page
    signed_in(org.admin_email).post(
        "/settings/channels/", {"sms_provider": "simulator", "sms_sender": "CENTRE"}
    )
    mine, theirs = (
        ChannelSettings.objects.get(organisation=org.organisation),
        ChannelSettings.objects.get(organisation=other_org.organisation),
    )
    assert (mine.sms_sender, theirs.sms_sender, theirs.sms_provider) == ("CENTRE", "BANQUENORD", "http")
