"""``avis import``: a French Excel file in, a dry run first, bad rows reported, nothing twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from avis.customers.models import Customer, OptOut
from avis.governance.models import Decision
from avis.governance.queries import contact_pressure
from avis.interactions.models import Interaction
from avis.surveys.models import Invitation
from tests.factories import OrganisationSetup
from tests.messaging.conftest import database_url

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)

CUSTOMERS = """Numéro client;Téléphone;E-mail;Langue;Segment;Désinscrit
C-1;06 12 34 56 78;marie.dupont@example.fr;fr;or;
C-2;07 00 00 00 00;jean@example.fr;fr;argent;
C-3;+33 6 11 22 33 44;;en;or;sms
;06 12 34 56 79;x@example.fr;;;
C-4;06 98 76 54 32;élodie@exemple;fr;;
"""

INTERACTIONS = """id;point de contact;date;client;téléphone;conseiller;agence;durée
E-1;call_center.call;02/11/2026 14:05;C-1;06 12 34 56 78;A-1;lyon;120
E-2;branch.visit;03/11/2026 09:00;C-9;06 12 34 56 70;A-2;paris;30
E-3;nope.step;03/11/2026 09:00;C-9;;;;
E-4;branch.visit;31/02/2026 09:00;C-9;;;;
E-5;claim.settled;2026-11-04T10:00:00+01:00;C-1;;;;
E-6;call_center.call;02/01/2027 10:00;C-1;;;;
E-1;call_center.call;02/11/2026 14:05;C-1;06 12 34 56 78;A-1;lyon;120
"""


def run(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("import", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "cp1252"], ids=["utf-8", "utf-8 with BOM", "Excel's Windows-1252"]
)
def test_a_french_excel_file_of_customers_is_checked_then_imported_keeping_the_good_rows(
    org: OrganisationSetup, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(CUSTOMERS.replace("\n", "\r\n").encode(encoding))
    slug = org.organisation.slug

    checked = run("customers", str(path), "--organisation", slug, "--dry-run")

    assert not Customer.objects.filter(organisation=org.organisation).exists()
    assert "2  customers to create" in checked
    assert "3  bad rows (skipped)" in checked
    assert "line 3, column Téléphone: '07 00 00 00 00' is not a valid phone number for FR" in checked
    assert "line 5, column Numéro client: this cell is empty" in checked
    assert "line 6, column E-mail: 'élodie@exemple' is not an email address" in checked

    imported = run("customers", str(path), "--organisation", slug, "--yes")

    assert "2  customers created" in imported
    customers = {c.external_id: c for c in Customer.objects.filter(organisation=org.organisation)}
    assert set(customers) == {"C-1", "C-3"}
    assert customers["C-1"].phone == "+33612345678"
    assert customers["C-1"].attributes == {"Segment": "or"}
    assert customers["C-3"].locale == "en"
    assert list(OptOut.objects.filter(customer=customers["C-3"]).values_list("channel", "source")) == [
        ("sms", "import")
    ]


def test_past_interactions_count_toward_contact_pressure_and_never_invite(
    org: OrganisationSetup, tmp_path: Path
) -> None:
    path = tmp_path / "history.csv"
    path.write_text(INTERACTIONS, encoding="utf-8")

    output = run("interactions", str(path), "--organisation", org.organisation.slug, "--yes")

    assert "3  interactions created" in output
    assert "line 4, column point de contact: unknown touchpoint 'nope.step'" in output
    assert "line 5, column date: '31/02/2026 09:00' is not a real date" in output
    assert "line 7, column date: 02/01/2027 10:00 is in the future" in output
    marie = Customer.objects.get(organisation=org.organisation, external_id="C-1")
    first = Interaction.objects.get(organisation=org.organisation, external_id="E-1")
    # 02/11/2026 is the 2nd of November, 14:05 in Paris.
    assert first.occurred_at == datetime(2026, 11, 2, 13, 5, tzinfo=UTC)
    assert first.attributes == {"durée": "120"}
    assert (first.agent.external_id, first.team.code) == ("A-1", "lyon")
    assert contact_pressure(organisation=org.organisation, customer=marie, now=NOW) == {30: 1, 90: 2, 365: 2}
    assert set(Decision.objects.filter(organisation=org.organisation).values_list("outcome", "reason")) == {
        ("skip", "contact_only")
    }
    assert not Invitation.objects.filter(organisation=org.organisation).exists()


def test_importing_the_same_file_again_creates_nothing(org: OrganisationSetup, tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(INTERACTIONS, encoding="utf-8")
    run("interactions", str(path), "--organisation", org.organisation.slug, "--yes")
    counts = (Interaction.objects.count(), Customer.objects.count(), Decision.objects.count())

    again = run("interactions", str(path), "--organisation", org.organisation.slug, "--yes")

    assert "0  interactions created" in again
    assert "4  interactions already there" in again
    assert (Interaction.objects.count(), Customer.objects.count(), Decision.objects.count()) == counts


def test_an_import_touches_only_its_own_organisation(
    org: OrganisationSetup, other_org: OrganisationSetup, tmp_path: Path
) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    run("customers", str(path), "--organisation", other_org.organisation.slug, "--yes")
    history = tmp_path / "history.csv"
    history.write_text(INTERACTIONS, encoding="utf-8")

    run("interactions", str(history), "--organisation", org.organisation.slug, "--yes")
    run("customers", str(path), "--organisation", org.organisation.slug, "--yes")

    theirs = Customer.objects.get(organisation=other_org.organisation, external_id="C-1")
    assert theirs.attributes == {"Segment": "or"}
    assert not Interaction.objects.filter(organisation=other_org.organisation).exists()
    assert not Decision.objects.filter(organisation=other_org.organisation).exists()
    ours = Customer.objects.get(organisation=org.organisation, external_id="C-1")
    assert ours.id != theirs.id
    assert Interaction.objects.filter(organisation=org.organisation, customer=ours).count() == 2


def test_an_excel_workbook_with_date_cells_and_numbers_as_phones_is_read(
    org: OrganisationSetup, tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["external_id", "touchpoint", "occurred_at", "customer_id", "phone"])
    sheet.append(["X-1", "branch.visit", datetime(2026, 10, 5, 9, 30), "C-7", 612345678])
    sheet.append(["X-2", "branch.visit", "05/10/2026 10:30", 1234, None])
    path = tmp_path / "history.xlsx"
    book.save(path)

    run("interactions", str(path), "--organisation", org.organisation.slug, "--yes")

    visit = Interaction.objects.get(organisation=org.organisation, external_id="X-1")
    assert visit.occurred_at == datetime(2026, 10, 5, 7, 30, tzinfo=UTC)
    assert visit.customer.phone == "+33612345678"
    assert (
        Interaction.objects.get(organisation=org.organisation, external_id="X-2").customer.external_id
        == "1234"
    )


def test_the_mapping_given_once_is_remembered_for_the_next_file(
    org: OrganisationSetup, tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("ref,portable,statut\nK-1,06 12 34 56 78,vip\n", encoding="utf-8")
    slug = org.organisation.slug
    run(
        "customers",
        str(path),
        "--organisation",
        slug,
        "--yes",
        "--map",
        "ref=external_id",
        "--map",
        "statut=",
    )
    path.write_text("ref,portable,statut\nK-2,06 12 34 56 79,vip\n", encoding="utf-8")

    run("customers", str(path), "--organisation", slug, "--yes")

    second = Customer.objects.get(organisation=org.organisation, external_id="K-2")
    assert (second.phone, second.attributes) == ("+33612345679", {})


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("report.pdf", b"%PDF-1.4", "report.pdf is neither a CSV nor an XLSX file."),
        ("old.xls", b"\xd0\xcf\x11\xe0", "old.xls is an old Excel file (.xls): save it as .xlsx or as CSV."),
        ("fake.xlsx", b"id;name\n", "fake.xlsx is not an Excel workbook."),
        ("binary.csv", b"\x00\x01\x02\x03", "binary.csv is not a text file."),
        ("empty.csv", b"", "empty.csv is empty: it has no header row."),
        ("nomap.csv", b"foo;bar\n1;2\n", "Map a column to Customer id."),
        ("huge.csv", b"id\nC-1\n" + b"x" * 2_000_000 + b"\n", "Line 3 of huge.csv cannot be read as CSV"),
        ("charts.xlsx", "chart sheet", "charts.xlsx cannot be read as an Excel workbook"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_with_its_reason(
    org: OrganisationSetup, tmp_path: Path, name: str, content: bytes | str, message: str
) -> None:
    path = tmp_path / name
    if content == "chart sheet":
        book = Workbook()
        book.create_chartsheet(index=0)
        book.save(path)
    else:
        path.write_bytes(content)

    with pytest.raises(CommandError, match=re.escape(message)):
        run("customers", str(path), "--organisation", org.organisation.slug, "--yes")

    assert not Customer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_line_checks_without_writing_and_refuses_to_import_unconfirmed(
    org: OrganisationSetup, tmp_path: Path
) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    env = os.environ | {"DATABASE_URL": database_url()}
    command = [str(Path(sys.executable).parent / "avis"), "import", "customers", str(path)]
    command += ["--organisation", org.organisation.slug]

    checked = subprocess.run(command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)

    assert checked.returncode == 1
    assert "2  customers to create" in checked.stdout
    assert "Nothing written. Run again with --yes to import." in checked.stderr
    assert not Customer.objects.exists()

    imported = subprocess.run([*command, "--yes"], env=env, capture_output=True, text=True)

    assert imported.returncode == 0, imported.stderr
    assert Customer.objects.filter(organisation=org.organisation).count() == 2


def test_a_customer_on_rows_of_many_chunks_is_updated_only_where_the_file_changes_them(
    org: OrganisationSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from avis.customers import imports

    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)  # a chunk of two rows: C-1 is on five chunks
    lines = ["id;point de contact;date;client;téléphone;langue"]
    phones = ["06 12 34 56 78"] * 6 + ["06 98 76 54 32"] * 2 + ["06 12 34 56 78"] * 2
    for number, phone in enumerate(phones, start=1):
        lines.append(f"E-{number};call_center.call;0{1 + number % 9}/11/2026 14:05;C-1;{phone};fr")
    path = tmp_path / "history.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    output = run("interactions", str(path), "--organisation", org.organisation.slug, "--yes")

    # Created by the first chunk, changed by the fourth, changed back by the fifth.
    assert "1  customers created" in output
    assert "2  customers updated" in output
    marie = Customer.objects.get(organisation=org.organisation, external_id="C-1")
    assert marie.phone == "+33612345678"
    assert Interaction.objects.filter(customer=marie).count() == 10
    assert Decision.objects.filter(customer=marie, reason="contact_only").count() == 10
