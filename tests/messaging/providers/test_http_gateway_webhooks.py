"""The generic gateway's receipts and inbound texts, signed with an HMAC of the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from avis.customers.models import Customer
from avis.messaging.dispatch import deliver_message
from avis.messaging.models import InboundMessage, OutboundMessage
from tests.messaging.providers.conftest import GATEWAY_SECRET

pytestmark = pytest.mark.django_db


def post_signed(
    path: str, payload: object, *, secret: str = GATEWAY_SECRET, form: bool = False, signature: str = ""
) -> object:
    body = urlencode(payload).encode() if form else json.dumps(payload).encode()
    signature = signature or hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return Client().generic(
        "POST",
        path,
        body,
        content_type="application/x-www-form-urlencoded" if form else "application/json",
        headers={"X-Gateway-Signature": signature},
    )


@pytest.fixture
def sent(queued_sms, gateway) -> OutboundMessage:  # noqa: ANN001
    assert deliver_message(message_id=queued_sms.id) == "sent"
    queued_sms.refresh_from_db()
    assert queued_sms.provider == "http" and queued_sms.provider_message_id.startswith("gw-")
    return queued_sms


def test_signed_receipt_updates_the_message(sent) -> None:
    response = post_signed("/hooks/http/receipt", {"id": sent.provider_message_id, "status": "DELIVRD"})
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"
    assert sent.delivered_at is not None


def test_wrong_or_missing_signature_is_refused_and_changes_nothing(sent) -> None:
    payload = {"id": sent.provider_message_id, "status": "delivered"}
    assert post_signed("/hooks/http/receipt", payload, secret="guessed").status_code == 403
    assert post_signed("/hooks/http/receipt", payload, signature="sha256=00").status_code == 403
    unsigned = Client().post("/hooks/http/receipt", payload, content_type="application/json")
    assert unsigned.status_code == 403
    sent.refresh_from_db()
    assert sent.delivery_status == ""


def test_without_a_secret_every_gateway_webhook_is_refused(sent, settings) -> None:
    settings.AVIS_SMS_HTTP_SECRET = ""
    payload = {"id": sent.provider_message_id, "status": "delivered"}
    assert post_signed("/hooks/http/receipt", payload, secret="").status_code == 403


def test_receipt_fields_and_statuses_are_configured_not_coded(sent, settings) -> None:
    settings.AVIS_SMS_HTTP_RECEIPT_FIELDS = {
        "id": "data.msgId",
        "status": "data.state",
        "error_code": "data.err",
    }
    settings.AVIS_SMS_HTTP_STATUSES = {"NPAI": "undelivered"}
    settings.AVIS_SMS_HTTP_INVALID_CODES = ["404"]
    payload = {"data": {"msgId": sent.provider_message_id, "state": "npai", "err": 404}}
    assert post_signed("/hooks/http/receipt", payload).status_code == 200
    sent.refresh_from_db()
    assert (sent.delivery_status, sent.delivery_error_code) == ("undelivered", "404")
    assert Customer.objects.get().phone_status == "invalid"


def test_a_batch_of_receipts_in_any_order_ends_at_the_furthest_status(sent) -> None:
    batch = [
        {"id": sent.provider_message_id, "status": status} for status in ["delivered", "sent", "accepted"]
    ]
    assert post_signed("/hooks/http/receipt", batch).status_code == 200
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"


def test_form_encoded_receipt_is_read_too(sent) -> None:
    payload = {"id": sent.provider_message_id, "status": "failed", "error_code": "13"}
    assert post_signed("/hooks/http/receipt", payload, form=True).status_code == 200
    sent.refresh_from_db()
    assert (sent.delivery_status, sent.delivery_error_code) == ("failed", "13")
    assert Customer.objects.get().phone_status == "ok"  # code 13 isn't listed as an invalid number


def test_receipt_without_an_id_is_a_bad_request(gateway) -> None:
    assert post_signed("/hooks/http/receipt", {"status": "delivered"}).status_code == 400


def test_receipt_for_a_message_we_never_sent_is_acknowledged(gateway) -> None:
    assert post_signed("/hooks/http/receipt", {"id": "gw-unknown", "status": "delivered"}).status_code == 200


def test_webhooks_answer_only_post(gateway) -> None:
    assert Client().get("/hooks/http/receipt").status_code == 405


def test_signed_inbound_text_is_recorded_for_the_customer(sent) -> None:
    payload = {"id": "in-1", "from": "33612345678", "to": "AVIS", "text": "Très bien, merci 😀"}
    assert post_signed("/hooks/http/inbound", payload, form=True).status_code == 200
    message = InboundMessage.objects.get()
    assert (message.provider, message.sender, message.text) == ("http", "+33612345678", "Très bien, merci 😀")
    assert message.customer == Customer.objects.get()
    assert message.organisation_id == sent.organisation_id
    assert message.reply_to_id == sent.id


def test_inbound_fields_are_configured_not_coded(sent, settings) -> None:
    settings.AVIS_SMS_HTTP_INBOUND_FIELDS = {
        "id": "mo.id",
        "from": "mo.msisdn",
        "to": "mo.shortcode",
        "text": "mo.body",
    }
    payload = {"mo": {"id": 77, "msisdn": "+33612345678", "shortcode": "38000", "body": "STOP"}}
    assert post_signed("/hooks/http/inbound", payload).status_code == 200
    message = InboundMessage.objects.get()
    assert (message.provider_message_id, message.recipient, message.text) == ("77", "38000", "STOP")


def test_forged_inbound_text_is_refused_and_not_stored(gateway) -> None:
    payload = {"id": "in-2", "from": "+33612345678", "text": "STOP"}
    assert post_signed("/hooks/http/inbound", payload, secret="guessed").status_code == 403
    assert not InboundMessage.objects.exists()
