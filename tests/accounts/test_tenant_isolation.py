"""Tenant B, with its own key or session, reaches none of tenant A's data: 404, never data."""

from __future__ import annotations

import pytest
from django.test import Client

from avis.cases.models import Case
from avis.surveys.models import Invitation
from tests.factories import PASSWORD
from tests.helpers import answer, open_all_day, post_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_case(org, api):
    """Tenant A has a customer, a decision, an unhappy response and a case."""
    open_all_day(org.organisation)
    assert post_interaction(api, "a-evt-1", customer="A-CUST").status_code == 200
    invitation = Invitation.objects.get(organisation=org.organisation)
    answer(invitation.token, nps="2", resolved="no")
    return Case.objects.get(organisation=org.organisation)


@pytest.fixture
def b_key_client(other_org) -> Client:
    return Client(headers={"Authorization": f"Bearer {other_org.api_key}"})


@pytest.fixture
def b_session_client(other_org) -> Client:
    client = Client()
    assert client.login(username=other_org.admin_email, password=PASSWORD)
    return client


@pytest.mark.parametrize("who", ["b_key_client", "b_session_client"])
def test_other_tenant_gets_404_on_each_object_of_tenant_a(request, who, a_case) -> None:
    client: Client = request.getfixturevalue(who)
    assert client.get("/api/v1/customers/A-CUST/contact-history").status_code == 404
    assert client.get(f"/api/v1/cases/{a_case.id}").status_code == 404
    patched = client.patch(
        f"/api/v1/cases/{a_case.id}", {"status": "contacted"}, content_type="application/json"
    )
    assert patched.status_code in (403, 404)  # a session PATCH without CSRF token is refused before lookup
    assert client.post(
        "/api/v1/customers/A-CUST/opt-out", {}, content_type="application/json"
    ).status_code in (
        403,
        404,
    )
    a_case.refresh_from_db()
    assert a_case.status == "new"
    assert not a_case.customer.opt_outs.exists()


@pytest.mark.parametrize("who", ["b_key_client", "b_session_client"])
def test_other_tenant_lists_and_metrics_show_none_of_tenant_a(request, who, a_case) -> None:
    client: Client = request.getfixturevalue(who)
    assert client.get("/api/v1/cases").json() == []
    assert client.get("/api/v1/metrics", {"metric": "nps"}).json() == []
    assert client.get("/api/v1/metrics", {"metric": "response_rate"}).json() == []


def test_other_tenant_session_gets_404_on_tenant_a_pages(b_session_client, a_case) -> None:
    assert b_session_client.get(f"/cases/{a_case.id}/").status_code == 404
    assert b_session_client.get("/customers/A-CUST/").status_code == 404
    listing = b_session_client.get("/cases/rows").content.decode()
    assert f'data-case="{a_case.id}"' not in listing
    taken = b_session_client.post(f"/cases/{a_case.id}/take")
    assert taken.status_code == 404
    a_case.refresh_from_db()
    assert a_case.assigned_to is None


def test_tenant_a_sees_its_own_case(org, a_case) -> None:
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    assert client.get(f"/cases/{a_case.id}/").status_code == 200
    assert f'data-case="{a_case.id}"' in client.get("/cases/rows").content.decode()


def test_same_external_ids_in_two_tenants_stay_apart(org, other_org, api, b_key_client) -> None:
    open_all_day(org.organisation)
    open_all_day(other_org.organisation)
    assert post_interaction(api, "evt-1", customer="SAME").status_code == 200
    assert (
        post_interaction(b_key_client, "evt-1", customer="SAME", email="autre@example.fr").status_code == 200
    )
    a_history = api.get("/api/v1/customers/SAME/contact-history").json()
    b_history = b_key_client.get("/api/v1/customers/SAME/contact-history").json()
    assert len(a_history["decisions"]) == 1
    assert len(b_history["decisions"]) == 1
