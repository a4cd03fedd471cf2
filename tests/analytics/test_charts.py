"""The charts as a reader sees them, read from the SVG drawn: ticks on the periods plotted, one
panel per touchpoint when bands overlap, the funnel's axes on the data, legends never cut, and
titles that say what is drawn (the PDF report's heading included)."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from avis.analytics.fair import fair_view
from avis.analytics.plots import funnel_chart, series_chart
from avis.analytics.queries import MetricValue
from avis.analytics.reports import last_complete_window, render_report_pdf, report_html
from avis.analytics.stats import Estimate
from tests.analytics.answering import survey_and_answer
from tests.helpers import open_all_day
from tests.pdf_text import pdf_text, squeezed

PARIS = ZoneInfo("Europe/Paris")
MONTHS = [date(2026, month, 1) for month in range(6, 12)]  # June to November


def _axis_labels(svg: str, axis: str = "") -> list[str]:
    """The tick labels of every axis, or of the X or Y axes alone."""
    if axis:
        parts = svg.split('<g class="mark-group role-axis"')[1:]
        svg = "".join(part for part in parts if f'aria-label="{axis}-axis' in part[:300])
    groups = re.findall(r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', svg, re.S)
    return [label for group in groups for label in re.findall(r"<text[^>]*>([^<]*)</text>", group)]


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def _panels(svg: str) -> int:
    """Each panel draws its own grid, across and up."""
    return svg.count('class="mark-rule role-axis-grid"') // 2


def _monthly(touchpoints: dict[str, float], *, half_width: float = 10) -> list[MetricValue]:
    return [
        MetricValue(
            metric="nps",
            touchpoint=touchpoint,
            period="month",
            period_start=month,
            estimate=Estimate(value, value - half_width, value + half_width, 80, "test"),
        )
        for touchpoint, value in touchpoints.items()
        for month in MONTHS
    ]


def test_monthly_figures_have_monthly_ticks_and_a_title_naming_the_month() -> None:
    svg = series_chart(_monthly({"web.chat": 30}), title="NPS", percent=False, language="en")
    ticks = [label for label in _axis_labels(svg) if re.search(r"[A-Za-z]", label)]
    assert ticks == ["Jun 2026", "Jul 2026", "Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026"]
    assert "NPS by month" in _texts(svg)
    with translation.override("fr"):
        french = series_chart(_monthly({"web.chat": 30}), title="NPS", percent=False, language="fr")
    assert "NPS par mois" in _texts(french)
    gap = [v for v in _monthly({"web.chat": 30}) if v.period_start.month != 8]  # no August figure
    ticks = _axis_labels(series_chart(gap, title="NPS", percent=False, language="en"), "X")
    assert ticks == ["Jun 2026", "Jul 2026", "Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026"]
    assert [t for t in _axis_labels(french) if re.search(r"[a-z]", t)][0].startswith("juin")


def test_overlapping_bands_get_one_panel_per_touchpoint() -> None:
    four = {"call_center.call": 20, "web.chat": 25, "agency.visit": 30, "claims.settled": 35}
    svg = series_chart(_monthly(four), title="NPS", percent=False, language="en")
    assert _panels(svg) == 4
    headers = set(_texts(svg))
    assert set(four) <= headers
    # Each panel still has a tick on every other month at least, never a fortnight between two.
    ticks = [label for label in _axis_labels(svg) if re.search(r"[A-Za-z]", label)]
    assert ticks and all(re.fullmatch(r"[A-Z][a-z]{2} 2026", t) for t in ticks)


def test_bands_apart_stay_in_one_chart_with_a_legend() -> None:
    svg = series_chart(
        _monthly({"web.chat": 10, "agency.visit": 60}, half_width=5),
        title="NPS",
        percent=False,
        language="en",
    )
    assert _panels(svg) == 1
    assert {"web.chat", "agency.visit"} <= set(_texts(svg))


@pytest.fixture
def agents(org):  # noqa: ANN001, ANN201
    """Three agents with 10 to 16 answers each about them, as the people page reads them."""
    open_all_day(org.organisation)
    for agent, n in (("A-1", 10), ("A-2", 13), ("A-3", 16)):
        survey_and_answer(
            org, datetime(2026, 3, 10, 11, tzinfo=PARIS), [9] * n, agent=agent, agent_scores=["4"] * n
        )
    return org


@pytest.mark.django_db
def test_the_funnel_axis_spans_the_agents_answers_not_one_to_a_thousand(agents) -> None:  # noqa: ANN001
    view = fair_view(organisation=agents.organisation, level="agent")
    assert sorted(u.n for u in view.units) == [10, 13, 16]
    svg = funnel_chart(view, title="Agents", language="en")
    x_ticks = [float(label.replace(",", "")) for label in _axis_labels(svg, "X")]
    assert x_ticks and all(9 <= n <= 20 for n in x_ticks)
    # The legend says every status in full (its labels used to stop at 160 px).
    assert "too few answers to judge" in _texts(svg) or "within the limits" in _texts(svg)
    assert not any(text.endswith("…") for text in _texts(svg))


@pytest.mark.django_db
def test_the_report_names_the_months_its_trend_draws_and_cuts_no_legend(agents) -> None:  # noqa: ANN001
    survey_and_answer(agents, datetime(2026, 1, 20, 11, tzinfo=PARIS), [10, 3], agent_scores=["5", "2"])
    html = report_html(
        organisation=agents.organisation,
        window=last_complete_window("month", date(2026, 4, 2)),
        language="en",
    )
    assert "twelve months" not in html
    assert "NPS by month: January 2026 to March 2026 (3 months)" in html
    assert not any(text.endswith("…") for text in _texts(html))
    for width in re.findall(r'<svg[^>]* width="([\d.]+)"', html):
        assert float(width) <= 688  # the A4 page's text width at 96 px per inch: nothing drawn past it
    # And were one wider, it would scale down whole rather than lose its right side.
    assert html.count("<svg ") == len(re.findall(r'<svg [^>]*viewBox="0 0 [\d.]+ [\d.]+"', html))
    french = report_html(
        organisation=agents.organisation,
        window=last_complete_window("month", date(2026, 4, 2)),
        language="fr",
    )
    assert "NPS par mois : de janvier 2026 à mars 2026 (3 mois)" in french


@pytest.mark.django_db
def test_the_pdf_shows_the_funnel_legend_whole_and_the_months_drawn(agents) -> None:  # noqa: ANN001
    """The PDF's own text: what a reader of the printed report sees."""
    survey_and_answer(agents, datetime(2026, 3, 12, 11, tzinfo=PARIS), [2], agent="A-4", agent_scores=["1"])
    pdf = render_report_pdf(
        organisation=agents.organisation,
        window=last_complete_window("month", date(2026, 4, 2)),
        language="en",
    )
    text = squeezed(pdf_text(pdf))
    assert squeezed("too few answers to judge") in text  # A-4, one answer: its status in full
    assert "judg…" not in text and "…" not in text
    assert squeezed("NPS by month: March 2026 (1 month)") in text
    assert "twelvemonths" not in text
