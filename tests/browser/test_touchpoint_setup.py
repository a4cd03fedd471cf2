"""In a real browser: a brand-new organisation's admin follows the checklist to a first touchpoint."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from avis.accounts.models import Organisation
from avis.accounts.services import create_api_key
from tests.browser.test_respondent_flow import sign_in
from tests.factories import PASSWORD, interaction_payload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN = "admin@garage-martin.example"


def test_a_new_admin_creates_copies_and_archives_a_touchpoint_from_the_checklist(
    desk: Page, site: str, playwright
) -> None:  # noqa: ANN001
    call_command(
        "createorg", "Garage Martin", "--admin-email", ADMIN, "--admin-password", PASSWORD, stdout=StringIO()
    )
    desk.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    sign_in(desk, site, ADMIN)

    steps = desk.locator("#setup-steps li")
    expect(steps).to_have_count(6)
    expect(desk.locator('[data-step="touchpoints"]')).to_have_class("setup-step missing")
    desk.locator('[data-step="touchpoints"] a').click()

    # A code with capitals and a space, and no name: both fields say why, and what was typed stays.
    desk.locator("#tp-code").fill("Passage Atelier")
    desk.get_by_role("button", name="Créer le point de contact").click()
    expect(desk.locator("#tp-code-error")).to_contain_text("lettres minuscules")
    expect(desk.locator("#tp-name-fr-error")).to_be_visible()
    expect(desk.locator("#tp-code")).to_have_value("Passage Atelier")

    desk.locator("#tp-code").fill("workshop.visit")
    desk.locator("#tp-name-fr").fill("Passage à l'atelier")
    desk.get_by_role("button", name="Créer le point de contact").click()

    expect(desk).to_have_url(f"{site}/settings/touchpoints/workshop.visit/")
    expect(desk.locator("#curl-example")).to_contain_text('"touchpoint": "workshop.visit"')
    secret = desk.locator("#webhook-secret").input_value()
    assert secret.startswith("whsec_")
    copy = desk.locator('button[data-copy="curl-example"]')
    copy.click()
    expect(copy).to_have_text("Copié")
    assert "workshop.visit" in desk.evaluate("navigator.clipboard.readText()")

    desk.get_by_role("button", name="Renouveler le secret").click()
    expect(desk.locator("#webhook-secret")).not_to_have_value(secret)

    desk.get_by_role("button", name="Archiver ce point de contact").click()
    expect(desk.get_by_text("Archivé : les nouvelles interactions sont refusées")).to_be_visible()

    organisation = Organisation.objects.get(slug="garage-martin")
    _, key = create_api_key(organisation=organisation, name="CRM")
    api = playwright.request.new_context(base_url=site, extra_http_headers={"Authorization": f"Bearer {key}"})
    refused = api.post(
        "/api/v1/interactions",
        data=interaction_payload("first", touchpoint="workshop.visit", occurred_at=timezone.now()),
    )
    assert refused.status == 422
    assert "workshop.visit" in refused.json()["message"]
    api.dispose()

    desk.goto(f"{site}/")
    expect(desk.locator('[data-step="touchpoints"]')).to_have_class("setup-step missing")
    desk.locator('[data-step="touchpoints"] a').click()
    desk.get_by_role("link", name="Passage à l'atelier").click()
    desk.get_by_role("button", name="Rétablir ce point de contact").click()
    desk.goto(f"{site}/")
    expect(desk.locator('[data-step="touchpoints"]')).to_have_class("setup-step done")
