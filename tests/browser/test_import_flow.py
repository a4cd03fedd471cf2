"""In a real browser: a file of past interactions uploaded, its columns mapped, dry run read, confirmed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from avis.customers import import_jobs
from avis.customers.models import DataImport
from avis.governance.models import Decision
from avis.interactions.models import Interaction
from tests.browser.test_respondent_flow import sign_in
from tests.factories import OrganisationSetup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# As Excel in French saves "CSV (séparateur: point-virgule)": Windows-1252, CRLF.
HISTORY = (
    "Réf;Étape;Quand;Client;Portable;Agence\r\n"
    "H-1;call_center.call;02/11/2025 14:05;C-1;06 12 34 56 78;lyon\r\n"
    "H-2;branch.visit;03/11/2025 09:00;C-2;06 12 34 56 70;paris\r\n"
    "H-3;branch.visit;03/11/2025 09:00;C-3;07 00 00 00 00;paris\r\n"
    "H-4;claim.settled;04/11/2025 17:45;C-1;06 12 34 56 78;lyon\r\n"
).encode("cp1252")


@pytest.fixture
def worker_apart() -> Iterator[None]:
    """Tasks wait in the queue, as with a real worker: the test plays the worker's part."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False
    try:
        yield
    finally:
        HUEY.immediate = True


def test_an_admin_maps_checks_and_confirms_an_import_while_the_page_follows_the_worker(
    desk: Page, site: str, org: OrganisationSetup, worker_apart: None
) -> None:
    sign_in(desk, site, org.admin_email)
    desk.goto(f"{site}/imports/")
    desk.locator('input[name="kind"][value="interactions"]').check()
    desk.locator("#import-file").set_input_files(
        files=[{"name": "historique.csv", "mimeType": "text/csv", "buffer": HISTORY}]
    )
    desk.locator("#upload button[type=submit]").click()

    # The columns were guessed from their names (French ones included); "Quand" needs a hand.
    expect(desk.locator('select[data-column="Étape"]')).to_have_value("touchpoint")
    expect(desk.locator('select[data-column="Portable"]')).to_have_value("phone")
    expect(desk.locator('select[data-column="Agence"]')).to_have_value("team")
    expect(desk.locator("#mapping")).to_contain_text("06 12 34 56 78 · 06 12 34 56 70")
    desk.locator('select[data-column="Réf"]').select_option("external_id")
    desk.locator('select[data-column="Quand"]').select_option("occurred_at")
    desk.locator('select[data-column="Client"]').select_option("customer_id")
    desk.locator("#mapping button[type=submit]").click()

    progress = desk.locator("#import-progress")
    expect(progress).to_be_visible()
    data_import = DataImport.objects.get(organisation=org.organisation)
    import_jobs.check_import(import_id=data_import.id)  # the worker's dry run

    # The page, polling, finds the dry run done and shows it: nothing written yet.
    expect(desk.locator("#report")).to_contain_text("3", timeout=10_000)
    expect(desk.locator("#bad-rows")).to_contain_text("Portable")
    expect(desk.locator("#bad-rows")).to_contain_text("4")
    assert not Interaction.objects.filter(organisation=org.organisation).exists()

    desk.locator("#confirm button").click()
    expect(progress).to_be_visible()
    import_jobs.run_import(import_id=data_import.id)  # the worker's import

    expect(desk.locator("#confirm")).to_have_count(0, timeout=10_000)
    expect(desk.locator("#report")).to_be_visible()
    assert set(
        Interaction.objects.filter(organisation=org.organisation).values_list("external_id", flat=True)
    ) == {
        "H-1",
        "H-2",
        "H-4",
    }
    assert Decision.objects.filter(organisation=org.organisation, reason="contact_only").count() == 3
