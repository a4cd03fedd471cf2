"""Twilio's status callbacks and inbound texts, signed the way Twilio signs them."""

from __future__ import annotations

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from avis.customers.models import Customer
from avis.messaging.dispatch import deliver_message
from avis.messaging.models import InboundMessage, OutboundMessage
from tests.messaging.providers.conftest import PUBLIC_URL
from tests.messaging.providers.servers import AUTH_TOKEN

pytestmark = pytest.mark.django_db


def post_signed(path: str, params: dict[str, str], *, token: str = AUTH_TOKEN, url: str = "") -> object:
    signature = RequestValidator(token).compute_signature(url or PUBLIC_URL + path, params)
    return Client().post(path, params, headers={"X-Twilio-Signature": signature})


@pytest.fixture
def sent(queued_sms, twilio) -> OutboundMessage:  # noqa: ANN001
    assert deliver_message(message_id=queued_sms.id) == "sent"
    queued_sms.refresh_from_db()
    assert queued_sms.provider == "twilio" and queued_sms.provider_message_id.startswith("SM")
    return queued_sms


def status(message: OutboundMessage, value: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": message.provider_message_id,
        "SmsSid": message.provider_message_id,
        "MessageStatus": value,
        "SmsStatus": value,
        "To": message.recipient,
        "From": "+33700000001",
        "AccountSid": "AC" + "0123456789abcdef" * 2,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def test_signed_delivery_callback_marks_the_message_delivered(sent) -> None:
    response = post_signed("/hooks/twilio/status", status(sent, "delivered"))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"
    assert sent.delivered_at is not None


def test_forged_callback_is_refused_and_changes_nothing(sent) -> None:
    forged = post_signed("/hooks/twilio/status", status(sent, "failed"), token="guessed-token")
    unsigned = Client().post("/hooks/twilio/status", status(sent, "failed"))
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    sent.refresh_from_db()
    assert sent.delivery_status == ""


def test_signature_over_another_url_is_refused(sent) -> None:
    """Twilio signs the public address it called; a signature for any other URL proves nothing."""
    response = post_signed(
        "/hooks/twilio/status", status(sent, "delivered"), url="http://testserver/hooks/twilio/status"
    )
    assert response.status_code == 403


def test_tampered_parameters_are_refused(sent) -> None:
    params = status(sent, "delivered")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + "/hooks/twilio/status", params)
    params["MessageStatus"] = "failed"
    response = Client().post("/hooks/twilio/status", params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_late_sent_callback_does_not_undo_delivered(sent) -> None:
    for value in ["queued", "delivered", "sent", "queued"]:
        assert post_signed("/hooks/twilio/status", status(sent, value)).status_code == 200
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"


def test_callbacks_in_order_walk_the_message_forward(sent) -> None:
    seen = []
    for value in ["queued", "sent", "undelivered"]:
        post_signed("/hooks/twilio/status", status(sent, value, ErrorCode="30003"))
        sent.refresh_from_db()
        seen.append(sent.delivery_status)
    assert seen == ["queued", "sent", "undelivered"]


def test_unknown_handset_marks_the_customer_phone_invalid(sent) -> None:
    post_signed("/hooks/twilio/status", status(sent, "undelivered", ErrorCode="30005"))
    customer = Customer.objects.get()
    assert customer.phone_status == "invalid"
    assert customer.phone_failed_at is not None
    sent.refresh_from_db()
    assert (sent.delivery_status, sent.delivery_error_code) == ("undelivered", "30005")


def test_switched_off_phone_is_unreachable_until_a_text_gets_through(sent) -> None:
    post_signed("/hooks/twilio/status", status(sent, "undelivered", ErrorCode="30003"))
    assert Customer.objects.get().phone_status == "unreachable"
    OutboundMessage.objects.filter(id=sent.id).update(delivery_status="sent")  # a later text, same number
    post_signed("/hooks/twilio/status", status(sent, "delivered"))
    assert Customer.objects.get().phone_status == "ok"


def test_carrier_filtering_says_nothing_about_the_number(sent) -> None:
    post_signed("/hooks/twilio/status", status(sent, "failed", ErrorCode="30007"))
    assert Customer.objects.get().phone_status == "ok"
    sent.refresh_from_db()
    assert sent.delivery_status == "failed"


def test_a_failure_about_a_number_the_customer_replaced_leaves_the_new_one_alone(sent) -> None:
    Customer.objects.update(phone="+33698765432")
    post_signed("/hooks/twilio/status", status(sent, "undelivered", ErrorCode="30005"))
    assert Customer.objects.get().phone_status == "ok"


def inbound(sid: str, sender: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": "AC" + "0123456789abcdef" * 2,
        "From": sender,
        "To": "+33700000001",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": "FR",
    }


def test_reply_is_recorded_for_the_customer_and_answered_with_empty_twiml(sent) -> None:
    response = post_signed("/hooks/twilio/inbound", inbound("SMreply1", "+33612345678", "9 très bien 👍"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode().endswith("<Response />")
    message = InboundMessage.objects.get()
    assert (message.sender, message.recipient, message.text) == (
        "+33612345678",
        "+33700000001",
        "9 très bien 👍",
    )
    assert message.customer == Customer.objects.get()
    assert message.organisation_id == sent.organisation_id
    assert message.reply_to_id == sent.id


def test_twilio_retrying_an_inbound_webhook_records_it_once(sent) -> None:
    for _ in range(2):
        assert (
            post_signed("/hooks/twilio/inbound", inbound("SMreply2", "+33612345678", "10")).status_code == 200
        )
    assert InboundMessage.objects.count() == 1


def test_text_from_an_unknown_number_is_kept_without_an_organisation(twilio) -> None:
    post_signed("/hooks/twilio/inbound", inbound("SMreply3", "+33611111111", "qui êtes-vous ?"))
    message = InboundMessage.objects.get()
    assert (message.organisation_id, message.customer_id) == (None, None)


def test_forged_inbound_text_is_refused_and_not_stored(twilio) -> None:
    response = post_signed("/hooks/twilio/inbound", inbound("SMx", "+33612345678", "STOP"), token="nope")
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_without_an_auth_token_every_twilio_webhook_is_refused(twilio, settings) -> None:
    settings.AVIS_TWILIO_AUTH_TOKEN = ""
    response = post_signed("/hooks/twilio/inbound", inbound("SMy", "+33612345678", "10"), token="")
    assert response.status_code == 403
