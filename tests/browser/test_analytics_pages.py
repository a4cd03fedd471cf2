"""A manager reads the figures in Chromium: n and interval, greyed below the minimum, fair views, comments."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from avis.analytics.services import update_analytics_settings
from tests.analytics.answering import survey_and_answer
from tests.browser.test_respondent_flow import french, sign_in
from tests.helpers import open_all_day

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def answered(org):  # noqa: ANN001, ANN201
    """Six calls to Lyon's agent, enough for a figure (minimum 5); two branch visits in Paris, too few."""
    update_analytics_settings(organisation=org.organisation, min_n=5)
    open_all_day(org.organisation)  # the invitations leave at once, at 03:00 on a Sunday too
    at = timezone.now() - timedelta(hours=3)  # invitations are really sent here: not expired
    survey_and_answer(
        org,
        at,
        [10, 9, 9, 8, 3, 10],
        agent="A-1",
        team="lyon",
        agent_scores=["5", "4", "5", "4", "2", "5"],
        comments=["Très bien reçu", "", "", "", "Attente interminable, rappelez le 06 12 34 56 78", ""],
    )
    survey_and_answer(
        org,
        at,
        [10, 2],
        "branch.visit",
        agent="A-2",
        team="paris",
        agent_scores=["5", "1"],
        comments=["", ""],
    )
    return org


def row(page: Page, table: str, header: str):  # noqa: ANN201
    return page.locator(f"{table} tbody tr").filter(
        has=page.get_by_role("rowheader", name=header, exact=True)
    )


def test_manager_reads_figures_filters_them_and_opens_the_fair_view_and_comments(
    answered,  # noqa: ANN001
    site: str,
    desk: Page,
) -> None:
    sign_in(desk, site, answered.manager_email)
    desk.get_by_role("link", name=french("Figures"), exact=True).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(french("Figures"))

    # Enough answers: the figure with its interval and n, at full strength.
    # Touchpoints by their names in the reader's language (tests/factories.py), not their codes.
    calls = row(desk, "#summary", "Appel au service client")
    expect(calls).to_contain_text("n=6")
    expect(calls.locator(".estimate").first).to_contain_text("[")
    expect(calls.locator(".estimate.unreliable")).to_have_count(0)
    # Too few: still shown with its interval, but greyed, and the reason on hover.
    visits = row(desk, "#summary", "Visite en agence")
    greyed = visits.locator(".estimate.unreliable").first
    expect(greyed).to_be_visible()
    expect(greyed).to_contain_text("n=2")
    expect(greyed).to_contain_text("[")
    expect(greyed).to_have_css("opacity", "0.5")
    expect(greyed).to_have_attribute(
        "title", french("Fewer answers than the minimum: read the interval, not the figure.")
    )

    # A filter by team or site: only Paris's answers remain.
    desk.get_by_label(french("Team or site"), exact=True).select_option("paris")
    desk.get_by_label(french("Metric"), exact=True).select_option("response_rate")
    desk.locator("form[method=get] button").click()
    expect(desk).to_have_url(re.compile(r"team=paris"))
    expect(desk.locator("#summary")).not_to_contain_text("Appel au service client")
    expect(row(desk, "#summary", "Visite en agence")).to_contain_text("n=2")
    expect(desk.get_by_role("heading", name=re.compile(re.escape(french("Response rate"))))).to_have_count(2)
    expect(desk.locator("figure.chart svg[role=img]")).to_be_visible()

    # The metrics page: every value with its interval, its n and the method, in words.
    desk.goto(f"{site}/metrics/?metric=nps")
    expect(desk.locator("main")).to_contain_text(french("adjusted Wald interval"))
    expect(desk.locator("table.metrics tbody .estimate.unreliable").first).to_contain_text("n=2")

    # The fair view: a funnel plot, no league table, nobody judged on two answers.
    desk.goto(f"{site}/analytics/")
    desk.get_by_role("link", name=french("Agents (fair view)"), exact=True).click()
    expect(desk.locator("figure.chart svg[role=img]")).to_be_visible()
    label = desk.locator("figure.chart svg[role=img]").get_attribute("aria-label") or ""
    assert re.search(r"99[.,]8", label)  # the outer limits, named for a screen reader
    few = desk.locator("#fair tbody tr.unreliable")
    expect(few).to_have_count(1)
    expect(few).to_contain_text(french("too few answers to judge"))
    expect(desk.locator("#fair tbody tr")).to_have_count(2)

    # The comments: masked, and filtered like the figures.
    desk.get_by_role("link", name=french("Comments"), exact=True).click()
    comments = desk.locator("table.comments tbody")
    expect(comments).to_contain_text("Attente interminable")
    expect(desk.locator("main")).not_to_contain_text("06 12 34 56 78")
