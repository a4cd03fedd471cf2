from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from avis.accounts.models import Organisation
from avis.governance.services import update_policy
from tests.factories import interaction_payload


def open_all_day(organisation: Organisation, **changes: Any) -> None:
    """A policy whose sending window never defers, so tests don't depend on the hour they run."""
    update_policy(
        organisation=organisation,
        changes={
            "send_from": time(0),
            "send_until": time(0),
            "send_on_sunday": True,
            "send_on_holidays": True,
            **changes,
        },
    )


def post_interaction(client: Client, external_id: str, **kwargs: Any) -> Any:
    kwargs.setdefault("occurred_at", timezone.now() - timedelta(minutes=5))
    return client.post(
        "/api/v1/interactions", interaction_payload(external_id, **kwargs), content_type="application/json"
    )


def answer(token: str, **answers: str) -> Any:
    return Client().post(f"/s/{token}", answers)
