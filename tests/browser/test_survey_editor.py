"""In a real browser: one "ê" or "’" typed in a survey's text makes its SMS dearer; one click undoes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from avis.surveys.models import Question, Survey
from tests.browser.test_respondent_flow import sign_in
from tests.factories import OrganisationSetup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("typed", "offending", "in_gsm7"),
    [
        (" Merci d’avance !", "’", " Merci d'avance !"),
        (" Même un mot nous aide.", "ê", " Meme un mot nous aide."),
    ],
)
def test_a_character_outside_gsm7_is_flagged_and_the_gsm7_version_brings_one_segment_back(
    desk: Page, site: str, org: OrganisationSetup, typed: str, offending: str, in_gsm7: str
) -> None:
    survey = Survey.objects.get(organisation=org.organisation, touchpoint=org.touchpoints["call_center.call"])
    saved = Question.objects.get(version=survey.current_version, code="nps").prompt["fr"]
    sign_in(desk, site, org.admin_email)
    desk.goto(f"{site}/settings/surveys/")
    desk.get_by_role("link", name=survey.name).click()
    group = desk.locator("#sms-nps-fr")
    prompt = group.locator("textarea")
    expect(group.locator('[data-field="encoding"]')).to_have_text("GSM-7")
    expect(group.locator('[data-field="segments"]')).to_have_text("1")

    prompt.press("Control+End")
    prompt.press_sequentially(typed, delay=20)  # typed, not pasted: the preview follows each input

    expect(group.locator('[data-field="encoding"]')).to_have_text("UCS-2")
    expect(group.locator(".warning")).to_contain_text(offending)
    segments = int(group.locator('[data-field="segments"]').inner_text())
    assert segments > 1
    expect(group.locator('[data-field="sms"]')).to_contain_text(typed.strip())

    group.locator("button.use-gsm7").click()

    expect(group.locator('[data-field="encoding"]')).to_have_text("GSM-7")
    expect(group.locator('[data-field="segments"]')).to_have_text("1")
    expect(group.locator("textarea")).to_have_value(saved + in_gsm7)
    expect(group.locator(".warning")).to_have_count(0)

    # The rewritten group is live again: typing still updates its preview.
    group.locator("textarea").press_sequentially("’", delay=20)
    expect(group.locator('[data-field="encoding"]')).to_have_text("UCS-2")
