"""The contact-decisions page: filtered by day, touchpoint, outcome, reason and customer, 50 a page,
and every outcome (skips too) said in words a manager reads."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from avis.interactions.flow import ingest_interactions
from avis.interactions.schemas import InteractionIn
from tests.factories import PASSWORD, OrganisationSetup, interaction_payload
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
FIRST = datetime(2026, 11, 2, 10, 0, tzinfo=PARIS)
SKIPPED_AT = datetime(2026, 11, 20, 11, 0, tzinfo=PARIS)


def history(org: OrganisationSetup) -> None:
    """55 calls surveyed (one customer each, every 7 hours from 2 November 10:00 in Paris), then three of
    those customers visit a branch on 20 November, inside their 30 days of quarantine: three skips."""
    open_all_day(org.organisation, quarantine_days=30, windows=[{"max": 5, "days": 90}])
    for number in range(55):
        at = FIRST + timedelta(hours=7 * number)
        item = InteractionIn(
            **interaction_payload(f"call-{number}", customer=f"C-{number:02}", occurred_at=at)
        )
        (result,) = ingest_interactions(organisation=org.organisation, items=[item], now=at)
        assert result.decision.outcome == "invite"
    for number in range(3):
        item = InteractionIn(
            **interaction_payload(
                f"visit-{number}",
                customer=f"C-{number:02}",
                touchpoint="branch.visit",
                occurred_at=SKIPPED_AT,
            )
        )
        (result,) = ingest_interactions(organisation=org.organisation, items=[item], now=SKIPPED_AT)
        assert (result.decision.outcome, result.decision.reason) == ("skip", "quarantine")


@pytest.fixture
def manager(org: OrganisationSetup) -> Client:
    history(org)
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


def shown(client: Client, query: str = "", language: str = "en") -> tuple[str, list[tuple[str, str, str]]]:
    """The page, and each row's customer, touchpoint and outcome as the table shows them."""
    reply = client.get(f"/decisions/{query}", HTTP_ACCEPT_LANGUAGE=language)
    assert reply.status_code == 200
    page = reply.content.decode()
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(
        r"<tr><td>[^<]*</td><td><a [^>]*>([^<]*)</a></td><td>([^<]*)</td>"
        r"<td><span class=\"tag [^\"]*\">([^<]*)</span>",
        body,
    )
    return page, rows


def test_fifty_decisions_a_page_with_the_count_and_the_way_to_the_next(manager: Client) -> None:
    page, rows = shown(manager)
    assert "58 decisions · showing 1–50" in page
    assert len(rows) == 50
    assert "Page 1 of 2" in page
    assert rows[0] == ("C-02", "Branch visit", "not surveyed: the quarantine")  # newest first
    older = re.search(r'href="\?page=2" rel="next"', page)
    assert older, "no link to the older decisions"
    page, rows = shown(manager, "?page=2")
    assert "58 decisions · showing 51–58" in page
    assert len(rows) == 8
    assert rows[-1] == ("C-00", "Call to customer service", "surveyed")
    assert "Page 2 of 2" in page


def test_a_skip_says_what_happened_in_the_outcome_column_in_both_languages(manager: Client) -> None:
    page, rows = shown(manager, "?outcome=skip")
    assert "3 decisions" in page
    assert {outcome for _c, _t, outcome in rows} == {"not surveyed: the quarantine"}
    # The tag's class is not the skip link's ("skip"), which the stylesheet moves off screen.
    assert 'class="tag skip"' not in page
    _page, rows = shown(manager, "?outcome=skip", language="fr")
    assert all(outcome.startswith("non sollicité") for _c, _t, outcome in rows), rows


@pytest.mark.parametrize(
    ("query", "count", "customers"),
    [
        ("?touchpoint=branch.visit", 3, {"C-00", "C-01", "C-02"}),
        ("?reason=quarantine", 3, {"C-00", "C-01", "C-02"}),
        ("?outcome=invite", 55, None),
        ("?customer=C-01", 2, {"C-01"}),
        # 2 November in Paris: 10:00 and 17:00; the call at 00:00 on the 3rd (23:00 UTC on the 2nd) is not.
        ("?since=2026-11-02&until=2026-11-02", 2, {"C-00", "C-01"}),
        ("?since=2026-11-20", 3, {"C-00", "C-01", "C-02"}),
        ("?until=2026-11-02&outcome=skip", 0, set()),
    ],
)
def test_each_filter_narrows_the_list_and_its_count(
    manager: Client, query: str, count: int, customers
) -> None:  # noqa: ANN001
    page, rows = shown(manager, query)
    counted = re.search(r'<p id="decision-count">(\d+) decision', page)
    assert counted and int(counted.group(1)) == count, query
    assert len(rows) == min(count, 50)
    if customers is not None:
        assert {customer for customer, _t, _o in rows} == customers
    if count == 0:
        assert "No decision matches these filters." in page


def test_the_filters_are_kept_when_turning_pages(manager: Client) -> None:
    page, rows = shown(manager, "?outcome=invite&touchpoint=call_center.call")
    assert "55 decisions · showing 1–50" in page
    assert 'href="?outcome=invite&amp;touchpoint=call_center.call&amp;page=2"' in page
    page, rows = shown(manager, "?outcome=invite&touchpoint=call_center.call&page=2")
    assert len(rows) == 5
    assert {outcome for _c, _t, outcome in rows} == {"surveyed"}


def test_a_customer_filter_links_to_the_contact_history(manager: Client) -> None:
    page, _rows = shown(manager, "?customer=C-01")
    assert 'href="/customers/C-01/">Contact history of C-01</a>' in page


def test_a_malformed_date_is_said_and_narrows_nothing(manager: Client) -> None:
    reply = manager.get("/decisions/?since=2-11-2026", HTTP_ACCEPT_LANGUAGE="en")
    assert reply.status_code == 422
    page = reply.content.decode()
    assert "From: Enter a valid date." in page
    assert "58 decisions" in page


def test_the_contact_history_says_each_outcome_in_words(manager: Client) -> None:
    page = manager.get("/customers/C-01/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    outcomes = re.findall(r'<span class="tag outcome-\w+">([^<]*)</span>', page)
    assert outcomes == ["not surveyed: the quarantine", "surveyed"]
    assert "Branch visit" in page and "Call to customer service" in page
