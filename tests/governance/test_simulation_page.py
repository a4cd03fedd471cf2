"""The simulation page: a manager tries two policies on an uploaded history; others cannot see the result."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from avis.governance.models import Decision
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from tests.factories import PASSWORD, interaction_payload
from tests.governance.synthetic import Stratum, as_csv, history
from tests.governance.test_simulation_command import HISTORY

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def runs_kept_apart(settings, tmp_path) -> None:  # noqa: ANN001
    settings.VAR_DIR = tmp_path


def signed_in(setup, language: str = "en") -> Client:  # noqa: ANN001
    client = Client(headers={"Accept-Language": language})
    assert client.login(username=setup.manager_email, password=PASSWORD)
    return client


def test_an_uploaded_history_compares_two_policies_with_charts(org, other_org) -> None:
    client = signed_in(org)
    assert client.get("/governance/simulation/").status_code == 200
    response = client.post(
        "/governance/simulation/",
        {
            "source": "upload",
            "history": SimpleUploadedFile("history.csv", HISTORY.encode(), content_type="text/csv"),
            "policy": "edited",
            "policy_json": json.dumps(
                {
                    "windows": [{"max": 1, "days": 30}],
                    "goals": [{"metric": "nps", "dimension": "team", "period": "month", "margin": 10}],
                }
            ),
            "compare": "current",
            "response_rate": "0.4",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    result = response["Location"]
    page = client.get(result)
    text = page.content.decode()
    assert page.status_code == 200
    assert "6 interactions of 3 customers" in text
    assert "edited" in text and "v1" in text  # both policies, side by side
    assert text.count("<svg") >= 2  # surveys per customer, half-widths against the goal
    assert "NPS per team or site per month" in text
    assert Decision.objects.count() == 0

    # Another organisation's manager gets nothing, not even a hint that it exists.
    assert signed_in(other_org).get(result).status_code == 404
    assert Client().get(result).status_code == 302  # to the login page


def test_the_page_speaks_french(org) -> None:
    page = signed_in(org, "fr").get("/governance/simulation/")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.content.decode()


def test_the_organisation_own_interactions_can_be_replayed(org) -> None:
    now = timezone.now()
    items = [
        InteractionIn(
            **interaction_payload(f"e{i}", customer=f"C-{i % 3}", occurred_at=now - timedelta(days=40 - i))
        )
        for i in range(12)
    ]
    ingest_interactions(organisation=org.organisation, items=items, replay=True)
    client = signed_in(org)
    response = client.post("/governance/simulation/", {"source": "database", "policy": "current"})
    assert response.status_code == 302
    assert "12 interactions of 3 customers" in client.get(response["Location"]).content.decode()


def test_a_bad_policy_is_explained_on_the_form(org) -> None:
    response = signed_in(org).post(
        "/governance/simulation/",
        {
            "source": "upload",
            "history": SimpleUploadedFile("history.csv", HISTORY.encode(), content_type="text/csv"),
            "policy": "edited",
            "policy_json": '{"windows": []}',
        },
    )
    assert response.status_code == 400
    assert "at least one window" in response.content.decode()


def test_goal_driven_against_the_cheapest_fixed_rates_on_the_page_in_french(org) -> None:
    """One click adds the cheapest fixed rates; the goal reads "atteint pour … mois-équipe sur …"."""
    strata = [
        Stratum("lyon", "call_center.call", 600, 0.4, 0.4),
        Stratum("lille", "call_center.call", 200, 0.9, 0.03),
    ]
    text = as_csv(history(strata, start=date(2026, 1, 1), days=62, seed=9))
    client = signed_in(org, "fr")
    response = client.post(
        "/governance/simulation/",
        {
            "source": "upload",
            "history": SimpleUploadedFile("history.csv", text.encode(), content_type="text/csv"),
            "policy": "edited",
            "policy_json": json.dumps({"windows": [{"max": 50, "days": 365}], "quarantine_days": 0}),
            "strategy": "goals",
            "compare": "current",
            "compare_strategy": "fixed",
            "compare_rate": "50",
            "goals": json.dumps([{"metric": "nps", "dimension": "team", "period": "month", "margin": 20}]),
            "cheapest": "on",
            "response_rate": "0.3",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(response["Location"]).content.decode()
    assert "objectifs de précision" in page
    assert "taux fixe de 50 %" in page
    assert "taux fixes les moins chers atteignant les objectifs" in page
    assert "mois-équipe sur 4" in page  # lyon and lille, January and February; March apart
    assert "Périodes partielles, montrées à part" in page
    assert "Clients laissés tranquilles" in page
    assert page.count("<svg") >= 2  # surveys per customer, and half-width against invitations
    assert "Invitations dans la strate et la période" in page
