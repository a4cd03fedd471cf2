"""One interaction travels the whole way: API → decision → email → page → answer → case → metric."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import interaction_payload
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)


def link_in(message) -> str:  # noqa: ANN001
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode()
            return re.search(r"https?://\S+/s/[\w-]+", text).group(0)
    raise AssertionError("no plain-text part")


def test_unhappy_answer_travels_from_api_to_case_and_metric(org, api, smtp_server) -> None:
    open_all_day(org.organisation)
    occurred = timezone.now() - timedelta(minutes=5)
    reply = api.post(
        "/api/v1/interactions",
        interaction_payload("evt-1", occurred_at=occurred, email="marie.dupont@example.fr"),
        content_type="application/json",
    )
    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert body["decision"]["outcome"] == "invite"
    assert body["invitation"]["channel"] == "email"

    invitations = smtp_server.to("marie.dupont@example.fr")
    assert len(invitations) == 1
    email = invitations[0]
    assert email.is_multipart()
    assert {p.get_content_type() for p in email.walk()} >= {"text/plain", "text/html"}
    link = link_in(email)
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 22  # ≥ 128 bits in URL-safe base64

    before = api.get("/api/v1/metrics", {"metric": "nps", "period": "month"}).json()
    assert before == []

    respondent = Client()
    page = respondent.get(f"/s/{token}")
    assert page.status_code == 200
    assert "Recommanderiez-vous" in page.content.decode()  # the customer's locale is French
    answered = respondent.post(
        f"/s/{token}", {"nps": "3", "resolved": "no", "agent": "na", "comment": "Ma box rame toujours."}
    )
    assert answered.status_code == 200
    assert "Merci" in answered.content.decode()

    cases = api.get("/api/v1/cases").json()
    assert len(cases) == 1
    assert set(cases[0]["reasons"]) == {"detractor", "not_resolved"}
    assert cases[0]["customer"] == "C-1"

    alert = smtp_server.to(org.manager_email)
    assert len(alert) == 1, [m["To"] for m in smtp_server.messages]

    after = api.get("/api/v1/metrics", {"metric": "nps", "period": "month"}).json()
    assert len(after) == 1
    assert after[0]["n"] == 1
    assert after[0]["value"] == -100.0
    # One detractor: the figure is −100, but the interval says how little one answer tells.
    assert after[0]["ci_low"] < -50 and after[0]["ci_high"] > 0
    assert after[0]["reliable"] is False

    again = respondent.get(f"/s/{token}")
    assert again.status_code == 410
    assert "déjà répondu" in again.content.decode()
