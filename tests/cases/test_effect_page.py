"""The closed-loop effect page agrees with the cases and answers in the database, cell by cell."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from avis.cases.effect import closed_loop_effect
from avis.cases.models import Case
from avis.cases.services import escalate_overdue_cases, mark_customer_contacted, resolve_case
from avis.interactions.services import create_touchpoint
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 20, 10, tzinfo=PARIS)
T0 = NOW - timedelta(days=12)


def cells(page: str) -> dict[str, list[str]]:
    """The "what customers did next" table: row name → its cells as a reader sees them."""
    table = page[page.index('<table id="recovery">') :]
    table = table[: table.index("</table>")]
    found = {}
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", table, re.S):
        name, rest = row.split("</th>", 1)
        values = re.findall(r"<td>(.*?)</td>", rest, re.S)
        found[name.strip()] = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", v)).strip() for v in values]
    return found


@pytest.fixture
def history(org, api, respond):  # noqa: ANN001, ANN201
    """Seven unhappy customers twelve days ago: four handled in time and closed, three late."""
    organisation = org.organisation
    open_all_day(organisation, quarantine_days=0, windows=[{"max": 10, "days": 30}])
    with time_machine.travel(NOW, tick=False):
        create_touchpoint(organisation=organisation, code="customer.left", name_fr="Départ", name_en="Left")

        def case_of(customer: str) -> Case:
            respond(customer=customer, nps=2, at=T0)
            return Case.objects.get(customer__external_id=customer)

        def in_time(customer: str, outcome: str) -> Case:
            case = case_of(customer)
            mark_customer_contacted(
                organisation=organisation, case_id=case.id, user=None, at=T0 + timedelta(hours=1)
            )
            return resolve_case(
                organisation=organisation,
                case_id=case.id,
                user=None,
                outcome=outcome,
                at=T0 + timedelta(hours=3),
            )

        in_time("A1", "solved")
        respond(customer="A1", nps=10, at=T0 + timedelta(days=5))  # answered again: a promoter
        in_time("A2", "left")  # left, by the case's outcome, and never answered again
        in_time("A3", "retained")
        respond(customer="A3", nps=5, at=T0 + timedelta(days=2))  # a detractor...
        post_interaction(
            api, "left-A3", customer="A3", touchpoint="customer.left", occurred_at=T0 + timedelta(days=6)
        )
        in_time("A4", "solved")
        respond(customer="A4", nps=8, at=T0 + timedelta(days=1))  # the first NPS after: a passive
        respond(customer="A4", nps=1, at=T0 + timedelta(days=3))  # a later one does not replace it

        late = [case_of(c) for c in ("L1", "L2", "L3")]
        assert escalate_overdue_cases(now=late[0].due_at + timedelta(minutes=1)) == 3
        respond(customer="L1", nps=3, at=T0 + timedelta(days=4))
        mark_customer_contacted(
            organisation=organisation, case_id=late[1].id, user=None, at=T0 + timedelta(days=2)
        )
        resolve_case(
            organisation=organisation,
            case_id=late[1].id,
            user=None,
            outcome="left",
            at=T0 + timedelta(days=2),
        )
    return org


def test_every_cell_of_what_customers_did_next_agrees_with_the_database(history) -> None:  # noqa: ANN001
    with time_machine.travel(NOW, tick=False):
        client = Client(headers={"Accept-Language": "en"})
        assert client.login(username=history.manager_email, password=PASSWORD)
        page = client.get("/cases/effect?days=30").content.decode()
        loop = client.get("/analytics/closed-loop/").content.decode()
    found = cells(page)
    handled, late = found["Case handled in time and closed"], found["Case not handled in time"]
    # Customers, followed for (days), answered again, NPS of the first later score, left.
    assert handled[0] == "4" and late[0] == "3"
    assert handled[1] == "12" and late[1] == "12"  # both groups counted from the same moment
    assert handled[2].startswith("75 %") and handled[2].endswith("n = 4")  # A1, A3, A4
    assert handled[3].startswith("0 ") and handled[3].endswith("n = 3")  # 10, 5, 8: one of each
    assert handled[4].startswith("50 %") and handled[4].endswith("n = 4")  # A2 by outcome, A3 left
    assert late[2].startswith("33 %") and late[2].endswith("n = 3")  # L1
    assert late[3].startswith("-100 [-100–") and late[3].endswith("n = 1")  # inside its interval
    assert late[4].startswith("33 %") and late[4].endswith("n = 3")  # L2, by its outcome
    # Every figure rests on fewer customers than the minimum (30): greyed, and the page says so.
    assert page.count('class="estimate unreliable"') == 6
    assert "fewer than 30 customers" in page
    # The closed-loop page counts the same two cases closed as "left".
    outcomes = loop[loop.index("<h2>Outcomes</h2>") :]
    assert re.search(r"left.*?</th><td>2</td>", outcomes, re.S)


def test_groups_followed_for_different_lengths_are_called_not_comparable(org, respond) -> None:  # noqa: ANN001
    organisation = org.organisation
    with time_machine.travel(NOW, tick=False):
        for i in range(3):
            respond(customer=f"OLD-{i}", nps=2, at=NOW - timedelta(days=80))
            case = Case.objects.get(customer__external_id=f"OLD-{i}")
            mark_customer_contacted(organisation=organisation, case_id=case.id, user=None, at=case.opened_at)
            resolve_case(
                organisation=organisation, case_id=case.id, user=None, outcome="solved", at=case.opened_at
            )
        for i in range(3):
            respond(customer=f"NEW-{i}", nps=2, at=NOW - timedelta(days=5))
        escalate_overdue_cases(now=NOW)
        effect = closed_loop_effect(organisation=organisation, since=NOW - timedelta(days=90), until=NOW)
        client = Client(headers={"Accept-Language": "en"})
        assert client.login(username=org.manager_email, password=PASSWORD)
        page = client.get("/cases/effect?days=90").content.decode()
        french = Client(headers={"Accept-Language": "fr"})
        assert french.login(username=org.manager_email, password=PASSWORD)
        page_fr = french.get("/cases/effect?days=90").content.decode()
    assert "Pas comparables en l'état" in page_fr and "Client parti" in page_fr
    assert (effect.recovered.customers, effect.not_in_time.customers) == (3, 3)
    assert "followed" in effect.caveats
    assert "Not comparable as they stand" in page and "80 against 5 days" in page
