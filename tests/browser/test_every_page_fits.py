"""Every page on a desk (1366 px) and a phone (375 px): a screenshot each, nothing wider than the screen.

The screenshots land in test-artifacts/pages/ for a person to look through; the test fails
on a page whose content is wider than the screen (the reader would have to scroll sideways).
A table may scroll inside its own box; the page itself may not.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page

from avis.analytics.services import update_analytics_settings
from avis.cases.models import Case
from avis.surveys.models import Invitation, Survey
from tests.analytics.answering import survey_and_answer
from tests.browser.test_respondent_flow import sign_in
from tests.factories import OrganisationSetup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS: dict[str, dict[str, Any]] = {
    "desk": {"viewport": {"width": 1366, "height": 800}},
    "phone": {
        "viewport": {"width": 375, "height": 740},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}

# Every page a member reaches from the menus (an admin sees them all), with the id-bearing ones
# filled in from the data below.
PAGES = (
    "/",
    "/setup/",
    "/metrics/",
    "/decisions/",
    "/settings/policy/",
    "/settings/sampling/",
    "/analytics/",
    "/analytics/comments/",
    "/analytics/drivers/",
    "/analytics/people/",
    "/analytics/weighting/",
    "/analytics/contact-pressure/",
    "/analytics/closed-loop/",
    "/analytics/report/",
    "/analytics/settings/",
    "/cases/",
    "/cases/settings",
    "/cases/my-feedback",
    "/cases/effect",
    "/cases/{case}/",
    "/customers/{customer}/",
    "/settings/surveys/",
    "/settings/surveys/{survey}/",
    "/settings/channels/",
    "/settings/touchpoints/",
    "/settings/touchpoints/call_center.call/",
    "/governance/simulation/",
    "/imports/",
    "/messaging/simulator/",
    "/messaging/costs/",
    "/barometers/",
    "/barometers/new/",
    "/settings/audit/",
    "/settings/privacy/",
    "/settings/backups/",
    "/settings/api-keys/",
    "/settings/people/",
    "/profile/",
    "/profile/two-factor/",
    "/password/change/",
)
SIGNED_OUT = ("/login/", "/password/reset/", "/s/{token}")


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def fits(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.fixture
def lived(org: OrganisationSetup) -> dict[str, str]:
    """A few answers, a case, an open invitation: enough for every page to show its content."""
    update_analytics_settings(organisation=org.organisation, min_n=5)
    at = timezone.now() - timedelta(hours=3)
    survey_and_answer(
        org,
        at,
        [10, 9, 8, 3, 10, 6, None],
        agent_scores=["5", "4", "4", "2", "5", "3", ""],
        comments=["Très bien reçu", "", "", "J'attends toujours mon remboursement", "", "", ""],
    )
    case = Case.objects.filter(organisation=org.organisation).select_related("customer").first()
    survey = Survey.objects.filter(organisation=org.organisation).order_by("id").first()
    invitation = Invitation.objects.filter(organisation=org.organisation, response__isnull=True).first()
    return {
        "case": str(case.id),
        "customer": case.customer.external_id,
        "survey": str(survey.id),
        "token": invitation.token if invitation else "",
    }


@pytest.mark.parametrize("screen", list(SCREENS))
def test_every_page_fits_the_screen_and_is_photographed(
    screen: str,
    lived: dict[str, str],
    org: OrganisationSetup,
    site: str,
    browser: Browser,
    artifacts: Path,
) -> None:
    folder = artifacts / "pages"
    folder.mkdir(exist_ok=True)
    options = {**SCREENS[screen], "locale": "fr-FR", "timezone_id": "Europe/Paris"}
    width = options["viewport"]["width"]
    too_wide: list[str] = []

    def visit(page: Page, path: str) -> None:
        url = path.format(**lived)
        reply = page.goto(f"{site}{url}")
        assert reply is not None and reply.status < 400, (url, reply and reply.status)
        page.screenshot(path=folder / f"{slug(path)}-{width}.png", full_page=True)
        if (found := fits(page)) > width:
            culprits = page.evaluate(
                f"""() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > {width} + 1)
                .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > {width} + 1))
                .slice(0, 3)
                .map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').trim().slice(0, 40))"""
            )
            too_wide.append(f"{url}: {found} px {culprits}")

    context = browser.new_context(**options)
    page = context.new_page()
    for path in SIGNED_OUT:
        if "{token}" not in path or lived["token"]:
            visit(page, path)
    sign_in(page, site, org.admin_email)
    for path in PAGES:
        visit(page, path)
        if path == "/settings/surveys/{survey}/":
            # The designer's phone preview shows the 0–10 scale as the phone does: one row.
            tops = (
                page.locator(".scale-preview")
                .first.locator("span")
                .evaluate_all("spans => spans.map(s => Math.round(s.getBoundingClientRect().top))")
            )
            assert len(tops) == 11 and len(set(tops)) == 1, tops
    context.close()
    assert not too_wide, f"wider than the {width} px screen:\n" + "\n".join(too_wide)
