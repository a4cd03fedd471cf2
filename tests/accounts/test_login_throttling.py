"""Sign-in throttling (django-axes, counted in the database): the fifth refusal for one address from
one client locks both out for fifteen minutes, even with the right password; other clients sign in."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client

from avis.audit.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))


def sign_in(client: Client, email: str, password: str):  # noqa: ANN201
    return client.post("/login/", {"username": email, "password": password})


def test_the_fifth_refusal_locks_the_address_out_from_this_client_for_fifteen_minutes(org) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    with time_machine.travel(MONDAY, tick=False):
        for _ in range(4):
            assert sign_in(attacker, org.admin_email, "guess").status_code == 200
        assert sign_in(attacker, org.admin_email, "guess").status_code == 429
        locked = sign_in(attacker, org.admin_email, PASSWORD)
        assert locked.status_code == 429
        assert "Too many refused attempts" in locked.content.decode()
        assert "_auth_user_id" not in attacker.session
        # Another client signs in to the same account: the lock is not a way to shut its owner out.
        assert sign_in(Client(REMOTE_ADDR="198.51.100.2"), org.admin_email, PASSWORD).status_code == 302
    # Counted in the database, where every process reads it.
    assert AccessAttempt.objects.filter(username=org.admin_email, ip_address="203.0.113.7").exists()
    failed = AuditEvent.objects.filter(organisation=org.organisation, action="login.failed")
    assert failed.count() == 6 and {e.ip_address for e in failed} == {"203.0.113.7"}
    with time_machine.travel(MONDAY + timedelta(minutes=14), tick=False):
        assert sign_in(attacker, org.admin_email, PASSWORD).status_code == 429
    # Trying again while locked out starts the fifteen minutes again.
    with time_machine.travel(MONDAY + timedelta(minutes=28), tick=False):
        assert sign_in(attacker, org.admin_email, PASSWORD).status_code == 429
    with time_machine.travel(MONDAY + timedelta(minutes=44), tick=False):
        assert sign_in(attacker, org.admin_email, PASSWORD).status_code == 302


def test_the_address_counts_whatever_its_case(org) -> None:
    client = Client(REMOTE_ADDR="203.0.113.8")
    with time_machine.travel(MONDAY, tick=False):
        for typed in ("ADMIN", "Admin", "admin", "aDmIn"):
            assert sign_in(client, org.admin_email.replace("admin", typed), "guess").status_code == 200
        assert sign_in(client, org.admin_email.replace("admin", "ADmin"), "guess").status_code == 429
        assert sign_in(client, org.admin_email, PASSWORD).status_code == 429


def test_a_success_forgets_the_earlier_refusals(org) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    with time_machine.travel(MONDAY, tick=False):
        for _ in range(4):
            sign_in(client, org.admin_email, "guess")
        assert sign_in(client, org.admin_email, PASSWORD).status_code == 302
        client.post("/logout/")
        for _ in range(4):
            sign_in(client, org.admin_email, "guess")
        assert sign_in(client, org.admin_email, PASSWORD).status_code == 302
