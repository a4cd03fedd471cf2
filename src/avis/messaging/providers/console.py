from __future__ import annotations

import logging

from avis.messaging.providers import Envelope

logger = logging.getLogger("avis.console")


class ConsoleProvider:
    """Development channel: writes the message to the log instead of sending it."""

    name = "console"

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, envelope: Envelope) -> str:
        logger.info("%s to %s: %s\n%s", self.channel, envelope.recipient, envelope.subject, envelope.text)
        return f"console:{envelope.idempotency_key}"
