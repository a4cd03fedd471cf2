"""SMS through Twilio's Programmable Messaging, with the official ``twilio`` library.

Sending asks Twilio to report each message's fate to ``/hooks/twilio/status``;
replies arrive at ``/hooks/twilio/inbound``. Both webhooks carry an
``X-Twilio-Signature`` made with the account's auth token, checked here with
the library's own ``RequestValidator``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import requests
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from avis.messaging.providers import Envelope, PermanentFailure, TransientFailure

# https://www.twilio.com/docs/api/errors — the codes that blame the number
# itself. Others (21610 unsubscribed recipient, 30007 carrier filtering,
# 21408 region not enabled) say nothing about whether the number exists.
_ADDRESS_ERRORS = {
    "21211": "invalid",  # invalid 'To' phone number
    "21217": "invalid",  # phone number does not appear to be valid
    "21401": "invalid",  # invalid phone number
    "21614": "invalid",  # 'To' number is not a valid mobile number
    "30005": "invalid",  # unknown destination handset
    "30006": "invalid",  # landline or unreachable carrier
    "21612": "unreachable",  # 'To' number not currently reachable via SMS
    "30003": "unreachable",  # unreachable destination handset (switched off, out of coverage)
    "30004": "unreachable",  # message blocked by the recipient or their carrier
}

# Twilio's message statuses, folded into avis's delivery statuses.
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
_STATUSES = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}

_local = threading.local()


def address_status(error_code: str) -> str:
    return _ADDRESS_ERRORS.get(str(error_code or ""), "")


def delivery_status(twilio_status: str) -> str:
    """avis's delivery status for a Twilio message status; empty for statuses that aren't about delivery."""
    return _STATUSES.get((twilio_status or "").lower(), "")


def signature_is_valid(*, url: str, params: Mapping[str, Any], signature: str) -> bool:
    """Whether Twilio signed this webhook (``url`` as Twilio called it, query string included)."""
    token = settings.AVIS_TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, params, signature))


def _client() -> Client:
    """One client per worker thread: it keeps its HTTPS connection to Twilio open between messages.

    requests' sessions aren't documented as thread-safe, so threads don't share one.
    """
    key = (
        settings.AVIS_TWILIO_ACCOUNT_SID,
        settings.AVIS_TWILIO_AUTH_TOKEN,
        settings.AVIS_TWILIO_API_BASE,
        settings.AVIS_SMS_TIMEOUT,
    )
    clients: dict[tuple[Any, ...], Client] = _local.__dict__.setdefault("clients", {})
    if key not in clients:
        client = Client(
            settings.AVIS_TWILIO_ACCOUNT_SID,
            settings.AVIS_TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=settings.AVIS_SMS_TIMEOUT),
        )
        if settings.AVIS_TWILIO_API_BASE:
            # The library builds every Messaging URL from this domain's base URL.
            client.api.base_url = settings.AVIS_TWILIO_API_BASE
        clients.clear()
        clients[key] = client
    return clients[key]


class TwilioProvider:
    name = "twilio"
    channel = "sms"

    def send(self, envelope: Envelope) -> str:
        options: dict[str, Any] = {
            "to": envelope.recipient,
            "body": envelope.text,
            "status_callback": settings.AVIS_BASE_URL + reverse("hooks:twilio-status"),
        }
        if settings.AVIS_TWILIO_FROM:
            options["from_"] = settings.AVIS_TWILIO_FROM
        if settings.AVIS_TWILIO_MESSAGING_SERVICE_SID:
            options["messaging_service_sid"] = settings.AVIS_TWILIO_MESSAGING_SERVICE_SID
        try:
            message = _client().messages.create(**options)
        except (TwilioRestException, TwilioServiceException) as exc:
            code = str(exc.code or "")
            said = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
            detail = f"Twilio HTTP {exc.status}, error {code}: {said}"
            if exc.status == 429 or exc.status >= 500:
                raise TransientFailure(detail) from exc
            raise PermanentFailure(detail, address_status=address_status(code)) from exc
        except requests.RequestException as exc:
            raise TransientFailure(f"Twilio unreachable: {exc}") from exc
        return str(message.sid)
