from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from avis.accounts.decorators import member_required
from avis.accounts.models import Role
from avis.accounts.permissions import refusal
from avis.accounts.queries import members_allowed
from avis.analytics.plots import trend_panels
from avis.analytics.queries import (
    MEAN_METRICS,
    METRIC_LABELS,
    METRICS,
    analytics_settings,
)
from avis.customers.queries import customer_by_external_id, customer_opt_outs
from avis.dashboard.policy_form import changes_from_post, form_from_policy
from avis.dashboard.queries import overview, period_table, setup_checklist
from avis.errors import ValidationFailed
from avis.governance.models import Dimension, Metric, Outcome, Period
from avis.governance.queries import (
    DecisionFilters,
    contact_history,
    contact_pressure,
    decision_reasons,
    describe_policy,
    explainer,
    filtered_decisions,
    policy_versions,
    sampling_goals,
)
from avis.governance.services import (
    POLICY_EDITORS,
    create_sampling_goal,
    current_policy,
    retire_sampling_goal,
    update_policy,
)
from avis.governance.simulation_wording import outcome_words, reason_label
from avis.http import forbidden
from avis.interactions.queries import touchpoint_by_code, touchpoints
from avis.surveys.services import refresh_sampling_rates


@login_required
@member_required()
def home(request: HttpRequest) -> HttpResponse:
    """The overview; an administrator whose organisation is not set up yet sees the checklist first."""
    organisation = request.organisation  # type: ignore[attr-defined]
    checklist = None
    if request.membership.role == Role.ADMIN:  # type: ignore[attr-defined]
        checklist = setup_checklist(organisation=organisation)
    language = (get_language() or "en")[:2]
    found = overview(organisation=organisation, now=timezone.now(), language=language)
    trend = (
        trend_panels(
            found.trend,
            title=found.trend_label,
            percent=False,
            language=language,
            organisation=organisation,
        )
        if found.trend
        else None
    )
    return render(
        request,
        "dashboard/home.html",
        {
            "overview": found,
            "trend": trend,
            "min_n": found.min_n,
            "checklist": checklist if checklist and not checklist.complete else None,
        },
    )


@login_required
@member_required()
def setup(request: HttpRequest) -> HttpResponse:
    """Every set-up step, done or not, with a link to where it is done."""
    checklist = setup_checklist(organisation=request.organisation)  # type: ignore[attr-defined]
    return render(request, "dashboard/setup.html", {"checklist": checklist})


@login_required
@member_required()
def metrics(request: HttpRequest) -> HttpResponse:
    """All periods: one metric period by period, the touchpoints side by side."""
    organisation = request.organisation  # type: ignore[attr-defined]
    metric = request.GET.get("metric") if request.GET.get("metric") in METRICS else "nps"
    period = "week" if request.GET.get("period") == "week" else "month"
    table = period_table(
        organisation=organisation,
        metric=metric,  # type: ignore[arg-type]
        period=period,
        language=(get_language() or "en")[:2],
        now=timezone.now(),
    )
    settings = analytics_settings(organisation=organisation)
    return render(
        request,
        "dashboard/metrics.html",
        {
            "table": table,
            "metric": metric,
            "period": period,
            "metric_names": list(METRIC_LABELS.items()),
            "min_n": settings.min_n,
            "hide": settings.hide_below_min_n,
            "digits": 2 if metric in MEAN_METRICS else 0,
        },
    )


class DecisionFilterForm(forms.Form):
    since = forms.DateField(required=False, label=gettext_lazy("From"))
    until = forms.DateField(required=False, label=gettext_lazy("To (included)"))
    touchpoint = forms.CharField(required=False, max_length=100)
    outcome = forms.ChoiceField(required=False, choices=[("", ""), *Outcome.choices])
    reason = forms.CharField(required=False, max_length=32)
    customer = forms.CharField(required=False, max_length=200, label=gettext_lazy("Customer id"))

    def filters(self) -> DecisionFilters:
        """What was typed and valid; a wrong field narrows nothing and says so."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return DecisionFilters(
            since=data.get("since"),
            until=data.get("until"),
            touchpoint=data.get("touchpoint", "").strip(),
            outcome=data.get("outcome", ""),
            reason=data.get("reason", "").strip(),
            customer=data.get("customer", "").strip(),
        )


DECISIONS_PER_PAGE = 50


@login_required
@member_required()
def decisions(request: HttpRequest) -> HttpResponse:
    """Every decision, newest first, 50 a page, narrowed by day, touchpoint, outcome, reason or customer."""
    organisation = request.organisation  # type: ignore[attr-defined]
    form = DecisionFilterForm(request.GET)
    filters = form.filters()
    page = Paginator(
        filtered_decisions(organisation=organisation, filters=filters), DECISIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    language = get_language()
    explain_one = explainer(language)
    points = touchpoints(organisation=organisation)
    names = {tp.id: tp.label(language) for tp in points}
    rows = [(d, names[d.touchpoint_id], outcome_words(d.outcome, d.reason), explain_one(d)) for d in page]
    query = request.GET.copy()
    query.pop("page", None)
    policy = current_policy(organisation=organisation)
    return render(
        request,
        "dashboard/decisions.html",
        {
            "rows": rows,
            "page": page,
            "query": query.urlencode(),
            "form": form,
            "selected": filters,
            "touchpoints": [(tp.code, names[tp.id]) for tp in points],
            "outcomes": Outcome.choices,
            "reasons": [(code, reason_label(code)) for code in decision_reasons(organisation=organisation)],
            "policy": policy,
            "policy_lines": describe_policy(policy, language),
        },
        status=422 if form.errors else 200,
    )


@login_required
@member_required()
def customer(request: HttpRequest, external_id: str) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    found = customer_by_external_id(organisation=organisation, external_id=external_id)
    language = get_language()
    explain_one = explainer(language)
    names = {tp.id: tp.label(language) for tp in touchpoints(organisation=organisation)}
    rows = [
        (d, names[d.touchpoint_id], outcome_words(d.outcome, d.reason), explain_one(d))
        for d in contact_history(organisation=organisation, customer=found)
    ]
    return render(
        request,
        "dashboard/customer.html",
        {
            "customer": found,
            "rows": rows,
            "pressure": contact_pressure(organisation=organisation, customer=found, now=timezone.now()),
            "opt_outs": customer_opt_outs(organisation=organisation, customer=found),
        },
    )


POLICY_PAGE = "dashboard:policy"


@login_required
@member_required()
def policy(request: HttpRequest) -> HttpResponse:
    """The contact policy: read by everyone, published as a new version by admins and analysts."""
    organisation = request.organisation  # type: ignore[attr-defined]
    codes = [tp.code for tp in touchpoints(organisation=organisation)]
    current = current_policy(organisation=organisation)
    form, error = form_from_policy(current, codes), None
    may_edit = request.membership.role in POLICY_EDITORS  # type: ignore[attr-defined]
    if request.method == "POST":
        if not may_edit:
            return forbidden(request, refusal(POLICY_PAGE, "POST"))
        changes, form = changes_from_post(request.POST, codes)
        try:
            published = update_policy(organisation=organisation, changes=changes, created_by=request.user)
        except ValidationFailed as exc:
            error = exc
        else:
            messages.success(
                request, _("Version %(version)s is now in force.") % {"version": published.version}
            )
            return redirect("dashboard:policy")
    language = get_language()
    versions = [
        (version, describe_policy(version, language))
        for version in policy_versions(organisation=organisation)[:20]
    ]
    return render(
        request,
        "dashboard/policy.html",
        {
            "policy": current,
            "form": form,
            "error": error,
            "versions": versions,
            "may_edit": may_edit,
            "refusal": "" if may_edit else refusal(POLICY_PAGE, "POST"),
            "editors": [] if may_edit else members_allowed(organisation=organisation, page=POLICY_PAGE),
        },
        status=422 if error else 200,
    )


@login_required
@member_required()
def sampling(request: HttpRequest) -> HttpResponse:
    """Precision goals, and the inclusion probability each sets per stratum."""
    organisation = request.organisation  # type: ignore[attr-defined]
    may_edit = request.membership.role in POLICY_EDITORS  # type: ignore[attr-defined]
    error = None
    if request.method == "POST":
        if not may_edit:
            return forbidden(request, refusal("dashboard:sampling", "POST"))
        try:
            if "retire" in request.POST:
                retire_sampling_goal(organisation=organisation, goal_id=int(request.POST["retire"]))
            else:
                code = request.POST.get("touchpoint", "")
                create_sampling_goal(
                    organisation=organisation,
                    metric=request.POST.get("metric", ""),
                    dimension=request.POST.get("dimension", ""),
                    period=request.POST.get("period", ""),
                    margin=float(request.POST.get("margin", "").replace(",", ".") or 0),
                    confidence=float(request.POST.get("confidence", "0.95") or 0.95),
                    touchpoint=touchpoint_by_code(organisation=organisation, code=code) if code else None,
                )
            refresh_sampling_rates(organisation=organisation)
        except ValueError:
            error = ValidationFailed(_("The margin is a number of points, such as 10."), field="margin")
        except ValidationFailed as exc:
            error = exc
        else:
            return redirect("dashboard:sampling")
    return render(
        request,
        "dashboard/sampling.html",
        {
            "goals": sampling_goals(organisation=organisation),
            "touchpoints": touchpoints(organisation=organisation),
            "metrics": Metric.choices,
            "dimensions": Dimension.choices,
            "periods": Period.choices,
            "error": error,
            "may_edit": may_edit,
        },
        status=422 if error else 200,
    )
