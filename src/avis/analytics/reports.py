"""The period report: the figures pages in one PDF (WeasyPrint), charts included, in one language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from avis.accounts.models import Organisation
from avis.analytics.changes import period_changes
from avis.analytics.fair import fair_view
from avis.analytics.operations import closed_loop, contact_pressure
from avis.analytics.plots import funnel_chart, series_chart
from avis.analytics.queries import (
    METRIC_LABELS,
    PERCENT_METRICS,
    Filters,
    analytics_settings,
    figure_table,
    metric_values,
)
from avis.analytics.weighted import WEIGHTED_METRICS, weighted_overview
from avis.errors import ValidationFailed

ReportPeriod = Literal["week", "month", "quarter", "custom"]
# The periods a report can be scheduled for (a custom range is asked for once, never repeated).
SCHEDULED_PERIODS: tuple[ReportPeriod, ...] = ("week", "month", "quarter")
REPORT_PERIODS: tuple[ReportPeriod, ...] = get_args(ReportPeriod)
LONGEST_CUSTOM_REPORT = timedelta(days=366)


@dataclass(frozen=True)
class ReportWindow:
    period: ReportPeriod
    start: date
    end: date  # first day after the period

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        return datetime.combine(self.start, time(0), tzinfo=zone), datetime.combine(
            self.end, time(0), tzinfo=zone
        )


def period_window(period: ReportPeriod, day: date) -> ReportWindow:
    """The week (Monday first), calendar month or quarter that holds ``day``."""
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return ReportWindow(period, start, start + timedelta(days=7))
    if period not in ("month", "quarter"):
        message = _("A report covers a week, a month, a quarter or chosen dates.")
        raise ValidationFailed(message, field="period")
    months = 3 if period == "quarter" else 1
    start = day.replace(month=(day.month - 1) // months * months + 1, day=1)
    month = start.month + months
    return ReportWindow(period, start, date(start.year + (month - 1) // 12, (month - 1) % 12 + 1, 1))


def last_complete_window(period: ReportPeriod, today: date) -> ReportWindow:
    """The last whole week, calendar month or quarter before ``today``."""
    return period_window(period, period_window(period, today).start - timedelta(days=1))


def report_window(
    *,
    period: ReportPeriod,
    today: date,
    on: date | None = None,
    since: date | None = None,
    until: date | None = None,
) -> ReportWindow:
    """The window a reader asked for: the week, month or quarter holding ``on`` (the last complete
    one without it), or ``custom`` from ``since`` to ``until``, both included."""
    if period == "custom":
        if since is None or until is None:
            raise ValidationFailed(_("A custom report needs its first and last day."), field="since")
        if until < since:
            raise ValidationFailed(_("The last day comes before the first."), field="until")
        if until - since >= LONGEST_CUSTOM_REPORT:
            raise ValidationFailed(_("A custom report covers a year at most."), field="until")
        return ReportWindow("custom", since, until + timedelta(days=1))
    if on is None:
        return last_complete_window(period, today)
    return period_window(period, on)


def report_filename(organisation: Organisation, window: ReportWindow) -> str:
    return f"avis-{organisation.slug}-{window.start.isoformat()}-{window.last_day.isoformat()}.pdf"


def render_report_pdf(*, organisation: Organisation, window: ReportWindow, language: str = "fr") -> bytes:
    """The report of one period as PDF bytes: summary, weighting, changes, trend, fair view, operations."""
    return pdf_from_html(report_html(organisation=organisation, window=window, language=language))


def pdf_from_html(html: str) -> bytes:
    """An HTML report laid out as PDF by WeasyPrint (the period report, the barometer's wave report)."""
    from weasyprint import HTML  # imported here: loading Pango costs time the web pages don't need

    return HTML(string=html).write_pdf()  # type: ignore[no-any-return]


def report_html(*, organisation: Organisation, window: ReportWindow, language: str = "fr") -> str:
    """The report as the HTML WeasyPrint lays out; a custom range has no previous period to compare."""
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
        return render_to_string(
            "analytics/report.html",
            {
                "organisation": organisation,
                "window": window,
                "last_day": window.last_day,
                "summary": figure_table(organisation=organisation, filters=filters),
                "weighted_all": [
                    (
                        METRIC_LABELS[metric],
                        weighted_overview(organisation=organisation, metric=metric, since=since, until=until),
                        metric in PERCENT_METRICS,
                    )
                    for metric in WEIGHTED_METRICS
                ],
                "changes": None
                if window.period == "custom"
                else period_changes(
                    organisation=organisation, metric="nps", period=window.period, current=window.start
                ),
                "trend": series_chart(
                    trend, title="NPS", percent=False, language=language, organisation=organisation
                )
                if trend
                else None,
                # The heading names the months drawn: six when the history holds six.
                **_months_drawn(trend),
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


def _months_drawn(trend: list) -> dict[str, object]:
    """The first and last month a trend draws, and how many months lie from one to the other."""
    months = sorted({v.period_start for v in trend if v.period_start})
    if not months:
        return {"trend_first": None, "trend_last": None, "trend_span": 0}
    first, last = months[0], months[-1]
    return {
        "trend_first": first,
        "trend_last": last,
        "trend_span": (last.year - first.year) * 12 + last.month - first.month + 1,
    }
