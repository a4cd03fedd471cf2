"""The contact policy through the API: every change a new version, refused whole when wrong."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db


def put(client: Client, body: dict) -> object:
    return client.put("/api/v1/policy", body, content_type="application/json")


def test_each_change_publishes_a_version_that_later_decisions_name(org, api) -> None:
    open_all_day(org.organisation)
    before = api.get("/api/v1/policy").json()
    changed = put(
        api,
        {
            "windows": [{"max": 1, "days": 30}, {"max": 4, "days": 365}],
            "priorities": {"claim.settled": 10},
            "exclusions": [{"attribute": "employee", "operator": "is_true"}],
            "channel_sending": {"sms": {"from": "10:00", "until": "19:30"}},
        },
    )
    assert changed.status_code == 200, changed.content
    policy = changed.json()
    assert policy["version"] == before["version"] + 1
    assert policy["windows"] == [{"max": 1, "days": 30}, {"max": 4, "days": 365}]
    assert policy["quarantine_days"] == before["quarantine_days"]  # what was not given stays
    assert policy["channel_sending"] == {"sms": {"from": "10:00", "until": "19:30"}}
    assert any("365" in line for line in policy["summary"])
    versions = api.get("/api/v1/policy/versions").json()
    assert [v["version"] for v in versions][:2] == [policy["version"], before["version"]]
    assert api.get(f"/api/v1/policy/versions/{before['version']}").json()["windows"] == before["windows"]
    assert api.get("/api/v1/policy/versions/999").status_code == 404

    decision = post_interaction(api, "e1").json()["decision"]
    assert decision["policy_version"] == policy["version"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"windows": [{"max": 0, "days": 30}]}, "windows.0.max"),
        ({"exclusions": [{"attribute": "age", "operator": "younger_than"}]}, "exclusions.0.operator"),
        ({"default_sampling_rate": 2}, "default_sampling_rate"),
        ({"channel_sending": {"sms": {"from": "25:00"}}}, "channel_sending.sms.from"),
    ],
)
def test_a_wrong_policy_gets_422_with_the_field_and_changes_nothing(org, api, body, field) -> None:
    version = api.get("/api/v1/policy").json()["version"]
    refused = put(api, body)
    assert refused.status_code == 422
    assert (
        field in [error["field"] for error in refused.json()["errors"]]
        or refused.json().get("field") == field
    )
    assert api.get("/api/v1/policy").json()["version"] == version


def test_a_manager_reads_the_policy_but_may_not_change_it(org) -> None:
    manager = Client(enforce_csrf_checks=False)
    assert manager.login(username=org.manager_email, password=PASSWORD)
    assert manager.get("/api/v1/policy").status_code == 200
    assert put(manager, {"quarantine_days": 1}).status_code == 403
    admin = Client()
    assert admin.login(username=org.admin_email, password=PASSWORD)
    changed = put(admin, {"quarantine_days": 1})
    assert changed.status_code == 200
    assert api_versions_by(admin) == [org.admin_email]


def api_versions_by(client: Client) -> list[str]:
    return [v["created_by"] for v in client.get("/api/v1/policy/versions").json() if v["created_by"]]


def test_another_organisation_sees_only_its_own_policy(org, other_org, api) -> None:
    put(api, {"quarantine_days": 3})
    put(api, {"quarantine_days": 4})
    theirs = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    assert theirs.get("/api/v1/policy").json()["quarantine_days"] != 4
    assert len(theirs.get("/api/v1/policy/versions").json()) == 1
    assert theirs.get("/api/v1/policy/versions/3").status_code == 404


def test_contact_history_gives_pressure_and_opt_outs(org, api) -> None:
    open_all_day(org.organisation, quarantine_days=0)
    post_interaction(api, "e1")
    post_interaction(api, "e2", touchpoint="branch.visit")
    api.post(
        "/api/v1/customers/C-1/opt-out",
        {"channel": "sms", "source": "phone call"},
        content_type="application/json",
    )
    history = api.get("/api/v1/customers/C-1/contact-history").json()
    assert history["pressure"] == {"30": 2, "90": 2, "365": 2}
    assert [(o["channel"], o["source"]) for o in history["opt_outs"]] == [("sms", "phone call")]


def test_the_audit_command_finds_a_hand_made_breach(org, api) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    from avis.governance.models import Decision

    open_all_day(org.organisation, windows=[{"max": 1, "days": 30}], quarantine_days=0)
    post_interaction(api, "e1")
    post_interaction(api, "e2", touchpoint="branch.visit")
    out = StringIO()
    call_command("audit_contacts", org.organisation.slug, stdout=out)
    assert "0 breaches" in out.getvalue()
    skipped = Decision.objects.get(interaction__external_id="e2")
    Decision.objects.filter(id=skipped.id).update(outcome="invite", solicited_at=skipped.decided_at)
    with pytest.raises(CommandError, match="1 surveys"):
        call_command("audit_contacts", org.organisation.slug, stdout=StringIO())
