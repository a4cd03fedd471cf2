"""/api/v1/barometers: set up a barometer, plan, draw, start and close its waves, follow fieldwork."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from avis.accounts.authentication import organisation_of
from avis.analytics.aapor import OutcomeRates
from avis.analytics.exports import CONTENT_TYPES, Format
from avis.barometers import queries, services
from avis.barometers.dispositions import wave_rates
from avis.barometers.exports import export_wave_answers, wave_export_filename
from avis.barometers.models import Barometer, Wave
from avis.barometers.report import render_wave_report_pdf, wave_report_filename
from avis.barometers.results import wave_results
from avis.barometers.wave_page import series

router = Router(tags=["barometers"])


def _user(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class Rule(Schema):
    attribute: str = Field(min_length=1, max_length=64, examples=["contract"])
    operator: Literal["equals", "not_equals", "in", "is_true", "is_set", "less_than", "greater_than"]
    value: Any = None


class Stratum(Schema):
    attribute: str = Field(min_length=1, max_length=64, examples=["region"])
    bands: list[float] | None = Field(default=None, description="Cut points: [2, 5] gives <2, 2–5, ≥5")
    years_since: bool = Field(
        default=False, description="The attribute is a date; bands count years since it"
    )


class BarometerIn(Schema):
    name_fr: str = ""
    name_en: str = ""
    survey_id: int = Field(description="A published survey, on the barometer's own touchpoint")
    scope: list[Rule] = Field(default_factory=list, description="Who is in the frame: every rule holds")
    strata: list[Stratum]
    mode: Literal["email", "sms", "both"] = "both"
    metric: Literal["nps", "csat"] = "nps"
    margin: float = Field(description="Overall half-width of the interval, in points", examples=[3])
    domain: str = Field(default="", description="A stratum attribute with its own goal", examples=["region"])
    domain_margin: float | None = Field(default=None, examples=[8])
    confidence: float = 0.95
    allocation: Literal["proportional", "neyman", "minimum"] = "proportional"
    minimum_per_stratum: int = 0
    expected_response_rate: float = 0.3
    recurrence: Literal["monthly", "quarterly", "yearly"] = "quarterly"
    fieldwork_days: int = 14
    reminder_gap_days: int = 3
    reminder_max: int = 2
    population_targets: dict[str, dict[str, float]] = Field(default_factory=dict)


class BarometerOut(Schema):
    id: int
    name: dict[str, str]
    survey_id: int
    scope: list[dict[str, Any]]
    strata: list[dict[str, Any]]
    mode: str
    metric: str
    margin: float
    domain: str
    domain_margin: float | None
    confidence: float
    allocation: str
    minimum_per_stratum: int
    expected_response_rate: float
    recurrence: str
    fieldwork_days: int
    reminder_gap_days: int
    reminder_max: int
    population_targets: dict[str, dict[str, float]]
    created_at: datetime


class WaveIn(Schema):
    frame_date: date | None = Field(default=None, description="Blank: one recurrence after the last wave")


class DrawIn(Schema):
    seed: int | None = Field(default=None, ge=0, le=2**62, description="Blank: a random seed, recorded")


class StratumOut(Schema):
    key: str
    values: dict[str, str]
    population: int
    sampled: int
    invited: int
    delivered: int
    completes: int
    counted: int = Field(description="Completes that took a place in the quota")
    target: int
    response_rate: float | None
    full: bool
    dispositions: dict[str, int] = Field(default_factory=dict, description="Cases per AAPOR code")
    rates: dict[str, float | None] = Field(
        default_factory=dict, description="AAPOR rates of the stratum, with its wave's e"
    )


class WaveOut(Schema):
    barometer_id: int
    number: int
    status: str
    frame_date: date
    fieldwork_starts_at: datetime | None
    fieldwork_ends_at: datetime | None
    seed: int | None
    frame_size: int | None
    exclusions: dict[str, int] = Field(description="Customers in scope left out at the draw, by reason")
    design: dict[str, Any]
    drawn_at: datetime | None
    closed_at: datetime | None


class FieldworkOut(WaveOut):
    strata: list[StratumOut]
    total: StratumOut
    rates: dict[str, float | None] = Field(description="AAPOR RR1–RR6, COOP1–4, REF1–3, CON1–3")
    e: float | None
    e_method: str
    dispositions_final: bool


class EstimateOut(Schema):
    value: float | None
    ci_low: float | None
    ci_high: float | None
    margin: float | None = Field(description="Half-width of the interval, in the figure's unit")
    standard_error: float | None
    n: int
    population: float = Field(description="The customers the answers stand for (sum of weights)")
    degrees_of_freedom: int
    confidence: float
    method: str


class QuestionEstimatesOut(Schema):
    question: str
    summary: str = Field(description="nps, proportion (top-2-box) or mean")
    overall: EstimateOut
    domains: dict[str, dict[str, EstimateOut]] = Field(description="Attribute → value → domain estimate")


class EstimatesOut(Schema):
    barometer_id: int
    number: int
    method: str
    margins_source: str = Field(description="Raking margins: uploaded targets or the frame's own counts")
    weights: dict[str, float | None] = Field(description="Weight report: min, max, efficiency, Kish n, deff")
    problem: str = Field(description="Why the wave could not be weighted, if it could not")
    questions: list[QuestionEstimatesOut]


class SeriesPointOut(Schema):
    wave: int
    frame_date: date
    wording_changed: bool = Field(
        description="The question was worded differently at the previous wave: a break in the series, "
        "the two points do not measure the same thing and are not compared"
    )
    estimate: EstimateOut


class QuestionSeriesOut(Schema):
    question: str
    points: list[SeriesPointOut]


def _estimate_out(estimate: Any) -> EstimateOut:
    return EstimateOut(
        value=estimate.value,
        ci_low=estimate.ci_low,
        ci_high=estimate.ci_high,
        margin=estimate.margin,
        standard_error=estimate.standard_error,
        n=estimate.n,
        population=estimate.population,
        degrees_of_freedom=estimate.degrees_of_freedom,
        confidence=estimate.confidence,
        method=estimate.method,
    )


def _barometer_out(barometer: Barometer) -> BarometerOut:
    return BarometerOut.model_validate(barometer, from_attributes=True)


def _wave_out(wave: Wave) -> WaveOut:
    return WaveOut.model_validate(wave, from_attributes=True)


def _stratum_out(progress: queries.StratumProgress, rates: OutcomeRates | None = None) -> StratumOut:
    return StratumOut(
        dispositions=rates.counts.as_dict() if rates else {},
        rates=rates.as_floats() if rates else {},
        key=progress.key,
        values=progress.values,
        population=progress.population,
        sampled=progress.sampled,
        invited=progress.invited,
        delivered=progress.delivered,
        completes=progress.completes,
        counted=progress.counted,
        target=progress.target,
        response_rate=progress.response_rate,
        full=progress.full,
    )


@router.get("", response=list[BarometerOut])
def list_barometers(request: HttpRequest) -> list[BarometerOut]:
    """The organisation's barometers."""
    return [_barometer_out(b) for b in queries.barometers(organisation=organisation_of(request))]


@router.post("", response={201: BarometerOut})
def create_barometer(request: HttpRequest, payload: BarometerIn) -> tuple[int, BarometerOut]:
    """A new barometer: its frame, strata, questionnaire, mode, precision goal and rhythm."""
    values = payload.model_dump()
    values["scope"] = [rule.model_dump() for rule in payload.scope]
    values["strata"] = [
        {k: v for k, v in s.model_dump().items() if v not in (None, False)} for s in payload.strata
    ]
    barometer = services.create_barometer(
        organisation=organisation_of(request), created_by=_user(request), **values
    )
    return 201, _barometer_out(barometer)


@router.get("/{barometer_id}", response=BarometerOut)
def get_barometer(request: HttpRequest, barometer_id: int) -> BarometerOut:
    return _barometer_out(queries.barometer(organisation=organisation_of(request), barometer_id=barometer_id))


@router.get("/{barometer_id}/series", response=list[QuestionSeriesOut])
def get_series(request: HttpRequest, barometer_id: int) -> list[QuestionSeriesOut]:
    """Every scored question's overall estimate wave after wave (waves in fieldwork or closed), with
    the breaks where its wording changed."""
    barometer = queries.barometer(organisation=organisation_of(request), barometer_id=barometer_id)
    return [
        QuestionSeriesOut(
            question=code,
            points=[
                SeriesPointOut(
                    wave=point.wave,
                    frame_date=point.frame_date,  # type: ignore[arg-type]
                    wording_changed=point.break_before,
                    estimate=_estimate_out(point.estimate),
                )
                for point in points
            ],
        )
        for code, points in series(barometer=barometer).items()
    ]


@router.get("/{barometer_id}/waves", response=list[WaveOut])
def list_waves(request: HttpRequest, barometer_id: int) -> list[WaveOut]:
    organisation = organisation_of(request)
    queries.barometer(organisation=organisation, barometer_id=barometer_id)
    return [_wave_out(w) for w in queries.waves(organisation=organisation, barometer_id=barometer_id)]


@router.post("/{barometer_id}/waves", response={201: WaveOut})
def plan_wave(request: HttpRequest, barometer_id: int, payload: WaveIn) -> tuple[int, WaveOut]:
    """Plan the next wave: on the date given, else one recurrence after the last one."""
    wave = services.plan_wave(
        organisation=organisation_of(request), barometer_id=barometer_id, frame_date=payload.frame_date
    )
    return 201, _wave_out(wave)


@router.get("/{barometer_id}/waves/{number}", response=FieldworkOut)
def get_wave(request: HttpRequest, barometer_id: int, number: int) -> FieldworkOut:
    """The wave, its design and its fieldwork per stratum, with the AAPOR rates so far."""
    wave = queries.wave(organisation=organisation_of(request), barometer_id=barometer_id, number=number)
    progress = queries.fieldwork(wave=wave)
    rates = wave_rates(wave=wave)
    by_key = {found.stratum.key: found.rates for found in rates.strata}
    return FieldworkOut(
        **_wave_out(wave).model_dump(),
        strata=[_stratum_out(s, by_key.get(s.key)) for s in progress.strata],
        total=_stratum_out(progress.total, rates.overall),
        rates=rates.overall.as_floats(),
        e=float(rates.overall.eligibility.e) if rates.overall.eligibility.e is not None else None,
        e_method=str(rates.overall.eligibility.method),
        dispositions_final=rates.final,
    )


@router.get("/{barometer_id}/waves/{number}/estimates", response=EstimatesOut)
def get_estimates(request: HttpRequest, barometer_id: int, number: int) -> EstimatesOut:
    """Every scored question's design-based figure (weighted, calibrated, with its interval), overall
    and per subgroup as domains; provisional while the fieldwork runs."""
    wave = queries.wave(organisation=organisation_of(request), barometer_id=barometer_id, number=number)
    results = wave_results(wave=wave)
    report = results.report
    weights = {}
    if report is not None:
        weights = {
            k: (float(v) if v is not None else None) for k, v in vars(report).items() if not k.startswith("_")
        }
    return EstimatesOut(
        barometer_id=barometer_id,
        number=number,
        method=results.method,
        margins_source=results.margins_source,
        weights=weights,
        problem=results.problem,
        questions=[
            QuestionEstimatesOut(
                question=figures.question.code,
                summary=figures.summary,
                overall=_estimate_out(figures.overall),
                domains={
                    attribute: {str(value): _estimate_out(e) for value, e in by_value.items()}
                    for attribute, by_value in figures.domains.items()
                },
            )
            for figures in results.figures
        ],
    )


@router.post("/{barometer_id}/waves/{number}/draw", response=WaveOut)
def draw_wave(request: HttpRequest, barometer_id: int, number: int, payload: DrawIn) -> WaveOut:
    """Take the frame, size the sample for the goal, draw it (seeded, recorded). Nothing is sent."""
    wave = services.draw_wave(
        organisation=organisation_of(request),
        barometer_id=barometer_id,
        number=number,
        seed=payload.seed,
        drawn_by=_user(request),
    )
    return _wave_out(wave)


@router.post("/{barometer_id}/waves/{number}/start", response=WaveOut)
def start_wave(request: HttpRequest, barometer_id: int, number: int) -> WaveOut:
    """Start the fieldwork: every sampled customer is invited, within the sending hours."""
    wave = services.start_fieldwork(
        organisation=organisation_of(request), barometer_id=barometer_id, number=number
    )
    return _wave_out(wave)


@router.post("/{barometer_id}/waves/{number}/close", response=WaveOut)
def close_wave(request: HttpRequest, barometer_id: int, number: int) -> WaveOut:
    """End the fieldwork now: final dispositions stored, the flow's surveys resume for the sample."""
    wave = services.close_wave(
        organisation=organisation_of(request), barometer_id=barometer_id, number=number
    )
    return _wave_out(wave)


class WaveReportQuery(Schema):
    language: Literal["fr", "en"] | None = Field(
        default=None, description="the organisation's language when absent"
    )


@router.get("/{barometer_id}/waves/{number}/report", response={200: None})
def wave_report(
    request: HttpRequest, barometer_id: int, number: int, query: Query[WaveReportQuery]
) -> HttpResponse:
    """The wave's PDF report with its AAPOR / ISO 20252 disclosure: frame, dates, mode, wording, design,
    dispositions and outcome rates, weighting, estimates with margins of error, limitations."""
    organisation = organisation_of(request)
    wave = queries.wave(organisation=organisation, barometer_id=barometer_id, number=number)
    language = query.language or organisation.default_locale[:2]
    response = HttpResponse(
        render_wave_report_pdf(wave=wave, language=language), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{wave_report_filename(wave, language)}"'
    return response


class WaveAnswersQuery(Schema):
    format: Format = Field(default="csv", description="csv, xlsx or parquet")


@router.get("/{barometer_id}/waves/{number}/answers", response={200: None})
def wave_answers(
    request: HttpRequest, barometer_id: int, number: int, query: Query[WaveAnswersQuery]
) -> HttpResponse:
    """The wave's answers, one row per respondent, with stratum, disposition, inclusion probability,
    design weight and final weight."""
    wave = queries.wave(organisation=organisation_of(request), barometer_id=barometer_id, number=number)
    response = HttpResponse(
        export_wave_answers(wave=wave, fmt=query.format), content_type=CONTENT_TYPES[query.format]
    )
    response["Content-Disposition"] = f'attachment; filename="{wave_export_filename(wave, query.format)}"'
    return response
