"""The audit trail: who changed which setting, published, exported, erased, or signed in (or failed
to), with before and after; append-only; an administrator's page with filters and a CSV export."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.admin.sites import site
from django.test import Client, RequestFactory

from avis.accounts.models import Membership, Role
from avis.audit.models import AppendOnly, AuditEvent
from avis.governance.services import update_policy
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def events(org, action: str) -> list[AuditEvent]:  # noqa: ANN001
    return list(AuditEvent.objects.filter(organisation=org.organisation, action=action).order_by("id"))


def test_sign_ins_are_recorded_whether_they_succeed_or_fail_and_never_the_password(org) -> None:
    client = Client()
    refused = client.post("/login/", {"username": org.admin_email, "password": "not the password"})
    assert refused.status_code == 200
    client.post("/login/", {"username": "nobody@nowhere.example", "password": "guess"})
    accepted = client.post("/login/", {"username": org.admin_email, "password": PASSWORD})
    assert accepted.status_code == 302

    failed = events(org, "login.failed")
    assert [(e.actor_label, e.object_label, e.ip_address) for e in failed] == [
        (org.admin_email, org.admin_email, "127.0.0.1")
    ]
    # An address that belongs to nobody concerns no organisation: only the operator reads it.
    stranger = AuditEvent.objects.get(action="login.failed", organisation=None)
    assert stranger.object_label == "nobody@nowhere.example"
    succeeded = events(org, "login.succeeded")
    assert len(succeeded) == 1 and succeeded[0].actor_user.username == org.admin_email
    for event in AuditEvent.objects.all():
        assert "not the password" not in f"{event.before}{event.after}{event.object_label}"


def test_a_change_made_with_an_api_key_names_the_key_with_before_and_after(org, api) -> None:
    reply = api.put(
        "/api/v1/cases/calendar",
        {"hours": {"5": ["10:00", "12:00"]}, "sla_hours": 2},
        content_type="application/json",
    )
    assert reply.status_code == 200, reply.content
    (event,) = events(org, "calendar.changed")
    assert event.actor_user is None
    assert event.actor_api_key.name == "tests"
    assert event.actor_label.startswith("API key tests")
    assert event.after["sla_hours"] == 2
    assert event.after["hours"] == {"5": ["10:00", "12:00"]}


def test_a_role_change_names_the_administrator_and_both_roles(org) -> None:
    manager = Membership.objects.get(organisation=org.organisation, user__username=org.manager_email)
    admin = signed_in(org.admin_email)
    reply = admin.post(f"/settings/people/{manager.id}/role", {"role": Role.ANALYST})
    assert reply.status_code == 302
    event = events(org, "role.changed")[-1]
    assert event.actor_label == org.admin_email
    assert event.object_label == org.manager_email
    assert (event.before, event.after) == ({"role": "manager"}, {"role": "analyst"})


def test_a_policy_publication_keeps_only_what_changed(org, api) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 9, 30, tzinfo=PARIS), tick=False):
        reply = api.put("/api/v1/policy", {"send_from": "11:30"}, content_type="application/json")
    assert reply.status_code == 200, reply.content
    (event,) = events(org, "policy.published")
    assert event.object_label == "version 2"
    assert event.after == {"send_from": "11:30:00"}
    assert event.before == {"send_from": "10:00:00"}
    assert event.at == datetime(2026, 3, 2, 9, 30, tzinfo=PARIS)


def test_channel_secrets_never_reach_the_trail(org) -> None:
    admin = signed_in(org.admin_email)
    admin.post(
        "/settings/channels/",
        {"sms_provider": "http", "http_url": "https://sms.example.fr/send", "http_secret": "s3cr3t-value-42"},
    )
    for event in AuditEvent.objects.filter(organisation=org.organisation, action="channels.changed"):
        assert "s3cr3t-value-42" not in f"{event.before}{event.after}"


def test_the_trail_is_append_only(org) -> None:
    update_policy(organisation=org.organisation, changes={"send_from": "11:30"})
    event = events(org, "policy.published")[0]
    event.action = "nothing.happened"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(id=event.id).update(action="nothing.happened")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(id=event.id).delete()
    assert AuditEvent.objects.get(id=event.id).action == "policy.published"
    request = RequestFactory().get("/admin/")
    request.user = type("Superuser", (), {"is_active": True, "is_staff": True, "has_perm": lambda *a: True})()
    admin_page = site._registry[AuditEvent]
    assert not admin_page.has_delete_permission(request, event)
    assert not admin_page.has_change_permission(request, event)
    assert not admin_page.has_add_permission(request)


def test_only_administrators_open_the_page_and_see_only_their_organisation(org, other_org) -> None:
    update_policy(organisation=other_org.organisation, changes={"send_from": "11:00"})
    update_policy(organisation=org.organisation, changes={"send_from": "11:30"})
    assert signed_in(org.manager_email).get("/settings/audit/").status_code == 403
    assert signed_in(org.manager_email).get("/settings/audit/export.csv").status_code == 403
    page = signed_in(org.admin_email).get("/settings/audit/")
    assert page.status_code == 200
    shown = list(page.context["page"])
    assert shown and {e.organisation_id for e in shown} == {org.organisation.id}


def test_the_page_filters_by_actor_action_and_dates(org) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), tick=False):
        signed_in(org.manager_email)
    clock = time_machine.travel(datetime(2026, 3, 5, 9, 0, tzinfo=PARIS), tick=False)
    clock.start()
    admin = signed_in(org.admin_email)
    update_policy(organisation=org.organisation, changes={"send_from": "11:30"})

    def shown(**query: str) -> list[tuple[str, str]]:
        page = admin.get("/settings/audit/", query)
        assert page.status_code == 200
        return [(e.actor_label, e.action) for e in page.context["page"]]

    assert shown(action="login.succeeded") == [
        (org.admin_email, "login.succeeded"),
        (org.manager_email, "login.succeeded"),
    ]
    assert shown(actor="manager@") == [(org.manager_email, "login.succeeded")]
    assert shown(action="login.succeeded", since="2026-03-03") == [(org.admin_email, "login.succeeded")]
    assert shown(action="login.succeeded", until="2026-03-02") == [(org.manager_email, "login.succeeded")]
    assert admin.get("/settings/audit/", {"since": "not a date"}).status_code == 422
    assert admin.get("/settings/audit/", {"page": "99999999999"}).status_code == 200
    clock.stop()


def test_the_csv_export_follows_the_filters_and_is_itself_recorded(org) -> None:
    admin = signed_in(org.admin_email)
    update_policy(organisation=org.organisation, changes={"send_from": "11:30"})
    reply = admin.get("/settings/audit/export.csv", {"action": "policy.published"})
    assert reply.status_code == 200
    assert reply["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(reply.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:4] == ["at", "actor", "ip_address", "action"]
    assert [row[3] for row in rows[1:]] == ["policy.published"]
    assert '"send_from": "11:30:00"' in rows[1][8]
    (exported,) = events(org, "export.downloaded")
    assert exported.actor_label == org.admin_email and exported.object_type == "audit"


def test_exports_and_survey_publications_are_recorded(org, api) -> None:
    assert api.get("/api/v1/exports/answers", {"format": "csv"}).status_code == 200
    (exported,) = events(org, "export.downloaded")
    assert exported.object_type == "answers" and exported.actor_api_key is not None


def test_a_touchpoint_a_survey_publication_and_an_erasure_made_with_a_key_are_recorded(
    org, api, settings, tmp_path
) -> None:
    settings.AVIS_JOURNAL_DIR = tmp_path / "journal"
    renamed = api.patch(
        "/api/v1/touchpoints/branch.visit", {"name": {"en": "Visit"}}, content_type="application/json"
    )
    assert renamed.status_code == 200, renamed.content
    (changed,) = events(org, "touchpoint.changed")
    assert changed.object_label == "branch.visit"
    assert (changed.before["name"]["en"], changed.after["name"]["en"]) == ("Branch visit", "Visit")

    made = api.post(
        "/api/v1/touchpoints",
        {"code": "shop.visit", "name": {"fr": "Visite en boutique"}},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    assert events(org, "touchpoint.created")[-1].object_label == "shop.visit"
    created = api.post(
        "/api/v1/surveys",
        {"touchpoint": "shop.visit", "name": "Visite", "questions": ["csat"]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    survey_id = created.json()["id"]
    published = api.post(f"/api/v1/surveys/{survey_id}/publish")
    assert published.status_code == 201, published.content
    (publication,) = events(org, "survey.published")
    assert (publication.before, publication.after) == ({"version": None}, {"version": 1})
    assert publication.actor_api_key is not None

    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1", customer="C-MARIE").status_code == 200
    assert api.delete("/api/v1/customers/C-MARIE").status_code == 200
    (erased,) = events(org, "customer.erased")
    assert erased.object_type == "customer" and erased.object_id.isdigit()
    assert "C-MARIE" not in f"{erased.object_label}{erased.before}{erased.after}"
