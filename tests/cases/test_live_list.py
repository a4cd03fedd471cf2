from __future__ import annotations

import pytest
from django.test import Client

from avis.cases.models import Case
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(org) -> Client:  # noqa: ANN001
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


def test_the_list_shows_what_the_customer_said_and_how_often_we_asked(respond, manager) -> None:
    respond(nps=3, resolved="no", agent="na", comment="Trois appels pour rien")
    respond(nps=2, touchpoint="branch.visit")
    rows = manager.get("/cases/rows").content.decode()
    assert "Trois appels pour rien" in rows
    assert "NPS <strong>3</strong>" in rows
    assert "2/2/2" in rows  # two surveys sent to C-1 in 30, 90 and 365 days
    assert "1 earlier case" in rows


def test_one_click_marks_the_customer_contacted_and_redraws_the_rows(respond, manager) -> None:
    respond(nps=3)
    case = Case.objects.get()
    rows = manager.post(f"/cases/{case.id}/contacted", HTTP_HX_REQUEST="true")
    assert rows.status_code == 200
    assert (
        "Customer contacted" not in rows.content.decode().split(f'data-case="{case.id}"')[1].split("</tr>")[0]
    )
    case.refresh_from_db()
    assert (case.status, case.assigned_to.username) == ("contacted", "manager@assurances-du-centre.example")


def test_the_list_polls_a_bounded_number_of_queries(respond, manager, django_assert_max_num_queries) -> None:
    for n in range(5):
        respond(customer=f"C-{n}", nps=2)
    with django_assert_max_num_queries(20):
        manager.get("/cases/rows")
