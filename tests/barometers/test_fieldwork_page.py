"""The live fieldwork page of a wave: per stratum, in French and English; the team reads it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from avis.barometers.services import draw_wave, plan_wave, start_fieldwork
from avis.surveys.models import Invitation
from avis.surveys.services import submit_response
from tests.barometers.setup import make_barometer, region_base
from tests.factories import PASSWORD
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))


def test_the_fieldwork_page_shows_each_stratum_against_its_target(org, other_org) -> None:
    open_all_day(org.organisation, quarantine_days=0)
    region_base(org.organisation, {"north": 300, "south": 200})
    barometer = make_barometer(org.organisation, now=NOW)
    plan_wave(organisation=org.organisation, barometer_id=barometer.id, frame_date=NOW.date())
    draw_wave(organisation=org.organisation, barometer_id=barometer.id, number=1, seed=1, now=NOW)
    start_fieldwork(organisation=org.organisation, barometer_id=barometer.id, number=1, now=NOW)
    invitation = Invitation.objects.order_by("id").first()
    submit_response(token=invitation.token, answers={"nps": "9", "resolved": "yes"}, now=NOW)
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    url = f"/barometers/{barometer.id}/waves/1/fieldwork/"
    french = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Complets par client tiré" in french and "north" in french and "RR1" in french
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Completes per customer drawn" in english and "All strata" in english
    listing = client.get("/barometers/").content.decode()
    assert url in listing
    theirs = Client()
    assert theirs.login(username=other_org.admin_email, password=PASSWORD)
    assert theirs.get(url).status_code == 404
