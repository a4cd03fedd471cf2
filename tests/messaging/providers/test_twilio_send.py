"""The official twilio client sends through a local server that answers like Twilio's API."""

from __future__ import annotations

import re
import socket

import pytest

from avis.messaging.providers import Envelope, PermanentFailure, TransientFailure
from avis.messaging.providers.twilio import TwilioProvider
from tests.messaging.providers.conftest import PUBLIC_URL
from tests.messaging.providers.servers import ACCOUNT_SID, Reply, twilio_error

ENVELOPE = Envelope(recipient="+33612345678", subject="", text="Assurances du Centre : ça s'est bien passé ?")


def test_message_is_created_with_our_status_callback_and_twilio_sid_comes_back(twilio) -> None:
    sid = TwilioProvider().send(ENVELOPE)

    (request,) = twilio.received
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form() == {
        "To": "+33612345678",
        "From": "+33700000001",
        "Body": ENVELOPE.text,
        "StatusCallback": f"{PUBLIC_URL}/hooks/twilio/status",
    }
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)


def test_messaging_service_picks_the_sender_when_configured(twilio, settings) -> None:
    settings.AVIS_TWILIO_FROM = ""
    settings.AVIS_TWILIO_MESSAGING_SERVICE_SID = "MG" + "a" * 32
    TwilioProvider().send(ENVELOPE)
    form = twilio.received[0].form()
    assert form["MessagingServiceSid"] == "MG" + "a" * 32
    assert "From" not in form


def test_invalid_number_fails_for_good_and_blames_the_number(twilio) -> None:
    twilio.script.append(twilio_error(400, 21211, "The 'To' number +33600 is not a valid phone number."))
    with pytest.raises(PermanentFailure) as failure:
        TwilioProvider().send(ENVELOPE)
    assert failure.value.address_status == "invalid"
    assert "21211" in str(failure.value)


def test_unsubscribed_recipient_fails_for_good_without_blaming_the_number(twilio) -> None:
    twilio.script.append(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    with pytest.raises(PermanentFailure) as failure:
        TwilioProvider().send(ENVELOPE)
    assert failure.value.address_status == ""


def test_wrong_credentials_fail_for_good(twilio, settings) -> None:
    settings.AVIS_TWILIO_AUTH_TOKEN = "not-the-token"
    with pytest.raises(PermanentFailure, match="20003"):
        TwilioProvider().send(ENVELOPE)


@pytest.mark.parametrize(
    "reply",
    [
        twilio_error(429, 20429, "Too Many Requests"),
        twilio_error(500, 20500, "Internal Server Error"),
        twilio_error(503, 20503, "Service Unavailable"),
        Reply(502, None),
    ],
)
def test_busy_or_broken_twilio_is_worth_another_try(twilio, reply) -> None:  # noqa: ANN001
    twilio.script.append(reply)
    with pytest.raises(TransientFailure):
        TwilioProvider().send(ENVELOPE)


def test_unreachable_twilio_is_worth_another_try(twilio, settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    settings.AVIS_TWILIO_API_BASE = f"http://127.0.0.1:{closed}"
    with pytest.raises(TransientFailure, match="unreachable"):
        TwilioProvider().send(ENVELOPE)


def test_twilio_that_never_answers_is_worth_another_try(twilio, settings) -> None:
    settings.AVIS_SMS_TIMEOUT = 1
    twilio.script.append(Reply(201, {"sid": "SMlate"}, delay=2))
    with pytest.raises(TransientFailure):
        TwilioProvider().send(ENVELOPE)
