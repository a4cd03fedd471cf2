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
    """Sending can never succeed for this message."""


class Provider(Protocol):
    name: str
    channel: str

    def send(self, envelope: Envelope) -> str: ...


def provider_for(channel: str) -> Provider:
    """The provider configured for a channel (AVIS_EMAIL_PROVIDER, AVIS_SMS_PROVIDER)."""
    from django.conf import settings

    from avis.messaging.providers.console import ConsoleProvider
    from avis.messaging.providers.smtp import SmtpProvider

    if channel == "email":
        return SmtpProvider() if settings.AVIS_EMAIL_PROVIDER == "smtp" else ConsoleProvider("email")
    if channel == "sms":
        return ConsoleProvider("sms")
    raise PermanentFailure(f"No provider for channel {channel!r}")
