from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.test import Client

from avis.cases.models import Case
from avis.surveys.models import Invitation, Response
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_simultaneous_submissions_store_one_response(org, api) -> None:
    open_all_day(org.organisation)
    post_interaction(api, "evt-1")
    token = Invitation.objects.get().token
    start = threading.Barrier(4)

    def submit(score: int) -> int:
        try:
            start.wait()
            return Client().post(f"/s/{token}", {"nps": str(score), "resolved": "no"}).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(submit, [1, 2, 3, 4]))

    assert statuses == [200, 410, 410, 410]
    assert Response.objects.count() == 1
    assert Case.objects.count() == 1


def test_answers_in_english_for_an_english_customer(org, api) -> None:
    open_all_day(org.organisation)
    post_interaction(api, "evt-1", locale="en-GB")
    token = Invitation.objects.get().token
    page = Client().get(f"/s/{token}").content.decode()
    assert "How likely are you to recommend Assurances du Centre" in page
    assert 'lang="en"' in page


def test_one_customer_answering_two_surveys_at_once_gets_one_case(org, api) -> None:
    """Two unhappy answers of one customer on one touchpoint, submitted together: the second waits
    for the first's lock on the customer, then finds its case and joins it."""
    open_all_day(org.organisation, quarantine_days=0)
    for event in ("evt-1", "evt-2"):
        post_interaction(api, event, customer="C-1")
    tokens = list(Invitation.objects.filter(customer__external_id="C-1").values_list("token", flat=True))
    assert len(tokens) == 2, "the policy let both interactions be surveyed"
    start = threading.Barrier(2)

    def submit(token: str) -> int:
        try:
            start.wait()
            return Client().post(f"/s/{token}", {"nps": "2", "resolved": "no"}).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(submit, tokens)) == [200, 200]

    case = Case.objects.get()
    assert sorted(case.events.values_list("kind", flat=True)) == ["joined", "opened"]
    assert set(Response.objects.values_list("id", flat=True)) == {
        case.response_id,
        case.events.get(kind="joined").response_id,
    }
