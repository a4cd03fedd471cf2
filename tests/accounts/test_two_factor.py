"""Optional TOTP two-factor for administrators: enrolment shows a secret once (QR and text), a right
code turns it on, and from then on signing in asks for the code after the password."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from avis.audit.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def enrolled(email: str) -> TOTPDevice:
    """Sign in, open the page, confirm with the app's code, at MONDAY."""
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    page = client.get("/profile/two-factor/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user__username=email, confirmed=False)
    secret = page.context["secret"].replace(" ", "")
    assert device.config_url.split("secret=")[1].startswith(secret)
    wrong = client.post("/profile/two-factor/", {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 422
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the wrong code above slowed the device down
    device.throttling_failure_timestamp = None
    device.save()
    assert (
        client.post("/profile/two-factor/", {"action": "confirm", "code": code_for(device)}).status_code
        == 302
    )
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_an_admin_turns_it_on_and_then_signing_in_asks_for_the_code(org) -> None:
    with time_machine.travel(MONDAY, tick=False):
        device = enrolled(org.admin_email)
    assert AuditEvent.objects.filter(organisation=org.organisation, action="two_factor.enabled").count() == 1
    with time_machine.travel(MONDAY + timedelta(minutes=1), tick=False):
        client = Client()
        first = client.post("/login/", {"username": org.admin_email, "password": PASSWORD})
        assert first.status_code == 302 and first["Location"] == "/login/code/"
        # The password alone signs nobody in.
        assert client.get("/settings/audit/").status_code == 302
        assert client.post("/login/code/", {"code": "123456"}).status_code == 422
        assert AuditEvent.objects.filter(organisation=org.organisation, action="login.failed").exists()
        device.refresh_from_db()
        device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
        device.save()
        done = client.post("/login/code/", {"code": code_for(device)})
        assert done.status_code == 302 and done["Location"] == "/"
        assert client.get("/settings/audit/").status_code == 200
        assert client.session.get("otp_device_id")


def test_the_code_must_follow_the_password_within_five_minutes(org) -> None:
    with time_machine.travel(MONDAY, tick=False):
        device = enrolled(org.admin_email)
    client = Client()
    with time_machine.travel(MONDAY + timedelta(minutes=1), tick=False):
        client.post("/login/", {"username": org.admin_email, "password": PASSWORD})
    with time_machine.travel(MONDAY + timedelta(minutes=7), tick=False):
        late = client.post("/login/code/", {"code": code_for(device)})
        assert late.status_code == 302 and late["Location"] == "/login/"
        assert client.get("/settings/audit/").status_code == 302


def test_repeated_wrong_codes_are_slowed_down(org) -> None:
    with time_machine.travel(MONDAY, tick=False):
        device = enrolled(org.admin_email)
    with time_machine.travel(MONDAY + timedelta(minutes=1), tick=False):
        client = Client()
        client.post("/login/", {"username": org.admin_email, "password": PASSWORD})
        for _ in range(3):
            client.post("/login/code/", {"code": "000000"})
        slowed = client.post("/login/code/", {"code": code_for(device)})
        assert slowed.status_code == 422 and "Too many wrong codes" in slowed.content.decode()


def test_a_secret_is_shown_once_and_only_the_latest_can_be_confirmed(org) -> None:
    client = Client()
    assert client.login(username=org.admin_email, password=PASSWORD)
    first = client.get("/profile/two-factor/").context["secret"]
    second = client.get("/profile/two-factor/").context["secret"]
    assert first != second
    assert TOTPDevice.objects.filter(user__username=org.admin_email).count() == 1


def test_turning_it_off_needs_a_current_code(org) -> None:
    with time_machine.travel(MONDAY, tick=False):
        device = enrolled(org.admin_email)
    with time_machine.travel(MONDAY + timedelta(minutes=1), tick=False):
        client = Client()
        assert client.login(username=org.admin_email, password=PASSWORD)
        page = client.get("/profile/two-factor/")
        assert "secret" not in page.context  # never shown again once on
        assert client.post("/profile/two-factor/", {"action": "disable", "code": "000000"}).status_code == 422
        device.refresh_from_db()
        device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
        device.save()
        off = client.post("/profile/two-factor/", {"action": "disable", "code": code_for(device)})
        assert off.status_code == 302
    assert not TOTPDevice.objects.filter(user__username=org.admin_email).exists()
    assert AuditEvent.objects.filter(organisation=org.organisation, action="two_factor.disabled").exists()


def test_only_administrators_enrol(org) -> None:
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    assert client.get("/profile/two-factor/").status_code == 403
