"""SMS through any HTTP gateway, described by settings instead of code.

Aggregators differ in field names, not in shape: one request per message, an
id in the reply, receipts and replies posted back to us. ``AVIS_SMS_HTTP_*``
says where to send, which headers, the body as a JSON template whose string
values may hold ``{to}``, ``{text}``, ``{sender}`` and ``{idempotency_key}``,
where the reply keeps the message id, and how the gateway names the fields of
its receipts and inbound messages. Webhooks are signed with an HMAC-SHA256 of
the raw body, hex-encoded, in a configurable header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
from django.conf import settings

from avis.messaging.providers import INSTANCE, ChannelConfig, Envelope, PermanentFailure, TransientFailure

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(to|text|sender|idempotency_key)\}")

RECEIPT_FIELDS = {"id": "id", "status": "status", "error_code": "error_code"}
INBOUND_FIELDS = {"id": "id", "from": "from", "to": "to", "text": "text"}

# Gateway status words → avis delivery statuses: avis's own words, and the
# "stat" values of SMPP delivery receipts that most aggregators pass through.
# AVIS_SMS_HTTP_STATUSES adds to (or overrides) these, case-insensitively.
STATUSES = {
    "queued": "queued",
    "accepted": "queued",
    "sent": "sent",
    "enroute": "sent",
    "acceptd": "sent",
    "delivered": "delivered",
    "delivrd": "delivered",
    "undelivered": "undelivered",
    "undeliv": "undelivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejectd": "failed",
    "rejected": "failed",
}

# A gateway that never answers must not hold a worker forever; 408 and 429
# say "not now", like a 5xx.
_RETRY_LATER = {408, 429}


_local = threading.local()


def _http() -> httpx.Client:
    """One client per worker thread: it keeps connections open and builds its TLS context once.

    A fresh client per message would cost a fifth of a second before the first byte.
    """
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = httpx.Client()
    return client


@dataclass(frozen=True)
class Receipt:
    provider_message_id: str
    status: str
    error_code: str


@dataclass(frozen=True)
class Inbound:
    provider_message_id: str
    sender: str
    recipient: str
    text: str


def render_body(template: Any, values: Mapping[str, str]) -> Any:
    """The template with each placeholder replaced inside its string.

    Substitution happens on the decoded template, value by value, and the
    result is serialised afterwards: a text with quotes or braces stays a
    string and can never change the document's structure. One pass, so a
    customer's text containing ``{to}`` is sent as written.
    """
    if isinstance(template, dict):
        return {key: render_body(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render_body(value, values) for value in template]
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    return template


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (``messages.0.id``), or None when the path leads nowhere."""
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def address_status(error_code: str) -> str:
    return "invalid" if error_code and str(error_code) in settings.AVIS_SMS_HTTP_INVALID_CODES else ""


def delivery_status(gateway_status: str) -> str:
    statuses = STATUSES | {key.lower(): value for key, value in settings.AVIS_SMS_HTTP_STATUSES.items()}
    return statuses.get(str(gateway_status or "").strip().lower(), "")


def signature_is_valid(body: bytes, signature: str) -> bool:
    """A hex HMAC-SHA256 of the raw body with the gateway's shared secret."""
    return signature_matches(body, signature, secret=settings.AVIS_SMS_HTTP_SECRET)


def signature_matches(body: bytes, signature: str, *, secret: str) -> bool:
    """A hex HMAC-SHA256 of the raw body with ``secret`` (``sha256=`` prefix allowed); no secret, no match."""
    if not secret or not signature:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = signature.strip().lower().removeprefix("sha256=")
    return hmac.compare_digest(expected.encode(), given.encode())


def _items(body: bytes, content_type: str) -> list[Mapping[str, Any]]:
    """The webhook's records: a JSON object, a JSON list of objects, or a form."""
    if "json" in content_type:
        data = json.loads(body)
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(item, Mapping) for item in items):
            raise ValueError("expected a JSON object or a list of objects")
        return items
    return [dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def read_receipts(body: bytes, content_type: str) -> list[Receipt]:
    fields = RECEIPT_FIELDS | settings.AVIS_SMS_HTTP_RECEIPT_FIELDS
    receipts = []
    for item in _items(body, content_type):
        message_id = _text(dig(item, fields["id"]))
        status = _text(dig(item, fields["status"]))
        if not message_id or not status:
            raise ValueError(f"a receipt needs {fields['id']!r} and {fields['status']!r}")
        receipts.append(Receipt(message_id, status, _text(dig(item, fields["error_code"]))))
    return receipts


def read_inbound(body: bytes, content_type: str) -> list[Inbound]:
    fields = INBOUND_FIELDS | settings.AVIS_SMS_HTTP_INBOUND_FIELDS
    messages = []
    for item in _items(body, content_type):
        sender = _text(dig(item, fields["from"]))
        if not sender:
            raise ValueError(f"an inbound message needs {fields['from']!r}")
        messages.append(
            Inbound(
                provider_message_id=_text(dig(item, fields["id"])),
                sender=sender,
                recipient=_text(dig(item, fields["to"])),
                text=_text(dig(item, fields["text"])),
            )
        )
    return messages


class HttpGatewayProvider:
    """The gateway as ``AVIS_SMS_HTTP_*`` describes it, read when the provider is made (once per batch).

    An organisation with its own gateway account gives its URL, the value of
    the Authorization header and its sender; the shape of the request and of
    the reply (template, id path, fields) stays the installation's.
    """

    name = "http"
    channel = "sms"

    def __init__(self, config: ChannelConfig = INSTANCE) -> None:
        own = config.sms_provider == self.name
        self.url = config.http_url if own else settings.AVIS_SMS_HTTP_URL
        self.method = settings.AVIS_SMS_HTTP_METHOD
        self.body_template, self.body_format = (
            settings.AVIS_SMS_HTTP_BODY_TEMPLATE,
            settings.AVIS_SMS_HTTP_BODY_FORMAT,
        )
        self.headers = dict(settings.AVIS_SMS_HTTP_HEADERS)
        if own:
            self.headers.pop("Authorization", None)  # the installation's credentials stay its own
            if config.http_authorization:
                self.headers["Authorization"] = config.http_authorization
        self.sender = config.sms_sender or settings.AVIS_SMS_SENDER
        self.timeout, self.id_path = settings.AVIS_SMS_TIMEOUT, settings.AVIS_SMS_HTTP_ID_PATH

    def send(self, envelope: Envelope) -> str:
        body = render_body(
            self.body_template,
            {
                "to": envelope.recipient,
                "text": envelope.text,
                "sender": self.sender,
                "idempotency_key": envelope.idempotency_key,
            },
        )
        headers = dict(self.headers)
        if envelope.idempotency_key:
            # A resend after a timeout carries the same key: the gateway can drop the duplicate.
            headers["Idempotency-Key"] = envelope.idempotency_key
        request: dict[str, Any] = {"headers": headers, "timeout": self.timeout}
        if self.method == "GET":
            request["params"] = body
        elif self.body_format == "form":
            request["data"] = body
        else:
            headers.setdefault("Content-Type", "application/json")
            request["content"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            response = _http().request(self.method, self.url, **request)
        except httpx.HTTPError as exc:
            raise TransientFailure(f"gateway unreachable: {exc!r}") from exc
        if response.is_success:
            return self._message_id(response, envelope)
        detail = f"gateway HTTP {response.status_code}: {response.text[:300]}"
        if response.status_code in _RETRY_LATER or response.status_code >= 500:
            raise TransientFailure(detail)
        raise PermanentFailure(detail)

    def _message_id(self, response: httpx.Response, envelope: Envelope) -> str:
        """The gateway's id for the message, or our idempotency key when it gives none.

        Gateways that answer without an id usually echo a reference of ours in
        their receipts; send ``{idempotency_key}`` as that reference and leave
        AVIS_SMS_HTTP_ID_PATH empty.
        """
        path = self.id_path
        if not path:
            return envelope.idempotency_key
        try:
            found = dig(response.json(), path)
        except ValueError:
            found = None
        if found is None or found == "":
            logger.warning(
                "gateway accepted %s but its reply has no %r; receipts will not find it",
                envelope.idempotency_key,
                path,
            )
            return envelope.idempotency_key
        return str(found)
