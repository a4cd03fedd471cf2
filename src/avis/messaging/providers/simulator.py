"""A phone network inside avis: texts go nowhere, and a page lets a person answer them.

For the demo, training and trying a survey before paying an operator. Sent
texts are the outbox rows themselves (they keep the text and the number);
replies typed on the simulator page enter through the same service as a real
provider's inbound webhook, so the conversation behaves exactly as it would
on a phone.
"""

from __future__ import annotations

from avis.messaging.providers import Envelope


class SimulatorProvider:
    name = "simulator"
    channel = "sms"

    def send(self, envelope: Envelope) -> str:
        # The idempotency key is unique per message, so it serves as the "operator's" id.
        return f"sim-{envelope.idempotency_key}"
