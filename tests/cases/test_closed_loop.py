from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from avis.cases.models import Case
from avis.cases.services import sweep_announcements
from avis.messaging.models import MessageKind, OutboundMessage
from avis.surveys.models import Invitation
from tests.factories import PASSWORD
from tests.helpers import answer, open_all_day, post_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation(org, api):  # noqa: ANN001
    open_all_day(org.organisation)
    post_interaction(api, "evt-1")
    return Invitation.objects.get()


def test_happy_answer_opens_no_case(invitation) -> None:
    answer(invitation.token, nps="9", resolved="yes", agent="5")
    assert not Case.objects.exists()


def test_unresolved_problem_opens_a_case_even_with_a_good_score(invitation) -> None:
    answer(invitation.token, nps="8", resolved="no", agent="5")
    assert Case.objects.get().reasons == ["not_resolved"]


@pytest.mark.django_db(transaction=True)
def test_detractor_opens_a_case_and_managers_are_emailed(org, invitation, smtp_server) -> None:
    answer(invitation.token, nps="4", resolved="partly", agent="na", comment="Toujours pas de connexion.")
    case = Case.objects.get()
    assert case.reasons == ["detractor"]
    assert case.status == "new"
    assert case.due_at > case.opened_at
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted([org.admin_email, org.manager_email])
    alert = smtp_server.to(org.manager_email)[0]
    assert f"/cases/{case.id}/" in alert.get_payload(decode=True).decode()


def test_the_case_is_opened_before_the_thank_you_page_and_announced_by_the_worker(org, invitation) -> None:
    """The respondent waits for the case (the real-time promise), not for the e-mails: a worker
    sends those; when its wake-up is lost (here: the test's transaction never commits), the
    minute's sweep announces the case, once."""
    answer(invitation.token, nps="2", comment="Toujours en panne.")
    case = Case.objects.get()
    notifications = OutboundMessage.objects.filter(kind=MessageKind.NOTIFICATION)
    assert not notifications.exists()
    assert sweep_announcements(now=case.opened_at + timedelta(seconds=30)) == 0  # its worker is on it
    assert sweep_announcements(now=case.opened_at + timedelta(minutes=2)) == 1
    assert org.manager_email in set(notifications.values_list("recipient", flat=True))
    assert sweep_announcements(now=case.opened_at + timedelta(minutes=3)) == 0


@pytest.mark.django_db(transaction=True)
def test_the_case_email_is_plain_text_without_html_entities(org, invitation, smtp_server) -> None:
    touchpoint = org.touchpoints["call_center.call"]
    touchpoint.name = {"fr": "Customer's call & callback", "en": "Customer's call & callback"}
    touchpoint.save(update_fields=["name"])
    answer(invitation.token, nps="4", comment="Toujours pas de connexion.")
    body = smtp_server.to(org.manager_email)[0].get_payload(decode=True).decode()
    assert "Customer's call & callback" in body
    assert "&#x27;" not in body and "&amp;" not in body


def test_manager_takes_contacts_and_resolves_a_case(org, invitation) -> None:
    answer(invitation.token, nps="2")
    case = Case.objects.get()
    manager = Client()
    assert manager.login(username=org.manager_email, password=PASSWORD)
    manager.post(f"/cases/{case.id}/take")
    manager.post(f"/cases/{case.id}/contacted", {"note": "Rappelée, technicien envoyé"})
    manager.post(f"/cases/{case.id}/resolve", {"outcome": "solved", "note": "Box remplacée"})
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("resolved", "solved")
    assert case.first_contact_at is not None
    assert case.assigned_to.username == org.manager_email
    assert [e.kind for e in case.events.all()] == ["opened", "taken", "contacted", "resolved"]


def test_api_patch_records_the_call_back(api, invitation) -> None:
    answer(invitation.token, nps="1")
    case = Case.objects.get()
    reply = api.patch(
        f"/api/v1/cases/{case.id}",
        {"status": "contacted", "note": "CRM call"},
        content_type="application/json",
    )
    assert reply.status_code == 200
    assert reply.json()["status"] == "contacted"
    detail = api.get(f"/api/v1/cases/{case.id}").json()
    assert {a["question"]: a["number"] for a in detail["answers"]}["nps"] == 1


def test_respondent_page_rejects_out_of_range_and_keeps_nothing(invitation) -> None:
    page = answer(invitation.token, nps="11")
    assert page.status_code == 422
    invitation.refresh_from_db()
    assert invitation.status != "responded"
    assert answer(invitation.token, nps="7").status_code == 200


def test_expired_link_is_refused_kindly(invitation) -> None:
    from datetime import timedelta

    from django.utils import timezone

    Invitation.objects.filter(id=invitation.id).update(expires_at=timezone.now() - timedelta(minutes=1))
    page = Client().get(f"/s/{invitation.token}")
    assert page.status_code == 410
    assert answer(invitation.token, nps="9").status_code == 410
    assert Client().get("/s/not-a-real-token-at-all").status_code == 404


def test_every_unreadable_answer_is_reported_at_once(invitation) -> None:
    page = answer(invitation.token, nps="", resolved="maybe", agent="9").content.decode()
    for field in ("nps", "resolved", "agent"):
        assert f'href="#q-{field}"' in page


def test_case_page_reads_the_answers_in_words(org, invitation) -> None:
    answer(invitation.token, nps="2", resolved="no", agent="na")
    case = Case.objects.get()
    manager = Client()
    assert manager.login(username=org.manager_email, password=PASSWORD)
    page = manager.get(f"/cases/{case.id}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Recommanderiez-vous Assurances du Centre" in page
    assert "Sans objet" in page
    assert ">Non<" in page
