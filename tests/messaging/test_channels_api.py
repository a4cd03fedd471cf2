"""The organisation's channels over the API: secrets write-only, bad fields named, admins only."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from avis.messaging.models import ChannelSettings
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "api-set-token-3f9c"  # noqa: S105


@pytest.fixture(autouse=True)
def secrets_key(settings) -> None:  # noqa: ANN001
    settings.AVIS_SECRETS_KEY = Fernet.generate_key().decode()


def put(client: Client, body: dict) -> object:
    return client.put("/api/v1/channels", body, content_type="application/json")


def test_channels_are_set_and_read_back_without_their_secrets(api) -> None:
    body = {"sms_provider": "http", "sms_sender": "ASSURCENTRE", "http_url": "https://sms.example.com/v1"}
    response = put(api, {**body, "http_authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    read = api.get("/api/v1/channels")
    assert TOKEN not in read.content.decode()
    assert read.json()["secrets_set"] == {
        "twilio_auth_token": False,
        "http_authorization": True,
        "http_webhook_secret": False,
    }
    assert read.json()["sms_sender"] == "ASSURCENTRE"
    put(api, {**body, "clear": ["http_authorization"]})
    assert api.get("/api/v1/channels").json()["secrets_set"]["http_authorization"] is False


def test_a_bad_field_is_named_and_nothing_is_saved(api) -> None:
    response = put(api, {"sms_provider": "simulator", "sms_sender": "AB"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sms_sender"
    assert not ChannelSettings.objects.exists()


def test_a_test_message_is_followed_until_it_leaves(
    api, smtp_server, django_capture_on_commit_callbacks
) -> None:
    put(api, {"sms_provider": "simulator", "email_sender_name": "Assurances du Centre"})
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(
            "/api/v1/channels/test",
            {"phone": "06 11 22 33 44", "email": "ops@example.fr"},
            content_type="application/json",
        )
    assert sent.status_code == 202
    statuses = {
        m["channel"]: api.get(f"/api/v1/channels/test/{m['id']}").json()["status"] for m in sent.json()
    }
    assert statuses == {"sms": "sent", "email": "sent"}
    (mail,) = smtp_server.to("ops@example.fr")
    assert mail["From"].startswith("Assurances du Centre <")
    bad = api.post("/api/v1/channels/test", {"phone": "01 23"}, content_type="application/json")
    assert bad.status_code == 422


def test_a_signed_in_manager_is_refused_and_another_organisation_sees_its_own(org, other_org, api) -> None:
    put(api, {"sms_provider": "simulator", "sms_sender": "CENTRE"})
    manager = Client()
    assert manager.login(username=org.manager_email, password=PASSWORD)
    assert manager.get("/api/v1/channels").status_code == 403
    theirs = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    assert theirs.get("/api/v1/channels").json()["sms_sender"] == ""
