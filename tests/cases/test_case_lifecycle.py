from __future__ import annotations

import pytest
from django.test import Client

from avis.cases.models import Case
from avis.cases.services import save_root_cause
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(org) -> Client:  # noqa: ANN001
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


def test_a_case_goes_from_new_to_closed_and_back_with_every_step_on_the_timeline(
    org, respond, manager
) -> None:
    respond(nps=2)
    case = Case.objects.get()
    cause = save_root_cause(organisation=org.organisation, label="Panne réseau")
    manager.post(f"/cases/{case.id}/take")
    manager.post(f"/cases/{case.id}/note", {"note": "Client déjà appelé deux fois"})
    manager.post(f"/cases/{case.id}/contacted", {"channel": "phone", "note": "Rappel"})
    manager.post(f"/cases/{case.id}/resolve", {"outcome": "retained", "root_cause_id": cause.id})
    case.refresh_from_db()
    assert (case.status, case.outcome, case.root_cause) == ("resolved", "retained", cause)
    manager.post(f"/cases/{case.id}/close")
    case.refresh_from_db()
    assert case.status == "closed"
    manager.post(f"/cases/{case.id}/reopen", {"note": "Le client rappelle"})
    case.refresh_from_db()
    assert (case.status, case.outcome, case.closed_at) == ("reopened", "", None)
    events = [(e.kind, e.actor.username if e.actor else None) for e in case.events.all()]
    assert events == [
        ("opened", None),
        ("taken", org.manager_email),
        ("note", org.manager_email),
        ("contacted", org.manager_email),
        ("root_cause", org.manager_email),
        ("resolved", org.manager_email),
        ("closed", org.manager_email),
        ("reopened", org.manager_email),
    ]
    page = manager.get(f"/cases/{case.id}/").content.decode()
    assert "Client déjà appelé deux fois" in page
    assert "Panne réseau" in page


def test_only_a_resolved_case_can_be_closed(respond, manager) -> None:
    respond(nps=2)
    case = Case.objects.get()
    page = manager.post(f"/cases/{case.id}/close", follow=True).content.decode()
    assert "Only a resolved case can be closed" in page
    assert Case.objects.get().status == "new"


def test_the_api_moves_a_case_through_its_states(api, org, respond) -> None:
    respond(nps=1)
    case_id = Case.objects.get().id
    cause = save_root_cause(organisation=org.organisation, label="Facturation")

    def patch(**body: object) -> dict:
        reply = api.patch(f"/api/v1/cases/{case_id}", body, content_type="application/json")
        assert reply.status_code == 200, reply.content
        return reply.json()

    assert patch(status="in_progress")["status"] == "in_progress"
    assert patch(status="contacted", channel="email")["status"] == "contacted"
    done = patch(status="resolved", outcome="compensated", root_cause_id=cause.id)
    assert (done["outcome"], done["root_cause"]) == ("compensated", "Facturation")
    assert patch(status="closed")["status"] == "closed"
    assert patch(status="reopened")["status"] == "reopened"
    causes = api.get("/api/v1/cases/root-causes").json()
    assert [c["label"] for c in causes] == ["Facturation"]
    timeline = api.get(f"/api/v1/cases/{case_id}").json()["timeline"]
    assert [e["kind"] for e in timeline] == [
        "opened",
        "taken",
        "contacted",
        "root_cause",
        "resolved",
        "closed",
        "reopened",
    ]
    assert timeline[2]["data"] == {"channel": "email"}


def test_a_root_cause_of_another_organisation_cannot_be_used(api, other_org, respond) -> None:
    respond(nps=1)
    theirs = save_root_cause(organisation=other_org.organisation, label="Chez eux")
    reply = api.patch(
        f"/api/v1/cases/{Case.objects.get().id}",
        {"status": "resolved", "outcome": "solved", "root_cause_id": theirs.id},
        content_type="application/json",
    )
    assert reply.status_code == 404
    assert Case.objects.get().status == "new"
