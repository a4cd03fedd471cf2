"""Issue 14 for automation: the same set-up as on screen, by a script, over real HTTP.

`avis createorg` and `avis apikey` make the organisation and its key; then
everything goes through the API: touchpoint, survey with a condition
(published), channels on the simulator, contact policy, a colleague invited
(who joins through the link of the email), interactions, cases. Files have no
endpoint: they go through `avis import`, as a script would run it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from avis.interactions.models import Interaction
from tests.conftest import Mailbox
from tests.e2e.self_service import (
    BAD_CUSTOMER_LINE,
    BAD_DATE_LINE,
    BAD_TOUCHPOINT_LINE,
    avis,
    customers_file,
    interactions_file,
    plain_text,
)
from tests.factories import interaction_payload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CODE = "workshop.visit"
COLLEAGUE = "claire@garage-martin.example"


def link_in(message) -> str:  # noqa: ANN001
    return re.search(r"https?://\S+/s/[\w-]+", plain_text(message)).group(0)  # type: ignore[union-attr]


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def join_with(browser: httpx.Client, link: str) -> None:
    page = browser.get(link)
    assert page.status_code == 200, page.text
    password = "un mot de passe solide"
    joined = browser.post(
        link, data={"csrfmiddlewaretoken": csrf_of(page), "password": password, "password_again": password}
    )
    assert joined.status_code in (200, 302), joined.text


def test_a_script_sets_a_company_up_through_the_api_and_gets_its_first_answer(
    live_server, settings, smtp_server: Mailbox, tmp_path: Path
) -> None:  # noqa: ANN001
    settings.AVIS_BASE_URL = live_server.url
    avis(
        "createorg",
        "Garage Martin",
        "--admin-email",
        "gerant@garage-martin.example",
        "--admin-password",
        "x" * 12,
    )
    key = avis("apikey", "garage-martin", "--name", "script").stdout.strip()
    api = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    # Before anything, an interaction is refused: the touchpoint doesn't exist.
    first = interaction_payload("live-0", touchpoint=CODE, occurred_at=timezone.now() - timedelta(minutes=5))
    refused = api.post("/api/v1/interactions", json=first)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "touchpoint"

    # The touchpoint; a bad code first, refused with its reason.
    bad = api.post("/api/v1/touchpoints", json={"code": "Passage Atelier", "name": {"fr": "Passage"}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "code"
    made = api.post(
        "/api/v1/touchpoints",
        json={"code": CODE, "name": {"fr": "Passage à l'atelier", "en": "Workshop visit"}},
    )
    assert made.status_code == 201, made.text

    # Its survey, with a question asked only of unhappy customers, published.
    survey_with_a_condition(api)

    # The SMS channel on the simulator, the email sender's name.
    channels = api.put(
        "/api/v1/channels",
        json={"sms_provider": "simulator", "sms_sender": "GARAGE", "email_sender_name": "Garage Martin"},
    )
    assert channels.status_code == 200, channels.text

    # A colleague, invited; the link of the email lets her choose a password and join.
    invited = api.post("/api/v1/team/invitations", json={"email": COLLEAGUE, "role": "analyst"})
    assert invited.status_code == 201, invited.text
    (invitation,) = smtp_server.to(COLLEAGUE)
    join_with(httpx.Client(timeout=60), re.search(r"https?://\S+/join/\S+", plain_text(invitation)).group(0))  # type: ignore[union-attr]
    assert {m["email"]: m["role"] for m in api.get("/api/v1/team").json()["members"]}[COLLEAGUE] == "analyst"

    # The contact policy: surveys may leave at any hour, any day.
    policy = api.put(
        "/api/v1/policy",
        json={"send_from": "00:00", "send_until": "00:00", "send_on_sunday": True, "send_on_holidays": True},
    )
    assert policy.status_code == 200, policy.text

    # The files, with the command line: three bad rows reported with their lines, the rest imported.
    customers = tmp_path / "clients.csv"
    customers.write_bytes(customers_file())
    history = tmp_path / "historique.csv"
    history.write_bytes(interactions_file(code=CODE, now=timezone.now()))
    done = avis("import", "customers", str(customers), "--organisation", "garage-martin", "--yes")
    assert f"line {BAD_CUSTOMER_LINE}, column Portable" in done.stdout
    done = avis("import", "interactions", str(history), "--organisation", "garage-martin", "--yes")
    assert f"line {BAD_TOUCHPOINT_LINE}, column Étape" in done.stdout
    assert f"line {BAD_DATE_LINE}, column Date" in done.stdout
    assert Interaction.objects.filter(external_id__startswith="H-").count() == 4998
    assert api.get("/api/v1/customers/C-0001/contact-history").json()["pressure"]

    # The first live interaction: decided, invited by email.
    live = interaction_payload(
        "live-1",
        touchpoint=CODE,
        customer="C-NEW",
        email="nouveau.client@example.fr",
        phone=None,
        occurred_at=timezone.now() - timedelta(minutes=3),
    )
    reply = api.post("/api/v1/interactions", json=live)
    assert reply.status_code == 200, reply.text
    assert reply.json()["decision"]["outcome"] == "invite", reply.json()

    # The customer answers (the respondent page is the customer's interface, posted over HTTP).
    (email,) = smtp_server.to("nouveau.client@example.fr")
    answer_unhappily(httpx.Client(timeout=60), link_in(email))

    # The case, and the answers in it.
    (case,) = api.get("/api/v1/cases").json()
    assert "detractor" in case["reasons"]
    detail = api.get(f"/api/v1/cases/{case['id']}").json()
    answers = {a["question"]: a for a in detail["answers"]}
    assert answers["nps"]["number"] == 3
    check_follow_up(answers)


def survey_with_a_condition(api: httpx.Client) -> None:
    """The library's four questions; the comment only when NPS ≤ 6; published as version 1."""
    made = api.post("/api/v1/surveys", json={"touchpoint": CODE, "name": "Après l'atelier"})
    assert made.status_code == 201, made.text
    survey = made.json()["id"]
    # A condition on a question that comes later is refused, with the field at fault.
    wrong = api.patch(
        f"/api/v1/surveys/{survey}",
        json={"questions": {"nps": {"condition": {"question": "comment", "at_most": 6}}}},
    )
    assert wrong.status_code == 422
    patched = api.patch(
        f"/api/v1/surveys/{survey}",
        json={"questions": {"comment": {"condition": {"question": "nps", "at_most": 6}}}},
    )
    assert patched.status_code == 200, patched.text
    published = api.post(f"/api/v1/surveys/{survey}/publish")
    assert published.status_code == 201, published.text
    assert published.json()["number"] == 1


def answer_unhappily(browser: httpx.Client, link: str) -> None:
    """An NPS of 3: the page then asks for a comment (only unhappy customers are asked), which is sent.

    The page takes no CSRF token (its address is the credential); it names the questions it showed.
    """
    page = browser.get(link)
    assert page.status_code == 200
    assert 'id="q-comment"' not in page.text
    unhappy = {"nps": "3", "resolved": "no"}
    asked = browser.post(link, data={"shown": shown_in(page), **unhappy})
    assert 'id="q-comment"' in asked.text, "an unhappy answer brings the comment question"
    sent = browser.post(
        link, data={"shown": shown_in(asked), **unhappy, "comment": "Le délai était trop long."}
    )
    assert sent.status_code == 200, sent.text


def shown_in(page: httpx.Response) -> str:
    return re.search(r'name="shown" value="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]


def check_follow_up(answers: dict[str, dict[str, object]]) -> None:
    assert answers["comment"]["text"] == "Le délai était trop long."
