"""Phone first: every scale on one row from a 320 px screen up, on the survey page and in the e-mail.

The survey page works without JavaScript, so the layout is CSS alone and is checked with
JavaScript off; the e-mail is the HTML part avis really sent (real SMTP server), opened
in Chromium at the same widths.
"""

from __future__ import annotations

from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Browser, Locator, Page

from avis.interactions.services import create_touchpoint
from avis.surveys.services import create_standard_survey
from tests.browser.test_respondent_flow import invite_by_email, question
from tests.conftest import Mailbox
from tests.factories import OrganisationSetup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# WCAG 2.2 (2.5.8, target size minimum) asks 24 × 24 CSS px; a scale point is at least that wide
# on the narrowest phone and keeps the 44 px height Apple and WCAG 2.5.5 ask for.
NARROWEST_TAP = 24
TALLEST_FINGER = 44
WIDTHS = (320, 360, 375)


def _screen(width: int, *, javascript: bool = True) -> dict[str, Any]:
    return {
        "viewport": {"width": width, "height": 740},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "locale": "fr-FR",
        "timezone_id": "Europe/Paris",
        "java_script_enabled": javascript,
    }


def boxes(points: Locator) -> list[dict[str, float]]:
    return points.evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,"
        " width: r.width, height: r.height}; })"
    )


def assert_one_row(found: list[dict[str, float]], count: int, *, height: float, what: str) -> None:
    assert len(found) == count, (what, found)
    tops = {round(box["top"]) for box in found}
    assert len(tops) == 1, f"{what}: the points sit on {len(tops)} rows: {found}"
    assert all(a["right"] <= b["left"] + 0.5 for a, b in zip(found, found[1:], strict=False)), what
    assert min(box["width"] for box in found) >= NARROWEST_TAP, (what, found)
    assert min(box["height"] for box in found) >= height, (what, found)


def page_width_fits(page: Page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url}: {scroll} px of content on a {width} px screen"


def html_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no HTML part")


@pytest.fixture
def effort_survey(org: OrganisationSetup) -> OrganisationSetup:
    """A touchpoint whose survey also asks the customer's effort, 1 to 7."""
    chat = create_touchpoint(organisation=org.organisation, code="web.chat", name_fr="Chat", name_en="Chat")
    create_standard_survey(organisation=org.organisation, touchpoint=chat, ask_effort=True)
    return org


@pytest.mark.parametrize("width", WIDTHS)
def test_every_scale_of_the_survey_page_is_one_row_on_a_phone_without_javascript(
    width: int,
    effort_survey: OrganisationSetup,
    http_api: APIRequestContext,
    smtp_server: Mailbox,
    browser: Browser,
    artifacts: Path,
) -> None:
    link = invite_by_email(
        http_api, smtp_server, f"evt-{width}", touchpoint="web.chat", email=f"c{width}@example.fr"
    )
    context = browser.new_context(**_screen(width, javascript=False))
    page = context.new_page()
    page.goto(link)
    page.screenshot(path=artifacts / f"respondent-scales-{width}.png", full_page=True)
    page_width_fits(page, width)
    for prompt, count in (
        ("Recommanderiez-vous", 11),  # 0–10
        ("Indépendamment du résultat", 5),  # 1–5
        ("Était-ce facile", 7),  # 1–7
    ):
        scale = question(page, prompt).locator(".scale label.tap")
        assert_one_row(boxes(scale), count, height=TALLEST_FINGER, what=f"{prompt} at {width} px")
        # Every number is inside its own box, not cut or spilling into the next one.
        for label in scale.all():
            assert label.locator("span").evaluate("s => s.scrollWidth <= s.clientWidth"), label.inner_text()
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_invitation_emails_0_to_10_row_fits_a_phone(
    width: int,
    org: OrganisationSetup,
    http_api: APIRequestContext,
    smtp_server: Mailbox,
    browser: Browser,
    artifacts: Path,
) -> None:
    address = f"mail{width}@example.fr"
    invite_by_email(http_api, smtp_server, f"evt-mail-{width}", email=address)
    (message,) = smtp_server.to(address)
    context = browser.new_context(**_screen(width))
    page = context.new_page()
    page.set_content(html_part(message))
    page.screenshot(path=artifacts / f"invitation-email-{width}.png", full_page=True)
    page_width_fits(page, width)
    points = page.locator("table[role=presentation] a")
    assert points.all_inner_texts() == [str(n) for n in range(11)]
    assert_one_row(boxes(points), 11, height=NARROWEST_TAP, what=f"e-mail at {width} px")
    context.close()
