"""HTML pages of the analytics app: same shape as api.py — parse, authorise, call a query, render."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from avis.accounts.decorators import member_required
from avis.analytics.changes import period_changes
from avis.analytics.comments import CommentFilters, comment_page
from avis.analytics.drivers import driver_analysis, touchpoint_codes
from avis.analytics.exports import CONTENT_TYPES, FORMATS, export_file
from avis.analytics.fair import fair_view
from avis.analytics.models import AnalyticsSettings
from avis.analytics.operations import closed_loop, contact_pressure
from avis.analytics.plots import bar_chart, funnel_chart, series_chart
from avis.analytics.queries import (
    MEAN_METRICS,
    METRIC_LABELS,
    PERCENT_METRICS,
    Filters,
    analytics_settings,
    figure_table,
    metric_values,
    parse_segment,
    survey_version_changes,
    survey_version_choices,
    team_choices,
)
from avis.analytics.reports import ReportWindow, render_report_pdf, report_filename, report_window
from avis.analytics.sentiment import MIN_LABELLED, MIN_PER_SIDE, sentiment_model_of
from avis.analytics.services import MAX_MIN_N, update_analytics_settings
from avis.analytics.verbatims import LANGUAGES, SENTIMENT_LABELS, TOPICS, topic_label
from avis.analytics.weighted import MARGINS, WEIGHTED_METRICS, weighted_overview
from avis.errors import AvisError

SENTIMENT_NAMES = {"negative": _("negative"), "neutral": _("neutral"), "positive": _("positive")}
LANGUAGE_NAMES = {"fr": _("French"), "en": _("English")}


class PeriodForm(forms.Form):
    since = forms.DateField(required=False, label=_("From"))
    until = forms.DateField(required=False, label=_("To (included)"))
    touchpoint = forms.CharField(required=False, label=_("Touchpoint"))

    def window(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """Whole days in the organisation's time zone; "to" includes its day."""
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        start = datetime.combine(since, time(0), tzinfo=zone) if since else None
        end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=zone) if until else None
        return start, end


class CommentFilterForm(PeriodForm):
    sentiment = forms.ChoiceField(required=False, choices=[("", "")] + list(SENTIMENT_NAMES.items()))
    topic = forms.ChoiceField(required=False, choices=[("", "")] + [(t, t) for t in TOPICS])
    language = forms.ChoiceField(required=False, choices=[("", "")] + list(LANGUAGE_NAMES.items()))
    q = forms.CharField(required=False, max_length=200, label=_("Words"))
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)


def _organisation_zone(request: HttpRequest) -> ZoneInfo:
    return ZoneInfo(request.organisation.default_time_zone)  # type: ignore[attr-defined]


@login_required
@member_required()
def comments(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    language = (get_language() or "en")[:2]
    form = CommentFilterForm(request.GET)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    since, until = form.window(_organisation_zone(request)) if valid else (None, None)
    filters = CommentFilters(
        since=since,
        until=until,
        touchpoint=data.get("touchpoint") or None,
        sentiment=data.get("sentiment") or None,
        topic=data.get("topic") or None,
        language=data.get("language") or None,
        search=data.get("q") or "",
    )
    page = comment_page(
        organisation=organisation, filters=filters, page=data.get("page") or 1, language=language
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "analytics/comments.html",
        {
            "form": form,
            "result": page,
            "query": query.urlencode(),
            "touchpoints": touchpoint_codes(organisation=organisation),
            "topics": [(t, topic_label(t, language)) for t in TOPICS],
            "sentiments": [(s, SENTIMENT_NAMES[s]) for s in SENTIMENT_LABELS],
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            "selected": {key: request.GET.get(key, "") for key in form.fields},
            "sentiment_model": sentiment_model_of(organisation),
            "sentiment_minimum": {"labelled": MIN_LABELLED, "per_side": MIN_PER_SIDE},
        },
    )


@login_required
@member_required()
def drivers(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    form = PeriodForm(request.GET)
    valid = form.is_valid()
    since, until = form.window(_organisation_zone(request)) if valid else (None, None)
    touchpoints = touchpoint_codes(organisation=organisation)
    touchpoint = form.cleaned_data.get("touchpoint") if valid else None
    analysis = driver_analysis(
        organisation=organisation,
        touchpoint=touchpoint if touchpoint in touchpoints else None,
        since=since,
        until=until,
        language=(get_language() or "en")[:2],
    )
    return render(
        request,
        "analytics/drivers.html",
        {
            "analysis": analysis,
            "touchpoints": touchpoints,
            "selected": {key: request.GET.get(key, "") for key in form.fields},
        },
    )


# ---------------------------------------------------------------- figures: overview, fair views, operations

PERIOD_NAMES = {"day": _("day"), "week": _("week"), "month": _("month"), "quarter": _("quarter")}


class FigureFilterForm(PeriodForm):
    metric = forms.ChoiceField(required=False, choices=list(METRIC_LABELS.items()), label=_("Metric"))
    period = forms.ChoiceField(required=False, choices=list(PERIOD_NAMES.items()), label=_("Period"))
    team = forms.CharField(required=False, label=_("Team or site"))
    channel = forms.ChoiceField(
        required=False, choices=[("", _("all channels")), ("email", _("email")), ("sms", _("SMS"))]
    )
    segment = forms.CharField(required=False, label=_("Customer segment (attribute=value)"))
    version = forms.IntegerField(required=False, min_value=1, label=_("Survey version"))

    def figure_filters(self, zone: ZoneInfo) -> Filters:
        data = self.cleaned_data
        since, until = self.window(zone)
        try:
            segment = parse_segment(data.get("segment"))
        except AvisError:
            segment = None
        return Filters(
            touchpoint=data.get("touchpoint") or None,
            team=data.get("team") or None,
            channel=data.get("channel") or None,
            segment=segment,
            since=since,
            until=until,
            version=data.get("version") or None,
        )


def _figure_form(request: HttpRequest) -> tuple[FigureFilterForm, Filters, str, str]:
    form = FigureFilterForm(request.GET)
    if not form.is_valid():
        form = FigureFilterForm({})
        form.is_valid()
    metric = form.cleaned_data.get("metric") or "nps"
    period = form.cleaned_data.get("period") or "month"
    return form, form.figure_filters(_organisation_zone(request)), metric, period


def _figure_context(request: HttpRequest, form: FigureFilterForm) -> dict[str, object]:
    organisation = request.organisation  # type: ignore[attr-defined]
    settings = analytics_settings(organisation=organisation)
    query = request.GET.copy()
    return {
        "form": form,
        "selected": {key: request.GET.get(key, "") for key in form.fields},
        "touchpoints": touchpoint_codes(organisation=organisation),
        "teams": [code for code, _name in team_choices(organisation=organisation)],
        "metric_names": list(METRIC_LABELS.items()),
        "period_names": list(PERIOD_NAMES.items()),
        "min_n": settings.min_n,
        "hide": settings.hide_below_min_n,
        "query": query.urlencode(),
        "versions": survey_version_choices(organisation=organisation),
    }


@login_required
@member_required()
def overview(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    form, filters, metric, period = _figure_form(request)
    language = (get_language() or "en")[:2]
    summary = figure_table(organisation=organisation, filters=filters)
    weighted = weighted_overview(organisation=organisation, since=filters.since, until=filters.until)
    changes = period_changes(organisation=organisation, metric=metric, period=period, filters=filters)  # type: ignore[arg-type]
    series = metric_values(
        organisation=organisation,
        metric=metric,  # type: ignore[arg-type]
        period=period,  # type: ignore[arg-type]
        touchpoint=filters.touchpoint,
        team=filters.team,
        channel=filters.channel,
        segment=filters.segment,
        since=filters.since,
        until=filters.until,
        version=filters.version,
    )
    chart = (
        series_chart(
            series,
            title=str(METRIC_LABELS[metric]),
            percent=metric in PERCENT_METRICS,
            language=language,
            organisation=organisation,
        )
        if series
        else None
    )
    return render(
        request,
        "analytics/overview.html",
        {
            **_figure_context(request, form),
            "summary": summary,
            "weighted": weighted,
            "changes": changes,
            "chart": chart,
            "metric": metric,
            "metric_name": METRIC_LABELS[metric],
            "percent": metric in PERCENT_METRICS,
            "metric_digits": 2 if metric in MEAN_METRICS else 0,
            "period": period,
            "formats": FORMATS,
            "version_changes": survey_version_changes(organisation=organisation, filters=filters),
        },
    )


@login_required
@member_required()
def weighting(request: HttpRequest) -> HttpResponse:
    """NPS, CSAT top-2-box and resolution rate, weighted beside unweighted, with what weighting costs."""
    organisation = request.organisation  # type: ignore[attr-defined]
    form, filters, _metric, _period = _figure_form(request)
    overviews = [
        (
            METRIC_LABELS[metric],
            weighted_overview(
                organisation=organisation, metric=metric, since=filters.since, until=filters.until
            ),
            metric in PERCENT_METRICS,
        )
        for metric in WEIGHTED_METRICS
    ]
    return render(
        request,
        "analytics/weighting.html",
        {**_figure_context(request, form), "overviews": overviews, "margins": MARGINS},
    )


@login_required
@member_required()
def people(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    form, filters, _metric, _period = _figure_form(request)
    level = "team" if request.GET.get("level") == "team" else "agent"
    view = fair_view(organisation=organisation, level=level, filters=filters)
    language = (get_language() or "en")[:2]
    title = (
        _("Agents: share of top-2-box agent scores")
        if level == "agent"
        else _("Teams: share of top-2-box agent scores")
    )
    chart = funnel_chart(view, title=str(title), language=language) if view.units else None
    team_changes = period_changes(
        organisation=organisation, metric="agent_score", period="month", group_by=[level], filters=filters
    )
    return render(
        request,
        "analytics/people.html",
        {
            **_figure_context(request, form),
            "view": view,
            "level": level,
            "chart": chart,
            "changes": team_changes,
        },
    )


@login_required
@member_required()
def pressure(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    form, filters, _metric, _period = _figure_form(request)
    language = (get_language() or "en")[:2]
    found = contact_pressure(organisation=organisation, since=filters.since, until=filters.until)
    chart = bar_chart(
        [{"surveys": k, "customers": v} for k, v in found.surveys_per_customer],
        x="surveys",
        y="customers",
        x_title=str(_("Surveys received in the window")),
        y_title=str(_("Customers")),
        title=str(_("How many surveys each solicited customer received")),
        language=language,
    )
    return render(
        request, "analytics/pressure.html", {**_figure_context(request, form), "found": found, "chart": chart}
    )


@login_required
@member_required()
def loop(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    form, filters, _metric, _period = _figure_form(request)
    found = closed_loop(organisation=organisation, since=filters.since, until=filters.until)
    return render(request, "analytics/loop.html", {**_figure_context(request, form), "found": found})


@login_required
@member_required()
def export(request: HttpRequest, what: str, fmt: str) -> HttpResponse:
    """The answers or the figures in view, as a file; formulas neutralised (see ``exports``)."""
    organisation = request.organisation  # type: ignore[attr-defined]
    if fmt not in FORMATS or what not in ("answers", "metrics"):
        raise Http404
    form, filters, metric, period = _figure_form(request)
    body = export_file(
        organisation=organisation,
        what=what,
        fmt=fmt,
        filters=filters,
        metric=metric,
        period=period,
        words=True,
    )  # type: ignore[arg-type]
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="avis-{what}.{fmt}"'
    return response


REPORT_PERIOD_NAMES = {
    "week": _("a week"),
    "month": _("a month"),
    "quarter": _("a quarter"),
    "custom": _("chosen dates"),
}
SCHEDULE_NAMES = AnalyticsSettings._meta.get_field("report_period").choices


DAY = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ReportForm(forms.Form):
    period = forms.ChoiceField(choices=list(REPORT_PERIOD_NAMES.items()), label=_("Report on"))
    on = forms.DateField(
        required=False, widget=DAY, label=_("A day in the period (empty: the last complete one)")
    )
    since = forms.DateField(required=False, widget=DAY, label=_("From"))
    until = forms.DateField(required=False, widget=DAY, label=_("To (included)"))

    def window(self, today: date) -> ReportWindow:
        data = self.cleaned_data
        return report_window(
            period=data["period"], today=today, on=data["on"], since=data["since"], until=data["until"]
        )


@login_required
@member_required()
def report_choice(request: HttpRequest) -> HttpResponse:
    """The form that asks which period the PDF report covers."""
    return render(request, "analytics/report_form.html", {"form": ReportForm(initial={"period": "month"})})


@login_required
@member_required()
def report(request: HttpRequest) -> HttpResponse:
    """The PDF report of the period asked for (by default the last complete month)."""
    organisation = request.organisation  # type: ignore[attr-defined]
    form = ReportForm(request.GET or {"period": "month"})
    if form.is_valid():
        try:
            window = form.window(timezone.localdate(timezone=_organisation_zone(request)))
        except AvisError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    if form.errors:
        return render(request, "analytics/report_form.html", {"form": form}, status=400)
    pdf = render_report_pdf(organisation=organisation, window=window, language=(get_language() or "en")[:2])
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{report_filename(organisation, window)}"'
    return response


class AnalyticsSettingsForm(forms.Form):
    min_n = forms.IntegerField(
        min_value=1, max_value=MAX_MIN_N, label=_("Minimum number of answers for a figure")
    )
    hide_below_min_n = forms.BooleanField(
        required=False, label=_("Hide figures below it (instead of greying)")
    )
    report_period = forms.ChoiceField(required=False, choices=SCHEDULE_NAMES, label=_("Email the PDF report"))
    report_recipients = forms.CharField(
        required=False,
        label=_("Report recipients (one email per line)"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_report_recipients(self) -> list[str]:
        addresses = [
            line.strip() for line in self.cleaned_data["report_recipients"].splitlines() if line.strip()
        ]
        for address in addresses:
            forms.EmailField().clean(address)
        return addresses


@login_required
@member_required("admin")
def figure_settings(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    current = analytics_settings(organisation=organisation)
    saved = False
    if request.method == "POST":
        form = AnalyticsSettingsForm(request.POST)
        if form.is_valid():
            update_analytics_settings(organisation=organisation, **form.cleaned_data)
            saved = True
    else:
        form = AnalyticsSettingsForm(
            initial={
                "min_n": current.min_n,
                "hide_below_min_n": current.hide_below_min_n,
                "report_period": current.report_period,
                "report_recipients": "\n".join(current.report_recipients),
            }
        )
    return render(request, "analytics/settings.html", {"form": form, "saved": saved})
