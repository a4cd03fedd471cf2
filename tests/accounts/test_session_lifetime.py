"""A sign-in lasts AVIS_SESSION_HOURS (12 by default); then the pages ask to sign in again."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from tests.factories import PASSWORD

MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.mark.django_db
def test_a_sign_in_lasts_twelve_hours_by_default(org) -> None:
    client = Client()
    with time_machine.travel(MONDAY, tick=False):
        assert (
            client.post("/login/", {"username": org.manager_email, "password": PASSWORD}).status_code == 302
        )
    with time_machine.travel(MONDAY + timedelta(hours=11, minutes=59), tick=False):
        assert client.get("/profile/").status_code == 200
    with time_machine.travel(MONDAY + timedelta(hours=12, minutes=1), tick=False):
        late = client.get("/profile/")
        assert late.status_code == 302 and late["Location"].startswith("/login/")


def _settings_with(hours: str) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.SESSION_COOKIE_AGE)"
    )
    env = {**os.environ, "AVIS_SESSION_HOURS": hours, "DJANGO_SETTINGS_MODULE": "avis.settings"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)  # noqa: S603


def test_the_lifetime_is_read_from_the_environment_and_a_bad_one_stops_start_up() -> None:
    assert _settings_with("2").stdout.strip() == "7200"
    refused = _settings_with("0")
    assert refused.returncode != 0 and "AVIS_SESSION_HOURS" in refused.stderr
