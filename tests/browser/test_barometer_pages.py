"""In a real browser: an analyst sets a barometer up and watches the expected margins move as the
goal changes (htmx), then a manager reads a closed wave's results on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from avis.barometers.models import Barometer
from avis.interactions.services import create_touchpoint
from avis.surveys.services import create_standard_survey
from tests.barometers.setup import region_base
from tests.barometers.test_wave_report import closed_wave  # noqa: F401 — the fixture
from tests.browser.test_respondent_flow import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_barometer_is_set_up_then_a_wave_read_by_a_manager(
    desk: Page,
    phone: Page,
    site: str,
    org,  # noqa: ANN001
    closed_wave,  # noqa: ANN001, F811
    csp_violations: list[str],
) -> None:
    region_base(org.organisation, {"nord": 300, "sud": 200})
    touchpoint = create_touchpoint(
        organisation=org.organisation, code="barometer.relation", name_fr="Relation", name_en="Relationship"
    )
    survey = create_standard_survey(organisation=org.organisation, touchpoint=touchpoint, ask_effort=True)

    sign_in(desk, site, org.admin_email)
    desk.goto(f"{site}/barometers/")
    desk.locator("a[href='/barometers/new/']").first.click()
    desk.locator("#name_fr").fill("Baromètre relation")
    desk.locator("#survey_id").select_option(str(survey.id))
    desk.locator("[name=scope-attr-0]").fill("contract")
    desk.locator("[name=scope-op-0]").select_option("equals")
    desk.locator("[name=scope-value-0]").fill("active")
    desk.locator("[name=stratum-attr-0]").fill("region")
    desk.locator("#expected_response_rate").fill("50")
    desk.locator("#margin").fill("20")
    desk.locator("#margin").blur()
    expect(desk.locator("#design-margin")).to_contain_text("20", timeout=15_000)
    wide = int(desk.locator("#design-sample").inner_text())
    # A tighter goal needs more customers; an impossible one is refused in words.
    desk.locator("#margin").fill("10")
    desk.locator("#margin").blur()
    expect(desk.locator("#design-sample")).not_to_have_text(str(wide), timeout=15_000)
    assert int(desk.locator("#design-sample").inner_text()) > wide
    desk.locator("#margin").fill("0.5")
    desk.locator("#margin").blur()
    expect(desk.locator("#design-refusal")).to_be_visible(timeout=15_000)
    desk.locator("#margin").fill("10")
    desk.locator("#barometer-setup button.pill").click()
    expect(desk).to_have_url(re.compile(r"/barometers/\d+/$"))
    assert Barometer.objects.get(survey=survey).margin == 10

    sign_in(phone, site, org.manager_email)
    phone.goto(f"{site}/barometers/")
    phone.locator(f"a[href='/barometers/{closed_wave.barometer_id}/waves/{closed_wave.number}/']").click()
    expect(phone.locator("#wave-figures")).to_contain_text("n=5")
    expect(phone.locator("#weight-report")).to_be_visible()
    expect(phone.locator("#response-rates")).to_contain_text("RR1")
    # Phone first: nothing wider than the screen but the tables' own scrolling boxes.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert not csp_violations
