"""HMAC-SHA256 signatures with a timestamp in the signed text, the way avis signs its webhooks.

The signature is ``sha256=<hex>`` over ``<timestamp>.<body>``: the timestamp
travels in its own header, and because it is signed a captured request can't
be sent again later with a fresh one. Outgoing case webhooks sign this way,
and the inbound interactions webhook checks the same way.
"""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_matches(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    """Compared in constant time: how much of a guess matched must not show in the answer's delay."""
    return bool(secret) and hmac.compare_digest(signature(secret, timestamp, body), given.strip())
