"""The comments page and API: analysed, filtered, masked, linked to their case, tenant-scoped."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from avis.cases.models import Case
from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from avis.surveys.services import submit_response
from tests.factories import PASSWORD, interaction_payload
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def respond(
    org, answers: list[dict[str, str]], *, at: datetime, touchpoint: str = "call_center.call", **extra
):  # noqa: ANN001, ANN201
    """One interaction per answer set, each for its own customer, answered an hour later."""
    items = [
        InteractionIn(
            **interaction_payload(
                f"{touchpoint}-{at:%Y%m%d%H}-{i}",
                customer=f"{touchpoint}-{at:%m%d%H}-{i}",
                touchpoint=touchpoint,
                occurred_at=at,
                **extra,
            )
        )
        for i in range(len(answers))
    ]
    results = ingest_interactions(organisation=org.organisation, items=items, now=at)
    return [
        submit_response(token=result.invitation.token, answers=given, now=at + timedelta(hours=1))
        for result, given in zip(results, answers, strict=True)
    ]


@pytest.fixture
def comments(org):  # noqa: ANN001, ANN201
    open_all_day(org.organisation)
    march = datetime(2026, 3, 10, 11, tzinfo=PARIS)
    respond(
        org,
        [
            {
                "nps": "2",
                "resolved": "no",
                "comment": "Une heure d'attente, personne ne rappelle, c'est scandaleux ! "
                "Mon numéro : 06 12 34 56 78",
            },
            {"nps": "10", "resolved": "yes", "comment": "Conseillère très aimable et efficace, merci 😀"},
            {
                "nps": "9",
                "resolved": "yes",
                "comment": "Very polite agent, problem fixed quickly. Email me at jo@example.com",
            },
            {"nps": "8", "resolved": "yes"},  # no comment
        ],
        at=march,
    )
    respond(
        org,
        [
            {
                "nps": "3",
                "resolved": "partly",
                "comment": "Les frais sont abusifs, carte 4970 1012 3456 7890 débitée 2 fois",
            }
        ],
        at=datetime(2026, 4, 2, 11, tzinfo=PARIS),
        touchpoint="branch.visit",
    )
    return org


@pytest.fixture
def manager(comments) -> Client:  # noqa: ANN001
    client = Client()
    assert client.login(username=comments.manager_email, password=PASSWORD)
    return client


def test_comments_page_needs_a_signed_in_member(db) -> None:
    reply = Client().get("/analytics/comments/")
    assert reply.status_code == 302
    assert reply["Location"].startswith("/login/")


def test_each_comment_shows_its_score_language_sentiment_topics_and_hides_personal_data(manager) -> None:
    page = manager.get("/analytics/comments/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "4 comments" in page
    assert "06 12 34 56 78" not in page
    assert "jo@example.com" not in page
    assert "4970 1012" not in page
    assert "[phone number hidden]" in page
    assert "Waiting time" in page and "Call-back" in page and "Price and fees" in page
    assert 'lang="fr"' in page and 'lang="en"' in page
    assert "negative" in page and "positive" in page


def test_a_comment_links_to_the_case_its_response_opened(comments, manager) -> None:
    case = Case.objects.get(response__answers__text__startswith="Une heure")
    page = manager.get("/analytics/comments/?sentiment=negative").content.decode()
    assert f'href="/cases/{case.id}/"' in page


def test_filters_narrow_by_sentiment_topic_language_touchpoint_period_and_words(manager) -> None:
    def shown(query: str) -> str:
        return manager.get("/analytics/comments/" + query, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "2 comments" in shown("?sentiment=negative")
    assert "2 comments" in shown("?sentiment=positive")
    assert "1 comment" in shown("?topic=price_fees")
    assert "2 comments" in shown("?language=fr&sentiment=negative")
    assert "1 comment" in shown("?language=en")
    assert "1 comment" in shown("?touchpoint=branch.visit")
    assert "3 comments" in shown("?since=2026-03-01&until=2026-03-31")
    assert "1 comment" in shown("?q=ATTENTE")
    assert "1 comment" in shown("?q=conseillere+aimable")  # without accents, any case
    assert "1 comment" in shown("?q=D%C3%89BIT%C3%89E")  # "DÉBITÉE" finds "débitée"
    assert "0 comments" in shown("?q=0612345678")  # a masked number can't be found either


def test_french_page(manager) -> None:
    page = manager.get("/analytics/comments/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Temps d'attente" in page or "Temps d&#x27;attente" in page
    assert "Prix et frais" in page


def test_api_lists_comments_with_pagination_and_filters(comments, api) -> None:
    reply = api.get("/api/v1/comments", {"per_page": 2})
    assert reply.status_code == 200
    body = reply.json()
    assert (body["total"], body["pages"], len(body["items"])) == (4, 2, 2)
    newest = body["items"][0]
    assert newest["touchpoint"] == "branch.visit"
    assert "[card number hidden]" in newest["text"]
    assert newest["score"] == 3
    assert newest["language"] == "fr"
    assert newest["sentiment"] < -0.05 and newest["sentiment_label"] == "negative"
    assert "price_fees" in newest["topics"]
    second = api.get("/api/v1/comments", {"per_page": 2, "page": 2}).json()
    assert {i["answer_id"] for i in second["items"]}.isdisjoint({i["answer_id"] for i in body["items"]})

    negative = api.get("/api/v1/comments", {"sentiment": "negative", "language": "fr"}).json()
    assert negative["total"] == 2
    assert all(item["case_id"] for item in negative["items"])  # both detractors opened a case
    assert api.get("/api/v1/comments", {"sentiment": "furious"}).status_code == 422


def test_another_organisation_sees_none_of_these_comments(comments, other_org) -> None:
    outsider = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    assert outsider.get("/api/v1/comments").json()["total"] == 0
    page = Client()
    assert page.login(username=other_org.manager_email, password=PASSWORD)
    assert "0 comments" in page.get("/analytics/comments/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
