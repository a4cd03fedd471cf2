"""The drivers page and API, on answers given through the respondent's own path."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from tests.analytics.test_comments import respond
from tests.factories import PASSWORD
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def answered(org):  # noqa: ANN001, ANN201
    """60 calls where an unresolved problem costs about five points, whatever the agent did."""
    open_all_day(org.organisation)
    answers = []
    for i in range(60):
        resolved = ["yes", "yes", "no", "partly", "yes"][i % 5]
        agent = 3 + i % 3
        base = {"yes": 8, "partly": 6, "no": 3}[resolved]
        nps = max(0, min(10, base + (agent - 4) + (i % 2)))
        given = {"nps": str(nps), "resolved": resolved, "agent": str(agent)}
        if i % 4 == 0:
            given["comment"] = (
                "Une heure d'attente au téléphone" if resolved == "no" else "Conseiller aimable"
            )
        answers.append(given)
    respond(org, answers, at=datetime(2026, 3, 10, 11, tzinfo=PARIS))
    respond(
        org,
        [{"nps": "9"}, {"nps": "4"}],
        at=datetime(2026, 3, 11, 11, tzinfo=PARIS),
        touchpoint="branch.visit",
    )
    return org


def test_resolution_comes_out_as_the_first_driver_with_intervals(answered, api) -> None:
    body = api.get("/api/v1/drivers", {"touchpoint": "call_center.call"}).json()
    assert body["enough"] is True
    assert body["n"] == 60
    assert body["r_squared_ci_low"] < body["r_squared"] < body["r_squared_ci_high"]
    first = body["drivers"][0]
    assert first["key"] == "question:resolved"
    assert first["reference"] == "Yes"
    assert first["ci_low"] <= first["importance"] <= first["ci_high"]
    unresolved = next(t for t in first["terms"] if t["label"] == "No")
    assert unresolved["ci_high"] < -2  # clearly lower than "yes"
    assert sum(d["importance"] for d in body["drivers"]) == pytest.approx(body["r_squared"], abs=1e-9)


def test_too_few_answers_show_no_driver(answered, api) -> None:
    body = api.get("/api/v1/drivers", {"touchpoint": "branch.visit"}).json()
    assert (body["enough"], body["n"], body["drivers"]) == (False, 2, [])


def test_drivers_page_in_french(answered) -> None:
    client = Client()
    assert client.login(username=answered.manager_email, password=PASSWORD)
    page = client.get(
        "/analytics/drivers/?touchpoint=call_center.call", HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert "Votre demande a-t-elle été réglée" in page
    assert "R²" in page
    few = client.get(
        "/analytics/drivers/?touchpoint=branch.visit", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "too few to tell" in few


def test_another_organisation_gets_no_drivers_from_these_answers(answered, other_org) -> None:
    outsider = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    assert outsider.get("/api/v1/drivers").json()["n"] == 0
