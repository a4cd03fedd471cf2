from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from avis.accounts.authentication import organisation_of
from avis.analytics.comments import CommentFilters, comment_page
from avis.analytics.drivers import driver_analysis
from avis.analytics.exports import CONTENT_TYPES, Format, export_file
from avis.analytics.queries import Dimension, Filters, Metric, Period, metric_values, parse_segment
from avis.analytics.reports import ReportPeriod, render_report_pdf, report_filename, report_window
from avis.analytics.stats import Estimate
from avis.analytics.verbatims import Language, SentimentLabel
from avis.analytics.weighted import WeightedMetric, weighted_overview
from avis.fields import Day, Instant

router = Router(tags=["metrics"])


class MetricsQuery(Schema):
    metric: Metric = "nps"
    period: Period = "month"
    group_by: list[Dimension] = Field(
        default=["touchpoint"], description="repeat for several: touchpoint, team, agent, channel"
    )
    touchpoint: str | None = None
    team: str | None = Field(default=None, description="team or site code")
    agent: str | None = Field(default=None, description="the agent's external id")
    channel: str | None = Field(default=None, examples=["email", "sms"])
    segment: str | None = Field(default=None, description="a customer attribute: attribute=value")
    since: Instant | None = None
    until: Instant | None = None
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    version: int | None = Field(
        default=None,
        description="a survey version's id (GET /api/v1/surveys/{id}/versions): its answers only",
    )


class MetricOut(Schema):
    metric: str
    touchpoint: str
    team: str
    agent: str
    channel: str
    period: str
    period_start: date | None = Field(description="null when period=all (the whole window)")
    n: int
    min_n: int = Field(description="the organisation's minimum sample size")
    value: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    reliable: bool = Field(description="False below the minimum sample size: show greyed, with the interval")


@router.get("", response=list[MetricOut])
def get_metrics(request: HttpRequest, filters: Query[MetricsQuery]) -> list[MetricOut]:
    """Metric values per touchpoint and period, each with n and its confidence interval.

    NPS is in points (−100…100) with the adjusted-Wald interval; rates and top-2-box shares
    (``csat``, ``agent_score``) and the response rate are proportions (0…1) with the Wilson
    interval; means (``csat_mean``, ``agent_mean``, ``ces`` on 1–7) have Student's t interval.
    ``agent_*`` figures use only questions about the agent, "not applicable" left out.
    """
    wanted = filters.dict()
    wanted["segment"] = parse_segment(wanted["segment"])
    values = metric_values(organisation=organisation_of(request), **wanted)
    return [
        MetricOut(
            metric=v.metric,
            touchpoint=v.touchpoint,
            team=v.team,
            agent=v.agent,
            channel=v.channel,
            period=v.period,
            period_start=v.period_start,
            n=v.estimate.n,
            min_n=v.min_n,
            value=v.estimate.value,
            ci_low=v.estimate.ci_low,
            ci_high=v.estimate.ci_high,
            method=v.estimate.method,
            reliable=v.reliable,
        )
        for v in values
    ]


class WeightedQuery(Schema):
    metric: WeightedMetric = "nps"
    since: Instant | None = None
    until: Instant | None = None


class EstimateOut(Schema):
    n: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    method: str


class WeightedFigureOut(Schema):
    touchpoint: str = Field(description='"" for all touchpoints together')
    unweighted: EstimateOut
    weighted: EstimateOut
    standard_error: float | None = Field(description="the weighted figure's linearised standard error")
    design_effect: float | None = Field(description="Kish's 1 + CV² of the weights")
    effective_n: float | None = Field(description="Kish's (Σw)²/Σw²")


class WeightedOut(Schema):
    metric: str
    margins: list[str] = Field(description="what the weights were raked to: touchpoint, team, channel")
    dropped: list[str] = Field(description="population categories without any answer, left out of the raking")
    not_raked: str = Field(
        description="why the answers could not be raked (the weighted figures then carry the design "
        'weights only); "" when they were'
    )
    figures: list[WeightedFigureOut]


def _estimate_out(estimate: Estimate) -> EstimateOut:
    return EstimateOut(
        n=estimate.n,
        value=estimate.value,
        ci_low=estimate.ci_low,
        ci_high=estimate.ci_high,
        method=estimate.method,
    )


@router.get("/weighted", response=WeightedOut)
def get_weighted(request: HttpRequest, query: Query[WeightedQuery]) -> WeightedOut:
    """NPS (points), CSAT top-2-box or resolution rate (0…1), weighted and unweighted side by side.

    Design weights 1/π from governance's sampling, raked to the window's interactions on
    touchpoint, team and channel; with Kish's design effect and effective sample size.
    """
    found = weighted_overview(organisation=organisation_of(request), **query.dict())
    return WeightedOut(
        metric=found.metric,
        margins=list(found.margins),
        dropped=found.dropped,
        not_raked=found.not_raked,
        figures=[
            WeightedFigureOut(
                touchpoint=f.touchpoint,
                unweighted=_estimate_out(f.estimate.unweighted),
                weighted=_estimate_out(f.estimate),
                standard_error=f.estimate.standard_error,
                design_effect=f.estimate.design_effect,
                effective_n=f.estimate.effective_n,
            )
            for f in found.figures
        ],
    )


# ---------------------------------------------------------------- comments and drivers

comments_router = Router(tags=["comments"])
drivers_router = Router(tags=["drivers"])


class CommentsQuery(Schema):
    since: Instant | None = None
    until: Instant | None = None
    touchpoint: str | None = None
    sentiment: SentimentLabel | None = None
    topic: str | None = None
    language: Language | None = None
    q: str = Field(default="", max_length=200, description="words the comment must contain")
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=25, ge=1, le=100)


class CommentOut(Schema):
    answer_id: int
    response_id: int
    answered_at: datetime
    touchpoint: str
    team: str
    agent: str
    score: int | None = Field(description="the 0–10 recommendation score of the same response")
    language: str
    sentiment: float = Field(
        description="−1…1: 1 − 2·P(negative) from the organisation's learned model when it has one "
        "(sentiment_learned), else the word lists' VADER compound score"
    )
    sentiment_label: str
    sentiment_learned: bool = Field(description="scored by the model learned from the organisation's data")
    topics: list[str]
    text: str = Field(description="phone numbers, emails and card numbers masked")
    case_id: int | None


class CommentsOut(Schema):
    total: int
    page: int
    pages: int
    per_page: int
    truncated: bool = Field(description="True when a text filter read only the most recent comments")
    items: list[CommentOut]


@comments_router.get("", response=CommentsOut)
def get_comments(request: HttpRequest, filters: Query[CommentsQuery]) -> CommentsOut:
    """Comments, newest first, with language, sentiment, topics, masked text and their case."""
    wanted = filters.dict()
    page, per_page, search = wanted.pop("page"), wanted.pop("per_page"), wanted.pop("q")
    result = comment_page(
        organisation=organisation_of(request),
        filters=CommentFilters(**wanted, search=search),
        page=page,
        per_page=per_page,
    )
    return CommentsOut(
        total=result.total,
        page=result.page,
        pages=result.pages,
        per_page=result.per_page,
        truncated=result.truncated,
        items=[
            CommentOut(
                answer_id=row.answer_id,
                response_id=row.response_id,
                answered_at=row.answered_at,
                touchpoint=row.touchpoint,
                team=row.team,
                agent=row.agent,
                score=row.score,
                language=row.analysis.language,
                sentiment=row.analysis.sentiment,
                sentiment_label=row.analysis.sentiment_label,
                sentiment_learned=row.analysis.learned,
                topics=list(row.analysis.topics),
                text=row.text,
                case_id=row.case_id,
            )
            for row in result.rows
        ],
    )


class DriversQuery(Schema):
    touchpoint: str | None = Field(default=None, description="all touchpoints when absent")
    since: Instant | None = None
    until: Instant | None = None
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)


class TermOut(Schema):
    label: str
    coefficient: float = Field(description="effect on the 0–10 score, in points, against the reference")
    ci_low: float
    ci_high: float
    p_value: float
    standardised: float
    standardised_ci_low: float
    standardised_ci_high: float


class DriverOut(Schema):
    kind: str = Field(description="question | attribute | topic")
    key: str
    label: str
    reference: str
    importance: float = Field(description="LMG share of R² (the drivers add up to R²)")
    ci_low: float
    ci_high: float
    terms: list[TermOut]


class DriversOut(Schema):
    touchpoint: str | None
    n: int
    enough: bool = Field(description="False below the minimum number of scored answers")
    r_squared: float | None
    r_squared_ci_low: float | None
    r_squared_ci_high: float | None
    confidence: float
    method: str
    truncated: bool
    drivers: list[DriverOut]


@drivers_router.get("", response=DriversOut)
def get_drivers(request: HttpRequest, filters: Query[DriversQuery]) -> DriversOut:
    """What moves the overall score: OLS effects and LMG importance, each with its interval."""
    analysis = driver_analysis(organisation=organisation_of(request), **filters.dict())
    fit = analysis.fit
    return DriversOut(
        touchpoint=analysis.touchpoint,
        n=analysis.n,
        enough=analysis.enough,
        r_squared=fit.r_squared if fit else None,
        r_squared_ci_low=fit.r_squared_ci[0] if fit else None,
        r_squared_ci_high=fit.r_squared_ci[1] if fit else None,
        confidence=analysis.confidence,
        method=analysis.method,
        truncated=analysis.truncated,
        drivers=[
            DriverOut(**{**vars(d), "terms": [TermOut(**vars(t)) for t in d.terms]}) for d in analysis.drivers
        ],
    )


# ---------------------------------------------------------------- exports

exports_router = Router(tags=["exports"])


class ExportQuery(Schema):
    format: Format = "csv"
    metric: Metric = "nps"
    period: Period = "month"
    touchpoint: str | None = None
    team: str | None = None
    agent: str | None = None
    channel: str | None = None
    segment: str | None = Field(default=None, description="a customer attribute: attribute=value")
    since: Instant | None = None
    until: Instant | None = None


def _export(request: HttpRequest, what: str, query: ExportQuery) -> HttpResponse:
    wanted = query.dict()
    fmt, metric, period = wanted.pop("format"), wanted.pop("metric"), wanted.pop("period")
    wanted["segment"] = parse_segment(wanted["segment"])
    body = export_file(
        organisation=organisation_of(request),
        what=what,  # type: ignore[arg-type]
        fmt=fmt,
        filters=Filters(**wanted),
        metric=metric,
        period=period,
    )
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="avis-{what}.{fmt}"'
    return response


@exports_router.get("/answers", response={200: None})
def export_answers(request: HttpRequest, query: Query[ExportQuery]) -> HttpResponse:
    """Every answer of the window as CSV, XLSX or Parquet; cells that a spreadsheet would run as a
    formula (starting with =, +, -, @, tab or CR) are prefixed with an apostrophe."""
    return _export(request, "answers", query)


@exports_router.get("/metrics", response={200: None})
def export_metrics(request: HttpRequest, query: Query[ExportQuery]) -> HttpResponse:
    """A metric per touchpoint and period with n, interval, method and reliability, as a file."""
    return _export(request, "metrics", query)


class ReportQuery(Schema):
    period: ReportPeriod = Field(default="month", description="week, month, quarter or custom")
    on: Day | None = Field(
        default=None, description="a day in the week, month or quarter; the last complete one when absent"
    )
    since: Day | None = Field(default=None, description="custom: the first day")
    until: Day | None = Field(default=None, description="custom: the last day, included")
    language: Literal["fr", "en"] | None = Field(
        default=None, description="the organisation's language when absent"
    )


@exports_router.get("/report", response={200: None})
def export_report(request: HttpRequest, query: Query[ReportQuery]) -> HttpResponse:
    """The PDF report of one period (charts included), as the page and the scheduled email send it."""
    organisation = organisation_of(request)
    today = timezone.localdate(timezone=ZoneInfo(organisation.default_time_zone))
    wanted = query.dict()
    language = wanted.pop("language") or organisation.default_locale[:2]
    window = report_window(today=today, **wanted)
    pdf = render_report_pdf(organisation=organisation, window=window, language=language)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report_filename(organisation, window)}"'
    return response
