"""The API answers a signed-in person as the pages do, and an API key as its scope allows.

Findings of the trust review: through the API with a session, a manager added a webhook, turned
off the "NPS ≤ 6" alert rule and changed the assignment ladder, and an analyst changed the business
calendar, all of which the pages forbid. Each is now the documented JSON 403, and nothing changes.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import Client

from avis.accounts.models import ApiKey, Role, Scope
from avis.accounts.services import add_member, create_api_key
from avis.cases import services as case_services
from avis.cases.models import AssignmentRule, BusinessCalendar, Strategy, WebhookEndpoint
from avis.errors import ValidationFailed
from tests.factories import PASSWORD, OrganisationSetup, interaction_payload

pytestmark = pytest.mark.django_db


def _signed_in(org: OrganisationSetup, role: str) -> Client:
    email = f"{role}@roles.example"
    add_member(organisation=org.organisation, email=email, role=role, password=PASSWORD)
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def _refused(reply) -> None:  # noqa: ANN001
    assert reply.status_code == 403, reply.content
    assert reply["Content-Type"].startswith("application/json")
    assert reply.json()["code"] == "forbidden" and reply.json()["message"]


def _json(client: Client, method: str, url: str, body: dict) -> object:
    return client.generic(method, url, json.dumps(body), content_type="application/json")


def test_a_manager_adds_no_webhook_through_the_api(org: OrganisationSetup) -> None:
    manager = _signed_in(org, Role.MANAGER)
    _refused(_json(manager, "POST", "/api/v1/cases/webhooks", {"url": "https://hooks.example/avis"}))
    assert not WebhookEndpoint.objects.filter(organisation=org.organisation).exists()


def test_a_manager_cannot_turn_off_the_nps_alert_rule(org: OrganisationSetup) -> None:
    rules = case_services.ensure_alert_rules(organisation=org.organisation)
    nps = next(rule for rule in rules if rule.name == "NPS ≤ 6")
    manager = _signed_in(org, Role.MANAGER)
    _refused(_json(manager, "PATCH", f"/api/v1/cases/rules/{nps.id}", {"is_active": False}))
    nps.refresh_from_db()
    assert nps.is_active


def test_a_manager_cannot_change_the_assignment_ladder(org: OrganisationSetup) -> None:
    manager = _signed_in(org, Role.MANAGER)
    steps = {"steps": [{"strategy": Strategy.FALLBACK, "user_id": 1}]}
    _refused(_json(manager, "PUT", "/api/v1/cases/assignment", steps))
    assert not AssignmentRule.objects.filter(organisation=org.organisation).exists()


def test_an_analyst_cannot_change_the_business_calendar(org: OrganisationSetup) -> None:
    before = case_services.calendar_of(organisation=org.organisation).hours
    analyst = _signed_in(org, Role.ANALYST)
    calendar = {"hours": {"0": ["08:00", "09:00"]}, "sla_hours": 1}
    _refused(_json(analyst, "PUT", "/api/v1/cases/calendar", calendar))
    assert case_services.calendar_of(organisation=org.organisation).hours == before


def test_an_admin_still_changes_them_with_a_session(org: OrganisationSetup) -> None:
    admin = _signed_in(org, Role.ADMIN)
    calendar = {"hours": {"0": ["08:00", "09:00"]}, "sla_hours": 1}
    assert _json(admin, "PUT", "/api/v1/cases/calendar", calendar).status_code == 200
    assert BusinessCalendar.objects.get(organisation=org.organisation).hours == {"0": ["08:00", "09:00"]}


def test_an_advisor_reads_nothing_through_the_api(org: OrganisationSetup) -> None:
    advisor = _signed_in(org, Role.ADVISOR)
    reply = advisor.get("/api/v1/cases", HTTP_ACCEPT_LANGUAGE="en")
    _refused(reply)
    assert "their own interactions only" in reply.json()["message"]


def _key(org: OrganisationSetup, scope: str) -> Client:
    _, plaintext = create_api_key(organisation=org.organisation, name=scope, scope=scope)
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


def test_an_ingest_key_sends_interactions_and_reads_no_feedback(org: OrganisationSetup) -> None:
    crm = _key(org, Scope.INGEST)
    assert (
        crm.post(
            "/api/v1/interactions", interaction_payload("I-1"), content_type="application/json"
        ).status_code
        == 200
    )
    _refused(crm.get("/api/v1/comments"))
    _refused(crm.get("/api/v1/cases"))


def test_a_read_key_reads_and_changes_nothing(org: OrganisationSetup) -> None:
    bi = _key(org, Scope.READ)
    assert bi.get("/api/v1/cases").status_code == 200
    _refused(bi.post("/api/v1/interactions", interaction_payload("I-2"), content_type="application/json"))
    _refused(_json(bi, "POST", "/api/v1/cases/webhooks", {"url": "https://hooks.example/avis"}))
    _refused(bi.get("/api/v1/team"))


def test_keys_made_before_scopes_keep_full_access(org: OrganisationSetup, api: Client) -> None:
    assert ApiKey.objects.get(organisation=org.organisation, name="tests").scope == Scope.ADMIN
    assert api.get("/api/v1/team").status_code == 200


def test_an_unknown_scope_is_refused_with_its_field(org: OrganisationSetup) -> None:
    with pytest.raises(ValidationFailed) as refused:
        create_api_key(organisation=org.organisation, name="x", scope="everything")
    assert refused.value.field == "scope"


def test_the_settings_page_makes_a_key_of_the_chosen_scope(org: OrganisationSetup) -> None:
    admin = Client()
    assert admin.login(username=org.admin_email, password=PASSWORD)
    page = admin.get("/settings/api-keys/").content.decode()
    assert 'name="scope"' in page
    assert admin.post("/settings/api-keys/", {"name": "BI", "scope": "read"}).status_code == 200
    assert ApiKey.objects.get(organisation=org.organisation, name="BI").scope == Scope.READ
    assert admin.post("/settings/api-keys/", {"name": "Bad", "scope": "root"}).status_code == 422


def test_the_command_makes_a_key_of_the_chosen_scope(org: OrganisationSetup, capsys) -> None:  # noqa: ANN001
    call_command("apikey", org.organisation.slug, "--name", "CRM", "--scope", "ingest")
    plaintext = capsys.readouterr().out.strip()
    assert ApiKey.objects.get(organisation=org.organisation, name="CRM").scope == Scope.INGEST
    _refused(Client(headers={"Authorization": f"Bearer {plaintext}"}).get("/api/v1/metrics"))
