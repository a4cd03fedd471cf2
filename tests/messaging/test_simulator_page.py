"""The SMS simulator page: each simulated phone's conversation, and a reply box, with or without JS."""

from __future__ import annotations

import pytest
from django.test import Client

from avis.surveys.models import Response
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser(org, api, settings) -> Client:  # noqa: ANN001
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1", email=None, phone="06 12 34 56 78").status_code == 200
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


def test_page_shows_the_phone_and_the_first_question(browser) -> None:
    page = browser.get("/messaging/simulator/").content.decode()
    assert "+33612345678" in page
    assert "Recommanderiez-vous Assurances du Centre" in page


def test_replying_without_javascript_posts_and_comes_back_to_the_thread(browser) -> None:
    answer = browser.post("/messaging/simulator/reply", {"phone": "+33612345678", "text": "10 parfait"})
    assert answer.status_code == 302
    page = browser.get(answer["Location"]).content.decode()
    assert "10 parfait" in page
    assert "réglée" in page  # the next question came back


def test_replying_with_htmx_returns_the_thread_alone(browser) -> None:
    for text in ["3", "non", "N/A", "rien"]:
        fragment = browser.post(
            "/messaging/simulator/reply", {"phone": "+33612345678", "text": text}, HTTP_HX_REQUEST="true"
        )
        assert "<html" not in fragment.content.decode()
    assert "Thank you" in fragment.content.decode() or "Merci" in fragment.content.decode()
    assert Response.objects.count() == 1


def test_another_organisation_sees_no_phone_of_ours(browser, other_org) -> None:
    client = Client()
    assert client.login(username=other_org.manager_email, password=PASSWORD)
    assert "+33612345678" not in client.get("/messaging/simulator/").content.decode()
    assert client.get("/messaging/simulator/?phone=%2B33612345678").status_code == 404
    assert (
        client.post("/messaging/simulator/reply", {"phone": "+33612345678", "text": "0"}).status_code == 404
    )


def test_page_needs_a_login(db) -> None:
    assert Client().get("/messaging/simulator/").status_code == 302
