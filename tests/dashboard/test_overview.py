"""The overview a manager lands on, on 2 December: last month judged, this month so far, what needs them.

Mutuelle Horizon's demo is loaded once for the module as of 2 December, two days into the month:
the moment the overview used to be empty (only "this month", every figure greyed, no trend).
The browser test (tests/browser/test_overview.py) reads the same page in Chromium at two sizes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from avis.analytics.changes import period_changes
from avis.analytics.queries import analytics_settings, metric_values
from avis.cases.models import Case
from avis.dashboard.demo.company import MANAGER_EMAIL, TOUCHPOINTS
from avis.dashboard.demo.generator import LoadReport, drop_demo, load_demo
from avis.dashboard.demo.live import LiveFeed

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
# Two days into December: the month under way has almost nothing yet; November is complete.
TODAY = datetime(2026, 12, 2, 9, 30, tzinfo=PARIS)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[LoadReport]:  # noqa: ANN001
    with time_machine.travel(TODAY, tick=True), django_db_blocker.unblock():
        report = load_demo(customers=200, interactions=1500, seed=7, barometer=False)
        live_morning(report)
        yield report
        drop_demo(report.organisation)


def live_morning(report: LoadReport) -> None:
    """The live feed's last hour, as ``avis demo`` runs it: today's answers, and the cases they open."""
    feed = LiveFeed(organisation_id=report.organisation.id, seed=11)
    for step in range(40):
        feed.tick(now=TODAY - timedelta(seconds=30 * (40 - step)))


def _page(language: str) -> str:
    client = Client(headers={"accept-language": language})
    client.force_login(get_user_model().objects.get(email=MANAGER_EMAIL))
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def _element(page: str, tag: str, id_: str) -> str:
    found = re.search(rf'<{tag}[^>]* id="{id_}"[^>]*>(.*?)</{tag}>', page, re.S)
    assert found, f"no <{tag} id={id_}>"
    return found.group(1)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _rows(table: str) -> list[tuple[str, str, list[str]]]:
    """(row header text, the row's html, each cell's text) of a table's body."""
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        header = re.search(r"<th[^>]*>(.*?)</th>", row, re.S)
        cells = [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows.append((_text(header.group(1)) if header else "", row, cells))
    return rows


def test_the_overview_judges_november_and_shows_december_so_far(demo: LoadReport) -> None:
    page = _page("en")
    periods = _text(_element(page, "p", "periods"))
    assert "November 2026 is the last complete month" in periods
    assert "compared with October 2026" in periods
    assert "December 2026 is under way (1–2)" in periods
    # French month names are lower case: a sentence starting with one still starts with a capital.
    periods_fr = _text(_element(_page("fr"), "p", "periods"))
    assert periods_fr.startswith("Novembre 2026 est le dernier mois complet"), periods_fr
    assert "Décembre 2026 est en cours" in periods_fr, periods_fr
    table = _element(page, "table", "figures-nps")
    headers = [_text(h) for h in re.findall(r"<th scope=\"col\">(.*?)</th>", table, re.S)]
    assert headers == ["Touchpoint", "November 2026", "Change since October 2026", "December 2026 so far"]
    rows = {name: cells for name, _html, cells in _rows(table)}
    # Names, not codes; every touchpoint, then all of them together.
    assert set(rows) == {tp.name_en for tp in TOUCHPOINTS} | {"All touchpoints"}
    november = {
        v.touchpoint: v.estimate
        for v in metric_values(organisation=demo.organisation, metric="nps", period="month")
        if v.period_start == date(2026, 11, 1)
    }
    for tp in TOUCHPOINTS:
        assert f"n={november[tp.code].n}" in rows[tp.name_en][0], tp.code


def test_french_overview_names_the_months_in_french(demo: LoadReport) -> None:
    page = _page("fr")
    periods = _text(_element(page, "p", "periods"))
    # Month names in French (lower case but where they start a sentence).
    assert all(m in periods.lower() for m in ("novembre 2026", "octobre 2026", "décembre 2026")), periods
    table = _element(page, "table", "figures-nps")
    assert {name for name, _html, _cells in _rows(table)} >= {tp.name_fr for tp in TOUCHPOINTS}


def test_no_verdict_where_either_month_is_below_the_minimum(demo: LoadReport) -> None:
    """Each change's verdict respects the minimum n of both months and agrees with its interval."""
    page = _page("en")
    min_n = analytics_settings(organisation=demo.organisation).min_n
    changes = {
        c.label: c
        for c in period_changes(
            organisation=demo.organisation, metric="nps", period="month", current=date(2026, 11, 1)
        ).changes
    }
    assert changes, "November and October both have answers"
    links = re.findall(r'<a href="([^"]*)" class="change verdict-(\w+)"[^>]*>(.*?)</a>', page, re.S)
    assert links
    for _href, verdict, inside in links:
        text = _text(inside)
        if verdict in ("rise", "fall"):
            # As shown: a bound that is not zero is never written 0 beside a verdict.
            low, high = (float(x) for x in re.search(r"\[(-?[\d.]+) ; (-?[\d.]+)\]", text).groups())
            assert low > 0 or high < 0, text
        else:
            assert "significant rise" not in text and "significant fall" not in text
    # A change is labelled by its touchpoint's name (or code): the page's links carry the code.
    code_of = {label: tp.code for tp in TOUCHPOINTS for label in (tp.code, tp.name_en, tp.name_fr)}
    small = [code_of[label] for label, c in changes.items() if min(c.current.n, c.previous.n) < min_n]
    assert small, "the small demo has touchpoints below the minimum"
    for code in small:
        verdicts = [
            (verdict, _text(inside))
            for href, verdict, inside in links
            if f"touchpoint={code}" in href and "metric=nps" in href
        ]
        assert verdicts == [("too_few", verdicts[0][1])], code
        assert verdicts[0][1].endswith("too few answers to judge")


def test_open_cases_by_severity_and_overdue_match_the_cases(demo: LoadReport) -> None:
    page = _page("en")
    open_cases = Case.objects.filter(organisation=demo.organisation).exclude(
        status__in=["resolved", "closed"]
    )
    overdue = open_cases.filter(due_at__lt=timezone.now()).count()
    assert open_cases.count() > 0
    tile = _text(_element(page, "div", "open-cases"))
    assert tile.startswith(f"Open cases {open_cases.count()} ")
    assert (f"{overdue} overdue" if overdue else "none overdue") in tile
    rows = _rows(_element(page, "table", "cases-by-severity"))
    assert [name for name, _html, _cells in rows] == ["Critical", "High", "Medium", "Low"]
    assert sum(int(cells[0]) for _name, _html, cells in rows) == open_cases.count()
    assert sum(int(cells[1]) for _name, _html, cells in rows) == overdue


def test_a_trend_chart_per_touchpoint(demo: LoadReport) -> None:
    page = _page("en")
    panels = re.findall(r"<svg[^>]*>.*?</svg>", _element(page, "section", "trend"), re.S)
    assert len(panels) == len(TOUCHPOINTS)  # small multiples: one chart each, no overlapping bands
    titles = set()
    for svg in panels:
        assert "with its 95 % confidence interval" in svg[: svg.index(">")]
        text = _text(svg)
        titles |= {tp.name_en for tp in TOUCHPOINTS if tp.name_en in text}
        assert not any(tp.code in text for tp in TOUCHPOINTS)
    assert titles == {tp.name_en for tp in TOUCHPOINTS}


def test_every_figure_links_to_its_detail(demo: LoadReport) -> None:
    page = _page("en")
    main = re.search(r"<main.*?</main>", page, re.S).group(0)
    links = {html.unescape(href) for href in re.findall(r'<a[^>]* href="([^"#]+)"', main)}
    assert any("since=2026-11-01" in href and "until=2026-11-30" in href for href in links)
    assert any("since=2026-12-01" in href and "until=2026-12-02" in href for href in links)
    client = Client()
    client.force_login(get_user_model().objects.get(email=MANAGER_EMAIL))
    # One of each kind (a page, a metric, a month): each Figures page draws its chart, which takes time.
    kinds = {re.sub(r"&touchpoint=[^&]*|[?&]severity=\d", "", href): href for href in sorted(links)}
    for href in kinds.values():
        assert client.get(href).status_code == 200, href


def test_open_cases_link_to_the_cases_they_count(demo: LoadReport) -> None:
    """A severity's count and its overdue count open the case list narrowed to exactly those cases."""
    page = _page("en")
    client = Client()
    client.force_login(get_user_model().objects.get(email=MANAGER_EMAIL))
    table = _element(page, "table", "cases-by-severity")
    checked = 0
    for href, shown in re.findall(r'<a[^>]* href="(/cases/[^"]*)">(\d+)</a>', table):
        listed = client.get(html.unescape(href)).content.decode()
        assert len(re.findall(r"<tr data-case=", listed)) == min(int(shown), 50), href
        checked += 1
    assert checked >= 4


def test_contact_pressure_for_both_months(demo: LoadReport) -> None:
    rows = _rows(_element(_page("en"), "table", "pressure-figures"))
    assert [name for name, _html, _cells in rows] == ["November 2026", "December 2026 so far"]
    assert int(rows[0][2][0]) > 0


@pytest.mark.parametrize(
    ("language", "month_names", "metric_name"),
    [
        ("en", ("December 2026", "November 2026", "June 2026"), "Resolution rate"),
        ("fr", ("Décembre 2026", "Novembre 2026", "Juin 2026"), "Taux de résolution"),
    ],
)
def test_all_periods_reads_in_words(demo: LoadReport, language: str, month_names, metric_name: str) -> None:  # noqa: ANN001
    """ "All periods →" used to be a bare table of codes: now months, touchpoint and metric names."""
    client = Client(headers={"accept-language": language})
    client.force_login(get_user_model().objects.get(email=MANAGER_EMAIL))
    page = client.get("/metrics/?metric=resolution_rate").content.decode()
    table = _element(page, "table", "periods-table")
    assert _text(re.search(r"<caption>(.*?)</caption>", table).group(1)) == metric_name
    headers = [_text(h) for h in re.findall(r'<th scope="col">(.*?)</th>', table, re.S)]
    names = {tp.name_fr if language == "fr" else tp.name_en for tp in TOUCHPOINTS}
    assert set(headers[1:]) == names
    rows = [name for name, _html, _cells in _rows(table)]
    assert rows[0].startswith(month_names[0]) and rows[0].endswith(")")  # December, marked so far
    assert rows[1] == month_names[1]
    assert month_names[2] in rows
    assert f">{metric_name}</option>" in page
    for tp in TOUCHPOINTS:
        assert tp.code not in _text(page)
