"""A manager reads the comments in Chromium: filters by label, sees no phone number, opens the case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.analytics.test_comments import respond
from tests.browser.test_respondent_flow import french, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_filters_negative_comments_and_opens_the_case(org, site: str, desk: Page) -> None:  # noqa: ANN001
    respond(
        org,
        [
            {"nps": "1", "resolved": "no", "comment": "Personne ne rappelle, scandaleux. Mon 06 12 34 56 78"},
            {"nps": "10", "resolved": "yes", "comment": "Conseillère très aimable, merci 😀"},
        ],
        at=timezone.now() - timedelta(hours=3),  # invitations are really sent here: not expired
    )
    sign_in(desk, site, org.manager_email)
    desk.goto(f"{site}/analytics/comments/")
    table = desk.locator("table.comments tbody")
    expect(table.locator("tr")).to_have_count(2)
    expect(desk.locator("main")).not_to_contain_text("06 12 34 56 78")

    # Every filter is reachable by its label, as a screen reader announces it.
    desk.get_by_label(french("Sentiment"), exact=True).select_option("negative")
    desk.locator("form[method=get] button").click()
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text("Personne ne rappelle")

    table.locator("a[href*='/cases/']").click()
    expect(desk.locator("main")).to_contain_text("Personne ne rappelle")
    assert "/cases/" in desk.url
