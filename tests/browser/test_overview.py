"""Issue 16's "done when": the demo's manager reads the overview on 2 December, in French and in English,
on a 1366 px desk and a 375 px phone: the figures are there, the periods named, nothing overflows
sideways, and each figure opens its detail.

2 December is two days into a month: the overview used to show only "this month", every figure
greyed, no previous period, no trend and no chart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import formats, translation
from playwright.sync_api import Page, expect

from avis.dashboard.demo.company import DEMO_PASSWORD, MANAGER_EMAIL, TOUCHPOINTS
from avis.dashboard.demo.generator import LoadReport, drop_demo, load_demo
from tests.browser.conftest import _watched
from tests.dashboard.test_overview import TODAY, live_morning

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS: dict[str, dict[str, Any]] = {
    "desk": {"viewport": {"width": 1366, "height": 900}},
    "phone": {
        "viewport": {"width": 375, "height": 812},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
LOCALES = {"fr": "fr-FR", "en": "en-GB"}


@pytest.fixture
def demo_site(live_server, settings) -> Iterator[tuple[str, LoadReport]]:  # noqa: ANN001
    """Mutuelle Horizon as `avis demo` leaves it, served on a real port, on 2 December at 09:30."""
    with time_machine.travel(TODAY, tick=True):
        report = load_demo(customers=200, interactions=1500, seed=7, barometer=False)
        live_morning(report)
        settings.AVIS_BASE_URL = live_server.url
        yield live_server.url, report
        drop_demo(report.organisation)


def said(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


def month(language: str, year: int, number: int) -> str:
    from datetime import date

    with translation.override(language):
        return formats.date_format(date(year, number, 1), "YEAR_MONTH_FORMAT")


def sign_in(page: Page, site: str) -> None:
    page.goto(f"{site}/login/")
    page.locator("#id_username").fill(MANAGER_EMAIL)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("#id_password").press("Enter")
    expect(page).not_to_have_url(re.compile(r"/login/"))


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide in a {width[1]} px window"


def test_the_manager_reads_the_overview_in_both_languages_on_both_screens(
    demo_site: tuple[str, LoadReport],
    new_context,  # noqa: ANN001
    csp_violations: list[str],
    artifacts: Path,
) -> None:
    site, _report = demo_site
    for language, locale in LOCALES.items():
        november, october, december = (month(language, 2026, m) for m in (11, 10, 12))
        names = [tp.name_fr if language == "fr" else tp.name_en for tp in TOUCHPOINTS]
        for screen, options in SCREENS.items():
            context = new_context(**options, locale=locale, timezone_id="Europe/Paris")
            page = _watched(context.new_page(), csp_violations)
            sign_in(page, site)
            page.goto(f"{site}/")
            expect(page.get_by_role("heading", level=1)).to_have_text(said(language, "Overview"))

            # The periods named: November judged against October, December so far.
            periods = page.locator("#periods")
            for name in (november, october, december):
                expect(periods).to_contain_text(name, ignore_case=True)  # a sentence's first word
            expect(page.locator("#headline-title")).to_contain_text(november)

            # The figures present: each headline with its interval and n, the open cases.
            tiles = page.locator("#headline .tile")
            expect(tiles).to_have_count(4)
            for label in ("NPS", "Resolution rate", "Response rate"):
                tile = tiles.filter(has=page.get_by_role("heading", name=said(language, label), exact=True))
                expect(tile.locator(".figure .estimate")).to_contain_text("n=")
                expect(tile.locator(".figure .estimate")).to_contain_text("[")
            expect(page.locator("#open-cases .figure")).to_have_text(re.compile(r"^\d+$"))
            nps = page.locator("#figures-nps")
            for name in names:
                expect(nps.get_by_role("rowheader", name=name, exact=True)).to_be_visible()
            expect(nps).to_contain_text(said(language, "All touchpoints"))
            expect(page.locator("#cases-by-severity tbody tr")).to_have_count(4)
            expect(page.locator("#pressure-figures tbody tr")).to_have_count(2)

            # The trend: one panel per touchpoint, drawn on the server, fitting the screen.
            panels = page.locator("#trend svg")
            expect(panels).to_have_count(len(names))
            for name in names:
                expect(page.locator("#trend .panel").filter(has_text=name)).to_be_visible()
            for index in range(len(names)):
                box = panels.nth(index).bounding_box()
                assert box and box["width"] <= options["viewport"]["width"]

            no_sideways_scroll(page)
            page.screenshot(path=artifacts / f"overview-{language}-{screen}.png", full_page=True)

            # Each figure opens its detail: November's NPS of all touchpoints, then the open cases.
            everything = nps.locator("tr.all")
            everything.locator("td").first.get_by_role("link").click()
            expect(page).to_have_url(re.compile(r"metric=nps.*since=2026-11-01.*until=2026-11-30"))
            expect(page.get_by_role("heading", level=1)).to_have_text(said(language, "Figures"))
            page.go_back()
            page.locator("#open-cases .figure a").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(said(language, "Cases"))
            page.go_back()
            page.locator("#pressure-figures tbody tr").first.get_by_role("link").first.click()
            expect(page).to_have_url(re.compile(r"contact-pressure/.*since=2026-11-01"))
            expect(page.get_by_role("heading", level=1)).to_have_text(said(language, "Contact pressure"))
            context.close()
