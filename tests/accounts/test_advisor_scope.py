"""An advisor signs in to read what customers said about their own interactions, and nothing else."""

from __future__ import annotations

import pytest
from django.test import Client

from avis.accounts.models import Role
from avis.accounts.services import add_member
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def advisor(org) -> Client:  # noqa: ANN001
    add_member(
        organisation=org.organisation, email="advisor@example.fr", role=Role.ADVISOR, password=PASSWORD
    )
    client = Client()
    assert client.login(username="advisor@example.fr", password=PASSWORD)
    return client


def test_an_advisor_lands_on_their_own_feedback(advisor: Client) -> None:
    home = advisor.get("/")
    assert home.status_code == 302 and home["Location"] == "/cases/my-feedback"
    assert advisor.get("/cases/my-feedback").status_code == 200
    assert advisor.get("/profile/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/cases/",
        "/analytics/",
        "/governance/simulation/",
        "/settings/people/",
        "/settings/surveys/",
        "/settings/touchpoints/",
        "/api/v1/cases",
        "/api/v1/metrics?metric=nps",
    ],
)
def test_every_other_page_and_the_api_refuse_an_advisor(advisor: Client, path: str) -> None:
    reply = advisor.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert reply.status_code == 403
    assert b"their own interactions only" in reply.content


def test_a_manager_still_reads_the_cases(org) -> None:  # noqa: ANN001
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    assert client.get("/cases/").status_code == 200


def test_the_refusal_is_in_the_advisors_language(advisor: Client) -> None:
    reply = advisor.get("/cases/", HTTP_ACCEPT_LANGUAGE="fr")
    assert reply.status_code == 403
    assert "ses propres échanges" in reply.content.decode()
