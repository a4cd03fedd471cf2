"""Barometer pages: the list, the set-up on one page with its live design preview, a wave's results.

Same shape as the API: parse, call a service or a query, render. What a valid barometer is lives in
``services.build_barometer``; what the design would be, in ``preview.preview_design``.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from avis.accounts.decorators import member_required
from avis.analytics.aapor import RATE_NAMES
from avis.analytics.exports import CONTENT_TYPES, FORMATS
from avis.analytics.queries import analytics_settings
from avis.barometers import queries
from avis.barometers.against_flow import against_flow
from avis.barometers.charts import wave_trend_chart
from avis.barometers.dispositions import wave_rates
from avis.barometers.exports import export_wave_answers, wave_export_filename
from avis.barometers.models import Barometer, Wave, WaveStatus
from avis.barometers.preview import preview_design
from avis.barometers.queries import wave as wave_of
from avis.barometers.report import LANGUAGES as REPORT_LANGUAGES
from avis.barometers.report import render_wave_report_pdf, wave_report_filename
from avis.barometers.services import build_barometer, create_barometer, update_barometer
from avis.barometers.setup_form import choices, fields_from_post, form_from_barometer
from avis.barometers.setup_queries import barometer_list, relationship_surveys
from avis.barometers.wave_page import wave_page
from avis.errors import FieldsInvalid, NotFound
from avis.words import question_label


@login_required
@member_required()
def barometers(request: HttpRequest) -> HttpResponse:
    """Every barometer of the organisation, with its waves."""
    organisation = request.organisation  # type: ignore[attr-defined]
    return render(
        request,
        "barometers/list.html",
        {
            "barometers": barometer_list(organisation=organisation),
            "may_edit": request.membership.role in ("admin", "analyst"),  # type: ignore[attr-defined]
        },
    )


def _barometer(request: HttpRequest, barometer_id: int | None) -> Barometer | None:
    if barometer_id is None:
        return None
    found = Barometer.objects.filter(organisation=request.organisation, id=barometer_id).first()  # type: ignore[attr-defined]
    if found is None:
        raise Http404(_("No such barometer."))
    return found


def _setup(request: HttpRequest, barometer_id: int | None) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    barometer = _barometer(request, barometer_id)
    problems: dict[str, str] = {}
    preview = None
    if request.method == "POST":
        fields, form = fields_from_post(request.POST)
        try:
            if barometer is None:
                saved = create_barometer(organisation=organisation, created_by=request.user, **fields)
            else:
                saved = update_barometer(organisation=organisation, barometer_id=barometer.id, **fields)
        except FieldsInvalid as exc:
            problems = exc.problems
        else:
            return redirect("barometers:edit", barometer_id=saved.id)
    else:
        form = form_from_barometer(barometer)
        if barometer is not None:
            preview = preview_design(barometer=barometer, on=timezone.localdate(), now=timezone.now())
    return render(
        request,
        "barometers/setup.html",
        {
            "barometer": barometer,
            "form": form,
            "problems": problems,
            "preview": preview,
            "surveys": relationship_surveys(organisation=organisation, barometer=barometer),
            **choices(),
        },
        status=422 if problems else 200,
    )


@login_required
@member_required()
def new(request: HttpRequest) -> HttpResponse:
    """Set up a new barometer."""
    return _setup(request, None)


@login_required
@member_required()
def edit(request: HttpRequest, barometer_id: int) -> HttpResponse:
    """Change a barometer's set-up; the next waves follow it."""
    return _setup(request, barometer_id)


@login_required
@member_required()
def preview(request: HttpRequest) -> HttpResponse:
    """The design the form being filled in would give, drawn today (htmx: the set-up page's panel)."""
    if request.method != "POST":  # nothing typed yet: the panel says what to fill in
        return render(request, "barometers/_preview.html", {"preview": None, "problems": {}})
    organisation = request.organisation  # type: ignore[attr-defined]
    barometer_id = request.POST.get("barometer_id", "")
    existing = _barometer(request, int(barometer_id)) if barometer_id.isdigit() else None
    fields, _form = fields_from_post(request.POST)
    # The design does not depend on the name: a set-up being typed is previewed before it has one.
    if not (fields["name_fr"].strip() or fields["name_en"].strip()):
        fields["name_en"] = "—"
    problems: dict[str, str] = {}
    found = None
    try:
        barometer = build_barometer(
            organisation=organisation, barometer_id=existing.id if existing else None, **fields
        )
    except FieldsInvalid as exc:
        problems = exc.problems
    else:
        found = preview_design(barometer=barometer, on=timezone.localdate(), now=timezone.now())
    return render(request, "barometers/_preview.html", {"preview": found, "problems": problems})


@login_required
@member_required()
def wave(request: HttpRequest, barometer_id: int, number: int) -> HttpResponse:
    """A wave's results: design-based figures with n, interval and method, per subgroup, the weights,
    the response rates, the change since the previous wave, and the series across waves."""
    organisation = request.organisation  # type: ignore[attr-defined]
    found = (
        Wave.objects.filter(
            organisation=organisation,
            barometer_id=barometer_id,
            number=number,
            status__in=[WaveStatus.FIELDWORK, WaveStatus.CLOSED],
        )
        .select_related("barometer", "barometer__survey__touchpoint", "organisation")
        .first()
    )
    if found is None:
        raise Http404(_("No such wave."))
    page = wave_page(wave=found)
    language = (get_language() or "en")[:2]
    figures = []
    for figure in page.results.figures:
        label = question_label(figure.question.code, figure.question)
        points = page.trends.get(figure.question.code, [])
        figures.append(
            {
                "label": label,
                "summary": figure.summary,
                "overall": figure.overall,
                "domains": figure.domains,
                "trend": wave_trend_chart(
                    points, title=label, percent=figure.summary == "proportion", language=language
                )
                if len(points) > 1
                else None,
                "break": any(p.break_before for p in points),
            }
        )
    rates = page.rates.overall.as_floats()
    return render(
        request,
        "barometers/wave.html",
        {
            "page": page,
            "wave": found,
            "barometer": found.barometer,
            "figures": figures,
            "min_n": page.min_n,
            "rates": [(name, rates[name]) for name in RATE_NAMES],
            "eligibility": page.rates.overall.eligibility,
            "e": float(page.rates.overall.eligibility.e),
            "key_label": question_label(page.key.question.code, page.key.question) if page.key else "",
        },
    )


@login_required
@member_required()
def fieldwork(request: HttpRequest, barometer_id: int, number: int) -> HttpResponse:
    """A wave's live fieldwork: per stratum sampled, invited, delivered, completes against target."""
    organisation = request.organisation  # type: ignore[attr-defined]
    try:
        wave = queries.wave(organisation=organisation, barometer_id=barometer_id, number=number)
    except NotFound:
        raise Http404 from None
    rates = wave_rates(wave=wave)
    shown = ("RR1", "RR3", "COOP1", "REF1", "CON1")
    return render(
        request,
        "barometers/fieldwork.html",
        {
            "wave": wave,
            "progress": queries.fieldwork(wave=wave),
            "rates": [
                (name, None if rates.overall[name] is None else float(rates.overall[name])) for name in shown
            ],
            "eligibility": rates.overall.eligibility,
            "final": rates.final,
        },
    )


@login_required
@member_required()
def wave_report(request: HttpRequest, barometer_id: int, number: int) -> HttpResponse:
    """The wave's PDF report, in the reader's language (``?language=fr|en`` for the other one)."""
    found = _wave(request, barometer_id, number)
    language = request.GET.get("language") or (get_language() or "en")[:2]
    if language not in REPORT_LANGUAGES:
        raise Http404
    response = HttpResponse(
        render_wave_report_pdf(wave=found, language=language), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="{wave_report_filename(found, language)}"'
    return response


@login_required
@member_required()
def wave_answers(request: HttpRequest, barometer_id: int, number: int, fmt: str) -> HttpResponse:
    """The wave's answers with their weights as a CSV, XLSX or Parquet file."""
    if fmt not in FORMATS:
        raise Http404
    found = _wave(request, barometer_id, number)
    response = HttpResponse(export_wave_answers(wave=found, fmt=fmt), content_type=CONTENT_TYPES[fmt])  # type: ignore[arg-type]
    response["Content-Disposition"] = f'attachment; filename="{wave_export_filename(found, fmt)}"'  # type: ignore[arg-type]
    return response


def _wave(request: HttpRequest, barometer_id: int, number: int) -> Wave:
    try:
        return wave_of(organisation=request.organisation, barometer_id=barometer_id, number=number)  # type: ignore[attr-defined]
    except NotFound as exc:
        raise Http404 from exc


@login_required
@member_required()
def against(request: HttpRequest, barometer_id: int) -> HttpResponse:
    """The barometer's last closed wave beside the transactional figures of the same period."""
    organisation = request.organisation  # type: ignore[attr-defined]
    barometer = _barometer(request, barometer_id)
    closed = (
        Wave.objects.filter(organisation=organisation, barometer=barometer, status=WaveStatus.CLOSED)
        .select_related("barometer__survey", "organisation")
        .order_by("-number")
    )
    number = request.GET.get("wave", "")
    chosen = (closed.filter(number=int(number)) if number.isdigit() else closed).first()
    return render(
        request,
        "barometers/against_flow.html",
        {
            "barometer": barometer,
            "closed": closed,
            "found": against_flow(wave=chosen) if chosen else None,
            "min_n": analytics_settings(organisation=organisation).min_n,
        },
    )
