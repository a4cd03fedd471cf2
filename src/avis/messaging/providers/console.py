from __future__ import annotations

import logging

from avis.logs import mask_recipient
from avis.messaging.providers import Envelope

logger = logging.getLogger("avis.console")


class ConsoleProvider:
    """Development channel: writes the message to the log instead of sending it."""

    name = "console"

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, envelope: Envelope) -> str:
        # Recipients and bodies are personal data (and bodies carry survey links): masked.
        logger.info(
            "%s to %s: %d characters (masked)",
            self.channel,
            mask_recipient(envelope.recipient),
            len(envelope.text or ""),
        )
        return f"console:{envelope.idempotency_key}"
