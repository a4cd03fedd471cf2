from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from avis.analytics.queries import Metric, Period, metric_values
from avis.api import organisation_of

router = Router(tags=["metrics"])


class MetricsQuery(Schema):
    metric: Metric = "nps"
    period: Period = "month"
    touchpoint: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)


class MetricOut(Schema):
    metric: str
    touchpoint: str
    period: str
    period_start: date
    n: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    reliable: bool = Field(description="False below the minimum sample size: show greyed, with the interval")


@router.get("", response=list[MetricOut])
def get_metrics(request: HttpRequest, filters: Query[MetricsQuery]) -> list[MetricOut]:
    """Metric values per touchpoint and period, each with n and its confidence interval.

    NPS is in points (−100…100) with the adjusted-Wald interval; rates are
    proportions (0…1) with the Wilson interval.
    """
    values = metric_values(organisation=organisation_of(request), **filters.dict())
    return [
        MetricOut(
            metric=v.metric,
            touchpoint=v.touchpoint,
            period=v.period,
            period_start=v.period_start,
            n=v.estimate.n,
            value=v.estimate.value,
            ci_low=v.estimate.ci_low,
            ci_high=v.estimate.ci_high,
            method=v.estimate.method,
            reliable=v.reliable,
        )
        for v in values
    ]
