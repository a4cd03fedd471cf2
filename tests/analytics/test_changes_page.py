"""The "change since the previous period" table never over-claims, as a manager reads it."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from avis.analytics.changes import period_changes
from avis.analytics.models import DailyRollup
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def rollup(org, touchpoint: str, day: date, promoters: int, passives: int, detractors: int) -> None:  # noqa: ANN001
    DailyRollup.objects.create(
        organisation=org.organisation,
        touchpoint=org.touchpoints[touchpoint],
        channel="email",
        day=day,
        responses=promoters + passives + detractors,
        nps_promoters=promoters,
        nps_passives=passives,
        nps_detractors=detractors,
    )


# The touchpoint's code, or its name once labels are words.
# Each touchpoint's code and its names in English and French (tests/factories.py).
NAMES = {
    "branch.visit": ("Branch visit", "Visite en agence"),
    "call_center.call": ("Call to customer service", "Appel au service client"),
}


def rows(page: str) -> dict[str, str]:
    """Each row of the changes table by its touchpoint's code (read from its code or its name)."""
    table = page[page.index('<table class="metrics changes">') :]
    table = table[: table.index("</table>")]
    found = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
        label = re.search(r'<th scope="row">(.*?)</th>', row, re.S).group(1).strip()
        code = next((c for c, names in NAMES.items() if label in (c, *names)), label)
        found[code] = row
    return found


def signed_in(org, language: str) -> Client:  # noqa: ANN001
    client = Client(headers={"Accept-Language": language})
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client


@pytest.fixture
def two_days_into_december(org):  # noqa: ANN001, ANN201
    # October and November complete; December two days old. The finding: a chat NPS of 6 on 68
    # answers, then 75 on 4 answers in the two days of December.
    rollup(org, "call_center.call", date(2026, 10, 12), 40, 30, 30)  # NPS 10, n 100
    rollup(org, "call_center.call", date(2026, 11, 12), 20, 30, 50)  # NPS −30, n 100: a real fall
    rollup(org, "call_center.call", date(2026, 12, 1), 3, 0, 0)
    rollup(org, "branch.visit", date(2026, 10, 12), 25, 30, 25)  # n 80
    rollup(org, "branch.visit", date(2026, 11, 12), 22, 28, 18)  # NPS 6, n 68
    rollup(org, "branch.visit", date(2026, 12, 1), 3, 1, 0)  # NPS 75, n 4
    return org


def test_the_last_complete_month_is_compared_and_december_is_shown_so_far(two_days_into_december) -> None:  # noqa: ANN001
    org = two_days_into_december
    now = datetime(2026, 12, 2, 9, tzinfo=PARIS)
    found = period_changes(organisation=org.organisation, metric="nps", now=now)
    assert (found.current_start, found.previous_start, found.so_far_start) == (
        date(2026, 11, 1),
        date(2026, 10, 1),
        date(2026, 12, 1),
    )
    by_label = {next(c for c, n in NAMES.items() if ch.label in (c, *n)): ch for ch in found.changes}
    assert by_label["branch.visit"].current.n == 68 and by_label["branch.visit"].so_far.n == 4


def test_a_side_below_the_minimum_gets_no_verdict_arrow_or_colour(org) -> None:  # noqa: ANN001
    rollup(org, "branch.visit", date(2026, 11, 12), 22, 28, 18)  # NPS 6, n 68
    rollup(org, "branch.visit", date(2026, 12, 1), 3, 1, 0)  # NPS 75, n 4
    rollup(org, "call_center.call", date(2026, 11, 12), 40, 30, 30)
    rollup(org, "call_center.call", date(2026, 12, 1), 20, 30, 50)
    # Even when the reader asks for the month of those 4 answers itself (a window ending with it).
    with time_machine.travel(datetime(2027, 1, 10, 9, tzinfo=PARIS), tick=False):
        client = signed_in(org, "en")
        page = client.get("/analytics/?metric=nps&period=month&until=2026-12-31").content.decode()
    chat = rows(page)["branch.visit"]
    assert 'class="unreliable"' in page and "too few answers to judge" in chat
    assert "significant" not in chat and "▲" not in chat and "▼" not in chat
    assert "0.004" not in chat  # no p-value shown for a row without a verdict
    assert "▼ significant fall" in rows(page)["call_center.call"]  # NPS 10 → −30 on 100 each


def test_every_verdict_on_the_page_agrees_with_its_interval(two_days_into_december) -> None:  # noqa: ANN001
    with time_machine.travel(datetime(2026, 12, 2, 9, tzinfo=PARIS), tick=False):
        client = signed_in(two_days_into_december, "en")
        page = client.get("/analytics/?metric=nps&period=month").content.decode()
    assert "so far" in page and "Under way since" in page
    found = rows(page)
    assert set(found) == {"call_center.call", "branch.visit"}
    for label, row in found.items():
        low, high = (
            float(x) for x in re.search(r"\[(-?[\d.]+) ; (-?[\d.]+)\]</small></td>\s*<td>", row).groups()
        )
        assert ("significant" in row) == (low > 0 or high < 0), label
    assert "▼ significant fall" in found["call_center.call"]
    assert "Each interval of a difference is at 97.5 %" in page  # one significant among two: 1 − 1·q/2


def test_the_french_page_says_the_month_is_under_way(two_days_into_december) -> None:  # noqa: ANN001
    with time_machine.travel(datetime(2026, 12, 2, 9, tzinfo=PARIS), tick=False):
        client = signed_in(two_days_into_december, "fr")
        page = client.get("/analytics/?metric=nps&period=month").content.decode()
    assert "en cours" in page and "trop peu de réponses" not in rows(page)["call_center.call"]
