from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.messaging.providers.servers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    LocalServer,
    gateway_api,
    twilio_api,
)

PUBLIC_URL = "https://avis.example.fr"
GATEWAY_SECRET = "gateway-shared-secret"  # noqa: S105


@pytest.fixture
def twilio(settings) -> Iterator[LocalServer]:  # noqa: ANN001
    """The real twilio client, talking to a local server that plays Twilio's API."""
    with LocalServer(twilio_api) as server:
        settings.AVIS_BASE_URL = PUBLIC_URL
        settings.AVIS_SMS_PROVIDER = "twilio"
        settings.AVIS_TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.AVIS_TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.AVIS_TWILIO_FROM = "+33700000001"
        settings.AVIS_TWILIO_MESSAGING_SERVICE_SID = ""
        settings.AVIS_TWILIO_API_BASE = server.url
        yield server


@pytest.fixture
def gateway(settings) -> Iterator[LocalServer]:  # noqa: ANN001
    """A local HTTP server playing an SMS aggregator, configured the way an operator would."""
    with LocalServer(gateway_api) as server:
        settings.AVIS_BASE_URL = PUBLIC_URL
        settings.AVIS_SMS_PROVIDER = "http"
        settings.AVIS_SMS_SENDER = "AVIS"
        settings.AVIS_SMS_HTTP_URL = server.url + "/v1/sms"
        settings.AVIS_SMS_HTTP_METHOD = "POST"
        settings.AVIS_SMS_HTTP_HEADERS = {"Authorization": "Bearer gw-key"}
        settings.AVIS_SMS_HTTP_BODY_FORMAT = "json"
        settings.AVIS_SMS_HTTP_BODY_TEMPLATE = {
            "messages": [{"to": "{to}", "text": "{text}", "from": "{sender}"}],
            "reference": "{idempotency_key}",
        }
        settings.AVIS_SMS_HTTP_ID_PATH = "messages.0.id"
        settings.AVIS_SMS_HTTP_SIGNATURE_HEADER = "X-Gateway-Signature"
        settings.AVIS_SMS_HTTP_SECRET = GATEWAY_SECRET
        settings.AVIS_SMS_HTTP_RECEIPT_FIELDS = {}
        settings.AVIS_SMS_HTTP_INBOUND_FIELDS = {}
        settings.AVIS_SMS_HTTP_STATUSES = {}
        settings.AVIS_SMS_HTTP_INVALID_CODES = []
        settings.AVIS_SMS_TIMEOUT = 5
        yield server


@pytest.fixture
def queued_sms(org, api):  # noqa: ANN001
    """An SMS invitation for a customer known only by phone, in the outbox and not yet sent.

    Outside a transactional test nothing is dispatched on commit; the test
    sends it with ``deliver_message`` once the provider is configured.
    """
    from avis.messaging.models import OutboundMessage
    from tests.helpers import open_all_day, post_interaction

    open_all_day(org.organisation)
    assert post_interaction(api, "evt-sms-1", email=None, phone="06 12 34 56 78").status_code == 200
    message = OutboundMessage.objects.get()
    assert (message.channel, message.status, message.recipient) == ("sms", "pending", "+33612345678")
    return message
