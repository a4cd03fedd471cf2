"""Channel providers: small adapters behind one interface.

A provider turns an :class:`Envelope` into a message on the wire and returns
the provider's own message id. It raises :class:`TransientFailure` when trying
again later may work (a timeout, a 5xx, a busy server) and
:class:`PermanentFailure` when it never will (an address the server refuses).
SMS providers (Twilio, an HTTP gateway, the simulator) plug in here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Envelope:
    recipient: str
    subject: str
    text: str
    html: str = ""
    idempotency_key: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class TransientFailure(Exception):
    """Sending failed for now; the same message may be tried again."""


class PermanentFailure(Exception):
    """Sending can never succeed for this message.

    ``address_status`` is "invalid" or "unreachable" when the provider blames
    the address itself (no such number), so the customer's record can say so;
    empty when the fault lies elsewhere (the text, the account).
    """

    def __init__(self, message: str = "", *, address_status: str = "") -> None:
        super().__init__(message)
        self.address_status = address_status


class Provider(Protocol):
    name: str
    channel: str

    def send(self, envelope: Envelope) -> str: ...


@dataclass(frozen=True)
class ChannelConfig:
    """What one organisation set for its channels, secrets readable (in memory only, never printed).

    Blank fields keep the installation's settings (the environment's);
    ``INSTANCE`` is the configuration of an organisation that set nothing.
    ``hooks`` names the organisation's own webhook addresses when it has its
    own provider account.
    """

    sms_provider: str = ""
    sms_sender: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_messaging_service_sid: str = ""
    http_url: str = ""
    http_authorization: str = field(default="", repr=False)
    http_webhook_secret: str = field(default="", repr=False)
    email_sender_name: str = ""
    email_reply_to: str = ""
    hooks: str = ""


INSTANCE = ChannelConfig()


def sms_provider_name(config: ChannelConfig = INSTANCE) -> str:
    """The SMS provider an organisation's texts go through: its own choice, else AVIS_SMS_PROVIDER."""
    from django.conf import settings

    return config.sms_provider or settings.AVIS_SMS_PROVIDER


def provider_for(channel: str, config: ChannelConfig = INSTANCE) -> Provider:
    """The provider for a channel: the organisation's choice, else AVIS_EMAIL_PROVIDER / AVIS_SMS_PROVIDER."""
    from django.conf import settings

    from avis.messaging.providers.console import ConsoleProvider
    from avis.messaging.providers.http_gateway import HttpGatewayProvider
    from avis.messaging.providers.simulator import SimulatorProvider
    from avis.messaging.providers.smtp import SmtpProvider
    from avis.messaging.providers.twilio import TwilioProvider

    if channel == "email":
        if settings.AVIS_EMAIL_PROVIDER == "smtp":
            return SmtpProvider(sender_name=config.email_sender_name, reply_to=config.email_reply_to)
        return ConsoleProvider("email")
    if channel == "sms":
        name = sms_provider_name(config)
        if name == "twilio":
            return TwilioProvider(config)
        if name == "http":
            return HttpGatewayProvider(config)
        if name == "simulator":
            return SimulatorProvider()
        return ConsoleProvider("sms")
    raise PermanentFailure(f"No provider for channel {channel!r}")


def failed_address_status(provider: str, error_code: str) -> str:
    """What a delivery receipt's error code says about the number: "invalid", "unreachable" or ""."""
    from avis.messaging.providers import http_gateway, twilio

    if provider == twilio.TwilioProvider.name:
        return twilio.address_status(error_code)
    if provider == http_gateway.HttpGatewayProvider.name:
        return http_gateway.address_status(error_code)
    return ""
