"""50 simultaneous interactions for one customer yield at most N invitations, on the real database."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from avis.surveys.models import Invitation
from tests.helpers import open_all_day, post_interaction

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.mark.parametrize("existing_customer", [True, False])
def test_fifty_simultaneous_interactions_respect_the_cap(org, existing_customer) -> None:
    open_all_day(org.organisation, windows=[{"max": 2, "days": 30}], quarantine_days=0)
    client = Client(headers={"Authorization": f"Bearer {org.api_key}"})
    if existing_customer:
        # The customer exists but has never been surveyed: only the lock keeps the count right.
        post_interaction(client, "seed", customer="RACE", email=None, phone=None)
    start = threading.Barrier(50)
    occurred = timezone.now() - timedelta(minutes=1)

    def one(i: int) -> int:
        try:
            start.wait()
            return post_interaction(
                Client(headers={"Authorization": f"Bearer {org.api_key}"}),
                f"race-{i}",
                customer="RACE",
                touchpoint=["call_center.call", "branch.visit", "claim.settled"][i % 3],
                occurred_at=occurred,
            ).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(one, range(50)))

    assert statuses == [200] * 50
    invitations = Invitation.objects.filter(customer__external_id="RACE").count()
    assert invitations == 2
