from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from avis.governance.models import Decision
from avis.interactions.models import Interaction
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Invitation
from tests.factories import interaction_payload
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db

# Recent enough that the survey is still fresh, fixed so that a retry sends the very same payload.
RECENT = (timezone.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()


def counts() -> tuple[int, int, int, int]:
    return (
        Interaction.objects.count(),
        Decision.objects.count(),
        Invitation.objects.count(),
        OutboundMessage.objects.count(),
    )


def test_retry_with_same_external_id_returns_same_answer_and_creates_nothing(org, api) -> None:
    open_all_day(org.organisation)
    first = post_interaction(api, "evt-42", occurred_at=RECENT)
    after_first = counts()
    second = post_interaction(api, "evt-42", occurred_at=RECENT)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert counts() == after_first == (1, 1, 1, 1)


def test_batch_retry_is_idempotent_item_by_item(org, api) -> None:
    open_all_day(org.organisation)
    items = [interaction_payload(f"b-{i}", customer=f"C-{i}", occurred_at=RECENT) for i in range(5)]
    first = api.post("/api/v1/interactions/batch", {"items": items}, content_type="application/json").json()
    again = api.post(
        "/api/v1/interactions/batch",
        {
            "items": [
                *items,
                interaction_payload("b-new", customer="C-new", occurred_at=RECENT),
            ]
        },
        content_type="application/json",
    ).json()
    assert [r["replayed"] for r in again["results"]] == [True] * 5 + [False]
    for before, after in zip(first["results"], again["results"][:5], strict=True):
        assert after["decision"] == before["decision"]
        assert after["invitation"] == before["invitation"]
    assert counts()[0] == 6


def test_same_external_id_twice_in_one_batch_is_stored_once(org, api) -> None:
    items = [interaction_payload("dup"), interaction_payload("dup")]
    reply = api.post("/api/v1/interactions/batch", {"items": items}, content_type="application/json").json()
    assert reply["accepted"] == 2
    assert Interaction.objects.filter(external_id="dup").count() == 1
    assert reply["results"][0]["decision"] == reply["results"][1]["decision"]
