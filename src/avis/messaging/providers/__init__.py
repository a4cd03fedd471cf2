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


def provider_for(channel: str) -> Provider:
    """The provider configured for a channel (AVIS_EMAIL_PROVIDER, AVIS_SMS_PROVIDER)."""
    from django.conf import settings

    from avis.messaging.providers.console import ConsoleProvider
    from avis.messaging.providers.http_gateway import HttpGatewayProvider
    from avis.messaging.providers.simulator import SimulatorProvider
    from avis.messaging.providers.smtp import SmtpProvider
    from avis.messaging.providers.twilio import TwilioProvider

    if channel == "email":
        return SmtpProvider() if settings.AVIS_EMAIL_PROVIDER == "smtp" else ConsoleProvider("email")
    if channel == "sms":
        if settings.AVIS_SMS_PROVIDER == "twilio":
            return TwilioProvider()
        if settings.AVIS_SMS_PROVIDER == "http":
            return HttpGatewayProvider()
        if settings.AVIS_SMS_PROVIDER == "simulator":
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
