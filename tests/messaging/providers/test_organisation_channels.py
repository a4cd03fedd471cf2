"""Each organisation's texts and emails leave through its own provider, sender and credentials when it
set them (the installation's otherwise), and its own webhook addresses speak for it alone."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from django.test import Client
from twilio.request_validator import RequestValidator

from avis.accounts.services import update_notification_settings
from avis.customers.models import Customer
from avis.messaging.dispatch import Delivery, deliver_message
from avis.messaging.models import InboundMessage, OutboundMessage
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction
from tests.messaging.providers.conftest import GATEWAY_SECRET, PUBLIC_URL
from tests.messaging.providers.servers import ACCOUNT_SID, AUTH_TOKEN, LocalServer, gateway_api

pytestmark = pytest.mark.django_db

ORG_TOKEN = "org-gateway-token-5b1e"  # noqa: S105
ORG_HOOK_SECRET = "org-hook-secret-77aa"  # noqa: S105


@pytest.fixture(autouse=True)
def secrets_key(settings) -> None:  # noqa: ANN001
    settings.AVIS_SECRETS_KEY = Fernet.generate_key().decode()


@pytest.fixture
def own_gateway() -> Iterator[LocalServer]:
    """The organisation's own aggregator account: another local server than the installation's."""
    with LocalServer(gateway_api) as server:
        yield server


def admin_of(setup) -> Client:  # noqa: ANN001
    client = Client()
    assert client.login(username=setup.admin_email, password=PASSWORD)
    return client


def use_own_gateway(setup, server: LocalServer, **extra: str) -> None:  # noqa: ANN001
    form = {
        "sms_provider": "http",
        "sms_sender": "ASSURCENTRE",
        "http_url": server.url + "/v1/sms",
        "http_authorization": f"Bearer {ORG_TOKEN}",
        "http_webhook_secret": ORG_HOOK_SECRET,
        **extra,
    }
    assert admin_of(setup).post("/settings/channels/", form).status_code == 302


def sms_sent_for(setup, api: Client, external_id: str, phone: str) -> OutboundMessage:  # noqa: ANN001
    open_all_day(setup.organisation)
    assert (
        post_interaction(api, external_id, customer=external_id, email=None, phone=phone).status_code == 200
    )
    message = OutboundMessage.objects.get(organisation=setup.organisation, channel="sms", kind="invitation")
    assert deliver_message(message_id=message.id) == Delivery.SENT
    message.refresh_from_db()
    return message


def test_each_organisation_texts_through_its_own_gateway_or_the_installations(
    org, other_org, api, gateway, own_gateway, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    use_own_gateway(org, own_gateway)
    other_api = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})

    mine = sms_sent_for(org, api, "evt-1", "06 12 34 56 78")
    theirs = sms_sent_for(other_org, other_api, "evt-2", "06 98 76 54 32")

    (own_post,) = own_gateway.received
    assert own_post.headers["authorization"] == f"Bearer {ORG_TOKEN}"
    assert own_post.json()["messages"][0] == {
        "to": "+33612345678",
        "text": mine.body_text,
        "from": "ASSURCENTRE",
    }
    (installation_post,) = gateway.received
    assert installation_post.headers["authorization"] == "Bearer gw-key"  # the installation's own
    assert installation_post.json()["messages"][0]["from"] == "AVIS"
    assert installation_post.json()["messages"][0]["to"] == theirs.recipient == "+33698765432"
    assert ORG_TOKEN not in caplog.text and ORG_HOOK_SECRET not in caplog.text


def test_a_sender_alone_changes_only_the_sender_of_the_installations_gateway(org, api, gateway) -> None:
    assert admin_of(org).post("/settings/channels/", {"sms_sender": "CENTRE"}).status_code == 302
    sms_sent_for(org, api, "evt-1", "06 12 34 56 78")
    (post,) = gateway.received
    assert post.json()["messages"][0]["from"] == "CENTRE"
    assert post.headers["authorization"] == "Bearer gw-key"


def test_a_test_message_reaches_the_admins_phone_and_mailbox(
    org, gateway, own_gateway, smtp_server, django_capture_on_commit_callbacks
) -> None:
    use_own_gateway(
        org, own_gateway, email_sender_name="Assurances du Centre", email_reply_to="relation@centre.example"
    )
    admin = org.organisation.memberships.get(user__username=org.admin_email)
    update_notification_settings(
        organisation=org.organisation,
        membership_id=admin.id,
        mobile_phone="06 11 22 33 44",
        sms_when_assigned=True,
        sms_when_escalated=True,
    )
    client = admin_of(org)
    with django_capture_on_commit_callbacks(execute=True):
        fragment = client.post("/settings/channels/test", headers={"HX-Request": "true"}).content.decode()

    (text,) = own_gateway.received
    assert text.json()["messages"][0]["to"] == "+33611223344"
    assert "Assurances du Centre" in text.json()["messages"][0]["text"]
    (mail,) = smtp_server.to(org.admin_email)
    assert mail["From"] == "Assurances du Centre <no-reply@avis.localhost>"
    assert mail["Reply-To"] == "relation@centre.example"
    assert gateway.received == []  # nothing through the installation's account
    ids = ",".join(str(i) for i in OutboundMessage.objects.order_by("id").values_list("id", flat=True))
    status = client.get(f"/settings/channels/test/status?ids={ids}").content.decode()
    assert status.count("sent") >= 2 and "+33611223344" in status
    assert "+33611223344" in fragment or "pending" in fragment


def test_a_test_message_from_another_organisation_is_not_shown(org, other_org, smtp_server) -> None:
    from avis.messaging.outbox import queue_notification

    (theirs,) = queue_notification(
        organisation=other_org.organisation,
        recipients=["someone@banque.example"],
        subject="s",
        text="t",
        key="channel-test-9-abc",
    )
    page = admin_of(org).get(f"/settings/channels/test/status?ids={theirs.id}").content.decode()
    assert "someone@banque.example" not in page


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_hook(path: str, payload: object, secret: str) -> int:
    body = json.dumps(payload).encode()
    response = Client().generic(
        "POST",
        path,
        body,
        content_type="application/json",
        headers={"X-Gateway-Signature": sign(body, secret)},
    )
    return response.status_code


def test_an_organisations_webhooks_answer_to_its_own_secret_and_its_own_messages_only(
    org, other_org, api, gateway, own_gateway
) -> None:
    use_own_gateway(org, own_gateway)
    other_api = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    mine = sms_sent_for(org, api, "evt-1", "06 12 34 56 78")
    theirs = sms_sent_for(other_org, other_api, "evt-2", "06 98 76 54 32")
    receipts = f"/hooks/org/{org.organisation.slug}/http/receipt"

    assert post_hook(receipts, {"id": mine.provider_message_id, "status": "delivered"}, GATEWAY_SECRET) == 403
    assert (
        post_hook(receipts, {"id": mine.provider_message_id, "status": "delivered"}, ORG_HOOK_SECRET) == 200
    )
    mine.refresh_from_db()
    assert mine.delivery_status == "delivered"
    # Its secret vouches for its own messages only.
    assert post_hook(receipts, {"id": theirs.provider_message_id, "status": "failed"}, ORG_HOOK_SECRET) == 200
    theirs.refresh_from_db()
    assert theirs.delivery_status == ""
    # An organisation without an account of its own has no address.
    assert post_hook(f"/hooks/org/{other_org.organisation.slug}/http/receipt", {}, GATEWAY_SECRET) == 404


def test_a_text_through_an_organisations_own_account_is_never_given_to_another(
    org, other_org, api, gateway, own_gateway
) -> None:
    use_own_gateway(org, own_gateway)
    other_api = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    sms_sent_for(other_org, other_api, "evt-2", "06 98 76 54 32")
    inbound = f"/hooks/org/{org.organisation.slug}/http/inbound"
    payload = {"id": "in-1", "from": "+33698765432", "to": "ASSURCENTRE", "text": "0"}
    assert post_hook(inbound, payload, ORG_HOOK_SECRET) == 200
    text = InboundMessage.objects.get()
    assert text.organisation_id == org.organisation.id  # whose account it came through
    assert text.customer_id is None and text.conversation_id is None  # other_org's customer stays theirs
    assert Customer.objects.get(organisation=other_org.organisation).responses.count() == 0
    # The same id through the installation's account is another text, not a retry.
    assert post_hook("/hooks/http/inbound", payload, GATEWAY_SECRET) == 200
    assert InboundMessage.objects.count() == 2


def test_an_organisations_own_twilio_account_sends_and_signs(org, api, twilio, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # the twilio library logs its requests
    settings.AVIS_SMS_PROVIDER = "console"
    settings.AVIS_TWILIO_AUTH_TOKEN = ""  # the installation has no Twilio account of its own
    form = {
        "sms_provider": "twilio",
        "sms_sender": "ASSURCENTRE",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
    }
    assert admin_of(org).post("/settings/channels/", form).status_code == 302
    message = sms_sent_for(org, api, "evt-1", "06 12 34 56 78")
    (post,) = twilio.received
    status_path = f"/hooks/org/{org.organisation.slug}/twilio/status"
    assert post.form()["From"] == "ASSURCENTRE"
    assert post.form()["StatusCallback"] == PUBLIC_URL + status_path

    params = {"MessageSid": message.provider_message_id, "MessageStatus": "delivered"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + status_path, params)
    assert Client().post(status_path, params, headers={"X-Twilio-Signature": signature}).status_code == 200
    message.refresh_from_db()
    assert message.delivery_status == "delivered"
    assert AUTH_TOKEN not in caplog.text
    # The installation's address has no token to check against: refused.
    assert (
        Client().post("/hooks/twilio/status", params, headers={"X-Twilio-Signature": signature}).status_code
        == 403
    )


def test_without_the_key_an_organisations_messages_wait_instead_of_leaving_unsigned(
    org, api, gateway, own_gateway, settings
) -> None:
    use_own_gateway(org, own_gateway)
    settings.AVIS_SECRETS_KEY = ""  # the key was lost from the environment
    open_all_day(org.organisation)
    post_interaction(api, "evt-1", email=None, phone="06 12 34 56 78")
    message = OutboundMessage.objects.get()
    assert deliver_message(message_id=message.id) == Delivery.RETRY
    message.refresh_from_db()
    assert "AVIS_SECRETS_KEY" in message.last_error
    assert own_gateway.received == [] and gateway.received == []
