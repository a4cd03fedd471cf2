"""In a real browser: a manager answers an SMS survey as the customer, in the simulator, without a reload."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.test_respondent_flow import sign_in
from tests.factories import OrganisationSetup, interaction_payload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_simulated_phone_carries_the_whole_sms_survey(
    desk: Page, site: str, org: OrganisationSetup, settings, http_api
) -> None:  # noqa: ANN001
    settings.AVIS_SMS_PROVIDER = "simulator"
    reply = http_api.post(
        "/api/v1/interactions",
        data=interaction_payload("sim-1", email=None, occurred_at=timezone.now() - timedelta(minutes=5)),
    )
    assert reply.status == 200, reply.text()
    assert reply.json()["decision"]["outcome"] == "invite", reply.json()
    sign_in(desk, site, org.manager_email)
    desk.goto(f"{site}/messaging/simulator/")
    thread = desk.locator("#thread")
    expect(thread).to_contain_text("Recommanderiez-vous")
    box = desk.locator("#reply-text")
    for text, next_text in [
        ("9 très bon accueil", "réglée"),
        ("oui", "interlocuteur"),
        ("5", "dire plus"),
        ("non", "Merci"),
    ]:
        box.fill(text)
        box.press("Enter")
        expect(thread).to_contain_text(next_text)
        expect(box).to_have_value("")  # htmx swapped the thread in place and reset the form
    assert desk.url.endswith("/messaging/simulator/")  # never left the page
