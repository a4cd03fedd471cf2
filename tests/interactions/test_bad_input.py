"""Bad input gets a clear 422 naming the field, and nothing half-written."""

from __future__ import annotations

import pytest

from avis.customers.models import Customer
from avis.interactions.models import Interaction
from tests.factories import interaction_payload

pytestmark = pytest.mark.django_db


def post(api, body, path="/api/v1/interactions"):  # noqa: ANN001, ANN201
    return api.post(path, body, content_type="application/json")


def test_malformed_json_is_refused_with_422(api) -> None:
    reply = post(api, '{"external_id": "x", "touchpoint": ')
    assert reply.status_code == 422
    assert reply.json()["code"] == "validation_error"
    assert Interaction.objects.count() == 0


def test_unknown_touchpoint_names_the_field(api) -> None:
    reply = post(api, interaction_payload("e1", touchpoint="shop.visit"))
    assert reply.status_code == 422
    assert reply.json()["errors"] == [{"field": "touchpoint", "message": "Unknown touchpoint 'shop.visit'"}]
    assert Interaction.objects.count() == 0
    assert Customer.objects.count() == 0


def test_invalid_phone_names_the_field_and_writes_nothing(api) -> None:
    reply = post(api, interaction_payload("e1", phone="06 12"))
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "customer.phone"
    assert Customer.objects.count() == 0


def test_invalid_email_and_time_zone_are_reported(api) -> None:
    payload = interaction_payload("e1", email="marie@")
    payload["customer"]["time_zone"] = "Paris/France"
    reply = post(api, payload)
    assert reply.status_code == 422
    assert {"customer.email", "customer.time_zone"} >= {e["field"] for e in reply.json()["errors"]}


def test_missing_field_gives_its_path(api) -> None:
    payload = interaction_payload("e1")
    del payload["customer"]["external_id"]
    reply = post(api, payload)
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "customer.external_id"


def test_occurred_at_without_offset_is_refused(api) -> None:
    reply = post(api, interaction_payload("e1", occurred_at="2026-03-03T11:00:00"))
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "occurred_at"


def test_national_numbers_are_read_in_the_organisation_region(org, api) -> None:
    assert post(api, interaction_payload("e1", phone="06 12 34 56 78")).status_code == 200
    assert Customer.objects.get().phone == "+33612345678"


def test_batch_over_ten_thousand_items_is_refused(api) -> None:
    one = interaction_payload("x")
    reply = post(api, {"items": [one] * 10_001}, "/api/v1/interactions/batch")
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "items"
    assert Interaction.objects.count() == 0


def test_bad_item_in_a_batch_is_reported_and_the_good_ones_kept(api) -> None:
    items = [
        interaction_payload("ok-1", customer="C-1"),
        interaction_payload("bad", customer="C-2", phone="not a phone"),
        interaction_payload("ok-2", customer="C-3", touchpoint="branch.visit"),
    ]
    reply = post(api, {"items": items}, "/api/v1/interactions/batch")
    assert reply.status_code == 200
    body = reply.json()
    assert (body["accepted"], body["invalid"]) == (2, 1)
    bad = body["results"][1]
    assert bad["status"] == "invalid"
    assert bad["errors"][0]["field"] == "customer.phone"
    assert set(Interaction.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-2"}
    assert not Customer.objects.filter(external_id="C-2").exists()
