"""A CRM posts interactions to the signed webhook: taken like the API, refused if forged, old or replayed."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from avis.interactions.models import Interaction
from avis.interactions.services import inbound_webhook, rotate_webhook_secret, update_touchpoint
from tests.factories import interaction_payload
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 29, 0, 55, tzinfo=UTC)  # five minutes before Paris moves to summer time


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def hook(org, clock):
    open_all_day(org.organisation)
    return inbound_webhook(organisation=org.organisation)


def signed(secret: str, body: bytes, at: datetime = NOW) -> dict[str, str]:
    """The headers a sender computes: written out here, not taken from avis, as a CRM would."""
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Avis-Timestamp": timestamp, "X-Avis-Signature": f"sha256={digest}"}


def body_of(external_id: str, **kwargs: Any) -> bytes:
    kwargs.setdefault("occurred_at", (NOW - timedelta(minutes=2)).isoformat())
    return json.dumps(interaction_payload(external_id, **kwargs)).encode()


def send(token: str, body: bytes, headers: dict[str, str], batch: bool = False) -> Any:
    path = f"/api/v1/interactions/webhook/{token}" + ("/batch" if batch else "")
    return Client().post(path, body, content_type="application/json", headers=headers)


def test_a_signed_interaction_is_taken_like_the_api_takes_it(hook, api) -> None:
    body = body_of("crm-1")

    reply = send(hook.token, body, signed(hook.secret, body))

    assert reply.status_code == 200
    assert reply.json()["decision"]["outcome"] == "invite"
    assert reply.json()["invitation"]["channel"]
    # The same event again, signed anew (a retry): same answer, nothing created twice,
    # and the API sees it as the interaction it already has.
    later = NOW + timedelta(seconds=30)
    with time_machine.travel(later, tick=False):
        again = send(hook.token, body, signed(hook.secret, body, at=later))
        by_api = api.post("/api/v1/interactions", body, content_type="application/json")
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == reply.json() == by_api.json()
    assert Interaction.objects.filter(external_id="crm-1").count() == 1


def test_a_batch_is_judged_item_by_item(hook) -> None:
    items = [json.loads(body_of("crm-1")), json.loads(body_of("crm-2", phone="06 12"))]
    body = json.dumps({"items": items}).encode()

    reply = send(hook.token, body, signed(hook.secret, body), batch=True)

    assert reply.status_code == 200
    assert reply.json()["accepted"] == 1
    assert reply.json()["results"][1]["errors"][0]["field"] == "customer.phone"


def test_a_wrong_signature_is_refused_and_nothing_is_written(hook) -> None:
    body = body_of("crm-1")

    forged = send(hook.token, body, signed("whsec_guessed", body))
    tampered = send(hook.token, body_of("crm-1", customer="C-other"), signed(hook.secret, body))
    unsigned = send(hook.token, body, {})

    for reply in (forged, tampered, unsigned):
        assert reply.status_code == 401
    assert forged.json()["errors"][0]["field"] == "X-Avis-Signature"
    assert unsigned.json()["errors"][0]["field"] == "X-Avis-Timestamp"
    assert not Interaction.objects.exists()


def test_one_organisations_secret_opens_no_other_organisations_address(hook, other_org) -> None:
    other = inbound_webhook(organisation=other_org.organisation)
    body = body_of("crm-1")

    assert send(hook.token, body, signed(other.secret, body)).status_code == 401
    assert send("not-a-token", body, signed(hook.secret, body)).status_code == 401
    assert not Interaction.objects.exists()
    # Each secret opens its own address, and what comes in belongs to its own organisation.
    assert send(other.token, body, signed(other.secret, body)).status_code == 200
    assert Interaction.objects.get().organisation_id == other_org.organisation.id


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6), timedelta(days=-1)])
def test_a_timestamp_outside_five_minutes_is_refused(hook, skew: timedelta) -> None:
    body = body_of("crm-1")

    reply = send(hook.token, body, signed(hook.secret, body, at=NOW + skew))

    assert reply.status_code == 401
    assert reply.json()["errors"][0]["field"] == "X-Avis-Timestamp"
    assert "5 minutes" in reply.json()["message"]
    assert not Interaction.objects.exists()


def test_a_timestamp_four_minutes_old_passes(hook) -> None:
    body = body_of("crm-1")

    assert send(hook.token, body, signed(hook.secret, body, at=NOW - timedelta(minutes=4))).status_code == 200


def test_a_timestamp_that_is_not_unix_seconds_is_refused(hook) -> None:
    body = body_of("crm-1")
    headers = signed(hook.secret, body) | {"X-Avis-Timestamp": "2026-03-29T00:55:00Z"}

    reply = send(hook.token, body, headers)

    assert reply.status_code == 401
    assert "Unix seconds" in reply.json()["message"]


def test_the_same_signed_request_twice_is_a_replay_and_is_refused(hook) -> None:
    body = body_of("crm-1")
    headers = signed(hook.secret, body)
    assert send(hook.token, body, headers).status_code == 200

    replayed = send(hook.token, body, headers)

    assert replayed.status_code == 409
    assert replayed.json()["code"] == "replayed"
    assert Interaction.objects.count() == 1


def test_after_a_rotation_the_old_secret_signs_for_a_day_then_no_more(hook, org) -> None:
    old = hook.secret
    new = rotate_webhook_secret(organisation=org.organisation).secret
    assert new != old

    body = body_of("crm-1")
    assert send(hook.token, body, signed(new, body)).status_code == 200
    body = body_of("crm-2")
    assert send(hook.token, body, signed(old, body)).status_code == 200

    day_later = NOW + timedelta(hours=24, minutes=1)
    with time_machine.travel(day_later, tick=False):
        body = body_of("crm-3", occurred_at=(day_later - timedelta(minutes=1)).isoformat())
        assert send(hook.token, body, signed(old, body, at=day_later)).status_code == 401
        assert send(hook.token, body, signed(new, body, at=day_later)).status_code == 200


def test_an_archived_touchpoint_refuses_the_webhook_too(hook, org) -> None:
    update_touchpoint(organisation=org.organisation, code="claim.settled", archived=True)
    body = body_of("crm-1", touchpoint="claim.settled")

    reply = send(hook.token, body, signed(hook.secret, body))

    assert reply.status_code == 422
    assert reply.json()["errors"] == [
        {
            "field": "touchpoint",
            "message": "The touchpoint 'claim.settled' is archived: it accepts no new interactions.",
        }
    ]


def test_a_bad_body_is_refused_with_its_field_once_the_signature_holds(hook) -> None:
    body = b'{"external_id": "crm-1"}'

    assert send(hook.token, body, signed("whsec_guessed", body)).status_code == 401
    reply = send(hook.token, body, signed(hook.secret, body))

    assert reply.status_code == 422
    assert "touchpoint" in {e["field"] for e in reply.json()["errors"]}


def test_a_crm_posts_over_real_http(live_server, hook) -> None:
    body = body_of("crm-1")
    url = f"{live_server.url}/api/v1/interactions/webhook/{hook.token}"
    request = urllib.request.Request(  # noqa: S310 (the test's own server)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **signed(hook.secret, body)},
    )

    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        assert reply.status == 200
        assert json.loads(reply.read())["external_id"] == "crm-1"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code == 409
