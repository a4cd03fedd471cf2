"""One customer's export: everything held, the same from the API, the page and the command line;
admins only, one organisation's customers only."""

from __future__ import annotations

import json
import stat

import pytest
from django.core.management import call_command
from django.test import Client

from avis.audit.models import AuditEvent
from avis.cases.models import Case
from avis.cases.services import add_case_note
from avis.customers.services import opt_out_customer
from tests.privacy.conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def noted(org, marie):  # noqa: ANN001, ANN201
    case = Case.objects.get(customer=marie)
    add_case_note(organisation=org.organisation, case_id=case.id, user=None, note="Rappelée, client fidèle")
    opt_out_customer(
        organisation=org.organisation, external_id="C-MARIE", channel="email", source="phone call"
    )
    return marie


def test_the_api_export_holds_every_section_about_the_customer(api, noted) -> None:
    reply = api.get("/api/v1/customers/C-MARIE/export")
    assert reply.status_code == 200
    data = reply.json()
    assert data["customer"]["external_id"] == "C-MARIE"
    assert data["customer"]["phone"] == PHONE
    assert [(o["channel"], o["source"]) for o in data["opt_outs"]] == [("email", "phone call")]
    assert [i["external_id"] for i in data["interactions"]] == ["evt-1"]
    assert data["decisions"][0]["outcome"] == "invite" and data["decisions"][0]["explanation"]
    assert data["invitations"][0]["channel"] == "sms"
    assert any(m["text"] == "2 vraiment déçue par cet accueil" for m in data["messages"]["received"])
    assert all(m["recipient"] == PHONE for m in data["messages"]["sent"])
    (response,) = data["responses"]
    assert {a["question"]: a["number"] for a in response["answers"] if a["number"] is not None}["nps"] == 2
    assert [c["text"] for c in data["comments"]] == [
        "vraiment déçue par cet accueil / Personne ne rappelle jamais"
    ]
    (case,) = data["cases"]
    assert "Rappelée, client fidèle" in [e["note"] for e in case["timeline"]]
    assert AuditEvent.objects.filter(
        organisation=noted.organisation, action="customer.exported", object_id=str(noted.id)
    ).exists()
    # Nothing about another customer.
    assert "C-PAUL" not in reply.content.decode() and "paul@example.fr" not in reply.content.decode()


def test_another_organisation_cannot_export_our_customer(other_org, marie) -> None:
    other = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    reply = other.get("/api/v1/customers/C-MARIE/export")
    assert reply.status_code == 404
    assert reply.json()["code"] == "not_found"


def test_only_an_admin_exports_or_erases_with_a_session(manager, admin, marie) -> None:
    assert manager.get("/api/v1/customers/C-MARIE/export").status_code == 403
    assert manager.delete("/api/v1/customers/C-MARIE").status_code == 403
    assert manager.get("/settings/privacy/customer/", {"id": "C-MARIE"}).status_code == 403
    assert manager.get("/settings/privacy/").status_code == 403
    assert admin.get("/api/v1/customers/C-MARIE/export").status_code == 200


def test_the_page_reads_the_export_and_downloads_it_as_json(admin, api, noted) -> None:
    page = admin.get("/settings/privacy/customer/", {"id": "C-MARIE"})
    assert page.status_code == 200
    text = page.content.decode()
    for held in [PHONE, "déçue par cet accueil", "Rappelée, client fidèle", "phone call"]:
        assert held in text
    download = admin.get("/settings/privacy/customer/", {"id": "C-MARIE", "format": "json"})
    assert download["Content-Disposition"].startswith("attachment")
    from_page = json.loads(download.content)
    from_api = api.get("/api/v1/customers/C-MARIE/export").json()
    assert {k: v for k, v in from_page.items() if k != "exported_at"} == {
        k: v for k, v in from_api.items() if k != "exported_at"
    }


def test_the_customer_page_offers_the_export_to_admins_only(admin, manager, marie) -> None:
    assert "/settings/privacy/customer/?id=C-MARIE" in admin.get("/customers/C-MARIE/").content.decode()
    assert "/settings/privacy/customer/" not in manager.get("/customers/C-MARIE/").content.decode()


def test_an_unknown_id_is_said_plainly(admin, marie) -> None:
    page = admin.get("/settings/privacy/customer/", {"id": "C-NOBODY/../x"})
    assert page.status_code == 404
    assert "C-NOBODY/../x" in page.content.decode()


def test_the_page_erases_once_the_id_is_typed_again(admin, org, marie) -> None:
    admin.post("/settings/privacy/customer/erase", {"id": "C-MARIE", "confirm": "C-MARI"})
    marie.refresh_from_db()
    assert marie.phone == PHONE
    reply = admin.post("/settings/privacy/customer/erase", {"id": "C-MARIE", "confirm": "C-MARIE"})
    assert reply.status_code == 302
    marie.refresh_from_db()
    assert (marie.external_id, marie.phone) == (f"erased-{marie.id}", "")


def test_the_command_line_writes_the_export_to_a_private_file(org, marie, tmp_path, capsys) -> None:
    target = tmp_path / "marie.json"
    call_command(
        "customer", "export", "C-MARIE", "--organisation", org.organisation.slug, "--output", str(target)
    )
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["customer"]["phone"] == PHONE
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    call_command("customer", "export", "C-MARIE", "--organisation", org.organisation.slug)
    assert json.loads(capsys.readouterr().out)["customer"]["external_id"] == "C-MARIE"
