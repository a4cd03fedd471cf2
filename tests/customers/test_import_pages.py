"""The import pages: upload, map, dry run, confirm; refused files; other organisations and roles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from avis.customers.models import ColumnMapping, Customer, DataImport
from avis.interactions.models import Interaction
from tests.factories import PASSWORD, OrganisationSetup

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
HISTORY = (
    "Réf;Étape;Quand;Client;Portable;Remarque\r\n"
    "H-1;call_center.call;02/11/2026 14:05;C-1;06 12 34 56 78;rappel\r\n"
    "H-2;branch.visit;03/11/2026 09:00;C-2;06 12 34 56 70;\r\n"
    "H-3;branch.visit;03/11/2026 25:00;C-3;;\r\n"
).encode("cp1252")


def signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


@pytest.fixture
def admin(org: OrganisationSetup) -> Client:
    return signed_in(org.admin_email)


def upload(client: Client, name: str, content: bytes, kind: str = "interactions"):  # noqa: ANN201
    return client.post("/imports/", {"kind": kind, "file": SimpleUploadedFile(name, content)})


def test_an_upload_is_mapped_checked_then_imported_once_confirmed(
    admin: Client, org: OrganisationSetup, django_capture_on_commit_callbacks
) -> None:
    uploaded = upload(admin, "historique.csv", HISTORY)
    assert uploaded.status_code == 302
    page = admin.get(uploaded["Location"])
    assert "06 12 34 56 78" in page.content.decode()  # the first values beside each column
    data_import = DataImport.objects.get(organisation=org.organisation)
    mapping = {
        "column-0": "external_id",
        "column-1": "touchpoint",
        "column-2": "occurred_at",
        "column-3": "customer_id",
        "column-4": "phone",
        "column-5": "attribute",
    }

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        admin.post(f"/imports/{data_import.id}/", mapping)

    report = admin.get(f"/imports/{data_import.id}/").content.decode()
    assert "Dry run: nothing written yet" in report
    assert "03/11/2026 25:00" in report
    assert not Interaction.objects.filter(organisation=org.organisation).exists()

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        admin.post(f"/imports/{data_import.id}/confirm")
        admin.post(f"/imports/{data_import.id}/confirm")  # a second click imports nothing more

    data_import.refresh_from_db()
    assert data_import.status == "done"
    assert data_import.report["counts"]["interactions_created"] == 2
    assert data_import.report["bad_rows"] == [[4, "Quand", "'03/11/2026 25:00' is not a real date"]]
    assert Interaction.objects.filter(organisation=org.organisation).count() == 2
    assert Interaction.objects.get(external_id="H-1").attributes == {"Remarque": "rappel"}
    # The next file of this kind is offered the same mapping.
    remembered = ColumnMapping.objects.get(organisation=org.organisation, kind="interactions")
    assert remembered.columns["Quand"] == "occurred_at"


def test_a_mapping_without_a_required_field_is_refused_and_nothing_runs(
    admin: Client, org: OrganisationSetup
) -> None:
    uploaded = upload(admin, "clients.csv", b"id;tel\nC-1;06 12 34 56 78\n", kind="customers")
    data_import = DataImport.objects.get(organisation=org.organisation)

    response = admin.post(uploaded["Location"], {"column-0": "", "column-1": "phone"})

    assert response.status_code == 422
    assert "Map a column to Customer id." in response.content.decode()
    data_import.refresh_from_db()
    assert data_import.status == "uploaded"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.pdf", b"%PDF-1.4", "notes.pdf is neither a CSV nor an XLSX file."),
        ("table.xlsx", b"not a zip", "table.xlsx is not an Excel workbook."),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "photo.csv is not a text file."),
    ],
)
def test_a_file_that_is_not_a_spreadsheet_is_refused_with_its_reason(
    admin: Client, org: OrganisationSetup, name: str, content: bytes, message: str
) -> None:
    response = upload(admin, name, content)

    assert response.status_code == 422
    assert message in response.content.decode()
    assert not DataImport.objects.exists()


def test_a_file_above_the_limit_is_refused_before_it_is_stored(
    admin: Client, org: OrganisationSetup, settings
) -> None:  # noqa: ANN001
    settings.IMPORT_MAX_MB = 1

    response = upload(admin, "big.csv", b"id\n" + b"C-123456\n" * 200_000)

    assert response.status_code == 413
    assert "the limit is 1 MB" in response.content.decode() or "larger than 1 MB" in response.content.decode()
    assert not DataImport.objects.exists()
    assert not any(settings.IMPORT_DIR.glob("*/*"))


def test_another_organisation_cannot_see_or_confirm_an_import(
    admin: Client, org: OrganisationSetup, other_org: OrganisationSetup
) -> None:
    upload(admin, "clients.csv", b"id\nC-1\n", kind="customers")
    data_import = DataImport.objects.get(organisation=org.organisation)
    stranger = signed_in(other_org.admin_email)

    assert stranger.get(f"/imports/{data_import.id}/").status_code == 404
    assert stranger.get(f"/imports/{data_import.id}/progress").status_code == 404
    assert stranger.post(f"/imports/{data_import.id}/confirm").status_code == 404
    assert "clients.csv" not in stranger.get("/imports/").content.decode()


def test_only_administrators_import(org: OrganisationSetup) -> None:
    manager = signed_in(org.manager_email)

    assert manager.get("/imports/").status_code == 403
    assert upload(manager, "clients.csv", b"id\nC-1\n", kind="customers").status_code == 403
    assert not Customer.objects.exists()
