"""A manager handles a case end to end in Chromium: it appears by itself, is taken, the
customer is contacted with one click from the live list, and the outcome is recorded."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import APIRequestContext, Page, expect

from avis.cases.models import Case
from avis.surveys.models import Invitation
from tests.factories import PASSWORD, OrganisationSetup, interaction_payload
from tests.helpers import answer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_takes_contacts_and_closes_a_case_without_reloading_the_list(
    site: str, org: OrganisationSetup, http_api: APIRequestContext, desk: Page
) -> None:
    desk.goto(f"{site}/login/")
    desk.locator("#id_username").fill(org.manager_email)
    desk.locator("#id_password").fill(PASSWORD)
    desk.locator("#id_password").press("Enter")
    expect(desk).not_to_have_url(re.compile(r"/login/"))
    desk.goto(f"{site}/cases/")
    rows = desk.locator("#case-rows tr[data-case]")
    expect(rows).to_have_count(0)
    desk.evaluate("window.openedOnce = true")  # gone if the page is reloaded

    recently = (timezone.now() - timedelta(minutes=5)).isoformat()
    payload = interaction_payload("evt-live", customer="C-42", occurred_at=recently)
    reply = http_api.post("/api/v1/interactions", data=payload)
    assert reply.status == 200, reply.text()
    token = Invitation.objects.get(interaction__external_id="evt-live").token
    assert answer(token, nps="2", resolved="no", comment="Toujours rien depuis mardi").status_code == 200

    row = rows.filter(has_text="C-42")
    expect(row).to_be_visible(timeout=10_000)
    expect(row).to_contain_text("Toujours rien depuis mardi")
    assert desk.evaluate("window.openedOnce") is True, "the list was reloaded instead of updated"
    case = Case.objects.get()

    # One click from the list to take it, one to say the customer has been called back.
    row.locator(f'form[action$="/cases/{case.id}/take"] button').click()
    expect(row).to_contain_text(org.manager_email)
    row.locator(f'form[action$="/cases/{case.id}/contacted"] button').click()
    expect(row.locator(f'form[action$="/cases/{case.id}/contacted"]')).to_have_count(0)
    assert desk.evaluate("window.openedOnce") is True
    case.refresh_from_db()
    assert case.status == "contacted" and case.first_contact_at is not None

    row.get_by_role("link", name=str(case.id)).click()
    desk.locator("#outcome").select_option("retained")
    desk.locator("#resolve-note").fill("Geste commercial, client rassuré")
    desk.locator(f'form[action$="/cases/{case.id}/resolve"] button').click()
    expect(desk.locator("ol.timeline li[data-kind=resolved]")).to_contain_text("Geste commercial")
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("resolved", "retained")
    assert case.assigned_to.username == org.manager_email
    assert [e.kind for e in case.events.all()] == ["opened", "taken", "contacted", "resolved"]
