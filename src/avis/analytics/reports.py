"""The period report: the figures pages in one PDF (WeasyPrint), charts included, in one language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.analytics.changes import period_changes, previous_start
from avis.analytics.fair import fair_view
from avis.analytics.operations import closed_loop, contact_pressure
from avis.analytics.plots import funnel_chart, series_chart
from avis.analytics.queries import Filters, analytics_settings, figure_table, metric_values
from avis.analytics.weighted import weighted_nps_overview

ReportPeriod = Literal["week", "month"]


@dataclass(frozen=True)
class ReportWindow:
    period: ReportPeriod
    start: date
    end: date  # first day after the period

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        return datetime.combine(self.start, time(0), tzinfo=zone), datetime.combine(
            self.end, time(0), tzinfo=zone
        )


def last_complete_window(period: ReportPeriod, today: date) -> ReportWindow:
    """The last whole week (Monday to Sunday) or calendar month before ``today``."""
    if period == "week":
        this_week = today - timedelta(days=today.weekday())
        return ReportWindow(period, this_week - timedelta(days=7), this_week)
    this_month = today.replace(day=1)
    return ReportWindow(period, previous_start("month", this_month), this_month)


def render_report_pdf(*, organisation: Organisation, window: ReportWindow, language: str = "fr") -> bytes:
    """The report of one period as PDF bytes: summary, weighting, changes, trend, fair view, operations."""
    from weasyprint import HTML  # imported here: loading Pango costs time the web pages don't need

    zone = ZoneInfo(organisation.default_time_zone)
    since, until = window.bounds(zone)
    filters = Filters(since=since, until=until)
    with translation.override(language):
        year_ago = datetime.combine(window.end - timedelta(days=366), time(0), tzinfo=zone)
        trend = metric_values(
            organisation=organisation, metric="nps", period="month", since=year_ago, until=until
        )
        people = fair_view(organisation=organisation, level="agent", filters=filters)
        settings = analytics_settings(organisation=organisation)
        html = render_to_string(
            "analytics/report.html",
            {
                "organisation": organisation,
                "window": window,
                "last_day": window.end - timedelta(days=1),
                "summary": figure_table(organisation=organisation, filters=filters),
                "weighted": weighted_nps_overview(organisation=organisation, since=since, until=until),
                "changes": period_changes(
                    organisation=organisation, metric="nps", period=window.period, current=window.start
                ),
                "trend": series_chart(trend, title="NPS", percent=False, language=language)
                if trend
                else None,
                "people": people,
                "funnel": funnel_chart(
                    people, title=_("Agents: share of top-2-box agent scores"), language=language
                )
                if people.units
                else None,
                "pressure": contact_pressure(organisation=organisation, since=since, until=until),
                "loop": closed_loop(organisation=organisation, since=since, until=until),
                "min_n": settings.min_n,
                "hide": settings.hide_below_min_n,
                "LANGUAGE_CODE": language,
            },
        )
    return HTML(string=html).write_pdf()  # type: ignore[no-any-return]
