"""The generic gateway sends what its settings describe to a real local HTTP server."""

from __future__ import annotations

import pytest

from avis.messaging.providers import Envelope, PermanentFailure, TransientFailure
from avis.messaging.providers.http_gateway import HttpGatewayProvider
from tests.messaging.providers.servers import Reply

# Quotes, a backslash, braces that look like a placeholder, accents, an emoji, a newline.
AWKWARD = 'Dites-nous "franchement" : c\'est {to} \\ réglé ? 😀\nhttps://avis.example.fr/s/abc'
ENVELOPE = Envelope(recipient="+33612345678", subject="", text=AWKWARD, idempotency_key="invitation-42")


def test_json_body_follows_the_template_and_survives_any_text(gateway) -> None:
    message_id = HttpGatewayProvider().send(ENVELOPE)

    (request,) = gateway.received
    assert (request.method, request.path) == ("POST", "/v1/sms")
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "messages": [{"to": "+33612345678", "text": AWKWARD, "from": "AVIS"}],
        "reference": "invitation-42",
    }
    assert message_id.startswith("gw-")


def test_configured_headers_and_the_idempotency_key_are_sent(gateway) -> None:
    HttpGatewayProvider().send(ENVELOPE)
    headers = gateway.received[0].headers
    assert headers["authorization"] == "Bearer gw-key"
    assert headers["idempotency-key"] == "invitation-42"


def test_form_body_carries_the_same_text(gateway, settings) -> None:
    settings.AVIS_SMS_HTTP_BODY_FORMAT = "form"
    settings.AVIS_SMS_HTTP_BODY_TEMPLATE = {"dest": "{to}", "msg": "{text}", "ref": "{idempotency_key}"}
    HttpGatewayProvider().send(ENVELOPE)
    request = gateway.received[0]
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form() == {"dest": "+33612345678", "msg": AWKWARD, "ref": "invitation-42"}


def test_get_puts_the_fields_in_the_query_string(gateway, settings) -> None:
    settings.AVIS_SMS_HTTP_METHOD = "GET"
    settings.AVIS_SMS_HTTP_BODY_TEMPLATE = {"to": "{to}", "text": "{text}"}
    HttpGatewayProvider().send(ENVELOPE)
    request = gateway.received[0]
    assert request.method == "GET"
    assert {key: values[0] for key, values in request.query.items()} == {
        "to": "+33612345678",
        "text": AWKWARD,
    }


def test_id_is_read_from_the_configured_path(gateway, settings) -> None:
    settings.AVIS_SMS_HTTP_ID_PATH = "result.ticket"
    gateway.script.append(Reply(202, {"result": {"ticket": 918273}}))
    assert HttpGatewayProvider().send(ENVELOPE) == "918273"


def test_without_an_id_path_our_own_reference_identifies_the_message(gateway, settings) -> None:
    settings.AVIS_SMS_HTTP_ID_PATH = ""
    gateway.script.append(Reply(204))
    assert HttpGatewayProvider().send(ENVELOPE) == "invitation-42"


@pytest.mark.parametrize("status", [429, 500, 502, 503, 408])
def test_busy_or_broken_gateway_is_worth_another_try(gateway, status) -> None:  # noqa: ANN001
    gateway.script.append(Reply(status, {"error": "later"}))
    with pytest.raises(TransientFailure, match=str(status)):
        HttpGatewayProvider().send(ENVELOPE)


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_refused_message_fails_for_good(gateway, status) -> None:  # noqa: ANN001
    gateway.script.append(Reply(status, {"error": "invalid destination"}))
    with pytest.raises(PermanentFailure, match=str(status)):
        HttpGatewayProvider().send(ENVELOPE)


def test_gateway_that_never_answers_is_worth_another_try(gateway, settings) -> None:
    settings.AVIS_SMS_TIMEOUT = 1
    gateway.script.append(Reply(200, {"messages": [{"id": "late"}]}, delay=2))
    with pytest.raises(TransientFailure):
        HttpGatewayProvider().send(ENVELOPE)


def test_text_cannot_break_out_of_its_json_string(gateway) -> None:
    """A text shaped like JSON stays one string value; the document keeps the template's shape."""
    sneaky = '", "to": "+33999999999", "x": "'
    HttpGatewayProvider().send(Envelope(recipient="+33612345678", subject="", text=sneaky))
    sent = gateway.received[0].json()
    assert sent["messages"][0] == {"to": "+33612345678", "text": sneaky, "from": "AVIS"}
    assert set(sent) == {"messages", "reference"}
    assert len(sent["messages"]) == 1
