"""/api/v1/barometers: set up, plan, draw, start, follow; refusals carry their reason; tenants apart."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from avis.barometers.models import SampledCase
from avis.interactions.services import create_touchpoint
from avis.surveys.models import Invitation
from avis.surveys.services import create_standard_survey, submit_response
from tests.barometers.setup import region_base
from tests.factories import PASSWORD
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 2, 11, 0, tzinfo=PARIS)


@pytest.fixture
def survey_id(org) -> int:
    touchpoint = create_touchpoint(organisation=org.organisation, code="barometer.q", name_fr="Baromètre")
    return create_standard_survey(organisation=org.organisation, touchpoint=touchpoint).id


def setup_body(survey_id: int, **changes) -> dict:  # noqa: ANN003
    return {
        "name_fr": "Baromètre trimestriel",
        "survey_id": survey_id,
        "scope": [{"attribute": "contract", "operator": "equals", "value": "active"}],
        "strata": [
            {"attribute": "region"},
            {"attribute": "customer_since", "bands": [5], "years_since": True},
        ],
        "margin": 20,
        "mode": "email",
        **changes,
    }


@time_machine.travel(NOW, tick=False)
def test_a_barometer_is_set_up_drawn_and_followed_through_the_api(org, api, survey_id) -> None:
    open_all_day(org.organisation, quarantine_days=0)
    region_base(org.organisation, {"north": 300, "south": 200})
    created = api.post("/api/v1/barometers", setup_body(survey_id), content_type="application/json")
    assert created.status_code == 201, created.json()
    barometer = created.json()["id"]
    wave = api.post(
        f"/api/v1/barometers/{barometer}/waves", {"frame_date": "2026-03-02"}, content_type="application/json"
    )
    assert wave.status_code == 201 and wave.json()["number"] == 1
    drawn = api.post(
        f"/api/v1/barometers/{barometer}/waves/1/draw", {"seed": 3}, content_type="application/json"
    )
    assert drawn.status_code == 200, drawn.json()
    assert drawn.json()["status"] == "drawn" and drawn.json()["seed"] == 3
    assert drawn.json()["design"]["expected_margin"] <= 20
    again = api.post(f"/api/v1/barometers/{barometer}/waves/1/draw", {}, content_type="application/json")
    assert again.status_code == 409 and "already drawn" in again.json()["message"]
    started = api.post(f"/api/v1/barometers/{barometer}/waves/1/start")
    assert started.status_code == 200 and started.json()["status"] == "fieldwork"
    assert api.post(f"/api/v1/barometers/{barometer}/waves/1/start").status_code == 409
    status = api.get(f"/api/v1/barometers/{barometer}/waves/1").json()
    assert status["total"]["sampled"] == SampledCase.objects.count()
    assert {s["key"] for s in status["strata"]} == {"north × <5", "north × ≥5", "south × <5", "south × ≥5"}
    assert set(status["rates"]) >= {"RR1", "COOP1", "REF1", "CON1"}
    assert status["e_method"]
    assert api.get(f"/api/v1/barometers/{barometer}/waves").json()[0]["number"] == 1
    for index, invitation in enumerate(Invitation.objects.order_by("id")):
        score = str(index % 11)
        submit_response(
            token=invitation.token, answers={"nps": score, "resolved": "yes", "agent": "4"}, now=NOW
        )
    estimates = api.get(f"/api/v1/barometers/{barometer}/waves/1/estimates")
    assert estimates.status_code == 200, estimates.content
    body = estimates.json()
    nps = next(q for q in body["questions"] if q["question"] == "nps")
    assert nps["summary"] == "nps" and nps["overall"]["n"] == Invitation.objects.count()
    assert nps["overall"]["ci_low"] < nps["overall"]["value"] < nps["overall"]["ci_high"]
    assert set(nps["domains"]["region"]) == {"north", "south"}
    assert "design-based" in nps["overall"]["method"]
    assert api.post(f"/api/v1/barometers/{barometer}/waves/1/close").json()["status"] == "closed"


def test_bad_set_up_is_refused_with_every_reason(org, api, survey_id) -> None:
    body = setup_body(
        survey_id, margin=0, domain="segment", strata=[{"attribute": "region", "bands": [5, 2]}]
    )
    answer = api.post("/api/v1/barometers", body, content_type="application/json")
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"margin", "domain", "strata.0.bands"} <= fields


def test_a_manager_follows_barometers_but_may_not_create_or_draw(org, survey_id) -> None:
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    assert client.get("/api/v1/barometers").status_code == 200
    refused = client.post("/api/v1/barometers", setup_body(survey_id), content_type="application/json")
    assert refused.status_code == 403


def test_another_tenant_sees_none_of_our_barometers(org, other_org, api, survey_id) -> None:
    open_all_day(org.organisation)
    barometer = api.post("/api/v1/barometers", setup_body(survey_id), content_type="application/json").json()[
        "id"
    ]
    theirs = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    assert theirs.get("/api/v1/barometers").json() == []
    assert theirs.get(f"/api/v1/barometers/{barometer}").status_code == 404
    planned = theirs.post(f"/api/v1/barometers/{barometer}/waves", {}, content_type="application/json")
    assert planned.status_code == 404
