"""SMS through Twilio's Programmable Messaging, with the official ``twilio`` library.

Sending asks Twilio to report each message's fate to ``/hooks/twilio/status``;
replies arrive at ``/hooks/twilio/inbound``. Both webhooks carry an
``X-Twilio-Signature`` made with the account's auth token, checked here with
the library's own ``RequestValidator``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from avis.messaging.providers import INSTANCE, ChannelConfig, Envelope, PermanentFailure, TransientFailure

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


def signature_is_valid(
    *, url: str, params: Mapping[str, Any], signature: str, token: str | None = None
) -> bool:
    """Whether Twilio signed this webhook (``url`` as Twilio called it, query string included) with
    ``token``, an organisation's own auth token (None: the installation's); no token, no match."""
    token = settings.AVIS_TWILIO_AUTH_TOKEN if token is None else token
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, params, signature))


@dataclass(frozen=True)
class Account:
    """The Twilio account a message leaves from: an organisation's own, else the installation's."""

    sid: str
    token: str = field(repr=False)
    sender: str
    messaging_service_sid: str
    status_callback: str

    @classmethod
    def of(cls, config: ChannelConfig) -> Account:
        if config.sms_provider == "twilio":
            return cls(
                sid=config.twilio_account_sid,
                token=config.twilio_auth_token,
                sender=config.sms_sender,
                messaging_service_sid=config.twilio_messaging_service_sid,
                status_callback=reverse("hooks:org-twilio-status", args=[config.hooks]),
            )
        return cls(
            sid=settings.AVIS_TWILIO_ACCOUNT_SID,
            token=settings.AVIS_TWILIO_AUTH_TOKEN,
            sender=config.sms_sender or settings.AVIS_TWILIO_FROM,
            messaging_service_sid=settings.AVIS_TWILIO_MESSAGING_SERVICE_SID,
            status_callback=reverse("hooks:twilio-status"),
        )


def _client(account: Account) -> Client:
    """One client per worker thread and account: it keeps its HTTPS connection to Twilio open
    between messages.

    requests' sessions aren't documented as thread-safe, so threads don't share one.
    """
    key = (account.sid, account.token, settings.AVIS_TWILIO_API_BASE, settings.AVIS_SMS_TIMEOUT)
    clients: dict[tuple[Any, ...], Client] = _local.__dict__.setdefault("clients", {})
    if key not in clients:
        client = Client(
            account.sid, account.token, http_client=TwilioHttpClient(timeout=settings.AVIS_SMS_TIMEOUT)
        )
        if settings.AVIS_TWILIO_API_BASE:
            # The library builds every Messaging URL from this domain's base URL.
            client.api.base_url = settings.AVIS_TWILIO_API_BASE
        if len(clients) >= 32:  # accounts of the organisations this thread served lately
            clients.clear()
        clients[key] = client
    return clients[key]


class TwilioProvider:
    name = "twilio"
    channel = "sms"

    def __init__(self, config: ChannelConfig = INSTANCE) -> None:
        self.account = Account.of(config)

    def send(self, envelope: Envelope) -> str:
        account = self.account
        options: dict[str, Any] = {
            "to": envelope.recipient,
            "body": envelope.text,
            "status_callback": settings.AVIS_BASE_URL + account.status_callback,
        }
        if account.sender:
            options["from_"] = account.sender
        if account.messaging_service_sid:
            options["messaging_service_sid"] = account.messaging_service_sid
        try:
            message = _client(account).messages.create(**options)
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
