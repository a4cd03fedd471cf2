"""In a real browser: an analyst builds a survey from the library, with a condition, watches the mobile
page, the email and the SMS conversation follow what is typed, publishes, and a customer on a phone
sees the follow-up appear only when their score calls for it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from avis.accounts.models import Role
from avis.accounts.services import add_member
from avis.surveys.models import Invitation, Survey
from tests.browser.test_respondent_flow import sign_in
from tests.factories import PASSWORD, OrganisationSetup
from tests.helpers import post_interaction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# htmx round trips to a live server on a busy machine: more than the 5 s default.
SLOW = 15_000
FOLLOW_UP = "Qu’aurions-nous dû faire pour votre {touchpoint} ?"


def test_an_analyst_designs_previews_and_publishes_and_the_phone_follows_the_condition(
    desk: Page,
    phone: Page,
    site: str,
    org: OrganisationSetup,
    api,  # noqa: ANN001
) -> None:
    analyst = "analyst@example.fr"
    add_member(organisation=org.organisation, email=analyst, role=Role.ANALYST, password=PASSWORD)
    survey = Survey.objects.get(organisation=org.organisation, touchpoint__code="call_center.call")
    sign_in(desk, site, analyst)
    desk.goto(f"{site}/settings/surveys/{survey.id}/")
    previews = desk.locator("#previews")
    # Four questions by SMS: flagged.
    expect(previews.locator('[data-field="sms-too-long"]')).to_be_visible(timeout=SLOW)

    # Trim to two questions, then add a free text from the library (htmx swaps the designer in place).
    desk.locator('button[value="remove:agent"]').click()
    expect(desk.locator("#question-agent")).to_have_count(0, timeout=SLOW)
    desk.locator('button[value="remove:comment"]').click()
    expect(desk.locator("#question-comment")).to_have_count(0, timeout=SLOW)
    expect(previews.locator('[data-field="sms-too-long"]')).to_have_count(0, timeout=SLOW)
    desk.locator('button[data-kind="text"]').click()
    question = desk.locator("#question-comment")
    expect(question).to_be_visible(timeout=SLOW)

    # Its wording, with the touchpoint's name, shows at once on the phone page, in the SMS and its cost.
    prompt = question.locator("#sms-comment-fr textarea")
    prompt.fill("")
    prompt.press_sequentially(FOLLOW_UP, delay=10)
    shown = "Qu’aurions-nous dû faire pour votre Appel au service client ?"
    expect(previews.locator('[data-preview="page"]')).to_contain_text(shown, timeout=SLOW)
    expect(previews.locator('[data-preview="sms"]')).to_contain_text(shown, timeout=SLOW)
    expect(question.locator('#sms-comment-fr [data-field="encoding"]')).to_have_text("UCS-2", timeout=SLOW)
    expect(previews.locator("iframe[data-preview='email']")).to_have_count(1)

    # Asked only to detractors: the condition shows in the page preview.
    question.locator("select").select_option("nps<=")
    question.locator('input[type="number"]').fill("6")
    condition = previews.locator('[data-code="comment"] [data-condition]')
    expect(condition).to_contain_text("nps ≤ 6", timeout=SLOW)

    desk.locator('button[value="publish"]').click()
    # "version 2", not merely a 2: the date of version 1 has one too (a test that raced on PostgreSQL).
    expect(desk.locator('[data-field="state"]')).to_contain_text("version 2", timeout=SLOW)

    # A promoter on the phone sees two questions; a detractor sees the follow-up appear (htmx).
    assert post_interaction(api, "evt-phone").status_code == 200
    invitation = Invitation.objects.get()
    assert invitation.version.number == 2
    phone.goto(f"{site}/s/{invitation.token}")
    expect(phone.locator("#q-comment")).to_have_count(0, timeout=SLOW)
    phone.locator('label:has(input[name="nps"][value="3"])').click()
    expect(phone.locator("#q-comment")).to_contain_text(shown, timeout=SLOW)
    phone.locator('label:has(input[name="nps"][value="9"])').click()
    expect(phone.locator("#q-comment")).to_have_count(0, timeout=SLOW)
