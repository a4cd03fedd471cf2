"""What a first visit meets, seen in Chromium: a skip's outcome is on screen, an error page is styled."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_respondent_flow import sign_in
from tests.dashboard.test_decisions_page import history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_skipped_decision_shows_its_outcome_on_screen(desk: Page, site: str, org) -> None:  # noqa: ANN001
    history(org)
    sign_in(desk, site, org.manager_email)
    desk.goto(f"{site}/decisions/?outcome=skip")
    tags = desk.locator("tbody .tag")
    expect(tags).to_have_count(3)
    for index in range(3):
        tag = tags.nth(index)
        expect(tag).to_be_in_viewport()  # the skip link's class once moved it 999 px off screen
        expect(tag).to_have_text("non sollicité : la quarantaine")


def test_a_refused_page_is_a_page_of_the_site(desk: Page, site: str, org) -> None:  # noqa: ANN001
    sign_in(desk, site, org.manager_email)
    reply = desk.goto(f"{site}/settings/people/")
    assert reply is not None and reply.status == 403
    expect(desk.get_by_role("navigation", name="Principal")).to_be_visible()
    expect(desk.locator("#error-reason")).to_have_text("Seuls les administrateurs peuvent ouvrir cette page.")
    assert (
        desk.locator(".error-page").evaluate("e => getComputedStyle(e).backgroundColor")
        == "rgb(255, 255, 255)"
    )
