"""The whole loop in a real browser: a customer answers on a phone, a manager sees the case arrive.

The same journey as tests/e2e/test_whole_loop.py, but through Chromium: the
link comes from an email caught by a real SMTP server, the customer taps on a
390×844 touch screen, and the manager's case list updates itself by polling.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone, translation
from playwright.sync_api import APIRequestContext, Locator, Page, expect

from tests.conftest import Mailbox
from tests.factories import PASSWORD, OrganisationSetup, interaction_payload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Apple and WCAG 2.5.5 both ask for targets of at least 44 × 44 CSS pixels.
SMALLEST_TAP = 44


def french(text: str) -> str:
    """What the page shows a French customer, whether or not the catalogue translates it yet."""
    with translation.override("fr"):
        return translation.gettext(text)


def link_in(message) -> str:  # noqa: ANN001
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            found = re.search(r"https?://\S+/s/[\w-]+", part.get_payload(decode=True).decode())
            assert found, "no survey link in the email"
            return found.group(0)
    raise AssertionError("no plain-text part")


def invite_by_email(api: APIRequestContext, mailbox: Mailbox, external_id: str, **payload: Any) -> str:
    """Record one interaction through the API; return the survey link from the email it caused."""
    address = payload.setdefault("email", "marie.dupont@example.fr")
    payload.setdefault("occurred_at", timezone.now() - timedelta(minutes=5))
    reply = api.post("/api/v1/interactions", data=interaction_payload(external_id, **payload))
    assert reply.status == 200, reply.text()
    assert reply.json()["decision"]["outcome"] == "invite", reply.json()
    (email,) = mailbox.to(address)
    return link_in(email)


def sign_in(page: Page, site: str, email: str) -> None:
    page.goto(f"{site}/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    expect(page).not_to_have_url(re.compile(r"/login/"))


def question(page: Page, prompt_start: str) -> Locator:
    """A question is a fieldset named by its legend: the prompt stored in the survey, in French."""
    return page.get_by_role("group", name=re.compile("^" + re.escape(prompt_start)))


def scrolls_sideways(page: Page) -> bool:
    # Not window.innerWidth: a mobile browser zooms out to fit a too-wide page,
    # and innerWidth grows with it. The root's clientWidth stays the screen's.
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


def test_customer_answers_on_a_phone_and_the_case_appears_on_the_managers_open_list(
    site: str,
    org: OrganisationSetup,
    http_api: APIRequestContext,
    smtp_server: Mailbox,
    phone: Page,
    desk: Page,
    artifacts: Path,
) -> None:
    sign_in(desk, site, org.manager_email)
    desk.goto(f"{site}/cases/")
    rows = desk.locator("#case-rows tr[data-case]")
    expect(rows).to_have_count(0)
    # Survives only if the page is never reloaded: the new row must come from htmx.
    desk.evaluate("window.openedOnce = true")

    link = invite_by_email(http_api, smtp_server, "evt-phone", customer="C-1")
    nps = {"metric": "nps", "period": "month"}
    assert http_api.get("/api/v1/metrics", params=nps).json() == []

    opened = phone.goto(link)
    assert opened is not None and opened.status == 200
    expect(phone.locator("html")).to_have_attribute("lang", "fr")
    expect(question(phone, "Recommanderiez-vous")).to_be_visible()
    phone.screenshot(path=artifacts / "respondent-phone.png", full_page=True)

    assert not scrolls_sideways(phone)
    targets = phone.locator("label.tap").evaluate_all(
        "labels => labels.map(l => { const r = l.getBoundingClientRect(); return [r.width, r.height]; })"
    )
    assert len(targets) == 11 + 3 + 5 + 1  # NPS 0–10, three resolutions, CSAT 1–5, "not applicable"
    # A scale keeps its points on one row (tests/browser/test_phone_first.py): 11 points share the
    # width, each at least WCAG 2.2's 24 px wide; every target keeps a finger's height.
    assert min(h for _w, h in targets) >= SMALLEST_TAP, targets
    assert min(w for w, _h in targets) >= 24, targets
    wide = phone.locator("label.tap.wide").evaluate_all("ls => ls.map(l => l.getBoundingClientRect().width)")
    assert min(wide) >= SMALLEST_TAP, wide
    comment = question(phone, "Voulez-vous nous en dire plus").get_by_role("textbox")
    # Below 16px, phones zoom into the field when it takes focus.
    assert comment.evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 16

    question(phone, "Recommanderiez-vous").get_by_role("radio", name="3", exact=True).tap()
    question(phone, "Votre demande a-t-elle été réglée").get_by_role("radio", name="Non", exact=True).tap()
    agent = question(phone, "Indépendamment du résultat")
    agent.get_by_role("radio", name=re.compile("^Sans objet")).tap()
    expect(agent.get_by_role("radio", checked=True)).to_have_value("na")
    comment.tap()
    comment.fill("Ma box rame toujours.")
    with phone.expect_response(lambda r: r.request.method == "POST") as posted:
        phone.get_by_role("button", name=french("Send my answers")).tap()
    assert posted.value.status == 200
    expect(phone.get_by_role("heading", level=1)).to_have_text(french("Thank you!"))
    expect(phone.get_by_role("radio")).to_have_count(0)
    assert not scrolls_sideways(phone)
    phone.screenshot(path=artifacts / "thanks-phone.png", full_page=True)

    # The table body polls every 3 s; the row must arrive on the page already open.
    row = rows.filter(has_text="C-1")
    expect(row).to_be_visible(timeout=10_000)
    expect(row).to_contain_text("Appel au service client")  # the touchpoint's name, not its code
    assert desk.evaluate("window.openedOnce") is True, "the case list was reloaded instead of updated"
    desk.screenshot(path=artifacts / "cases-live.png", full_page=True)

    (case,) = http_api.get("/api/v1/cases").json()
    assert set(case["reasons"]) == {"detractor", "not_resolved"}
    assert len(smtp_server.to(org.manager_email)) == 1
    (metric,) = http_api.get("/api/v1/metrics", params=nps).json()
    assert (metric["n"], metric["value"]) == (1, -100.0)

    again = phone.goto(link)
    assert again is not None and again.status == 410
    expect(phone.get_by_role("heading", level=1)).to_have_text(french("You have already answered"))
    expect(phone.get_by_role("radio")).to_have_count(0)


def test_survey_can_be_answered_with_the_keyboard_alone(
    site: str, http_api: APIRequestContext, smtp_server: Mailbox, desk: Page, artifacts: Path
) -> None:
    page = desk
    page.goto(invite_by_email(http_api, smtp_server, "evt-keys", customer="C-2"))

    # Sending nothing: the error summary takes the focus, and its link leads back to the question.
    page.keyboard.press("Tab")  # NPS
    page.keyboard.press("Tab")  # resolved
    page.keyboard.press("Tab")  # agent
    page.keyboard.press("Tab")  # comment
    page.keyboard.press("Tab")  # send
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.keyboard.press("Enter")
    assert refused.value.status == 422
    expect(page.locator("#errors")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_attribute("name", "nps")

    # The radio is invisible; its visible box must show where the focus is.
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement.nextElementSibling);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert ring[0] != "none" and ring[1] >= 2, ring
    page.screenshot(path=artifacts / "keyboard-focus.png")

    page.keyboard.press("ArrowRight")  # 0 → 1
    page.keyboard.press("ArrowRight")  # 1 → 2
    page.keyboard.press("Tab")  # resolved: "yes" takes the focus
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # agent: 1
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")
    page.keyboard.type("Tout au clavier.")
    page.keyboard.press("Tab")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.keyboard.press("Enter")
    assert sent.value.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text(french("Thank you!"))

    (case,) = http_api.get("/api/v1/cases").json()
    detail = http_api.get(f"/api/v1/cases/{case['id']}").json()
    answers = {a["question"]: a for a in detail["answers"]}
    assert answers["nps"]["number"] == 2
    assert answers["resolved"]["choice"] == "yes"
    assert answers["agent"]["number"] == 4
    assert answers["comment"]["text"] == "Tout au clavier."
    assert case["reasons"] == ["detractor"]
