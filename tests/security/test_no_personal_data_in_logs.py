"""A realistic flow (interactions in, invitations sent by email and SMS through the console providers,
survey pages opened, bad tokens and unknown customers asked for) writes none of the customers' phone
numbers, e-mails, survey tokens or ids to the log, as the configured handler writes it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.test import Client

from avis.logs import RedactPersonalData, redact
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Invitation
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = [
    # (external id, email, phone as given, phone as stored)
    ("CUST-4711-DUPONT", "marie.dupont@example.fr", None, None),
    ("CUST-4712-MARTIN", None, "06 98 76 54 32", "+33698765432"),
]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The text the configured console handler (with its filters) writes, for the test's duration."""
    root = logging.getLogger()
    handler = next(h for h in root.handlers if any(isinstance(f, RedactPersonalData) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        handler.setStream(previous)
        root.setLevel(level)


def test_a_whole_flow_logs_no_phone_email_token_or_customer_id(org, api, settings, log_lines) -> None:
    settings.AVIS_EMAIL_PROVIDER = "console"
    settings.AVIS_SMS_PROVIDER = "console"
    open_all_day(org.organisation)
    for number, (customer, email, phone, _) in enumerate(CUSTOMERS):
        reply = post_interaction(api, f"evt-{number}", customer=customer, email=email, phone=phone)
        assert reply.status_code == 200, reply.content
    assert OutboundMessage.objects.filter(status="sent").count() == len(CUSTOMERS)
    tokens = list(Invitation.objects.values_list("token", flat=True))
    assert len(tokens) == len(CUSTOMERS)
    visitor = Client()
    for token in tokens:
        assert visitor.get(f"/s/{token}").status_code == 200
        assert visitor.get(f"/s/{token}x").status_code == 404  # Django logs "Not Found: <path>"
    for customer, *_ in CUSTOMERS:
        api.get(f"/api/v1/customers/{customer}-unknown/contact-history")
    api.get("/api/v1/customers/CUST-4711-DUPONT/contact-history")

    text = log_lines.getvalue()
    assert "email to m•••@example.fr" in text and "sms to +33•••32" in text, text
    assert "Not Found: /s/…" in text, text
    secrets = [token for token in tokens]
    for customer, email, phone, stored in CUSTOMERS:
        secrets += [value for value in (customer, email, phone, stored) if value]
    secrets += ["0698765432", "698765432"]
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, f"{leaked} in the log:\n{text}"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Not Found: /s/AbC123xyz", "Not Found: /s/…"),
        (
            "Unprocessable Entity: /api/v1/customers/C-42/opt-out",
            "Unprocessable Entity: /api/v1/customers/…/opt-out",
        ),
        ("opt-out from +33612345678, who is no customer", "opt-out from [phone], who is no customer"),
        ("to 06 12 34 56 78 and marie@example.fr", "to [phone] and [email]"),
        ("GET /messaging/simulator/?phone=%2B33612345678", "GET /messaging/simulator/?…"),
        ("backup at 2026-12-02 13:15:10 took 2.4 s", "backup at 2026-12-02 13:15:10 took 2.4 s"),
    ],
)
def test_redaction_keeps_the_line_readable(line: str, expected: str) -> None:
    assert redact(line) == expected
