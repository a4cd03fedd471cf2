"""Every figure avis shows is computed here, once: screens, API and exports read it from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth, TruncWeek

from avis.accounts.models import Organisation
from avis.analytics.stats import Estimate, nps, wilson
from avis.interactions.models import Touchpoint
from avis.surveys.models import Answer, Invitation

Metric = Literal["nps", "resolution_rate", "response_rate"]
Period = Literal["week", "month"]
METRICS: tuple[Metric, ...] = ("nps", "resolution_rate", "response_rate")
MIN_RELIABLE_N = 30


@dataclass(frozen=True)
class MetricValue:
    metric: str
    touchpoint: str
    period: str
    period_start: date
    estimate: Estimate

    @property
    def reliable(self) -> bool:
        """Below the minimum n a figure is shown greyed with its interval, never alone."""
        return self.estimate.n >= MIN_RELIABLE_N


def _trunc(period: Period, field: str, zone: ZoneInfo) -> TruncWeek | TruncMonth:
    return TruncWeek(field, tzinfo=zone) if period == "week" else TruncMonth(field, tzinfo=zone)


def _window(rows: QuerySet, field: str, since: datetime | None, until: datetime | None) -> QuerySet:
    if since:
        rows = rows.filter(**{f"{field}__gte": since})
    if until:
        rows = rows.filter(**{f"{field}__lt": until})
    return rows


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def metric_values(
    *,
    organisation: Organisation,
    metric: Metric,
    period: Period = "month",
    touchpoint: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    confidence: float = 0.95,
) -> list[MetricValue]:
    """One value per touchpoint and period, in the organisation's time zone, oldest first."""
    zone = ZoneInfo(organisation.default_time_zone)
    codes = dict(Touchpoint.objects.filter(organisation=organisation).values_list("id", "code"))
    if metric == "response_rate":
        rows = Invitation.objects.filter(organisation=organisation, status__in=["sent", "responded"])
        rows = _window(rows, "planned_at", since, until)
        stamp = "planned_at"
    else:
        rows = Answer.objects.filter(organisation=organisation)
        rows = rows.filter(kind="nps") if metric == "nps" else rows.filter(attribution="resolution")
        rows = _window(rows.filter(not_applicable=False), "answered_at", since, until)
        stamp = "answered_at"
    if touchpoint:
        rows = rows.filter(touchpoint__code=touchpoint)
    grouped = rows.annotate(bucket=_trunc(period, stamp, zone)).values("touchpoint_id", "bucket")
    if metric == "nps":
        counted = grouped.annotate(
            promoters=Count("id", filter=Q(number__gte=9)),
            detractors=Count("id", filter=Q(number__lte=6)),
            n=Count("id"),
        )
        estimates = [
            (
                row,
                nps(
                    row["promoters"],
                    row["n"] - row["promoters"] - row["detractors"],
                    row["detractors"],
                    confidence=confidence,
                ),
            )
            for row in counted
        ]
    else:
        success = Q(status="responded") if metric == "response_rate" else Q(choice="yes")
        counted = grouped.annotate(hits=Count("id", filter=success), n=Count("id"))
        estimates = [(row, wilson(row["hits"], row["n"], confidence=confidence)) for row in counted]
    values = [
        MetricValue(metric, codes[row["touchpoint_id"]], period, _as_date(row["bucket"]), estimate)
        for row, estimate in estimates
    ]
    return sorted(values, key=lambda v: (v.touchpoint, v.period_start))


def latest_by_touchpoint(
    *, organisation: Organisation, period: Period = "month"
) -> dict[str, dict[str, MetricValue]]:
    """The most recent value of each metric per touchpoint, for the dashboard's summary."""
    summary: dict[str, dict[str, MetricValue]] = {}
    for metric in METRICS:
        for value in metric_values(organisation=organisation, metric=metric, period=period):
            summary.setdefault(value.touchpoint, {})[metric] = value  # sorted: the last one wins
    return summary
