"""Touchpoints made, renamed and archived through the API; an archived one takes no new interaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from avis.governance.models import Decision
from avis.interactions.models import Interaction, Touchpoint
from tests.factories import PASSWORD, interaction_payload

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 7, 14, 1, 30, tzinfo=UTC)  # a holiday, at night, in summer time


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def post(client: Client, path: str, body: object) -> object:
    return client.post(path, body, content_type="application/json")


def test_a_new_touchpoint_takes_interactions_at_once(api) -> None:
    assert (
        post(api, "/api/v1/interactions", interaction_payload("e1", touchpoint="shop.visit")).status_code
        == 422
    )

    made = post(api, "/api/v1/touchpoints", {"code": "shop.visit", "name": {"fr": "Visite en boutique"}})

    assert made.status_code == 201
    assert made.json()["code"] == "shop.visit"
    assert made.json()["name"] == {"fr": "Visite en boutique"}
    assert made.json()["archived"] is False
    occurred = (NOW - timedelta(minutes=3)).isoformat()
    reply = post(
        api, "/api/v1/interactions", interaction_payload("e1", touchpoint="shop.visit", occurred_at=occurred)
    )
    assert reply.status_code == 200
    assert "shop.visit" in [tp["code"] for tp in api.get("/api/v1/touchpoints").json()]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("Call_Center", "lowercase"),
        ("appel client", "without spaces"),
        ("réclamation", "accents"),
        ("claim..settled", "joined by dots"),
        ("-claim", "joined by dots"),
        ("x" * 65, "at most 64"),
        ("", "Give the touchpoint a code"),
    ],
)
def test_a_bad_code_is_refused_with_its_field_and_reason(api, code: str, reason: str) -> None:
    reply = post(api, "/api/v1/touchpoints", {"code": code, "name": {"en": "Shop"}})

    assert reply.status_code == 422
    errors = reply.json()["errors"]
    assert errors[0]["field"] == "code"
    assert reason in errors[0]["message"]
    assert not Touchpoint.objects.filter(name__en="Shop").exists()


def test_every_wrong_field_is_reported_at_once(api) -> None:
    reply = post(api, "/api/v1/touchpoints", {"code": "Shop Visit", "name": {"fr": "", "en": ""}})

    assert reply.status_code == 422
    assert {e["field"] for e in reply.json()["errors"]} == {"code", "name.fr"}


def test_a_code_is_unique_in_its_organisation_only(api, other_org) -> None:
    reply = post(api, "/api/v1/touchpoints", {"code": "branch.visit", "name": {"en": "Again"}})

    assert reply.status_code == 422
    assert reply.json()["errors"] == [
        {
            "field": "code",
            "message": "The code 'branch.visit' is already used by another touchpoint of this organisation.",
        }
    ]
    # Another organisation has its own branch.visit; creating one more there is refused too,
    # and creating a new code there leaves the first organisation's list alone.
    other = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    assert (
        post(other, "/api/v1/touchpoints", {"code": "shop.visit", "name": {"en": "Shop"}}).status_code == 201
    )
    assert "shop.visit" not in [tp["code"] for tp in api.get("/api/v1/touchpoints").json()]


def test_renaming_changes_the_names_given_and_keeps_the_code(api) -> None:
    reply = api.patch(
        "/api/v1/touchpoints/branch.visit",
        {"name": {"en": "Visit to a branch"}},
        content_type="application/json",
    )

    assert reply.status_code == 200
    assert reply.json()["code"] == "branch.visit"
    assert reply.json()["name"] == {"fr": "Visite en agence", "en": "Visit to a branch"}


def test_a_touchpoint_left_without_any_name_is_refused(api) -> None:
    reply = api.patch(
        "/api/v1/touchpoints/branch.visit", {"name": {"fr": "", "en": " "}}, content_type="application/json"
    )

    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "name.fr"
    assert Touchpoint.objects.get(code="branch.visit", organisation__slug="assurances-du-centre").name["fr"]


def test_an_archived_touchpoint_refuses_new_interactions_and_keeps_its_history(api, org) -> None:
    occurred = (NOW - timedelta(minutes=3)).isoformat()
    first = post(api, "/api/v1/interactions", interaction_payload("e1", occurred_at=occurred))
    assert first.status_code == 200

    archived = api.patch(
        "/api/v1/touchpoints/call_center.call", {"archived": True}, content_type="application/json"
    )
    assert archived.status_code == 200
    assert archived.json()["archived"] is True
    assert archived.json()["archived_at"].startswith("2026-07-14T01:30")

    refused = post(api, "/api/v1/interactions", interaction_payload("e2", occurred_at=occurred))
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "field": "touchpoint",
            "message": "The touchpoint 'call_center.call' is archived: it accepts no new interactions.",
        }
    ]
    batch = post(
        api,
        "/api/v1/interactions/batch",
        {
            "items": [
                interaction_payload("e3", occurred_at=occurred),
                interaction_payload("e4", touchpoint="branch.visit", occurred_at=occurred),
            ]
        },
    )
    assert [item["status"] for item in batch.json()["results"]] == ["invalid", "accepted"]
    assert "archived" in batch.json()["results"][0]["errors"][0]["message"]

    # What was recorded before stays, with its decision; a retry of it still gets its answer.
    assert Interaction.objects.filter(organisation=org.organisation, external_id="e1").exists()
    assert Decision.objects.filter(interaction__external_id="e1").count() == 1
    retry = post(api, "/api/v1/interactions", interaction_payload("e1", occurred_at=occurred))
    assert retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["decision"] == first.json()["decision"]
    assert "call_center.call" in [tp["code"] for tp in api.get("/api/v1/touchpoints").json()]

    restored = api.patch(
        "/api/v1/touchpoints/call_center.call", {"archived": False}, content_type="application/json"
    )
    assert restored.json()["archived"] is False
    assert (
        post(api, "/api/v1/interactions", interaction_payload("e2", occurred_at=occurred)).status_code == 200
    )


def test_another_organisation_cannot_see_or_change_a_touchpoint(org, other_org) -> None:
    post(
        Client(headers={"Authorization": f"Bearer {org.api_key}"}),
        "/api/v1/touchpoints",
        {"code": "shop.visit", "name": {"en": "Shop"}},
    )
    other = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})

    assert other.get("/api/v1/touchpoints/shop.visit").status_code == 404
    patched = other.patch(
        "/api/v1/touchpoints/shop.visit", {"archived": True}, content_type="application/json"
    )
    assert patched.status_code == 404
    assert Touchpoint.objects.get(organisation=org.organisation, code="shop.visit").archived_at is None
    assert "shop.visit" not in [tp["code"] for tp in other.get("/api/v1/touchpoints").json()]


def test_a_manager_signed_in_may_read_touchpoints_but_not_create_them(org) -> None:
    manager = Client()
    assert manager.login(username=org.manager_email, password=PASSWORD)

    assert manager.get("/api/v1/touchpoints").status_code == 200
    refused = post(manager, "/api/v1/touchpoints", {"code": "shop.visit", "name": {"en": "Shop"}})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert not Touchpoint.objects.filter(code="shop.visit").exists()
