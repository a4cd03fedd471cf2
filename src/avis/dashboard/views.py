from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language

from avis.accounts.decorators import member_required
from avis.analytics.queries import METRICS, MIN_RELIABLE_N, latest_by_touchpoint, metric_values
from avis.cases.queries import cases_of
from avis.customers.queries import customer_by_external_id
from avis.governance.queries import contact_history, explain, recent_decisions
from avis.governance.services import current_policy


@login_required
@member_required()
def home(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    return render(
        request,
        "dashboard/home.html",
        {
            "summary": sorted(latest_by_touchpoint(organisation=organisation, period="month").items()),
            "open_cases": cases_of(organisation=organisation, open_only=True).count(),
            "min_n": MIN_RELIABLE_N,
        },
    )


@login_required
@member_required()
def metrics(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    metric = request.GET.get("metric") if request.GET.get("metric") in METRICS else "nps"
    period = "week" if request.GET.get("period") == "week" else "month"
    values = metric_values(organisation=organisation, metric=metric, period=period)  # type: ignore[arg-type]
    return render(
        request,
        "dashboard/metrics.html",
        {"values": values, "metric": metric, "period": period, "metrics": METRICS, "min_n": MIN_RELIABLE_N},
    )


@login_required
@member_required()
def decisions(request: HttpRequest) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    wanted = request.GET.get("customer", "").strip()
    if wanted:
        return redirect("dashboard:customer", external_id=wanted)
    language = get_language()
    rows = [(d, explain(d, language)) for d in recent_decisions(organisation=organisation, limit=200)]
    return render(
        request,
        "dashboard/decisions.html",
        {"rows": rows, "policy": current_policy(organisation=organisation)},
    )


@login_required
@member_required()
def customer(request: HttpRequest, external_id: str) -> HttpResponse:
    organisation = request.organisation  # type: ignore[attr-defined]
    found = customer_by_external_id(organisation=organisation, external_id=external_id)
    language = get_language()
    rows = [(d, explain(d, language)) for d in contact_history(organisation=organisation, customer=found)]
    return render(request, "dashboard/customer.html", {"customer": found, "rows": rows})
